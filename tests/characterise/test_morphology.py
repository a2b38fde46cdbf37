"""Morphology descriptors on volumes with known answers, and against brute-force references."""

import jax
import numpy as np
import pytest
from scipy import ndimage

from jaxmicro.characterise.morphology import (
    chord_length_counts,
    correlation_distance,
    distance_names,
    euler_characteristic,
    euler_density,
    euler_distance,
    local_thickness,
    mean_size,
    morphology,
    morphology_distances,
    morphology_summary,
    pool_morphologies,
    size_counts,
    two_point_correlation,
    wasserstein_distance,
)


def _lamellae(period: int, thickness: int, layers: int, lateral: int = 6) -> np.ndarray:
    """Phase 1 layers ``thickness`` voxels thick every ``period`` voxels along axis 0, phase 0
    between; the box starts with a phase-0 gap, so the first layer is interior."""
    z = np.arange(layers * period)
    column = ((z % period) >= period - thickness).astype(np.uint8)
    return np.broadcast_to(column[:, None, None], (z.size, lateral, lateral)).copy()


def _spheres(radius: int, centres: list[tuple[int, int, int]], edge: int) -> np.ndarray:
    grid = np.indices((edge,) * 3)
    volume = np.zeros((edge,) * 3, np.uint8)
    for centre in centres:
        volume[((grid - np.reshape(centre, (3, 1, 1, 1))) ** 2).sum(0) <= radius**2] = 1
    return volume


def _brute_force_s2(volume: np.ndarray, phase: int, axis: int, lag: int) -> float:
    inside = np.moveaxis(volume == phase, axis, -1)
    n = inside.shape[-1]
    return float((inside[..., : n - lag] & inside[..., lag:]).mean())


def _brute_force_chords(volume: np.ndarray, phase: int, axis: int) -> np.ndarray:
    lines = np.moveaxis(volume == phase, axis, -1).reshape(-1, volume.shape[axis])
    counts = np.zeros(volume.shape[axis] + 1, int)
    for line in lines:
        edges = np.flatnonzero(np.diff(np.concatenate([[0], line.astype(int), [0]])))
        for start, stop in zip(edges[::2], edges[1::2], strict=True):
            if start > 0 and stop < line.size:  # interior chords only
                counts[stop - start] += 1
    return counts


def _scipy_local_thickness(volume: np.ndarray, phase: int, max_radius: int) -> np.ndarray:
    """The definition with scipy's exact distance transform: one transform per radius."""
    inside = volume == phase
    distance = ndimage.distance_transform_edt(inside)
    thickness = np.zeros(volume.shape, np.int32)
    for radius in range(max_radius, 0, -1):
        centres = distance > radius
        if centres.any():
            covered = ndimage.distance_transform_edt(~centres) <= radius
            thickness[covered & (thickness == 0)] = radius
    return thickness


