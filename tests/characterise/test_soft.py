"""The differentiable measurement of soft volumes tracks the argmax measurement (issue 23 item 1)."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxmicro.characterise.measure import MeasureSettings, measure
from jaxmicro.characterise.soft import decode_at_fractions, sharpen, soft_measure, straight_through
from jaxmicro.data import SimulatorConfig, simulate

FIELDS = (
    "electrolyte_fraction",
    "electrolyte_tau_through_plane",
    "am_electrolyte_area_per_volume_m",
    "cbd_coverage",
    "solid_conductivity_s_m",
)


def _relative_errors(soft, hard) -> dict[str, np.ndarray]:
    return {f: np.asarray(getattr(soft, f)) / np.asarray(getattr(hard, f)) - 1.0 for f in FIELDS}


def test_one_hot_volumes_measure_as_the_hard_measurement():
    """On one-hot probabilities the only difference is the conducting floor of SOFT_FLOOR."""
    config = SimulatorConfig(shape=(32, 32, 32), voxel_size_m=1e-6)
    labels = ([0.92, 0.28, 1.0], [0.95, 0.42, 0.0])
    volumes = np.stack([simulate(np.array(label), config, seed=1) for label in labels])
    settings = MeasureSettings(voxel_size_m=1e-6, particle_radius=False)
    hard = measure(jnp.asarray(volumes), settings)
    soft = soft_measure(jax.nn.one_hot(volumes, 3), settings, 1.0)
    errors = _relative_errors(soft, hard)
    np.testing.assert_allclose(errors["electrolyte_fraction"], 0.0, atol=1e-5)
    np.testing.assert_allclose(errors["am_electrolyte_area_per_volume_m"], 0.0, atol=1e-4)
    np.testing.assert_allclose(errors["cbd_coverage"], 0.0, atol=1e-4)
    # The floor conducts: tau a little lower, conductivity a little higher, never the reverse.
    assert np.all(errors["electrolyte_tau_through_plane"] <= 1e-3)
    assert np.all(errors["electrolyte_tau_through_plane"] > -0.03)
    assert np.all(np.abs(errors["solid_conductivity_s_m"]) < 0.03)


def test_soft_measurement_of_generated_volumes_tracks_the_argmax_across_the_range():
    """The shipped GAN's probabilities at 32^3, corners and centre of its trained range
    (wide grid): tau read -0.6 to -5.3 %, conductivity +3.0 to +5.8 %, fractions, areas and
    coverage within 0.4 %. The narrow generator at 48^3: tau -0.7 to -4.9 %, conductivity +2.5
    to +5.4 % (module docstring)."""
    from jaxmicro.generator import generate, load_shipped_generator

    generator = load_shipped_generator("gan")  # traceable: gradients, probabilities
    labels = np.array([[0.85, 0.20, 1.0], [0.98, 0.20, 0.0], [0.915, 0.35, 0.5], [0.98, 0.50, 1.0]])
    result = generate(generator, labels, shape=(32, 32, 32), seed=0)
    settings = MeasureSettings(voxel_size_m=generator.voxel_size_m, particle_radius=False)
    hard = measure(jnp.asarray(result.volume), settings)
    soft = soft_measure(jnp.asarray(result.probabilities), settings)
    errors = _relative_errors(soft, hard)
    assert np.all(np.abs(errors["electrolyte_fraction"]) < 0.005)
    assert np.all(np.abs(errors["am_electrolyte_area_per_volume_m"]) < 0.01)
    assert np.all(np.abs(errors["cbd_coverage"]) < 0.01)
    assert np.all(np.abs(errors["electrolyte_tau_through_plane"]) < 0.08)
    assert np.all(np.abs(errors["solid_conductivity_s_m"]) < 0.12)
    # Unsharpened, transport through the boundary voxels is far off: the sharpening matters.
    raw = _relative_errors(soft_measure(jnp.asarray(result.probabilities), settings, 1.0), hard)
    worst = np.max(np.abs(errors["solid_conductivity_s_m"]))
    assert np.max(np.abs(raw["solid_conductivity_s_m"])) > 2 * worst


def test_gradients_are_finite_and_move_tau_the_right_way():
    """Turning solid into pore lowers the tortuosity: the implicit-differentiation gradient of
    tau with respect to the pore probability is negative on average, finite everywhere, and
    predicts a finite difference. Unsharpened (T = 1): sharpening at T = 0.1 saturates these
    confident voxels, whose gradient then vanishes (only near-tied voxels carry it)."""
    config = SimulatorConfig(shape=(24, 24, 24), voxel_size_m=1e-6)
    volume = simulate(np.array([0.93, 0.32, 0.5]), config, seed=2)
    probabilities = 0.9 * jax.nn.one_hot(volume, 3)[None] + 0.1 / 3
    settings = MeasureSettings(voxel_size_m=1e-6, particle_radius=False, solid_conductivity=False)

    def tau(p):
        return soft_measure(p, settings, 1.0).electrolyte_tau_through_plane[0]

    grad = jax.grad(tau)(probabilities)
    assert np.all(np.isfinite(np.asarray(grad)))
    towards_pore = np.asarray(grad[..., 0] - grad[..., 1])
    assert towards_pore.mean() < 0
    step = 0.02 * jnp.zeros_like(probabilities).at[..., 0].set(1.0).at[..., 1].set(-1.0)
    step = jnp.where((probabilities[..., 1:2] > 0.5), step, 0.0)  # AM voxels a little more pore
    predicted = float(jnp.sum(grad * step))
    actual = float(tau(probabilities + step) - tau(probabilities - step)) / 2
    assert predicted == pytest.approx(actual, rel=0.15)


def test_sharpen_tends_to_the_argmax_and_checks_the_temperature():
    p = jnp.array([[0.5, 0.3, 0.2]])
    np.testing.assert_allclose(sharpen(p, 1.0), p)
    assert float(sharpen(p, 0.05)[0, 0]) > 0.99
    with pytest.raises(ValueError, match="temperature"):
        soft_measure(jnp.ones((1, 8, 8, 8, 3)) / 3, MeasureSettings(voxel_size_m=1e-6), 0.0)


def test_straight_through_is_the_argmax_forward_and_the_softened_gradient_backward():
    """Forward: exactly the one-hot decoding; backward: the gradient of sharpen at T, so a phase
    that is confidently absent (p = 1e-5) still gets a gradient well above softmax saturation's."""
    logits = jnp.array([[9.0, -2.5, 0.0], [0.1, 0.3, -0.2], [-3.0, 0.0, 8.0]])
    p = jax.nn.softmax(logits, axis=-1)
    np.testing.assert_array_equal(straight_through(p, 3.0), jax.nn.one_hot(jnp.argmax(p, -1), 3))
    weights = jnp.arange(9.0).reshape(3, 3)

    def through(f):
        return jax.grad(lambda z: jnp.sum(weights * f(jax.nn.softmax(z, axis=-1))))(logits)

    np.testing.assert_allclose(
        through(lambda q: straight_through(q, 3.0)), through(lambda q: sharpen(q, 3.0)), rtol=1e-5, atol=1e-7
    )
    # The AM logit of the first voxel (p_AM ~ 1.7e-5): the plain probabilities pass on ~p, the
    # softened surrogate ~p**(1/3) / 3, over 100x more.
    softened, plain = through(lambda q: straight_through(q, 3.0)), through(lambda q: q)
    assert abs(float(softened[0, 1])) > 100 * abs(float(plain[0, 1]))


