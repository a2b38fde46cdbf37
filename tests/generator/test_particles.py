"""Explicit AM particles (jaxmicro.generator.particles) and the generator that draws them."""

from __future__ import annotations

import dataclasses
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxmicro.data.phases import AM, CBD
from jaxmicro.generator import particles
from jaxmicro.generator.config import GeneratorConfig
from jaxmicro.generator.model import generator_logits, init_generator


def _brute_force_distance(positions, radii, log_flattening, per_voxel, nearest=1):
    """``min_p (d_phi(x, c_p) - r_p)`` over every point and every periodic image of it (and the
    second-smallest, with ``nearest=2``)."""
    a, b, c = positions.shape[:3]
    cells = np.stack(np.meshgrid(np.arange(a), np.arange(b), np.arange(c), indexing="ij"), -1)
    points = (cells[..., None, :] + positions).reshape(-1, 3)
    r = radii.reshape(-1)
    box = np.array([a, b, c])
    scale = np.exp([-log_flattening, log_flattening / 2, log_flattening / 2])
    axes = [(np.arange(n * per_voxel) + 0.5) / per_voxel for n in (a, b, c)]
    voxels = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)
    gaps = []
    for image in itertools.product((-1, 0, 1), repeat=3):
        diff = (voxels[:, None, :] - points[None, :, :] - box * np.array(image)) * scale
        gaps.append(np.sqrt((diff**2).sum(-1)) - r)
    best = np.sort(np.concatenate(gaps, axis=-1), axis=-1)[:, :nearest]
    return best.reshape(a * per_voxel, b * per_voxel, c * per_voxel, nearest)


@pytest.mark.parametrize("log_flattening", [0.0, -0.3])
def test_particle_distance_is_the_periodic_union_of_spheroids(log_flattening):
    key = jax.random.PRNGKey(0)
    positions = np.asarray(jax.random.uniform(key, (3, 2, 3, 2, 3)))
    radii = np.asarray(jax.random.uniform(jax.random.PRNGKey(1), (3, 2, 3, 2), minval=0.1, maxval=0.45))
    field = particles.particle_distance(
        jnp.asarray(positions)[None], jnp.asarray(radii)[None], jnp.full((1,), log_flattening), 4
    )
    expected = _brute_force_distance(positions, radii, log_flattening, 4)[..., 0]
    field = np.asarray(field)[0, ..., 0]
    assert field.shape == expected.shape == (12, 8, 12)
    # The 27 neighbouring latent voxels hold every particle a voxel can be inside or near: the
    # field is exact wherever it is below 0.5 latent voxels, an upper bound elsewhere.
    near = expected < 0.5
    assert near.mean() > 0.5 and (expected < 0).mean() > 0.2
    np.testing.assert_allclose(field[near], expected[near], atol=1e-5)
    assert np.all(field >= expected - 1e-5)


@pytest.mark.parametrize("log_flattening", [0.0, -0.3])
def test_the_second_nearest_gap_is_the_periodic_union_s_second(log_flattening):
    positions = np.asarray(jax.random.uniform(jax.random.PRNGKey(4), (3, 3, 2, 2, 3)))
    radii = np.asarray(jax.random.uniform(jax.random.PRNGKey(5), (3, 3, 2, 2), minval=0.1, maxval=0.45))
    field = np.asarray(particles.particle_distance(
        jnp.asarray(positions)[None], jnp.asarray(radii)[None], jnp.full((1,), log_flattening), 4, nearest=2
    ))[0]
    expected = _brute_force_distance(positions, radii, log_flattening, 4, nearest=2)
    assert field.shape == expected.shape == (12, 12, 8, 2)
    np.testing.assert_allclose(field[..., 0], np.asarray(particles.particle_distance(
        jnp.asarray(positions)[None], jnp.asarray(radii)[None], jnp.full((1,), log_flattening), 4
    ))[0, ..., 0], atol=1e-6)
    near = expected[..., 1] < 0.5  # both nearest particles inside the searched neighbourhood
    assert near.mean() > 0.3
    np.testing.assert_allclose(field[near], expected[near], atol=1e-5)
    assert np.all(field[..., 1] >= field[..., 0])


