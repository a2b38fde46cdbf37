import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.stats import norm

from jaxmicro.generator import (
    GeneratorConfig,
    generate_probabilities,
    generator_apply,
    generator_logits,
    init_critics,
    init_generator,
)
from jaxmicro.generator.model import (
    LabelledConv,
    critic_apply,
    depth_to_space,
    label_channels,
    seed_fields,
    widen_generator,
)

CONFIG = GeneratorConfig(latent_channels=3, channels=(4, 4))


@pytest.fixture(scope="module")
def params():
    return init_generator(CONFIG, jax.random.PRNGKey(0))


def test_output_edge_is_latent_edge_times_factor_and_probabilities_sum_to_one(params):
    labels = jnp.array([[0.2, 0.5, 0.9], [1.0, 0.0, 0.3]])
    for latent in [(1, 1, 1), (2, 3, 1)]:
        z = jax.random.normal(jax.random.PRNGKey(1), (2, *latent, 3))
        probs = generator_apply(params, CONFIG, z, labels)
        assert probs.shape == (2, *(8 * n for n in latent), 3)
        np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-5)
        assert float(probs.min()) >= 0.0


def test_generator_is_periodic_rolling_the_latent_rolls_the_output(params):
    z = jax.random.normal(jax.random.PRNGKey(2), (1, 2, 2, 2, 3))
    labels = jnp.full((1, 3), 0.5)
    out = generator_apply(params, CONFIG, z, labels)
    rolled = generator_apply(params, CONFIG, jnp.roll(z, 1, axis=2), labels)
    np.testing.assert_allclose(rolled, jnp.roll(out, CONFIG.upsample_factor, axis=2), atol=1e-5)


def test_a_crop_computed_alone_equals_the_crop_of_the_whole_volume(params):
    z = jax.random.normal(jax.random.PRNGKey(8), (2, 3, 2, 3, 3))
    labels = jnp.array([[0.2, 0.5, 0.9], [1.0, 0.0, 0.3]])
    whole = generator_logits(params, CONFIG, z, labels)  # (2, 24, 16, 24, 3)
    for shape in [(16, 8, 24), (24, 16, 24), (2, 14, 6)]:
        crop = generator_logits(params, CONFIG, z, labels, output_shape=shape)
        assert crop.shape == (2, *shape, 3)
        np.testing.assert_allclose(crop, whole[:, : shape[0], : shape[1], : shape[2]], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape", [(16, 8, 7), (16, 24, 16), (16, 16)])
def test_generate_probabilities_refuses_odd_or_too_large_crops(params, shape):
    with pytest.raises(ValueError, match="output_shape"):
        generate_probabilities(params, CONFIG, jax.random.PRNGKey(0), jnp.zeros((1, 3)), (2, 2, 2), shape)


def test_labels_change_the_output(params):
    z = jax.random.normal(jax.random.PRNGKey(3), (2, 1, 1, 1, 3))
    out = generator_apply(params, CONFIG, z, jnp.array([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]]))
    same_noise = generator_apply(params, CONFIG, z[:1].repeat(2, 0), jnp.array([[0.0] * 3, [1.0] * 3]))
    assert not np.allclose(same_noise[0], same_noise[1])
    assert out.shape == (2, 8, 8, 8, 3)


def test_labelled_conv_equals_the_circular_convolution_of_features_and_label_channels():
    # The label channels' share is folded into the bias; the result and the parameters must be
    # those of a plain circular convolution of the concatenation (the shipped checkpoint's).
    x = jax.random.normal(jax.random.PRNGKey(4), (2, 3, 4, 5, 7))
    labels = jax.random.uniform(jax.random.PRNGKey(5), (2, 3))
    conv = LabelledConv(16)
    params = conv.init(jax.random.PRNGKey(6), x, labels)
    params = jax.tree.map(lambda p: p + jax.random.normal(jax.random.PRNGKey(7), p.shape), params)
    assert params["params"]["kernel"].shape == (3, 3, 3, 7 + 6, 16)
    reference = nn.Conv(16, (3, 3, 3), padding="CIRCULAR").apply(
        params, jnp.concatenate([x, label_channels(labels, x.shape[1:-1])], axis=-1)
    )
    np.testing.assert_allclose(conv.apply(params, x, labels), reference, rtol=1e-5, atol=1e-4)