def test_fraction_matched_decoding_hits_the_labels_fractions_and_moves_only_boundaries():
    """A smooth random field decoded at given fractions: within 3e-4 of them after the default
    rounds (1 round leaves more), each phase changed only where it was not already the argmax's
    confident choice."""
    key = jax.random.PRNGKey(0)
    field = jax.random.normal(key, (32, 32, 32, 3))
    for axis in range(3):  # smooth it so phases form blobs, as a generator's do
        field = (field + jnp.roll(field, 1, axis) + jnp.roll(field, -1, axis)) / 3
    probabilities = jax.nn.softmax(4.0 * field, axis=-1)
    target = jnp.array([0.3, 0.55, 0.15])
    decoded = np.asarray(decode_at_fractions(probabilities, target))
    fractions = np.bincount(decoded.ravel(), minlength=3) / decoded.size
    np.testing.assert_allclose(fractions, target, atol=3e-4)
    one_round = np.asarray(decode_at_fractions(probabilities, target, rounds=1))
    assert np.abs(np.bincount(one_round.ravel(), minlength=3) / decoded.size - target).max() > 1e-3
    argmax = np.asarray(jnp.argmax(probabilities, -1))
    confident = np.asarray(probabilities.max(-1)) > 0.99
    assert np.all(decoded[confident] == argmax[confident]) and np.mean(decoded != argmax) < 0.3