def test_a_dropped_candidate_neither_pushes_nor_is_drawn():
    positions = jnp.full((1, 3, 3, 3, 2, 3), 0.5).at[0, 1, 1, 1, 1].set(jnp.array([0.55, 0.5, 0.5]))
    keep = jnp.zeros((1, 3, 3, 3, 2)).at[0, 1, 1, 1, 1].set(0.9)  # the second point at the centre is dropped
    marks = jnp.zeros((1, 3, 3, 3, 2))
    law = jnp.array([[np.log(0.3), -20.0, 0.0, 0.0]])
    radii, flattening = particles.particle_law(law, marks, keep)
    assert float(radii[0, 1, 1, 1, 1]) < 0 < float(radii[0, 1, 1, 1, 0])
    moved = particles.relax(positions, radii, flattening)
    np.testing.assert_allclose(moved[0, 1, 1, 1, 0], positions[0, 1, 1, 1, 0], atol=1e-6)  # kept, unpushed
    # Drawn with and without the dropped point: the same field.
    alone = radii.at[0, 1, 1, 1, 1].set(-50.0)
    np.testing.assert_allclose(particles.particle_distance(moved, radii, flattening, 4, nearest=2),
                               particles.particle_distance(moved, alone, flattening, 4, nearest=2), atol=1e-6)


def test_a_flattened_particle_keeps_its_volume_and_is_thinner_through_plane():
    positions = jnp.full((1, 2, 2, 2, 1, 3), 0.5)
    radii = jnp.full((1, 2, 2, 2, 1), 0.3)
    inside = {
        phi: np.asarray(particles.particle_distance(positions, radii, jnp.full((1,), phi), 32))[0, ..., 0] < 0
        for phi in (0.0, -0.4)
    }
    sphere = 4 / 3 * np.pi * 0.3**3
    for phi, voxels in inside.items():
        assert voxels.mean() == pytest.approx(sphere, rel=0.03), phi  # volume kept (voxelised)
    # Through-plane extent r e^phi, in-plane r e^(-phi/2) [latent voxels], to one voxel of 1/32.
    extent = {phi: (v[:32, 16, 16].sum() / 32, v[16, :32, 16].sum() / 32) for phi, v in inside.items()}
    assert extent[0.0] == pytest.approx((0.6, 0.6), abs=1 / 32)
    assert extent[-0.4] == pytest.approx((0.6 * np.exp(-0.4), 0.6 * np.exp(0.2)), abs=1 / 32)



@pytest.mark.parametrize("log_flattening", [0.0, -0.5])
def test_the_largest_particle_at_the_drift_bound_is_drawn_whole(log_flattening):
    # One candidate of a huge radius mark, moved as far out of its latent voxel as relaxation
    # may: capped, it still lies inside the 27 latent voxels searched (no flat face).
    positions = jnp.full((1, 3, 3, 3, 1, 3), 0.5).at[0, 1, 1, 1, 0].set(1.0 + particles.MAX_DRIFT)
    marks = jnp.zeros((1, 3, 3, 3, 1)).at[0, 1, 1, 1, 0].set(10.0)
    law = jnp.array([[np.log(0.3), 0.0, 20.0, log_flattening]])
    radii, flattening = particles.particle_law(law, marks, jnp.zeros((1, 3, 3, 3, 1)))
    radii = radii * jnp.zeros((1, 3, 3, 3, 1)).at[0, 1, 1, 1, 0].set(1.0)  # only that particle
    stretch = max(np.exp(log_flattening), np.exp(-log_flattening / 2))
    assert float(radii.max()) * stretch == pytest.approx(1 - particles.MAX_DRIFT, rel=1e-5)
    inside = np.asarray(particles.particle_distance(positions, radii, flattening, 16))[0, ..., 0] < 0
    whole = 4 / 3 * np.pi * float(radii.max()) ** 3 * 16**3  # [voxels of 1/16 latent voxel]
    assert inside.sum() == pytest.approx(whole, rel=0.03)

