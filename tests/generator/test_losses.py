import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxmicro.characterise.soft import sharpen
from jaxmicro.generator.losses import (
    TAU_AXES,
    erosion_loss,
    euler_loss,
    lattice_covariance,
    lattice_deviation,
    lattice_loss,
    lineal_path_loss,
    soft_log_tau,
    tortuosity_loss,
    two_point_loss,
    volume_fraction_loss,
)


def _soft_volumes(seed: int, shape=(2, 8, 8, 8)) -> jax.Array:
    return jax.nn.softmax(2.0 * jax.random.normal(jax.random.PRNGKey(seed), (*shape, 3)))


def test_straight_pore_channels_have_unit_soft_tortuosity_along_them():
    pores = np.zeros((1, 12, 10, 10), np.float32)
    pores[:, :, ::3, :] = 1.0  # pore sheets normal to axis 1: straight along axes 0 and 2
    log_tau = np.asarray(soft_log_tau(jnp.asarray(pores)))
    assert log_tau.shape == (1, len(TAU_AXES))
    assert log_tau[0, 0] == pytest.approx(0.0, abs=1e-4)  # along the sheets
    assert log_tau[0, 1] > 1.0  # across them only the 1e-3 solid floor conducts


def test_losses_vanish_at_their_targets_and_have_finite_gradients():
    volumes = _soft_volumes(0)
    fractions = jnp.mean(volumes, axis=(1, 2, 3))
    assert float(volume_fraction_loss(volumes, fractions)) == pytest.approx(0.0, abs=1e-12)
    from jaxmicro.characterise import two_point_statistics

    targets = jax.vmap(lambda v: two_point_statistics(v, (0, 1, 2), (1, 2)))(volumes)
    assert float(two_point_loss(volumes, targets, (1, 2))) == pytest.approx(0.0, abs=1e-10)
    log_tau = soft_log_tau(volumes[..., 0])
    assert float(tortuosity_loss(volumes, log_tau)) == pytest.approx(0.0, abs=1e-10)
    from jaxmicro.characterise import lineal_path

    lineal = jax.vmap(lambda v: jnp.stack([lineal_path(v, a, (2, 5)) for a in range(3)], axis=1))(volumes)
    assert lineal.shape == (2, 2, 3, 3)
    assert float(lineal_path_loss(volumes, lineal, (2, 5))) == pytest.approx(0.0, abs=1e-10)
    from jaxmicro.characterise import ball_erosion

    eroded = jax.vmap(lambda v: ball_erosion(v, (1, 2)))(volumes)
    assert float(erosion_loss(volumes, eroded, (1, 2))) == pytest.approx(0.0, abs=1e-10)

    from jaxmicro.characterise import euler_density

    euler = jax.vmap(euler_density)(volumes)
    assert float(euler_loss(volumes, euler)) == pytest.approx(0.0, abs=1e-10)

    other = _soft_volumes(1)
    for loss in (
        lambda v: two_point_loss(v, targets, (1, 2)),
        lambda v: lineal_path_loss(v, lineal, (2, 5)),
        lambda v: erosion_loss(v, eroded, (1, 2)),
        lambda v: euler_loss(v, euler),
        lambda v: tortuosity_loss(v, log_tau),
    ):
        value, grad = jax.value_and_grad(loss)(other)
        assert float(value) > 0 and np.all(np.isfinite(grad)) and np.abs(grad).max() > 0


def test_tortuosity_gradient_matches_finite_differences():
    volumes = _soft_volumes(2, (1, 6, 6, 6))
    target = jnp.zeros((1, len(TAU_AXES)))
    direction = jax.random.normal(jax.random.PRNGKey(3), volumes.shape) * 1e-2

    def loss(t):
        return tortuosity_loss(volumes + t * direction, target)

    analytic = jax.grad(loss)(0.0)
    h = 1e-2
    numeric = (loss(h) - loss(-h)) / (2 * h)
    assert float(analytic) == pytest.approx(float(numeric), rel=0.05)


def test_sharpening_keeps_the_argmax_and_approaches_one_hot():
    volumes = _soft_volumes(4)
    assert sharpen(volumes, 1.0) is volumes
    sharp = np.asarray(sharpen(volumes, 0.05))
    np.testing.assert_allclose(sharp.sum(-1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(sharp.argmax(-1), np.asarray(volumes).argmax(-1))
    assert np.median(sharp.max(-1)) > 0.999 > np.median(np.asarray(volumes).max(-1))


def test_lattice_loss_sees_a_pattern_repeated_in_every_cell_and_not_the_cells_own_noise():
    # CBD on every 16th plane through-plane, pore elsewhere: every cell the same, so the
    # covariance of two cells at a position is the squared deviation there: the CBD's profile
    # (1, 0, ..., 0) around a mean of 1/16 (squared relative deviations average 15), the pore's
    # (0, 1, ..., 1) around 15/16 (1/15), the AM absent (0).
    phases = np.zeros((2, 32, 16, 16), dtype=int)
    phases[:, ::16] = 2
    layers = jax.nn.one_hot(phases, 3)
    np.testing.assert_allclose(lattice_deviation(layers, 16), [1 / 15, 0, 15], rtol=1e-4)
    assert float(lattice_loss(layers, 16)) == pytest.approx((15 + 1 / 15) / 3, rel=1e-4)
    # The covariance of the cells at a position is the whole variance f (1 - f) of each phase.
    np.testing.assert_allclose(lattice_covariance(layers, 16), [15 / 256, 0, 15 / 256], rtol=1e-4)
    # A pattern whose profile along every axis is flat (a parity checkerboard of CBD and pore
    # in each cell): the loss sees it (relative deviation 1 for both phases).
    grid = np.indices((32, 32, 32)).sum(axis=0) % 2
    checker = jax.nn.one_hot(np.broadcast_to(2 * grid, (2, 32, 32, 32)), 3)
    assert float(lattice_loss(checker, 16)) == pytest.approx(2 / 3, rel=1e-4)
    # Stationary noise: the pooled profile reads its sampling noise ((1 - f) / (f n), n cells),
    # the loss only what is left of a pattern: about 0.
    noise = jax.random.uniform(jax.random.PRNGKey(0), (4, 64, 64, 64))
    stationary = jax.nn.one_hot(jnp.where(noise < 0.2, 2, jnp.where(noise < 0.6, 1, 0)), 3)
    fractions, cells = np.array([0.4, 0.4, 0.2]), 4 * 4**3
    floor = (1 - fractions) / (fractions * cells)
    np.testing.assert_allclose(lattice_deviation(stationary, 16), floor, rtol=0.15)
    assert float(lattice_loss(stationary, 16)) < 0.003
    grads = jax.grad(lambda v: lattice_loss(v, 16))(layers)
    assert np.all(np.isfinite(grads)) and float(jnp.abs(grads).max()) > 0
    assert float(lattice_loss(layers[:1, :16], 16)) == 0.0  # one cell: no pair to compare


