import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxmicro.characterise import two_point_probabilities, two_point_statistics


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