def test_s2_matches_brute_force_on_every_axis_and_a_batch():
    volumes = np.random.default_rng(0).integers(0, 3, (2, 12, 10, 14))
    for axis in range(3):
        s2 = np.asarray(two_point_correlation(volumes, 1, axis))
        assert s2.shape == (2, volumes.shape[axis + 1] // 2 + 1)
        expected = [[_brute_force_s2(v, 1, axis, lag) for lag in range(s2.shape[1])] for v in volumes]
        np.testing.assert_allclose(s2, expected, atol=1e-6)  # float32 FFT; values ~0.1


def test_s2_of_lamellae_and_of_a_random_checkerboard():
    volume = _lamellae(period=7, thickness=3, layers=6)
    s2 = np.asarray(two_point_correlation(volume, 1, 0, max_lag=7))[0]
    phi = 3 / 7
    assert s2[0] == pytest.approx(phi, abs=1e-6)
    assert s2[3] == pytest.approx(0.0, abs=1e-6)  # a 3-voxel layer never reaches 3 voxels on
    assert s2[7] == pytest.approx(phi, abs=1e-6)  # periodic with the period
    # Along a layer every pair is in the same phase: S2 stays phi.
    np.testing.assert_allclose(np.asarray(two_point_correlation(volume, 1, 1))[0], phi, atol=1e-6)
    # Independent voxels: S2(r >= 1) = phi^2 within sampling noise (std ~ 5e-4 here).
    checkerboard = (np.random.default_rng(1).random((48, 48, 48)) < 0.3).astype(np.uint8)
    s2 = np.asarray(two_point_correlation(checkerboard, 1, 2))[0]
    phi = checkerboard.mean()
    np.testing.assert_allclose(s2[1:], phi**2, atol=4e-3)
    assert s2[0] == pytest.approx(phi, rel=1e-5)


def test_chords_match_brute_force_and_known_lengths():
    rng = np.random.default_rng(2)
    volumes = rng.integers(0, 3, (2, 9, 13, 11))
    for axis in range(3):
        counts = np.asarray(chord_length_counts(volumes, 2, axis))
        for volume, got in zip(volumes, counts, strict=True):
            np.testing.assert_array_equal(got, _brute_force_chords(volume, 2, axis))
    # Lamellae: every interior chord along axis 0 is one layer thick; along a layer the chords
    # run into the box boundary and do not count.
    lamellae = _lamellae(period=7, thickness=3, layers=5)
    assert np.flatnonzero(np.asarray(chord_length_counts(lamellae, 1, 0))[0]).tolist() == [3]
    pore_lengths = np.flatnonzero(np.asarray(chord_length_counts(lamellae, 0, 0))[0])
    assert pore_lengths.tolist() == [4]  # the first gap touches the boundary
    assert np.asarray(chord_length_counts(lamellae, 1, 1)).sum() == 0
    # Independent voxels: chord lengths are geometric, mean 1 / (1 - phi).
    checkerboard = (rng.random((64, 64, 64)) < 0.4).astype(np.uint8)
    mean = mean_size(np.asarray(chord_length_counts(checkerboard, 1, 1))[0])
    assert mean == pytest.approx(1 / 0.6, rel=0.02)


def test_chords_through_a_sphere():
    radius = 6
    ball = _spheres(radius, [(16, 16, 16)], 32)
    counts = np.asarray(chord_length_counts(ball, 1, 0))[0]
    # A digital ball is convex along the axes: one chord per line through it.
    assert counts.sum() == ball.any(axis=0).sum()
    assert mean_size(counts) == pytest.approx(ball.sum() / ball.any(axis=0).sum())
    assert mean_size(counts) == pytest.approx(4 * radius / 3, rel=0.05)  # continuum mean chord


def test_local_thickness_of_spheres_and_slabs():
    radius = 5
    spheres = _spheres(radius, [(8, 8, 8), (8, 22, 20), (21, 12, 9)], 30)
    thickness = np.asarray(local_thickness(spheres, 1))
    assert np.unique(thickness[spheres == 1]).tolist() == [radius]  # every voxel: exactly R
    assert np.all(thickness[spheres != 1] == 0)
    counts = size_counts(spheres, 1)
    assert counts.shape == (1, 16) and counts[0, radius] == spheres.sum()
    # Layers 2R + 1 = 5 voxels thick read R = 2 inside the box (the box edge is not a wall).
    slabs = _lamellae(period=9, thickness=5, layers=4, lateral=12)
    inner = slabs.copy()
    inner[-9:] = 0  # the top layer is at the box edge: it continues outside
    assert np.unique(np.asarray(local_thickness(slabs, 1))[inner == 1]).tolist() == [2]
    # A phase that fills the box reads max_radius; an absent one is all zero.
    full = np.ones((8, 8, 8), np.uint8)
    assert np.all(np.asarray(local_thickness(full, 1, max_radius=3)) == 3)
    assert not np.asarray(local_thickness(full, 0)).any()


def test_local_thickness_matches_scipy_distance_transform():
    rng = np.random.default_rng(3)
    smooth = ndimage.gaussian_filter(rng.random((2, 26, 22, 30)), (0, 2.5, 2.5, 2.5))
    volumes = (smooth > np.quantile(smooth, 0.35)).astype(np.uint8)
    thickness = np.asarray(local_thickness(volumes, 1))
    assert thickness.max() >= 3  # the check covers several radii, and the widened window
    for volume, got in zip(volumes, thickness, strict=True):
        np.testing.assert_array_equal(got, _scipy_local_thickness(volume, 1, 11))
    jitted = jax.jit(lambda v: local_thickness(v, 1))  # traceable: usable inside jitted code
    np.testing.assert_array_equal(np.asarray(jitted(volumes)), thickness)


def test_euler_characteristic_of_shapes_with_known_topology():
    """chi = components - tunnels + cavities: a ball 1, a hollow ball 2 (a cavity), a ring 0
    (a tunnel), a plate with three holes -2, two separate balls 2, two voxels touching at a
    corner one component (26-connected phase), a ball cut by the box still 1; separate blobs as
    many as scipy's 26-connected labelling counts."""
    grid = np.indices((40,) * 3) - 20
    r2 = (grid**2).sum(0)
    ring = (np.sqrt(grid[1] ** 2 + grid[2] ** 2) - 12) ** 2 + grid[0] ** 2 <= 16
    shapes = {
        1: r2 <= 100,
        2: (r2 <= 100) & (r2 > 36),
        0: ring,
    }
    for chi, mask in shapes.items():
        assert int(euler_characteristic(mask.astype(np.uint8), 1)[0]) == chi
    cavity = (r2 <= 100).astype(np.uint8) + 1  # phase 1: a box with a ball-shaped cavity
    assert int(euler_characteristic(cavity, 1)[0]) == 2
    two = _spheres(3, [(6, 6, 6), (20, 20, 20)], 28)
    corner = np.zeros((4, 4, 4), np.uint8)
    corner[1, 1, 1] = corner[2, 2, 2] = 1
    cut = _spheres(6, [(0, 14, 14)], 28)  # half a ball at the box face
    batch = np.stack([two, _spheres(3, [(6, 6, 6)], 28), cut])
    np.testing.assert_array_equal(euler_characteristic(batch, 1), [2, 1, 1])
    assert int(euler_characteristic(corner, 1)[0]) == 1
    # Separate convex blobs: chi = their number, as scipy's 26-connected labelling counts them.
    centres = [(z, y, x) for z in (5, 15, 25, 35) for y in (5, 17, 30) for x in (6, 20, 33)]
    rng = np.random.default_rng(0)
    blobs = np.zeros((40,) * 3, np.uint8)
    for centre in rng.permutation(centres)[:20]:
        blobs |= _spheres(int(rng.integers(1, 4)), [tuple(centre)], 40)
    assert int(euler_characteristic(blobs, 1)[0]) == ndimage.label(blobs, np.ones((3, 3, 3)))[1] == 20
    # A plate with k holes through it: chi = 1 - k.
    plate = np.zeros((5, 30, 30), np.uint8)
    plate[1:4, 2:28, 2:28] = 1
    for y, x in ((8, 8), (8, 20), (20, 14)):
        plate[:, y : y + 3, x : x + 3] = 0
    assert int(euler_characteristic(plate, 1)[0]) == 1 - 3
    assert euler_distance(np.array([-2.0, 1.0, 0.0]), np.array([-1.0, 1.0, 0.0])) == pytest.approx(
        [1.5, 0.0, 0.0]  # |difference| / mean |reference| = 1 / (2/3)
    )


def test_soft_euler_density_is_exact_on_one_hot_volumes_and_differentiable():
    """On one-hot volumes the soft density is the count over the voxels, for every phase; on a
    soft field its gradient is finite, and sharpening a blurred ball towards it moves it to 1."""
    blobs = _spheres(3, [(6, 6, 6), (14, 14, 14), (6, 16, 8)], 22) + _spheres(2, [(15, 5, 16)], 22) * 2
    one_hot = jax.nn.one_hot(blobs, 3)
    counts = np.array([int(euler_characteristic(blobs, p)[0]) for p in range(3)])
    np.testing.assert_allclose(np.asarray(euler_density(one_hot)) * 22**3, counts, atol=1e-3)
    assert list(counts) == [1 + 4, 3, 1]  # the pore: one body with 4 ball-shaped cavities
    ball = ndimage.gaussian_filter(_spheres(5, [(10, 10, 10)], 20).astype(np.float32), 1.5)
    soft = np.stack([1 - ball, ball, np.zeros_like(ball)], -1)
    gradient = jax.grad(lambda v: euler_density(v)[1])(jax.numpy.asarray(soft))
    assert np.all(np.isfinite(np.asarray(gradient))) and np.any(np.asarray(gradient) != 0)
    blurred = float(euler_density(soft)[1]) * 20**3
    sharp = np.clip((ball - 0.5) * 20 + 0.5, 0, 1)
    sharpened = float(euler_density(np.stack([1 - sharp, sharp, 0 * sharp], -1))[1]) * 20**3
    assert abs(sharpened - 1) < abs(blurred - 1) and abs(sharpened - 1) < 0.5


def test_distances():
    reference = np.array([0, 2, 6, 2, 0])  # sizes 1..3, mean 2
    assert wasserstein_distance(reference, reference) == 0
    shifted = np.array([0, 0, 2, 6, 2])  # the same shape one voxel larger: W1 = 1, /mean 2
    assert wasserstein_distance(shifted, reference) == pytest.approx(0.5)
    assert wasserstein_distance(shifted, reference, size_offset=0.5) == pytest.approx(1 / 2.5)
    assert wasserstein_distance(shifted[:4], reference[:3]) == pytest.approx(
        wasserstein_distance(shifted[:4], np.array([0, 2, 6, 0]))
    )
    lags = np.arange(9.0)
    phi = 0.4
    decay = phi**2 + (phi - phi**2) * np.exp(-lags / 2)
    assert correlation_distance(decay, decay) == 0
    slower = phi**2 + (phi - phi**2) * np.exp(-lags / 3)
    f_r, f_c = np.exp(-lags[1:] / 2), np.exp(-lags[1:] / 3)
    expected = np.sqrt(((f_c - f_r) ** 2).sum() / (f_r**2).sum())
    assert correlation_distance(slower, decay) == pytest.approx(expected)
    # Another volume fraction, same decay: no S2 distance (fractions are compared elsewhere).
    other = 0.2**2 + (0.2 - 0.2**2) * np.exp(-lags / 2)
    assert correlation_distance(other, decay) == pytest.approx(0, abs=1e-12)
    with pytest.raises(ValueError, match="one shape"):
        correlation_distance(decay, decay[:5])


def test_pooled_morphology_and_its_distances():
    small = _spheres(3, [(8, 8, 8), (8, 20, 20), (20, 8, 20), (20, 20, 8)], 28)
    large = _spheres(5, [(9, 9, 9), (18, 18, 18)], 28)
    both = np.stack([small, small])
    m_small = morphology(both)
    assert m_small.volumes == 2 and m_small.two_point.shape == (3, 3, 15)
    assert m_small.chord_counts.shape == (3, 3, 29) and m_small.size_counts.shape == (3, 15)
    assert m_small.size_counts[1, 3] == 2 * small.sum()  # two copies pooled, all radius 3
    names = distance_names()
    assert len(names) == 18 and names[0] == "s2_pore_through" and names[-1] == "euler_cbd"
    assert names[12:15] == ("size_pore", "size_am", "size_cbd")
    assert m_small.euler_density[1] == pytest.approx(4 / 28**3)  # four separate balls
    same = dict(zip(names, morphology_distances(morphology(small), m_small), strict=True))
    assert np.isnan(same["s2_cbd_through"]) and np.isnan(same["chord_cbd_in_plane"])  # no CBD
    assert np.isnan(same["size_cbd"])
    for name in ("s2_pore_through", "s2_am_in_plane", "chord_am_through", "size_pore", "size_am"):
        assert same[name] == pytest.approx(0, abs=1e-4), name  # pooling copies changes nothing
    apart = dict(zip(names, morphology_distances(morphology(large), m_small), strict=True))
    assert apart["size_am"] == pytest.approx((5 - 3) / 3.5)  # every voxel 5 instead of 3 (+ 1/2)
    assert apart["chord_am_through"] > 0.3 and apart["s2_am_in_plane"] > 0.3
    summary = morphology_summary(m_small, voxel_size_m=1e-6)
    assert summary["size_am_m"] == pytest.approx(3e-6)
    assert summary["euler_am_per_um3"] == pytest.approx(4 / 28**3)  # 1 um voxels
    with pytest.raises(ValueError, match="volume shape"):
        morphology_distances(m_small._replace(two_point=m_small.two_point[..., :9]), m_small)


def test_descriptor_sets_pool_as_the_volumes_measured_at_once():
    """Sets measured apart (one and two volumes) pool into the set of all three at once, weighted
    by their volume counts; sets of another shape or other phases are refused."""
    rng = np.random.default_rng(0)
    volumes = rng.integers(0, 3, size=(3, 12, 12, 12)).astype(np.uint8)
    volumes[2] = _spheres(4, [(6, 6, 6)], 12)  # unlike the others: the weights matter
    pooled = pool_morphologies([morphology(volumes[:1]), morphology(volumes[1:])])
    at_once = morphology(volumes)
    assert pooled.volumes == 3 and pooled.phases == at_once.phases
    for ours, theirs in zip(pooled[2:], at_once[2:], strict=True):
        np.testing.assert_allclose(np.asarray(ours, np.float64), np.asarray(theirs, np.float64), rtol=1e-12)
    with pytest.raises(ValueError, match="volume shape"):
        pool_morphologies([morphology(volumes[:1]), morphology(volumes[:1, :10, :10, :10])])
    with pytest.raises(ValueError, match="phases"):
        pool_morphologies([morphology(volumes[:1]), morphology(volumes[:1], (1,), (1,))])
    with pytest.raises(ValueError, match="at least one"):
        pool_morphologies([])


def test_cbd_thickness_distance_of_films():
    """CBD films one voxel thick (local-thickness radius 0) against three voxels (radius 1):
    every CBD voxel one radius off, so the relative Wasserstein distance is 1 / (1 + 1/2); and
    the other way round 1 / (0 + 1/2), finite though the reference's mean radius is 0."""

    def films(thickness: int) -> np.ndarray:
        volume = np.zeros((24, 24, 24), np.int32)
        volume[:, :, 12:] = 1  # AM half, pore half
        for start in (2, 8, 14, 20):
            volume[start : start + thickness] = 2  # CBD planes through both
        return volume

    names = distance_names()
    thin, thick = morphology(films(1)), morphology(films(3))
    assert thin.size_counts[2, 0] == np.sum(films(1) == 2) and thin.size_counts[2, 1:].sum() == 0
    assert thick.size_counts[2, 1] == np.sum(films(3) == 2) and thick.size_counts[2, 0] == 0
    apart = dict(zip(names, morphology_distances(thin, thick), strict=True))
    assert apart["size_cbd"] == pytest.approx(1 / 1.5)
    back = dict(zip(names, morphology_distances(thick, thin), strict=True))
    assert back["size_cbd"] == pytest.approx(1 / 0.5)
    assert morphology_summary(thick, voxel_size_m=0.75e-6)["size_cbd_m"] == pytest.approx(0.75e-6)


def test_bad_input():
    with pytest.raises(ValueError, match="axis must be"):
        two_point_correlation(np.zeros((4, 4, 4)), 0, 3)
    with pytest.raises(ValueError, match=r"\(z, y, x\) or \(n, z, y, x\)"):
        chord_length_counts(np.zeros((4, 4)), 0, 0)
    with pytest.raises(ValueError, match="max_lag"):
        two_point_correlation(np.zeros((4, 4, 4)), 0, 0, max_lag=4)
    with pytest.raises(ValueError, match="max_radius"):
        local_thickness(np.zeros((4, 4, 4)), 0, max_radius=-1)
