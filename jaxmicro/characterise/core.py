"""The jittable core of the tortuosity solve: one volume along axis 0, and a batch.

Physics and conventions follow TauFactor's ``Solver`` (Kench et al., SoftwareX 2023): steady
diffusion in the conducting voxels, concentration 1 and 0 fixed on the two faces normal to the
transport axis (half a voxel outside the first and last voxel centres), no flux through the
side faces (or periodic side faces) and into non-conducting voxels. With ``F`` the total flux
through a plane normal to the transport axis (``n_t`` voxels long, cross-section ``A`` voxels),

    D_eff = F * n_t / A,     tau = D_mean / D_eff,     D_rel = D_eff / D_0,

where ``D_mean`` is the volume-average diffusivity (``= eps``, the conducting volume fraction,
for one phase of diffusivity ``D_0``; ``sum_p eps_p D_p`` for several phases, TauFactor's
``MultiPhaseSolver`` definition). For one phase ``D_rel = eps / tau``.

Method: the 7-point finite-volume operator (:mod:`~jaxmicro.characterise.operator`) on the
cluster connected to the inlet face (:mod:`~jaxmicro.characterise.percolation`; everything else
is pinned), flexible conjugate gradients preconditioned by one geometric multigrid K-cycle
(:mod:`~jaxmicro.characterise.multigrid`), from TauFactor's linear initial field, stopped when
the plane fluxes agree: ``(max F - min F) / mean F < conv_crit`` over all ``n_t + 1`` planes
(TauFactor uses the same measure over the interior planes, relative to the max). Iterations stay
at about 5 to 15 whatever the size. ``F`` is taken from the dissipation ``sum g (u_i - u_j)^2``
(:func:`~jaxmicro.characterise.operator.dissipation`), which equals the plane flux at the
solution but errs quadratically in the solution error, not linearly; that excess (the energy
norm of the error) is estimated from the last two CG energy decrements and subtracted
(:func:`_remaining_energy`). The solve is wrapped in
``jax.lax.custom_linear_solve``, so ``jax.grad`` of ``tau`` with respect to a continuous
conductivity field uses implicit differentiation (one more solve with the same operator, which
is symmetric). A volume whose phase does not percolate (or does not occur) takes no iteration
and gives ``tau = inf``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import Array

from jaxmicro.characterise import multigrid as mgm
from jaxmicro.characterise import operator as fv
from jaxmicro.characterise.config import MultigridConfig


class TortuosityResult(NamedTuple):
    """Result of a tortuosity solve (a JAX PyTree); scalars, or ``(n,)`` arrays for a batch.

    Attributes:
        tau: tortuosity factor ``D_mean / D_eff`` [-]; ``inf`` if the phase does not percolate.
        D_rel: relative effective diffusivity ``D_eff / D_0`` [-] (``eps / tau`` for one phase);
            0 if it does not percolate.
        eps: volume fraction of the conducting voxels (all of them, as TauFactor's ``VF``) [-].
        percolates: whether a conducting path joins the two transport faces.
        converged: whether the flux criterion was met within ``max_iter`` iterations.
        iterations: conjugate-gradient iterations (one multigrid K-cycle each).
        residual: final relative flux spread ``(max F - min F) / mean F`` over the planes.
    """

    tau: Array
    D_rel: Array
    eps: Array
    percolates: Array
    converged: Array
    iterations: Array
    residual: Array


# ---------------------------------------------------------------------------------------------
# The jittable core: one volume, transport along axis 0.


MAX_TAIL_RATIO = 0.5
"""Largest ratio of the last two energy decrements for which :func:`_remaining_energy`
extrapolates (slower, irregular convergence: no correction)."""


def _remaining_energy(drop: Array, previous_drop: Array) -> Array:
    """Estimate of the energy error ``e^T A e`` left after a CG step that lowered the energy by
    ``drop`` (the step before by ``previous_drop``).

    CG lowers the energy ``u^T A u - 2 b^T u`` (the dissipation, up to a constant) by
    ``(p . r)^2 / (p . A p)`` per step, and the error that remains is the sum of all later
    decrements (Strakos and Tichy 2002). With multigrid they shrink about geometrically, so the
    sum is extrapolated from the last ratio ``q``: ``drop * q / (1 - q)``. On media at 64^3 to
    128^3 this cut the error of tau after 4 to 6 steps 2 to 20x (never enlarged it); where
    ``q`` is not in ``(0, MAX_TAIL_RATIO)`` no correction is made.
    """
    ratio = drop / jnp.where(previous_drop > 0, previous_drop, jnp.inf)
    usable = (ratio > 0) & (ratio < MAX_TAIL_RATIO)
    return jnp.where(usable, drop * ratio / (1.0 - jnp.where(usable, ratio, 0.0)), 0.0)


def _flux_spread(fluxes: Array) -> Array:
    mean = jnp.mean(fluxes)
    safe = jnp.where(mean > 0, mean, 1.0)
    return jnp.where(mean > 0, (jnp.max(fluxes) - jnp.min(fluxes)) / safe, jnp.inf)


def _pcg(
    op: fv.DiffusionOperator,
    b: Array,
    x: Array,
    error: Callable[[Array, Array], Array],
    tol: float,
    max_iter: int,
    multigrid: MultigridConfig,
    first_error: Array | None = None,
) -> tuple[Array, tuple[Array, Array, Array]]:
    """Multigrid-preconditioned CG from ``x`` until ``error(x, r) <= tol`` or ``max_iter``.

    ``multigrid`` tunes the preconditioner. ``first_error``, if given, replaces ``error`` at
    the start (e.g. ``inf`` to skip a check that cannot pass).

    Returns:
        ``(x, (iterations, final error, estimated remaining energy error))`` (the last from
        :func:`_remaining_energy`).
    """
    mg = mgm.build_multigrid(op, multigrid)
    b = fv.pad(fv.interior(b), op.periodic)  # make periodic padding consistent
    r = b - fv.apply(op, x)

    def not_done(state):
        _, it, err, _ = state
        return (err > tol) & (it < max_iter)

    # The preconditioner runs at the top of each step and the stopping test after the update
    # of x, so the last step does not pay for a multigrid cycle whose result would go unused.
    def step(state):
        fcg, it, _, _ = state
        previous_drop = fcg.energy_drop
        fcg = mgm.fcg_step(op, fcg, mgm.v_cycle(mg, fcg.r))
        return fcg, it + 1, error(fcg.x, fcg.r), previous_drop

    first_error = error(x, r) if first_error is None else first_error
    zero = jnp.zeros((), b.dtype)
    state = (mgm.fcg_start(x, r), jnp.array(0, jnp.int32), first_error, zero)
    fcg, it, err, previous_drop = jax.lax.while_loop(not_done, step, state)
    return fcg.x, (it, err, _remaining_energy(fcg.energy_drop, previous_drop))


def _solve_one(
    conductivity: Array,
    cluster: Array,
    percolates: Array,
    *,
    periodic: bool,
    weights: tuple[float, float, float],
    dirichlet_offset: float,
    conv_crit: float,
    max_iter: int,
    multigrid: MultigridConfig,
) -> TortuosityResult:
    """Tortuosity of one volume along axis 0, given its inlet cluster (all jittable)."""
    n0, n1, n2 = conductivity.shape
    keep = cluster & percolates
    op = fv.build_operator(
        conductivity, keep, periodic=periodic, weights=weights, dirichlet_offset=dirichlet_offset
    )
    b = fv.inlet_rhs(op)
    profile = 1.0 - (jnp.arange(-1, n0 + 1, dtype=b.dtype) + 0.5) / n0  # TauFactor's start
    x0 = jnp.where(op.active, profile[:, None, None], 0.0)
    frozen = jax.lax.stop_gradient(op)

    def flux_error(x: Array, _r: Array) -> Array:  # nothing to solve if it does not percolate
        return jnp.where(percolates, _flux_spread(fv.layer_fluxes(frozen, x)), 0.0)

    def solve(_matvec, rhs):  # the physical problem: stop on TauFactor-style flux agreement
        # The linear start profile is exact only for straight channels, which then take one
        # step: cheaper than evaluating the fluxes of every start (a pass over the volume).
        first = jnp.where(percolates, jnp.inf, 0.0).astype(rhs.dtype)
        return _pcg(frozen, rhs, x0, flux_error, conv_crit, max_iter, multigrid, first)

    def transpose_solve(_matvec, rhs):  # adjoint for jax.grad: stop on the relative residual
        norm = jnp.linalg.norm(fv.interior(rhs))

        def residual_error(_x: Array, r: Array) -> Array:
            return jnp.linalg.norm(fv.interior(r)) / jnp.where(norm > 0, norm, 1.0)

        return _pcg(frozen, rhs, jnp.zeros_like(rhs), residual_error, conv_crit, max_iter, multigrid)

    u, (iterations, _, remaining) = jax.lax.custom_linear_solve(
        partial(fv.apply, op), b, solve, transpose_solve, symmetric=True, has_aux=True
    )
    fluxes = fv.layer_fluxes(op, u)
    residual = jax.lax.stop_gradient(_flux_spread(fluxes))
    length = n0 - 1 + 2 * dirichlet_offset  # between the fixed-concentration planes [voxels]
    # The dissipation equals the through-flux at the solution, but errs quadratically, not
    # linearly as a plane flux does (at conv_crit 1e-3: 4 to 30x more accurate tau, same
    # iterations); most of that excess, the energy error, is then estimated and removed.
    d_eff = (fv.dissipation(op, u) - jax.lax.stop_gradient(remaining)) * length / (n1 * n2)
    d_mean = jnp.mean(conductivity)
    tau = jnp.where(percolates, d_mean / jnp.where(percolates, d_eff, 1.0), jnp.inf)
    return TortuosityResult(
        tau=tau,
        D_rel=jnp.where(percolates, d_eff, 0.0),
        eps=jnp.mean((conductivity > 0).astype(b.dtype)),
        percolates=percolates,
        converged=jnp.where(percolates, residual <= conv_crit, True),
        iterations=iterations,
        residual=jnp.where(percolates, residual, 0.0),
    )


def transport_field(values: Array, diffusivities: tuple | None, dtype, axis: int) -> Array:
    """Per-voxel diffusivity of a batch, transport axis moved to array axis 1 (jittable).

    Args:
        values: ``(n, z, y, x)`` diffusivities (``diffusivities=None``) or phase ids.
        diffusivities: ``((phase id, diffusivity), ...)`` or ``None``.
        dtype: float dtype of the field.
        axis: transport axis of the volumes.

    Returns:
        ``(n, n_axis, ...)`` float field.
    """
    field = values if diffusivities is None else conductivity_field(values, dict(diffusivities), dtype)
    return jnp.moveaxis(field, axis + 1, 1)


@partial(
    jax.jit,
    static_argnames=(
        "diffusivities",
        "dtype",
        "axis",
        "weights",
        "periodic",
        "dirichlet_offset",
        "multigrid",
        "batched",
        "one_at_a_time",
    ),
)
def _solve_batch(
    values: Array,
    cluster: Array,
    percolates: Array,
    conv_crit: Array | float,
    max_iter: Array | int,
    *,
    diffusivities: tuple[tuple[int, float], ...] | None,
    dtype: str,
    axis: int,
    weights: tuple[float, float, float],
    periodic: bool,
    dirichlet_offset: float,
    multigrid: MultigridConfig,
    batched: bool,
    one_at_a_time: bool,
) -> TortuosityResult:
    """Solves a batch ``(n, z, y, x)`` given its inlet clusters (moved, ``(n, n_axis, ...)``).

    ``batched=False`` returns the one volume's result without the batch axis (unbatching inside
    jit: eagerly, seven index operations would each dispatch on their own). ``conv_crit`` and ``max_iter`` are
    traced: one compilation serves every criterion (5 to 10 s each on CPU).

    ``one_at_a_time`` solves the volumes one after another (``lax.map``), each to its own
    iteration count; otherwise they are solved together (``vmap``), all iterating until the
    slowest converges (:mod:`~jaxmicro.characterise.dispatch` says which and why).
    """
    field = transport_field(values, diffusivities, dtype, axis)
    solve = partial(
        _solve_one,
        periodic=periodic,
        weights=weights,
        dirichlet_offset=dirichlet_offset,
        conv_crit=conv_crit,
        max_iter=max_iter,
        multigrid=multigrid,
    )
    if field.shape[0] == 1:  # vmap's batched while loop costs ~8 % on a single volume
        one = solve(field[0], cluster[0], percolates[0])
        return one if not batched else jax.tree.map(lambda x: x[None], one)
    if one_at_a_time:
        return jax.lax.map(lambda args: solve(*args), (field, cluster, percolates))
    return jax.vmap(solve)(field, cluster, percolates)


def conductivity_field(
    volume: Array,
    diffusivities: Mapping[int, float],
    dtype=jnp.float32,
) -> Array:
    """Per-voxel relative diffusivity of a labelled volume (jittable).

    Args:
        volume: integer phase ids, any shape.
        diffusivities: phase id -> relative diffusivity ``D_p / D_0`` (``> 0``); phases not
            listed do not conduct. E.g. ``{PORE: 1.0}`` or ``{PORE: 1.0, CBD: 0.1}``.
        dtype: float dtype of the result.

    Returns:
        Float array, same shape as ``volume``.
    """
    field = jnp.zeros(jnp.shape(volume), dtype)
    for phase, value in diffusivities.items():
        field = jnp.where(volume == phase, jnp.asarray(value, dtype), field)
    return field
