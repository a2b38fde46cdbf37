"""Flexible CG steps and the multigrid preconditioner, checked against dense linear algebra."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxmicro.characterise import MultigridConfig
from jaxmicro.characterise import multigrid as mgm
from jaxmicro.characterise import operator as fv
from jaxmicro.characterise.percolation import inlet_cluster_numpy
from jaxmicro.characterise.synthetic import gaussian_random_medium

SHAPE = (10, 9, 8)


def _problem():
    """A small heterogeneous operator (float64), its dense matrix and right-hand side."""
    rng = np.random.default_rng(4)
    mask = gaussian_random_medium(SHAPE, 0.6, seed=5) == 0
    cluster, percolates = inlet_cluster_numpy(mask)
    assert percolates
    field = jnp.asarray(np.where(mask, rng.uniform(0.2, 1.0, SHAPE), 0.0))
    op = fv.build_operator(field, jnp.asarray(cluster))
    dense = fv.dense_matrix(op)
    return op, dense, fv.inlet_rhs(op)


def _flat(x):
    return fv.interior(x).reshape(-1)


def test_fcg_with_a_fixed_preconditioner_takes_the_steps_of_preconditioned_cg():
    """With a fixed SPD preconditioner FCG(1) is PCG: same iterates, step by step, and each
    step's ``energy_drop`` is the decrease of ``x.A x - 2 b.x``."""
    with jax.enable_x64(True):
        op, dense, b = _problem()
        inverse_diag = 1.0 / jnp.diag(dense)
        state = mgm.fcg_start(jnp.zeros_like(b), b)
        x, r = np.zeros(dense.shape[0]), np.asarray(_flat(b))
        z = np.asarray(inverse_diag) * r
        p, rz = z.copy(), r @ z
        previous_energy = 0.0  # of x = 0
        a = np.asarray(dense)
        for _ in range(6):
            state = mgm.fcg_step(op, state, state.r / op.diag)
            ap = a @ p
            alpha = rz / (p @ ap)
            x, r = x + alpha * p, r - alpha * ap
            z = np.asarray(inverse_diag) * r
            rz, rz_old = r @ z, rz
            p = z + (rz / rz_old) * p
            np.testing.assert_allclose(np.asarray(_flat(state.x)), x, rtol=1e-9, atol=1e-12)
            energy = x @ a @ x - 2 * np.asarray(_flat(b)) @ x
            np.testing.assert_allclose(float(state.energy_drop), previous_energy - energy, rtol=1e-8)
            previous_energy = energy
        assert np.linalg.norm(r) < 0.5 * np.linalg.norm(np.asarray(_flat(b)))


def test_fcg_with_the_exact_inverse_solves_in_one_step():
    with jax.enable_x64(True):
        op, dense, b = _problem()
        exact = jnp.linalg.solve(dense, _flat(b))
        state = mgm.fcg_step(op, mgm.fcg_start(jnp.zeros_like(b), b), fv.pad(exact.reshape(SHAPE)))
        np.testing.assert_allclose(np.asarray(_flat(state.x)), np.asarray(exact), rtol=1e-10)
        assert float(jnp.linalg.norm(state.r)) < 1e-10 * float(jnp.linalg.norm(b))


@pytest.mark.parametrize("shape", [(16, 16, 16), (13, 10, 7)])
def test_multigrid_cycle_is_a_contraction_close_to_the_inverse(shape):
    """One K-cycle cuts the energy-norm error of A x = b by a large factor, even and odd grids."""
    with jax.enable_x64(True):
        mask = gaussian_random_medium(shape, 0.5, seed=6) == 0
        cluster, _ = inlet_cluster_numpy(mask)
        op = fv.build_operator(jnp.asarray(mask, float), jnp.asarray(cluster))
        dense = fv.dense_matrix(op)
        b = _flat(fv.inlet_rhs(op))
        exact = jnp.linalg.solve(dense, b)
        mg = mgm.build_multigrid(op)
        x = _flat(mgm.v_cycle(mg, fv.pad(b.reshape(shape))))
        error = x - exact
        ratio = float(jnp.sqrt(error @ dense @ error / (exact @ dense @ exact)))
        assert ratio < 0.25, ratio  # seen: 0.10 and 0.11


def test_the_coarsest_grid_size_and_inner_steps_come_from_the_config():
    mask = gaussian_random_medium((16, 16, 16), 0.5, seed=6) == 0
    cluster, _ = inlet_cluster_numpy(mask)
    op = fv.build_operator(jnp.asarray(mask, jnp.float32), jnp.asarray(cluster))
    default = mgm.build_multigrid(op)
    assert [level.shape for level in default.levels][-1] == (4, 4, 4) and default.inner_iterations == 2
    tuned = mgm.build_multigrid(op, MultigridConfig(max_coarse_voxels=512, inner_iterations=1))
    assert tuned.levels[-1].shape == (8, 8, 8) and tuned.coarse_inverse.shape == (512, 512)
    assert tuned.inner_iterations == 1