def test_depth_to_space_places_channel_blocks_in_sub_voxels():
    x = jnp.arange(16.0).reshape(1, 1, 1, 1, 16)  # 8 blocks of 2 channels
    y = depth_to_space(x)
    assert y.shape == (1, 2, 2, 2, 2)
    np.testing.assert_array_equal(y[0, 1, 0, 1], [10.0, 11.0])  # block (1, 0, 1) = 5


def test_critics_score_each_slice():
    critics = init_critics((4, 4), 16, jax.random.PRNGKey(0))
    assert len(critics) == 3
    images = jax.random.uniform(jax.random.PRNGKey(1), (5, 16, 16, 3))
    scores = critic_apply(critics[1], (4, 4), images, jnp.zeros((5, 3)))
    assert scores.shape == (5,)
    assert np.all(np.isfinite(scores))
    single = critic_apply(critics[1], (4, 4), images[2:3], jnp.zeros((1, 3)))
    np.testing.assert_allclose(single[0], scores[2], rtol=1e-5)


def _assert_periodic_and_croppable(params, config, z, labels, axis, crop_shape):
    """Rolling the latent by one voxel along ``axis`` rolls the logits by the upsampling factor,
    and a crop computed alone is the whole volume's corner."""
    out = generator_logits(params, config, z, labels)
    rolled = generator_logits(params, config, jnp.roll(z, 1, axis=axis), labels)
    np.testing.assert_allclose(rolled, jnp.roll(out, config.upsample_factor, axis=axis), atol=1e-5)
    crop = generator_logits(params, config, z, labels, output_shape=crop_shape)
    corner = tuple(slice(0, n) for n in crop_shape)
    np.testing.assert_allclose(crop, out[(slice(None), *corner)], rtol=1e-5, atol=1e-5)


NOISY = GeneratorConfig(latent_channels=3, channels=(4, 4), noise_injection=True)


def test_noise_inputs_start_silent_and_then_shape_the_output_periodically(params):
    assert NOISY.noise_channels == (8, 64) and NOISY.latent_input_channels == 3 + 72
    noisy = init_generator(NOISY, jax.random.PRNGKey(0))
    assert {k: v.shape for k, v in noisy["params"].items() if k.startswith("noise")} == {
        "noise0": (4,), "noise1": (4,)
    }
    z = jax.random.normal(jax.random.PRNGKey(9), (1, 2, 2, 2, NOISY.latent_input_channels))
    labels = jnp.full((1, 3), 0.5)
    # Zero scales: the same function of the coarse latent as the network without noise inputs.
    silent = generator_apply(noisy, NOISY, z, labels)
    np.testing.assert_allclose(silent, generator_apply(params, CONFIG, z[..., :3], labels), atol=1e-6)
    scaled = jax.tree_util.tree_map_with_path(
        lambda path, p: p + 1.0 if "noise" in jax.tree_util.keystr(path) else p, noisy
    )
    out = generator_apply(scaled, NOISY, z, labels)
    other_noise = z.at[..., 3:].set(jax.random.normal(jax.random.PRNGKey(10), z[..., 3:].shape))
    assert float(jnp.abs(generator_apply(scaled, NOISY, other_noise, labels) - out).max()) > 0.01
    # Each noise field moves with its latent voxel: rolling the latent rolls the output.
    _assert_periodic_and_croppable(scaled, NOISY, z, labels, axis=1, crop_shape=(8, 16, 6))


DEEP = GeneratorConfig(latent_channels=3, channels=(4, 4), residual_blocks=(2, 1))


