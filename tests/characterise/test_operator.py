"""The finite-volume operator's dissipation (the solver's estimate of the through-flux)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxmicro.characterise import core, tortuosity
from jaxmicro.characterise import operator as fv
from jaxmicro.characterise.percolation import inlet_cluster_numpy
from jaxmicro.characterise.synthetic import gaussian_random_medium


@pytest.mark.parametrize("periodic", [False, True])
def test_dissipation_is_the_flux_at_the_solution_and_grows_by_the_error_energy(periodic):
    """E(u* + e) = Q + e^T A e (Dirichlet principle), with Q the plane flux of the exact u*."""
    rng = np.random.default_rng(1)
    mask = gaussian_random_medium((10, 9, 8), 0.6, seed=2) == 0
    cluster, percolates = inlet_cluster_numpy(mask, periodic=periodic)
    assert percolates
    with jax.enable_x64(True):
        field = jnp.asarray(np.where(mask, rng.uniform(0.2, 1.0, mask.shape), 0.0))
        op = fv.build_operator(field, jnp.asarray(cluster), periodic=periodic, weights=(1.0, 2.0, 0.5))
        dense = fv.dense_matrix(op)
        b = fv.interior(fv.inlet_rhs(op)).reshape(-1)
        exact = fv.pad(jnp.linalg.solve(dense, b).reshape(mask.shape), periodic)

        fluxes = fv.layer_fluxes(op, exact)
        assert float(jnp.max(fluxes) - jnp.min(fluxes)) < 1e-10 * float(jnp.mean(fluxes))
        assert float(fv.dissipation(op, exact)) == pytest.approx(float(jnp.mean(fluxes)), rel=1e-10)

        error = jnp.asarray(rng.standard_normal(mask.shape)) * cluster
        energy = error.reshape(-1) @ dense @ error.reshape(-1)
        excess = fv.dissipation(op, exact + fv.pad(error, periodic)) - fv.dissipation(op, exact)
        assert float(excess) == pytest.approx(float(energy), rel=1e-9)


def test_dissipation_estimate_is_more_accurate_than_the_plane_flux_after_a_few_iterations():
    """Stopped early, tau from the dissipation errs far less than the plane-flux value would."""
    volume = gaussian_random_medium((48, 48, 48), 0.35, seed=3)
    with jax.enable_x64(True):
        reference = float(tortuosity(volume, dtype=jnp.float64, conv_crit=1e-10).tau)
    early = tortuosity(volume, max_iter=4, conv_crit=1e-6)
    assert not bool(early.converged)
    # The plane fluxes still disagree by `residual`, so a plane-flux tau could be off by about
    # that much; the dissipation's error is quadratic in the solution error.
    error = abs(float(early.tau) / reference - 1.0)
    assert error < 0.02 * float(early.residual), (error, float(early.residual))  # seen: 0.0035


def test_remaining_energy_sums_a_geometric_tail_and_declines_irregular_ones():
    from jaxmicro.characterise.core import MAX_TAIL_RATIO, _remaining_energy

    drops = 0.2 ** np.arange(30)
    # computed in float32: 1e-5 is ~100 ulps above a few roundings, far below a wrong formula
    assert float(_remaining_energy(drops[4], drops[3])) == pytest.approx(drops[5:].sum(), rel=1e-5)
    assert float(_remaining_energy(1.0, 0.0)) == 0.0  # first step: no ratio yet
    assert float(_remaining_energy(0.0, 0.0)) == 0.0
    assert float(_remaining_energy(MAX_TAIL_RATIO * 1.01, 1.0)) == 0.0  # too slow to extrapolate


def test_removing_the_estimated_energy_error_makes_early_tau_more_accurate(monkeypatch):
    """After 3 to 6 steps, tau with the energy-error estimate removed errs less than without.

    In float64: in float32 both errors reach the round-off floor after 5 steps (2e-7 against
    5e-8 on one CPU model, the reverse on another)."""
    volume = gaussian_random_medium((48, 48, 48), 0.3, seed=8)
    with jax.enable_x64(True):
        reference = float(tortuosity(volume, dtype=jnp.float64, conv_crit=1e-12, max_iter=100).tau)

        def errors() -> np.ndarray:
            core._solve_batch.clear_cache()  # the estimate is traced into the compiled solve
            runs = [tortuosity(volume, dtype=jnp.float64, conv_crit=1e-12, max_iter=k) for k in (3, 4, 5, 6)]
            return np.array([abs(float(r.tau) / reference - 1.0) for r in runs])

        corrected = errors()
        monkeypatch.setattr(core, "_remaining_energy", lambda drop, previous: jnp.zeros_like(drop))
        plain = errors()
    core._solve_batch.clear_cache()
    assert plain.min() > 1e-12, plain  # far above float64 round-off: the comparison means something
    assert np.all(corrected <= plain), (corrected, plain)
    assert corrected[1:].sum() < 0.5 * plain[1:].sum(), (corrected, plain)
