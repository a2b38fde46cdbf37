import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxmicro.characterise import ball_erosion, lineal_path, two_point_probabilities, two_point_statistics


def _counted(volume: np.ndarray, axis: int, lag: int, n_phases: int = 3) -> np.ndarray:
    """S_pq by counting voxel pairs (x, x + lag e_axis) inside the volume."""
    n = volume.shape[axis] - lag
    first = np.take(volume, np.arange(n), axis=axis).ravel()
    second = np.take(volume, np.arange(lag, lag + n), axis=axis).ravel()
    counts = np.zeros((n_phases, n_phases))
    np.add.at(counts, (first, second), 1)
    return counts / first.size


@pytest.mark.parametrize(("axis", "lag"), [(0, 1), (1, 3), (2, 5), (-2, 2)])
def test_one_hot_fields_give_the_counted_pair_probabilities(axis, lag):
    volume = np.random.default_rng(0).integers(0, 3, (9, 10, 11))
    one_hot = jax.nn.one_hot(volume, 3)
    got = np.asarray(two_point_probabilities(one_hot, axis, lag))
    np.testing.assert_allclose(got, _counted(volume, axis % 4, lag), atol=1e-6)
    assert got.sum() == pytest.approx(1.0, abs=1e-5)


def test_known_layers_and_anisotropy():
    # Layers of one voxel alternating 0/1 along z: across z every pair is a 0-1 interface,
    # along y and x no pair is.
    volume = np.broadcast_to((np.arange(8) % 2)[:, None, None], (8, 6, 6))
    stats = np.asarray(two_point_statistics(jax.nn.one_hot(volume, 2), (0, 1, 2), (1, 2)))
    assert stats.shape == (2, 3, 2, 2)
    assert stats[0, 0, 0, 1] + stats[0, 0, 1, 0] == pytest.approx(1.0)
    assert stats[0, 1, 0, 1] == stats[0, 2, 1, 0] == 0.0
    assert stats[1, 0, 0, 0] + stats[1, 0, 1, 1] == pytest.approx(1.0)  # lag 2: same phase again


def test_soft_fields_are_differentiable_products_of_independent_voxels():
    logits = jax.random.normal(jax.random.PRNGKey(0), (6, 6, 6, 3))
    probabilities = jax.nn.softmax(logits)
    got = two_point_probabilities(probabilities, 1, 2)
    expected = jnp.einsum("zyxp,zyxq->pq", probabilities[:, :-2], probabilities[:, 2:]) / (6 * 4 * 6)
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    grad = jax.grad(lambda z: two_point_probabilities(jax.nn.softmax(z), 0, 1)[0, 1])(logits)
    assert np.all(np.isfinite(grad)) and np.abs(grad).max() > 0


def test_bad_axis_or_lag_is_a_clear_error():
    field = jnp.ones((4, 4, 4, 3)) / 3
    with pytest.raises(ValueError, match="not a spatial axis"):
        two_point_probabilities(field, 3, 1)
    with pytest.raises(ValueError, match="not a spatial axis"):
        two_point_probabilities(field, 7, 1)
    with pytest.raises(ValueError, match="lag 4"):
        two_point_probabilities(field, 0, 4)
    with pytest.raises(ValueError, match="lag 0"):
        two_point_probabilities(field, 0, 0)


def _counted_lineal_path(volume: np.ndarray, axis: int, length: int, n_phases: int = 3) -> np.ndarray:
    """L_p(r) by checking every segment of r voxels along axis inside the volume."""
    n = volume.shape[axis]
    out = np.zeros(n_phases)
    for p in range(n_phases):
        inside = volume == p
        runs = np.ones_like(np.take(inside, np.arange(n - length + 1), axis=axis))
        for k in range(length):
            runs &= np.take(inside, np.arange(k, k + n - length + 1), axis=axis)
        out[p] = runs.mean()
    return out


@pytest.mark.parametrize("axis", [0, 1, -2])
def test_one_hot_lineal_path_counts_segments_wholly_in_a_phase(axis):
    volume = np.random.default_rng(axis % 3).integers(0, 3, (9, 10, 11))
    volume[:, :, :4] = 1  # long runs along axes 0 and 1, so the tail is not all zero
    got = np.asarray(lineal_path(jax.nn.one_hot(volume, 3), axis, (1, 2, 5, 9)))
    expected = np.stack([_counted_lineal_path(volume, axis % 4, r) for r in (1, 2, 5, 9)])
    np.testing.assert_allclose(got, expected, atol=1e-5)
    np.testing.assert_allclose(got[0], [np.mean(volume == p) for p in range(3)], atol=1e-6)
    assert np.all(np.diff(got, axis=0) <= 1e-7)  # a longer segment is never more likely


def test_lineal_path_of_lamellae_has_the_closed_form():
    # Ten layers of 4 AM voxels and 2 pore voxels across axis 0 (60 voxels): a segment of r <= 4
    # voxels lies in an AM layer at 5 - r starting positions per layer, out of 61 - r in all.
    volume = np.broadcast_to(np.tile([1, 1, 1, 1, 0, 0], 10)[:, None, None], (60, 5, 5))
    got = np.asarray(lineal_path(jax.nn.one_hot(volume, 3), 0, (1, 2, 4, 5)))
    np.testing.assert_allclose(got[:, 1], [10 * (5 - r) / (61 - r) for r in (1, 2, 4)] + [0.0], atol=1e-5)
    np.testing.assert_allclose(got[:, 0], [20 / 60, 10 / 59, 0.0, 0.0], atol=1e-5)
    # Along the layers every segment stays in its layer: L_AM(r) is the AM fraction for every r.
    along = np.asarray(lineal_path(jax.nn.one_hot(volume, 3), 1, (1, 3, 5)))[:, 1]
    np.testing.assert_allclose(along, 4 / 6, atol=1e-5)