def test_residual_blocks_start_as_the_identity_and_then_change_the_output(params):
    deep = init_generator(DEEP, jax.random.PRNGKey(0))
    blocks = {k for k in deep["params"] if k.startswith("res")}
    assert blocks == {"res0_0a", "res0_0b", "res0_1a", "res0_1b", "res1_0a", "res1_0b"}
    # The other parameters from the plain network: the same function at the start.
    merged = {"params": {**deep["params"], **params["params"]}}
    z = jax.random.normal(jax.random.PRNGKey(9), (2, 2, 2, 2, 3))
    labels = jnp.array([[0.5, 0.5, 0.5], [0.1, 0.9, 0.3]])
    plain = generator_apply(params, CONFIG, z, labels)
    np.testing.assert_allclose(generator_apply(merged, DEEP, z, labels), plain, atol=1e-6)
    moved = jax.tree_util.tree_map_with_path(
        lambda path, p: p + 0.1 if "res1_0b" in jax.tree_util.keystr(path) else p, merged
    )
    out = generator_logits(moved, DEEP, z, labels)
    assert float(jnp.abs(jax.nn.softmax(out, axis=-1) - plain).max()) > 0.01
    # Still a periodic, translation-equivariant network whose crop is the whole's corner.
    _assert_periodic_and_croppable(moved, DEEP, z, labels, axis=2, crop_shape=(8, 4, 6))


@pytest.mark.parametrize("blocks", [(1, 1, 1), (-1,), (0.5,)])
def test_residual_blocks_refuse_a_count_per_stage_that_is_not_one(blocks):
    with pytest.raises(ValueError, match="residual_blocks"):
        GeneratorConfig(latent_channels=3, channels=(4, 4), residual_blocks=blocks)
    assert GeneratorConfig(latent_channels=3, channels=(4, 4), residual_blocks=[1, 0]) == GeneratorConfig(
        latent_channels=3, channels=(4, 4), residual_blocks=(1,)
    )
    assert GeneratorConfig(latent_channels=3, channels=(4, 4), residual_blocks=(0, 0)).residual_blocks == ()


SEEDED = GeneratorConfig(latent_channels=3, channels=(4, 4), seeds_per_cell=2)


def _brute_force_seed_fields(seed_latent: np.ndarray, per_voxel: int) -> np.ndarray:
    """Distance to the nearest of all seed points (periodic minimum image) and its mark."""
    a, b, c, channels = seed_latent.shape
    k = channels // 4
    cells = np.stack(np.meshgrid(np.arange(a), np.arange(b), np.arange(c), indexing="ij"), -1)
    points = (cells[..., None, :] + norm.cdf(seed_latent[..., : 3 * k]).reshape(a, b, c, k, 3)).reshape(-1, 3)
    marks = seed_latent[..., 3 * k :].reshape(-1)
    box = np.array([a, b, c], float)
    centres = [(np.arange(n * per_voxel) + 0.5) / per_voxel for n in (a, b, c)]
    grid = np.stack(np.meshgrid(*centres, indexing="ij"), -1)
    delta = np.abs(grid.reshape(-1, 1, 3) - points[None])
    distance = np.sqrt((np.minimum(delta, box - delta) ** 2).sum(-1))
    nearest = distance.argmin(-1)
    shape = (a * per_voxel, b * per_voxel, c * per_voxel)
    return np.stack([distance.min(-1).reshape(shape), marks[nearest].reshape(shape)], -1)