def test_relaxation_separates_overlapping_particles_and_leaves_separate_ones():
    # Two particles of radius 0.3 whose centres are 0.2 apart, in the middle of a 4^3 latent.
    positions = jnp.full((1, 4, 4, 4, 2, 3), 0.5).at[:, 1, 1, 1, 0, 0].set(0.4).at[:, 1, 1, 1, 1, 0].set(0.6)
    radii = jnp.zeros((1, 4, 4, 4, 2)).at[:, 1, 1, 1].set(0.3)
    moved = particles.relax(positions, radii, jnp.zeros(1), sweeps=20)
    gap = float(moved[0, 1, 1, 1, 1, 0] - moved[0, 1, 1, 1, 0, 0])
    assert 0.55 < gap <= 0.6 + 1e-6  # from 0.2 to touching, not further
    np.testing.assert_allclose(moved[0, 1, 1, 1, :, 1:], 0.5, atol=1e-6)  # along their line only
    untouched = jnp.ones((1, 4, 4, 4), bool).at[:, 1, 1, 1].set(False)
    np.testing.assert_allclose(moved[untouched], positions[untouched], atol=1e-7)
    # Crowded points move, but never more than MAX_DRIFT out of their latent voxel.
    crowded = particles.relax(positions, jnp.full((1, 4, 4, 4, 2), 0.9), jnp.zeros(1), sweeps=10)
    assert float(jnp.abs(crowded - positions).max()) > 0.1
    drift = particles.MAX_DRIFT + 1e-6  # float32 clip bounds
    assert float(crowded.min()) >= -drift and float(crowded.max()) <= 1 + drift


def test_the_law_keeps_its_fraction_of_candidates_at_its_radius():
    marks = jax.random.normal(jax.random.PRNGKey(2), (2, 8, 8, 8, 4))
    keep = jax.random.uniform(jax.random.PRNGKey(3), (2, 8, 8, 8, 4))
    law = jnp.array([[np.log(0.4), -20.0, np.log(0.3 / 0.7), 0.0], [np.log(0.2), -20.0, 0.0, 0.5]])
    radii, flattening = particles.particle_law(law, marks, keep)
    kept = np.asarray(radii) > 0.5 * np.array([0.4, 0.2])[:, None, None, None, None]
    assert kept[0].mean() == pytest.approx(0.3, abs=0.04) and kept[1].mean() == pytest.approx(0.5, abs=0.04)
    # Candidates clear of the soft step keep the law's radius (no spread here).
    np.testing.assert_allclose(np.asarray(radii)[0][np.asarray(keep[0]) < 0.2], 0.4, rtol=0.01)
    np.testing.assert_allclose(flattening, [0.0, 0.5])


DRAWN = GeneratorConfig(latent_channels=3, channels=(4, 4), particles_per_cell=2)


def test_the_generator_draws_its_am_as_the_particles_and_stays_periodic():
    assert DRAWN.latent_input_channels == 3 + 10
    params = init_generator(DRAWN, jax.random.PRNGKey(0))
    assert params["params"]["particle_law"]["kernel"].shape == (6, len(particles.LAW_FIELDS))
    z = jax.random.normal(jax.random.PRNGKey(9), (2, 2, 2, 3, DRAWN.latent_input_channels))
    labels = jnp.array([[0.5, 0.5, 0.5], [0.9, 0.1, 0.2]])
    logits = generator_logits(params, DRAWN, z, labels)
    assert logits.shape == (2, 16, 16, 24, 3)
    # Where the drawn particles are at least a voxel deep, the voxel is AM; a voxel outside
    # every particle by a voxel never is.
    points, radius_marks, keep_marks = particles.split_points(z[..., 13 - 10 :])
    radii, flattening = particles.particle_law(jnp.tile(jnp.asarray(particles.INITIAL_LAW), (2, 1)),
                                               radius_marks, keep_marks)
    field = particles.particle_distance(particles.relax(points, radii, flattening), radii, flattening, 8)
    depth = np.asarray(field[..., 0]) * 8  # [output voxels]
    am = np.asarray(jnp.argmax(logits, -1) == AM)
    assert (depth < -1).mean() > 0.1 and am[depth < -1].all() and not am[depth > 1].any()
    # Other particle noise, other particles; the volume is periodic and croppable.
    other = z.at[..., 3:].set(jax.random.normal(jax.random.PRNGKey(10), z[..., 3:].shape))
    assert float(jnp.mean(jnp.argmax(generator_logits(params, DRAWN, other, labels), -1) != am)) > 0.1
    from tests.generator.test_model import _assert_periodic_and_croppable

    _assert_periodic_and_croppable(params, DRAWN, z, labels, axis=2, crop_shape=(8, 16, 6))