def test_soft_lineal_path_is_a_differentiable_product_and_rejects_bad_lengths():
    logits = jax.random.normal(jax.random.PRNGKey(1), (5, 6, 7, 3))
    probabilities = jax.nn.softmax(logits)
    got = lineal_path(probabilities, 2, (3,))[0]
    products = probabilities[:, :, :-2] * probabilities[:, :, 1:-1] * probabilities[:, :, 2:]
    np.testing.assert_allclose(got, jnp.mean(products, axis=(0, 1, 2)), rtol=1e-4)
    grad = jax.grad(lambda z: lineal_path(jax.nn.softmax(z), 0, (2, 4))[1, 1])(logits)
    assert np.all(np.isfinite(grad)) and np.abs(grad).max() > 0
    with pytest.raises(ValueError, match="segment lengths"):
        lineal_path(probabilities, 0, (6,))
    with pytest.raises(ValueError, match="segment lengths"):
        lineal_path(probabilities, 0, (0, 2))
    with pytest.raises(ValueError, match="not a spatial axis"):
        lineal_path(probabilities, 3, (1,))


def _counted_erosion(volume: np.ndarray, radius: int, n_phases: int = 3) -> np.ndarray:
    """E_p(r) by scipy's binary erosion with the digital ball, over centres whose ball fits."""
    from scipy import ndimage

    grid = np.mgrid[(slice(-radius, radius + 1),) * volume.ndim]
    ball = (grid**2).sum(axis=0) <= radius * radius
    inner = tuple(slice(radius, n - radius) for n in volume.shape)
    return np.array([ndimage.binary_erosion(volume == p, ball)[inner].mean() for p in range(n_phases)])


def test_ball_erosion_counts_balls_wholly_in_a_phase():
    # A ball of radius 6 in a 20^3 box of pore, plus random CBD specks in the pore.
    grid = np.mgrid[:20, :20, :20] - 9.5
    volume = np.where((grid**2).sum(axis=0) <= 36, 1, 0)
    volume[np.random.default_rng(0).random(volume.shape) < 0.05 * (volume == 0)] = 2
    radii = (0, 1, 2, 4, 6)
    got = np.asarray(ball_erosion(jax.nn.one_hot(volume, 3), radii))
    expected = np.stack([_counted_erosion(volume, r) for r in radii])
    np.testing.assert_allclose(got, expected, atol=1e-5)
    np.testing.assert_allclose(got[0], [np.mean(volume == p) for p in range(3)], atol=1e-6)
    assert got[3, 1] > 0 and got[4, 1] == pytest.approx(
        0.0, abs=1e-5
    )  # radius-6 core: balls of 4 fit, 6 do not
    # In 2-D (a slice) the same definition with disks.
    got_2d = np.asarray(ball_erosion(jax.nn.one_hot(volume[10], 3), (1, 3)))
    np.testing.assert_allclose(got_2d, np.stack([_counted_erosion(volume[10], r) for r in (1, 3)]), atol=1e-5)


def test_soft_ball_erosion_is_a_differentiable_product_and_rejects_bad_radii():
    logits = jax.random.normal(jax.random.PRNGKey(2), (6, 7, 8, 3))
    probabilities = jax.nn.softmax(logits)
    got = ball_erosion(probabilities, (1,))[0]
    p = probabilities
    products = (
        p[1:-1, 1:-1, 1:-1]
        * p[:-2, 1:-1, 1:-1]
        * p[2:, 1:-1, 1:-1]
        * p[1:-1, :-2, 1:-1]
        * p[1:-1, 2:, 1:-1]
        * p[1:-1, 1:-1, :-2]
        * p[1:-1, 1:-1, 2:]
    )
    np.testing.assert_allclose(got, jnp.mean(products, axis=(0, 1, 2)), rtol=1e-3)
    grad = jax.grad(lambda z: ball_erosion(jax.nn.softmax(z), (1, 2))[1, 1])(logits)
    assert np.all(np.isfinite(grad)) and np.abs(grad).max() > 0
    with pytest.raises(ValueError, match="ball radii"):
        ball_erosion(probabilities, (3,))
    with pytest.raises(ValueError, match="ball radii"):
        ball_erosion(probabilities, (-1,))


def test_runs_and_cores_have_a_gradient_towards_growing_a_phase_where_it_is_absent():
    # A 9^3 AM cube with one pore voxel at its centre: the radius-2 ball around the centre is
    # spoiled by that one voxel, so raising its AM probability must raise the erosion (and the
    # run through it the lineal path), though the voxel's AM probability is exactly 0.
    volume = np.ones((9, 9, 9), dtype=np.int64)
    volume[4, 4, 4] = 0
    one_hot = jax.nn.one_hot(volume, 3)
    hole = jnp.zeros((9, 9, 9, 3)).at[4, 4, 4].set(jnp.array([-1.0, 1.0, 0.0]))

    def erosion_am(t):
        return ball_erosion(one_hot + t * hole, (2,))[0, 1]

    def lineal_am(t):
        return lineal_path(one_hot + t * hole, 0, (5,))[0, 1]

    for measure in (erosion_am, lineal_am):
        assert jax.grad(measure)(0.0) > 0.01
        assert float(measure(1.0)) > float(measure(0.0)) + 0.01  # the filled cube