def test_shifting_to_the_fractions_is_the_soft_form_of_decoding_at_them():
    """``softmax(log p + b)``: its argmax is the fraction decoding, its mean near the fractions,
    and its gradient the network's at fixed offsets (finite, and zero where ``p`` is)."""
    from jaxmicro.characterise.soft import fraction_offsets, shift_to_fractions

    logits = jax.random.normal(jax.random.PRNGKey(2), (16, 16, 16, 3))
    for axis in range(3):
        logits = (logits + jnp.roll(logits, 1, axis) + jnp.roll(logits, -1, axis)) / 3
    p = jax.nn.softmax(40.0 * logits, axis=-1)  # confident, as a trained generator's are
    target = jnp.array([0.4, 0.45, 0.15])
    shifted = shift_to_fractions(p, target)
    decoded = np.asarray(decode_at_fractions(p, target))
    np.testing.assert_array_equal(np.asarray(jnp.argmax(shifted, -1)), decoded)
    np.testing.assert_allclose(np.asarray(shifted.sum(-1)), 1.0, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(shifted.mean((0, 1, 2))), target, atol=0.03)
    offsets = np.asarray(fraction_offsets(p, target))
    assert offsets[1] == 0 and np.abs(offsets).max() > 0.1  # the argmax alone misses the target
    grad = jax.grad(lambda q: shift_to_fractions(q, target)[..., 0].mean())(p)
    fixed = jax.grad(lambda q: jax.nn.softmax(jnp.log(q) + offsets, -1)[..., 0].mean())(p)
    np.testing.assert_allclose(np.asarray(grad), np.asarray(fixed), rtol=1e-4, atol=1e-9)


def test_straight_through_can_decode_each_volume_at_its_fractions():
    logits = jax.random.normal(jax.random.PRNGKey(1), (2, 8, 8, 8, 3))
    p = jax.nn.softmax(logits, axis=-1)
    targets = jnp.array([[0.25, 0.5, 0.25], [0.5, 0.375, 0.125]])
    hard = straight_through(p, 2.0, targets)
    np.testing.assert_allclose(hard.mean(axis=(1, 2, 3)), targets, atol=2e-3)
    np.testing.assert_allclose(hard[1], jax.nn.one_hot(decode_at_fractions(p[1], targets[1]), 3), atol=1e-6)
    grad = jax.grad(lambda q: jnp.sum(straight_through(q, 2.0, targets)[..., 0] * q[..., 1]))(logits)
    assert np.all(np.isfinite(grad)) and float(jnp.abs(grad).max()) > 0


def test_an_unmeasured_in_plane_tortuosity_is_nan_in_both_measurements():
    """``in_plane=False``: NaN (not measured), not the inf of a blocked electrolyte, eagerly,
    for the soft measurement, and after the seed average."""
    from jaxmicro.characterise.measure import average_over_seeds

    config = SimulatorConfig(shape=(16, 16, 16), voxel_size_m=1e-6)
    volumes = np.stack([simulate(np.array([0.93, 0.40, 0.5]), config, seed=s) for s in range(2)])
    settings = MeasureSettings(voxel_size_m=1e-6, particle_radius=False, solid_conductivity=False)
    hard = measure(jnp.asarray(volumes), settings)
    soft = soft_measure(jax.nn.one_hot(volumes, 3), settings)
    for measured in (hard, soft, average_over_seeds(hard)):
        assert np.all(np.isnan(np.asarray(measured.electrolyte_tau_in_plane)))
    measured_in_plane = measure(jnp.asarray(volumes), dataclasses.replace(settings, in_plane=True))
    assert np.all(np.isfinite(np.asarray(measured_in_plane.electrolyte_tau_in_plane)))


def test_electrolyte_temperature_sharpens_only_the_electrolyte_transport():
    probabilities = jax.nn.softmax(jax.random.normal(jax.random.PRNGKey(3), (1, 12, 12, 12, 3)))
    settings = MeasureSettings(voxel_size_m=1e-6, particle_radius=False)
    plain = soft_measure(probabilities, settings, 0.3)
    same = soft_measure(probabilities, settings, 0.3, 0.3)
    sharper = soft_measure(probabilities, settings, 0.3, 0.02)
    for name in plain._fields:
        np.testing.assert_array_equal(getattr(same, name), getattr(plain, name))
    for name in ("electrolyte_d_rel_through_plane", "electrolyte_tau_in_plane"):
        assert not np.allclose(getattr(sharper, name), getattr(plain, name), rtol=1e-3), name
    # Not bit-equal: the two compiled functions may fuse the sums differently (1 ulp seen).
    for name in ("volume_fraction", "cbd_coverage", "solid_conductivity_s_m", "am_surface_area_per_volume_m"):
        np.testing.assert_allclose(getattr(sharper, name), getattr(plain, name), rtol=1e-5)
    with pytest.raises(ValueError, match="electrolyte_temperature"):
        soft_measure(probabilities, settings, 0.3, 0.0)