@pytest.mark.parametrize("latent", [(3, 3, 3), (2, 3, 4)])
def test_seed_fields_are_the_distance_to_the_nearest_periodic_seed_and_its_mark(latent):
    seed_latent = np.asarray(jax.random.normal(jax.random.PRNGKey(4), (1, *latent, 8)))
    fields = np.asarray(seed_fields(jnp.asarray(seed_latent), 4))[0]
    expected = _brute_force_seed_fields(seed_latent[0], 4)
    np.testing.assert_allclose(fields[..., 0], expected[..., 0], atol=1e-5)
    # Ties between two points are measure-zero: the marks agree voxel by voxel.
    np.testing.assert_array_equal(fields[..., 1], expected[..., 1].astype(np.float32))
    # Two points per unit cell: no voxel is further than one cell diagonal from a point.
    assert 0.0 < fields[..., 0].max() < np.sqrt(3)


def test_seeded_generator_draws_from_the_seeds_and_stays_periodic():
    assert SEEDED.latent_input_channels == 3 + 8
    seeded = init_generator(SEEDED, jax.random.PRNGKey(0))
    # conv1 and conv2 see 2 more feature channels than the hidden widths (4).
    assert seeded["params"]["conv1"]["kernel"].shape[3] == 4 + 2 + 6
    z = jax.random.normal(jax.random.PRNGKey(9), (1, 2, 2, 2, SEEDED.latent_input_channels))
    labels = jnp.full((1, 3), 0.5)
    out = generator_logits(seeded, SEEDED, z, labels)
    other_seeds = z.at[..., 3:].set(jax.random.normal(jax.random.PRNGKey(10), z[..., 3:].shape))
    assert float(jnp.abs(generator_logits(seeded, SEEDED, other_seeds, labels) - out).max()) > 0.01
    _assert_periodic_and_croppable(seeded, SEEDED, z, labels, axis=3, crop_shape=(8, 16, 6))


@pytest.mark.parametrize("count", [-1, 1.5, True])
def test_seeds_per_cell_refuses_what_is_not_a_count(count):
    with pytest.raises(ValueError, match="seeds_per_cell"):
        GeneratorConfig(seeds_per_cell=count)


def test_a_widened_generator_computes_what_the_narrow_one_did_until_trained():
    narrow = GeneratorConfig(latent_channels=3, channels=(4, 2), noise_injection=True)
    wide = GeneratorConfig(latent_channels=3, channels=(6, 5), noise_injection=True)
    params = init_generator(narrow, jax.random.PRNGKey(0))
    # Trained-looking weights: nonzero FiLM and noise scales, so their placement is checked too.
    leaves, tree = jax.tree_util.tree_flatten(params)
    keys = jax.random.split(jax.random.PRNGKey(3), len(leaves))
    shaken = [p + 0.3 * jax.random.normal(k, p.shape) for p, k in zip(leaves, keys, strict=True)]
    params = tree.unflatten(shaken)
    grown = widen_generator(params, narrow, init_generator(wide, jax.random.PRNGKey(1)))
    z = jax.random.normal(jax.random.PRNGKey(2), (2, 2, 2, 2, wide.latent_input_channels))
    labels = jnp.array([[0.2, 0.7, 0.1], [0.9, 0.4, 0.6]])
    np.testing.assert_allclose(
        generator_logits(grown, wide, z, labels), generator_logits(params, narrow, z, labels), atol=1e-4
    )
    # The new channels are live: once the rows that read them move, the output changes.
    moved = dict(grown["params"])
    moved["conv2"] = {**moved["conv2"], "kernel": moved["conv2"]["kernel"].at[:, :, :, 2:5].add(0.5)}
    changed = generator_logits({"params": moved}, wide, z, labels) - generator_logits(grown, wide, z, labels)
    assert float(jnp.abs(changed).max()) > 0.1
    with pytest.raises(ValueError, match="at least its width"):
        widen_generator(params, narrow, init_generator(GeneratorConfig(latent_channels=3, channels=(6, 1)),
                                                       jax.random.PRNGKey(1)))
    with pytest.raises(ValueError, match="plain stages"):
        widen_generator(params, GeneratorConfig(latent_channels=3, channels=(4, 2), residual_blocks=(1,)),
                        init_generator(wide, jax.random.PRNGKey(1)))