def test_training_reaches_the_particle_law():
    """The law's parameters get gradients: a loss on the AM fraction moves them."""
    params = init_generator(DRAWN, jax.random.PRNGKey(0))
    z = jax.random.normal(jax.random.PRNGKey(9), (1, 2, 2, 2, DRAWN.latent_input_channels))
    labels = jnp.full((1, 3), 0.5)

    def am_fraction(p):
        return jnp.mean(jax.nn.softmax(generator_logits(p, DRAWN, z, labels), -1)[..., AM])

    grads = jax.grad(am_fraction)(params)["params"]["particle_law"]["bias"]
    assert np.all(np.isfinite(grads)) and float(grads[0]) > 0 and float(grads[2]) > 0  # radius, count


def test_cbd_films_start_at_nothing_and_then_follow_the_gaps():
    films = dataclasses.replace(DRAWN, cbd_films=True)
    params = init_generator(DRAWN, jax.random.PRNGKey(0))
    fresh = init_generator(films, jax.random.PRNGKey(1))
    assert set(fresh["params"]) - set(params["params"]) == {"cbd_film_law"}
    joined = {"params": {**fresh["params"], **params["params"]}}  # as init_from joins them
    z = jax.random.normal(jax.random.PRNGKey(9), (2, 2, 2, 2, DRAWN.latent_input_channels))
    labels = jnp.array([[0.5, 0.5, 0.5], [0.9, 0.1, 0.2]])
    before = generator_logits(params, DRAWN, z, labels)
    np.testing.assert_allclose(generator_logits(joined, films, z, labels), before, atol=1e-6)
    # A film rate r lowers the CBD logit by r (g1 + 0.5 g2) [output voxels] outside the particles.
    rate = 0.3
    joined["params"]["cbd_film_law"]["bias"] = jnp.array([rate, 0.0]) / particles.LAW_GAIN
    after = generator_logits(joined, films, z, labels)
    points, radius_marks, keep_marks = particles.split_points(z[..., 3:])
    radii, flattening = particles.particle_law(jnp.tile(jnp.asarray(particles.INITIAL_LAW), (2, 1)),
                                               radius_marks, keep_marks)
    moved = particles.relax(points, radii, flattening)
    gaps = particles.particle_distance(moved, radii, flattening, 8, nearest=2)
    gaps = np.maximum(np.asarray(gaps) * 8, 0.0)
    expected = -rate * (gaps[..., 0] + 0.5 * gaps[..., 1])
    np.testing.assert_allclose(after[..., CBD] - before[..., CBD], expected, atol=1e-4)
    np.testing.assert_allclose(after[..., :CBD], before[..., :CBD], atol=1e-6)

    def cbd_fraction(p):
        return jnp.mean(jax.nn.softmax(generator_logits(p, films, z, labels), -1)[..., CBD])

    grads = jax.grad(cbd_fraction)(joined)["params"]["cbd_film_law"]["bias"]
    assert float(grads[0]) < 0 and float(grads[1]) < 0  # a faster fall, a heavier neck: less CBD
    with pytest.raises(ValueError, match="cbd_films needs drawn particles"):
        GeneratorConfig(cbd_films=True)


@pytest.mark.parametrize("count", [-1, 1.5, True])
def test_particles_per_cell_refuses_what_is_not_a_count(count):
    with pytest.raises(ValueError, match="particles_per_cell"):
        GeneratorConfig(particles_per_cell=count)


def test_a_law_learning_rate_needs_drawn_particles():
    from jaxmicro.generator.config import TrainConfig

    with pytest.raises(ValueError, match="law_lr_scale .* needs drawn particles"):
        TrainConfig(law_lr_scale=0.1)
    drawn = GeneratorConfig(particles_per_cell=4)
    assert TrainConfig(generator=drawn, law_lr_scale=0.1).law_lr_scale == 0.1
