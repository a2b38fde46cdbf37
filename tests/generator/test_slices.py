import jax
import numpy as np
import pytest

from jaxmicro.characterise import ball_erosion, lineal_path, two_point_statistics
from jaxmicro.characterise.morphology import euler_characteristic
from jaxmicro.data import LEGACY_LABEL_NORMALISATION, Labels, Sample
from jaxmicro.generator.losses import soft_log_tau
from jaxmicro.generator.slices import (
    build_slice_bank,
    cube_count,
    cubes_of,
    random_crops,
    real_slices,
    volume_slices,
)


def _volume(seed, shape=(8, 10, 12)):
    rng = np.random.default_rng(seed)
    volume = rng.integers(0, 3, shape).astype(np.uint8)
    volume.flat[:3] = [0, 1, 2]
    return volume


def test_bank_holds_slices_of_every_axis_with_z_first_in_through_plane_images():
    volume = _volume(0)
    sample = Sample("a.npy", Labels(0.93, 0.36, 0.5), 1e-6, "train", volume)
    bank = build_slice_bank([sample], 8, LEGACY_LABEL_NORMALISATION)
    assert [b.shape for b in bank.images] == [(1, 8, 10, 12), (1, 10, 8, 12), (1, 12, 8, 10)]
    np.testing.assert_array_equal(bank.images[1][0, 4], volume[:, 4, :])
    np.testing.assert_array_equal(bank.images[2][0, 3], volume[:, :, 3])
    np.testing.assert_allclose(bank.labels_unit[0], [0.5, 0.55, 0.5], atol=1e-6)
    np.testing.assert_allclose(bank.phase_fractions[0], [np.mean(volume == p) for p in range(3)], atol=1e-6)


def test_bank_lineal_paths_from_slices_equal_those_of_the_volume_along_each_axis():
    volume = _volume(3)
    volume[:, :, :5] = 1  # long AM runs along axes 0 and 1 only
    sample = Sample("a.npy", Labels(0.93, 0.36, 0.5), 1e-6, "train", volume)
    bank = build_slice_bank([sample], 8, LEGACY_LABEL_NORMALISATION, lineal_lengths=(1, 3, 6))
    assert bank.lineal_path.shape == (1, 3, 3, 3)
    one_hot = jax.nn.one_hot(volume, 3)
    direct = np.stack([lineal_path(one_hot, axis, (1, 3, 6)) for axis in range(3)], axis=1)
    np.testing.assert_allclose(bank.lineal_path[0], direct, atol=1e-6)
    assert bank.lineal_path[0, 2, 0, 1] > 2 * bank.lineal_path[0, 2, 2, 1]  # anisotropy survives


def test_bank_erosion_targets_are_the_mean_over_the_label_volumes():
    volumes = [_volume(5, (9, 9, 9)), _volume(6, (9, 9, 9))]
    samples = [Sample(f"{i}.npy", Labels(0.93, 0.36, 0.5), 1e-6, "train", v) for i, v in enumerate(volumes)]
    bank = build_slice_bank(samples, 8, LEGACY_LABEL_NORMALISATION, erosion_radii=(1, 2))
    eroded = np.mean([ball_erosion(jax.nn.one_hot(v, 3), (1, 2)) for v in volumes], 0)
    np.testing.assert_allclose(bank.erosion[0], eroded, atol=1e-6)
    assert build_slice_bank(samples, 8, LEGACY_LABEL_NORMALISATION).erosion.shape == (1, 0, 3)
    bank = build_slice_bank(samples, 8, LEGACY_LABEL_NORMALISATION, euler_targets=True)
    chi = np.mean([[euler_characteristic(v, p)[0] / v.size for p in range(3)] for v in volumes], 0)
    np.testing.assert_allclose(bank.euler[0], chi, rtol=1e-5, atol=1e-7)


def test_cubes_are_the_volumes_blocks_in_order_and_a_remainder_is_left_out():
    volumes = np.arange(2 * 8 * 9 * 12).reshape(2, 8, 9, 12)
    cubes = cubes_of(volumes, 4)
    assert cubes.shape == (2 * 2 * 2 * 3, 4, 4, 4) and cube_count(volumes.shape[1:], 4) == 2 * 2 * 3
    np.testing.assert_array_equal(cubes[0], volumes[0, :4, :4, :4])
    np.testing.assert_array_equal(cubes[8], volumes[0, 4:, :4, 8:])  # (z 1, y 0, x 2): x fastest
    np.testing.assert_array_equal(cubes[12 + 4], volumes[1, :4, 4:8, 4:8])  # (z 0, y 1, x 1)
    with pytest.raises(ValueError, match="hold no 16\\^3 cube"):
        cubes_of(volumes, 16)


