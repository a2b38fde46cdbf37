import dataclasses

import numpy as np
import pytest

from jaxmicro.generator import generate, load_generator


@pytest.fixture(scope="module")
def generator(tiny_run):
    return load_generator(tiny_run)


def test_batched_over_labels_and_seeds(generator):
    labels = np.array([[0.93, 0.36, 0.5], [0.9, 0.28, 0.0]])
    result = generate(generator, labels, shape=(16, 24, 16), seed=[3, 4, 5])
    assert result.probabilities.shape == (6, 16, 24, 16, 3)
    assert result.volume.shape == (6, 16, 24, 16) and result.volume.dtype == np.uint8
    np.testing.assert_allclose(result.probabilities.sum(-1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(result.volume, result.probabilities.argmax(-1))
    np.testing.assert_array_equal(result.seeds, [3, 4, 5, 3, 4, 5])
    np.testing.assert_array_equal(result.labels[3], [0.9, 0.28, 0.0])
    assert result.voxel_size_m == 2e-6


def test_deterministic_by_seed(generator):
    a = generate(generator, [0.93, 0.36, 0.5], seed=1, shape=(16, 16, 16))
    b = generate(generator, [0.93, 0.36, 0.5], seed=1, shape=(16, 16, 16))
    c = generate(generator, [0.93, 0.36, 0.5], seed=2, shape=(16, 16, 16))
    np.testing.assert_array_equal(a.probabilities, b.probabilities)
    assert not np.array_equal(a.probabilities, c.probabilities)
    # One label inside a batch gets the same volume as alone (the seed sets the noise).
    batch = generate(generator, [[0.9, 0.28, 0.0], [0.93, 0.36, 0.5]], seed=1, shape=(16, 16, 16))
    np.testing.assert_allclose(batch.probabilities[1], a.probabilities[0], atol=1e-6)


def test_periodic_output_sizes(generator):
    f = generator.config.upsample_factor
    periodic = generate(generator, [0.93, 0.36, 0.5], shape=(2 * f,) * 3, periodic=True)
    cropped = generate(generator, [0.93, 0.36, 0.5], shape=(2 * f,) * 3, periodic=False)
    assert periodic.volume.shape == cropped.volume.shape == (1, 2 * f, 2 * f, 2 * f)
    assert not np.array_equal(periodic.probabilities, cropped.probabilities)


def test_label_and_shape_validation(generator):
    with pytest.raises(ValueError, match="trained range"):
        generate(generator, [0.93, 0.52, 0.5])  # physical but above the trained 0.50
    with pytest.warns(UserWarning, match="extrapolating"):
        generate(generator, [0.93, 0.52, 0.5], shape=(16, 16, 16), extrapolate=True)
    with pytest.raises(ValueError, match="outside its range"):
        generate(generator, [0.995, 0.36, 0.5], extrapolate=True)  # not physical at all
    with pytest.raises(ValueError, match="multiples of 8"):
        generate(generator, [0.93, 0.36, 0.5], shape=(20, 16, 16))
    with pytest.raises(ValueError, match="shape"):
        generate(generator, [0.93, 0.36])
    with pytest.raises(ValueError, match="seed"):
        generate(generator, [0.93, 0.36, 0.5], seed=[])


@pytest.mark.parametrize("seed", [2**32, -1, [0, 2**32 + 5], 1.5, True])
def test_seeds_that_would_wrap_at_2_to_the_32_are_refused(generator, seed):
    """PRNGKey(2**32) is PRNGKey(0) and PRNGKey(-1) is PRNGKey(2**32 - 1): silent repeats."""
    with pytest.raises(ValueError, match=r"seed must be"):
        generate(generator, [0.93, 0.36, 0.5], shape=(16, 16, 16), seed=seed)


def test_a_size_beyond_the_memory_is_refused_with_the_estimate_before_allocating(generator, monkeypatch):
    import importlib

    generate_module = importlib.import_module("jaxmicro.generator.generate")  # not the function

    def never(*args, **kwargs):
        raise AssertionError("nothing may be generated (or allocated) when the estimate is too large")

    from jaxmicro import host_memory

    monkeypatch.setattr(generate_module, "generate_probabilities", never)
    monkeypatch.setattr(host_memory, "available_host_memory_bytes", lambda: 64 * 10**9)
    # 2048^3 aborted the process inside XLA (SIGABRT): 8.6e9 voxels, about 773 GB
    with pytest.raises(
        ValueError, match=r"1 volume\(s\) of 2048x2048x2048 voxels needs about 773 GB but 64 GB"
    ):
        generate(generator, [0.93, 0.36, 0.5], shape=(2048,) * 3)
    monkeypatch.setattr(host_memory, "available_host_memory_bytes", lambda: 10**5)
    with pytest.raises(
        ValueError, match=r"2 volume\(s\) of 16x16x16 voxels needs about 0.000475 GB but 0.0001 GB"
    ):
        generate(generator, [0.93, 0.36, 0.5], shape=(16, 16, 16), seed=[0, 1])


def test_generate_can_decode_at_the_labels_fractions(generator):
    from jaxmicro.data.simulator import target_volume_fractions

    labels = np.array([[0.93, 0.36, 0.5], [0.9, 0.28, 0.0]])
    result = generate(generator, labels, shape=(16, 16, 16), seed=[0, 1], decoding="fractions")
    plain = generate(generator, labels, shape=(16, 16, 16), seed=[0, 1])
    np.testing.assert_array_equal(result.probabilities, plain.probabilities)
    targets = np.repeat(np.asarray(target_volume_fractions(labels)), 2, axis=0)
    for volume, target in zip(result.volume, targets, strict=True):
        np.testing.assert_allclose(np.bincount(volume.ravel(), minlength=3) / volume.size, target, atol=1e-3)
    # A generator trained for it decodes so by default; "argmax" still overrides.
    own = dataclasses.replace(generator, config=dataclasses.replace(generator.config, decoding="fractions"))
    own_volumes = generate(own, labels, shape=(16, 16, 16), seed=[0, 1]).volume
    np.testing.assert_array_equal(own_volumes, result.volume)
    assert np.array_equal(
        generate(own, labels, shape=(16, 16, 16), seed=[0, 1], decoding="argmax").volume, plain.volume
    )
    with pytest.raises(ValueError, match="decoding must be one of"):
        generate(generator, labels, shape=(16, 16, 16), decoding="quantile")


def test_both_generator_kinds_offer_the_volume_generator_protocol(generator):
    """The stages ask a generator what it can do, not its class: the SliceGAN is traceable, has
    a latent grid and refuses sizes off it; the stochastic-geometry model is neither and draws
    any size; both give ``(seeds, labels, z, y, x)`` volumes from ``sample_batch``."""
    from jaxmicro.generator.stochastic import neutral_geometry, regress

    labels = np.array([[0.93, 0.36, 0.5], [0.9, 0.28, 0.0]])
    f = generator.config.upsample_factor
    assert generator.traceable and generator.grid_period == f
    with pytest.raises(ValueError, match=f"multiples of {f}"):
        generator.check_shape((f + 1, 2 * f, 2 * f))
    volumes = np.asarray(generator.sample_batch(labels, (2 * f,) * 3, [3, 4]))
    assert volumes.shape == (2, 2, *(2 * f,) * 3) and volumes.dtype == np.uint8
    argmax = generate(generator, labels, (2 * f,) * 3, seed=[3, 4]).volume.reshape(2, 2, *(2 * f,) * 3)
    assert np.mean(argmax.swapaxes(0, 1) != volumes) <= 5e-3  # the same volumes (vmapped seeds)

    ranges = {"am_wt": (0.85, 0.98), "porosity": (0.2, 0.5), "adhesion": (0.0, 1.0)}
    model = regress(labels, [neutral_geometry(2e-6)] * 2, ranges, 2e-6, kinds=("constant",))
    assert not model.traceable and model.grid_period is None
    model.check_shape((10, 12, 14))  # any size
    with pytest.raises(ValueError, match="3 positive voxel counts"):
        model.check_shape((0, 12, 14))
    drawn = model.sample_batch(labels, (10, 12, 14), [3, 4])
    assert drawn.shape == (2, 2, 10, 12, 14) and drawn.dtype == np.uint8