def test_tortuosity_targets_are_the_mean_over_cubes_of_the_fake_volumes_edge():
    # A dead-end pore in one 8^3 cube: the whole volume reads tau > 1, every cube tau = 1 (an
    # all-solid cube conducts evenly through the floor: tau 1 too).
    volume = np.ones((16, 16, 16), np.uint8)
    volume[:, :, :3] = 0  # a straight slab through the whole volume (tau 1 along z and y)
    volume[8:, 8:, 8:11] = 0  # and a slab in one cube, a dead end in the whole
    sample = Sample("a.npy", Labels(0.93, 0.36, 0.5), 1e-6, "train", volume)
    whole = build_slice_bank([sample], 8, LEGACY_LABEL_NORMALISATION, tortuosity_targets=True)
    cubed = build_slice_bank([sample], 8, LEGACY_LABEL_NORMALISATION, tortuosity_targets=True, tau_edge=8)
    per_cube = soft_log_tau(jax.numpy.asarray(cubes_of(volume[None], 8) == 0, jax.numpy.float32))
    np.testing.assert_allclose(cubed.log_tau[0], np.mean(per_cube, 0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        whole.log_tau[0],
        soft_log_tau(jax.numpy.asarray(volume[None] == 0, jax.numpy.float32))[0],
        rtol=1e-5,
        atol=1e-6,
    )
    assert np.all(whole.log_tau[0] > cubed.log_tau[0] + 0.1)


def test_anchors_are_every_cube_of_the_training_volumes_with_their_labels_index():
    volumes = [_volume(seed, (16, 8, 16)) for seed in range(4)]
    labels = [Labels(0.95, 0.36, 0.5), Labels(0.91, 0.3, 0.0)] * 2
    samples = [
        Sample(f"{i}.npy", lab, 1e-6, "train", v)
        for i, (lab, v) in enumerate(zip(labels, volumes, strict=True))
    ]
    assert build_slice_bank(samples, 8, LEGACY_LABEL_NORMALISATION).anchor_volumes is None
    bank = build_slice_bank(samples, 8, LEGACY_LABEL_NORMALISATION, anchor_edge=8)
    # Labels sorted: (0.91, ...) first, with volumes 1 and 3; then (0.95, ...) with 0 and 2.
    expected = cubes_of(np.stack([volumes[i] for i in (1, 3, 0, 2)]), 8)
    np.testing.assert_array_equal(bank.anchor_volumes, expected)
    assert bank.anchor_labels.tolist() == [0] * 8 + [1] * 8
    np.testing.assert_allclose(bank.labels_unit[1], [5 / 6, 0.55, 0.5], atol=1e-6)  # legacy range
    section = Sample("s.npy", labels[0], 1e-6, "train", volumes[0][0], slice_normal_axis=0)
    with pytest.raises(ValueError, match="anchor_weight needs 3-D training volumes"):
        build_slice_bank([*samples, section], 8, LEGACY_LABEL_NORMALISATION, anchor_edge=8)


def test_bank_two_point_statistics_from_slices_equal_those_of_the_volume():
    volume = _volume(2)
    sample = Sample("a.npy", Labels(0.93, 0.36, 0.5), 1e-6, "train", volume)
    bank = build_slice_bank([sample], 8, LEGACY_LABEL_NORMALISATION, stats_lags=(1, 3))
    direct = two_point_statistics(jax.nn.one_hot(volume, 3), (0, 1, 2), (1, 3))
    assert bank.two_point.shape == (1, 2, 3, 3, 3)
    np.testing.assert_allclose(bank.two_point[0], direct, atol=1e-6)
    # Anisotropy survives: a volume layered along z has interfaces only across z.
    layered = np.broadcast_to((np.arange(8) % 3)[:, None, None], (8, 8, 8)).astype(np.uint8)
    sample = Sample("b.npy", Labels(0.9, 0.3, 0.0), 1e-6, "train", layered)
    bank = build_slice_bank([sample], 8, LEGACY_LABEL_NORMALISATION)
    interfaces = 1.0 - np.trace(np.asarray(bank.two_point[0, 0]), axis1=-2, axis2=-1)
    np.testing.assert_allclose(interfaces, [1.0, 0.0, 0.0], atol=1e-6)


def test_bank_from_2d_sections_and_clear_errors():
    labels = Labels(0.9, 0.3, 0.0)
    sections = [Sample(f"s{a}.npy", labels, 1e-6, "train", _volume(a, (1, 9, 9))[0], a) for a in range(3)]
    bank = build_slice_bank(sections, 8, LEGACY_LABEL_NORMALISATION)
    assert [b.shape for b in bank.images] == [(1, 1, 9, 9)] * 3
    with pytest.raises(ValueError, match="no 3-D volume and no 2-D section normal to axis 2"):
        build_slice_bank(sections[:2], 8, LEGACY_LABEL_NORMALISATION)
    with pytest.raises(ValueError, match="smaller than slice_size"):
        build_slice_bank(sections, 16, LEGACY_LABEL_NORMALISATION)
    with pytest.raises(ValueError, match="no training samples"):
        build_slice_bank([], 8, LEGACY_LABEL_NORMALISATION)


def test_crops_come_from_the_requested_items():
    stack = np.arange(2)[:, None, None, None] * np.ones((2, 3, 6, 6))
    crops = random_crops(stack, jax.random.PRNGKey(0), np.array([1, 0, 1]), 4)
    assert crops.shape == (3, 4, 4)
    np.testing.assert_array_equal(np.asarray(crops)[:, 0, 0], [1, 0, 1])


def test_volume_and_real_slices_shapes():
    volumes = jax.random.uniform(jax.random.PRNGKey(0), (2, 8, 8, 8, 3))
    assert volume_slices(volumes, 1, jax.random.PRNGKey(1), 3, 8).shape == (6, 8, 8, 3)
    sample = Sample("a.npy", Labels(0.93, 0.36, 0.5), 1e-6, "train", _volume(1, (8, 8, 8)))
    bank = build_slice_bank([sample], 8, LEGACY_LABEL_NORMALISATION)
    real = real_slices(bank, 0, jax.random.PRNGKey(2), np.array([0, 0]), 2, 8)
    assert real.shape == (4, 8, 8, 3)
    np.testing.assert_allclose(real.sum(-1), 1.0)
