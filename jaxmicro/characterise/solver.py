"""Tortuosity factor by steady diffusion: multigrid-preconditioned conjugate gradients in JAX.

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
is symmetric).

Memory: about 50 to 53 bytes per voxel in float32 (twice in float64), measured with XLA's memory
analysis, budgeted as :data:`BYTES_PER_VOXEL` = 120; :func:`tortuosity` refuses volumes whose
estimate exceeds the memory available on the device before allocating anything.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from jaxmicro.characterise import multigrid as mgm
from jaxmicro.characterise import operator as fv
from jaxmicro.characterise.percolation import inlet_clusters, inlet_clusters_numpy
from jaxmicro.data.phases import PORE, THROUGH_PLANE_AXIS

BYTES_PER_VOXEL: int = 120
"""Memory per voxel of one float32 solve, as used for the pre-allocation check [bytes]. XLA's
memory analysis of the compiled solve gives 53 / 51 / 50 B/voxel at 64^3 / 96^3 / 128^3
(operator fields, the multigrid hierarchy, the CG vectors); the margin covers the label
volume, the conductivity field and the host-side labelling. ``jax.grad`` needs about twice as
much."""

BATCH_BYTES_PER_VOXEL: int = 8
"""Memory per voxel of every volume of a batch solved one volume at a time (on CPU), besides
one volume's :data:`BYTES_PER_VOXEL` [bytes]: the batch's float32 diffusivity field and its
labels and clusters (XLA's memory analysis: 6 B/voxel for 4 x 64^3)."""

DEFAULT_CONV_CRIT: float = 1e-4
DEFAULT_MAX_ITER: int = 300


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
    first_error: Array | None = None,
) -> tuple[Array, tuple[Array, Array, Array]]:
    """Multigrid-preconditioned CG from ``x`` until ``error(x, r) <= tol`` or ``max_iter``.

    ``first_error``, if given, replaces ``error`` at the start (e.g. ``inf`` to skip a check
    that cannot pass).

    Returns:
        ``(x, (iterations, final error, estimated remaining energy error))`` (the last from
        :func:`_remaining_energy`).
    """
    mg = mgm.build_multigrid(op)
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
        return _pcg(frozen, rhs, x0, flux_error, conv_crit, max_iter, first)

    def transpose_solve(_matvec, rhs):  # adjoint for jax.grad: stop on the relative residual
        norm = jnp.linalg.norm(fv.interior(rhs))

        def residual_error(_x: Array, r: Array) -> Array:
            return jnp.linalg.norm(fv.interior(r)) / jnp.where(norm > 0, norm, 1.0)

        return _pcg(frozen, rhs, jnp.zeros_like(rhs), residual_error, conv_crit, max_iter)

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


def _transport_field(values: Array, diffusivities: tuple | None, dtype, axis: int) -> Array:
    """Per-voxel diffusivity of a batch, transport axis moved to array axis 1 (jittable)."""
    field = values if diffusivities is None else conductivity_field(values, dict(diffusivities), dtype)
    return jnp.moveaxis(field, axis + 1, 1)


_STATIC = (
    "periodic", "weights", "dirichlet_offset", "diffusivities", "dtype", "axis", "batched", "sequential"
)


@partial(jax.jit, static_argnames=_STATIC)
def _solve_batch(values, cluster, percolates, *, diffusivities, dtype, axis, batched, sequential, **options):
    """Solves a batch; ``batched=False`` returns the one volume's result without the batch axis
    (unbatching inside jit: seven eager index operations cost ~7 ms per call). ``conv_crit`` and
    ``max_iter`` are traced: one compilation serves every criterion (5 to 10 s each on CPU).

    ``sequential`` solves the volumes one after another (``lax.map``), each to its own
    iteration count; otherwise they are solved together (``vmap``), all iterating until the
    slowest converges. On CPU one volume already occupies every core, so sequential is faster
    (four generated 128^3 volumes taking 5 to 7 iterations: 1.97 -> 1.54 s) and holds one
    volume's temporaries at a time; on accelerators the batch fills the device.
    """
    field = _transport_field(values, diffusivities, dtype, axis)
    solve = partial(_solve_one, **options)
    if field.shape[0] == 1:  # vmap's batched while loop costs ~8 % on a single volume
        one = solve(field[0], cluster[0], percolates[0])
        return one if not batched else jax.tree.map(lambda x: x[None], one)
    if sequential:
        return jax.lax.map(lambda args: solve(*args), (field, cluster, percolates))
    return jax.vmap(solve)(field, cluster, percolates)


_inlet_cluster_batch = jax.jit(inlet_clusters, static_argnames=("periodic", "method"))


# ---------------------------------------------------------------------------------------------
# Validation helpers (host side: they see shapes, and values when not traced).


def _is_traced(x) -> bool:
    return isinstance(x, jax.core.Tracer)


def _solve_platform(x) -> str:
    """Platform the solve of ``x`` runs on: that of a committed JAX array, else the default
    device's (``jax.default_device`` context or config, else the default backend; also for a
    traced ``x``, whose computation is assumed to run where JAX places it by default)."""
    if isinstance(x, jax.Array) and not _is_traced(x) and x.committed:
        return next(iter(x.devices())).platform
    default = jax.config.jax_default_device
    if isinstance(default, str):
        return jax.devices(default)[0].platform
    return default.platform if default is not None else jax.default_backend()


def _check_axis(axis: int) -> int:
    if not isinstance(axis, (int, np.integer)) or not 0 <= int(axis) <= 2:
        raise ValueError(f"axis must be 0, 1 or 2 (array axis of a (z, y, x) volume), got {axis!r}")
    return int(axis)


def _as_batch(x, name: str) -> tuple[Array | np.ndarray, bool]:
    ndim = np.ndim(x)
    if ndim == 3:
        return x[None], False
    if ndim == 4:
        return x, True
    raise ValueError(f"{name} must be 3-D (z, y, x) or a 4-D batch (n, z, y, x), got shape {np.shape(x)}")


def _spacing_weights(voxel_size, axis: int) -> tuple[float, float, float]:
    """Per-axis weights ``(h_axis / h_k)**2`` in the order of the moved volume (axis first)."""
    size = (
        np.broadcast_to(np.asarray(voxel_size, dtype=float), (3,))
        if np.ndim(voxel_size) <= 1 and np.size(voxel_size) in (1, 3)
        else None
    )
    if size is None or not np.all(np.isfinite(size)) or np.any(size <= 0):
        raise ValueError(
            f"voxel_size must be a positive number or three positive numbers (z, y, x), got {voxel_size!r}"
        )
    order = [axis] + [k for k in range(3) if k != axis]
    return tuple(float((size[axis] / size[k]) ** 2) for k in order)


def _check_dtype(dtype) -> jnp.dtype:
    dtype = jnp.dtype(dtype)
    if dtype not in (jnp.float32, jnp.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    if dtype == jnp.float64 and not jax.config.jax_enable_x64:
        raise ValueError(
            'dtype float64 needs 64-bit JAX: call jax.config.update("jax_enable_x64", True) first'
        )
    return dtype


def available_memory_bytes(device: jax.Device | None = None) -> int | None:
    """Free memory on ``device`` (default: JAX's first device) in bytes, or None if unknown."""
    device = device or jax.devices()[0]
    if device.platform != "cpu":
        stats = device.memory_stats() or {}
        if "bytes_limit" in stats:
            return int(stats["bytes_limit"] - stats.get("bytes_in_use", 0))
        return None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def memory_estimate_bytes(shape: Sequence[int], dtype=jnp.float32, one_at_a_time: bool = False) -> int:
    """Estimated peak memory of solving volumes of ``shape`` (``(z, y, x)`` or a batch) [bytes].

    Args:
        shape: ``(z, y, x)`` or ``(n, z, y, x)``.
        dtype: float32 or float64.
        one_at_a_time: the batch is solved volume after volume (as on CPU): the solver's
            temporaries are one volume's, plus :data:`BATCH_BYTES_PER_VOXEL` for every voxel of
            the batch.
    """
    scale = jnp.dtype(dtype).itemsize / 4
    if one_at_a_time and len(shape) == 4:
        volume = math.prod(shape[1:])
        return int((volume * BYTES_PER_VOXEL + shape[0] * volume * BATCH_BYTES_PER_VOXEL) * scale)
    return int(math.prod(shape) * BYTES_PER_VOXEL * scale)


def _check_memory(volume, dtype) -> None:
    shape = np.shape(volume)
    need = memory_estimate_bytes(shape, dtype, one_at_a_time=_solve_platform(volume) == "cpu")
    have = available_memory_bytes()
    if have is not None and need > have:
        raise ValueError(
            f"a tortuosity solve of shape {tuple(shape)} needs about {need / 1e9:.2f} GB "
            f"({BYTES_PER_VOXEL} B/voxel in float32) but only {have / 1e9:.2f} GB is available; "
            f"solve a smaller crop or fewer volumes at once"
        )


def _solve(
    values: Array | np.ndarray,
    *,
    diffusivities: Mapping[int, float] | None,
    dtype,
    axis: int,
    periodic: bool,
    voxel_size,
    dirichlet_offset: float,
    conv_crit: float,
    max_iter: int,
) -> TortuosityResult:
    """Shared driver: batch, find the inlet clusters, solve.

    ``values`` is a diffusivity field (``diffusivities=None``) or phase ids mapped by
    ``diffusivities``; the field is built inside the jitted solve. For a solve on CPU outside
    jit the clusters are labelled on the host from a NumPy mask (eager JAX ops on the whole
    volume cost ~15 ms at 128^3); under jit or on an accelerator, by
    :func:`~jaxmicro.characterise.percolation.inlet_clusters`.
    """
    if not (isinstance(dirichlet_offset, (int, float)) and dirichlet_offset > 0):
        raise ValueError(f"dirichlet_offset must be > 0 (voxels), got {dirichlet_offset!r}")
    if not (isinstance(conv_crit, (int, float)) and 0 < conv_crit < 1):
        raise ValueError(f"conv_crit must be a number in (0, 1), got {conv_crit!r}")
    if not (isinstance(max_iter, (int, np.integer)) and max_iter >= 1):
        raise ValueError(f"max_iter must be a positive integer, got {max_iter!r}")
    batch, batched = _as_batch(values, "volume")
    weights = _spacing_weights(voxel_size, axis)
    if batch.shape[axis + 1] < 2:
        raise ValueError(
            f"the volume needs at least 2 voxels along the transport axis {axis}, "
            f"got shape {tuple(values.shape)}"
        )
    static = None
    if diffusivities is not None:  # hashable, for jit
        static = tuple(sorted((int(p), float(d)) for p, d in diffusivities.items()))
    on_cpu = _solve_platform(batch) == "cpu"
    if _is_traced(batch) or not on_cpu:
        # Labelled inside the computation (percolation.inlet_clusters): by cc3d through a host
        # callback on CPU, by the flood fill on accelerators, where host labelling plus two
        # transfers would outlast the solve (cc3d: 0.14 s at 256^3 here).
        batch = jnp.asarray(batch)
        mask = _transport_field(batch, static, dtype, axis) > 0
        cluster, percolates = _inlet_cluster_batch(mask, periodic=periodic)
    else:  # eagerly on CPU: cc3d directly (cc3d 0.14 s, the flood fill 2.8 s at 256^3 here)
        host = np.asarray(batch)
        if static is None:
            mask = host > 0
        else:
            mask = np.zeros(host.shape, bool)
            for phase, _ in static:  # 0.3 ms per phase at 128^3; np.isin takes 15 ms
                mask |= host == phase
        cluster, percolates = inlet_clusters_numpy(np.moveaxis(mask, axis + 1, 1), periodic=periodic)
    result = _solve_batch(
        batch,
        cluster,
        percolates,
        diffusivities=static,
        dtype=jnp.dtype(dtype),
        axis=axis,
        periodic=bool(periodic),
        weights=weights,
        dirichlet_offset=float(dirichlet_offset),
        conv_crit=float(conv_crit),
        max_iter=int(max_iter),
        batched=batched,
        sequential=on_cpu,
    )
    return result


# ---------------------------------------------------------------------------------------------
# Public API.


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


def tortuosity_from_field(
    conductivity: Array,
    axis: int = THROUGH_PLANE_AXIS,
    *,
    periodic: bool = False,
    voxel_size: float | Sequence[float] = 1.0,
    dirichlet_offset: float = 0.5,
    conv_crit: float = DEFAULT_CONV_CRIT,
    max_iter: int = DEFAULT_MAX_ITER,
) -> TortuosityResult:
    """Tortuosity factor of a continuous (soft) per-voxel diffusivity field; differentiable.

    Works inside ``jax.jit`` and under ``jax.grad``/``jax.vmap``: ``jax.grad`` of ``.tau`` with
    respect to ``conductivity`` is exact up to the solver tolerance (implicit differentiation).
    Face conductances are harmonic means of the voxel values; voxels with value 0 do not conduct.

    Args:
        conductivity: ``(z, y, x)`` or a batch ``(n, z, y, x)`` of relative diffusivities
            ``D / D_0 >= 0`` (float32 or float64); a batch is solved as in :func:`tortuosity`.
        axis: transport axis of the volume (0 = through-plane).
        periodic: periodic side faces (else no flux through them).
        voxel_size: voxel edge length, one number or three (z, y, x); only ratios matter.
        dirichlet_offset: distance of the fixed-concentration planes from the first and last
            voxel centres [voxels]: 0.5 (default, TauFactor's ``Solver``) or 1.0 (TauFactor's
            ``MultiPhaseSolver``, which puts them on a ghost voxel; about 0.4 % apart at 48^3).
        conv_crit: relative flux spread at which the solve stops.
        max_iter: iteration limit (``converged`` is False if it is reached).

    Returns:
        :class:`TortuosityResult` (``tau = mean(conductivity) / D_eff``).

    Raises:
        ValueError: bad dimensionality, dtype, axis, options, or (outside jit) NaN, negative or
            infinite values, or a memory estimate above the available memory.
    """
    axis = _check_axis(axis)
    dtype = getattr(conductivity, "dtype", None)
    if dtype is None or not jnp.issubdtype(dtype, jnp.floating):
        raise ValueError(
            f"conductivity must be a float array, got dtype {dtype}; for phase labels use "
            f"tortuosity(volume, phase=...)"
        )
    _check_dtype(dtype)
    if not _is_traced(conductivity):
        values = np.asarray(conductivity)
        if np.isnan(values).any():
            raise ValueError("conductivity contains NaN; replace them (e.g. jnp.nan_to_num) first")
        if (values < 0).any() or np.isinf(values).any():
            raise ValueError("conductivity must be finite and >= 0 everywhere")
        if not (values > 0).any():
            raise ValueError("conductivity has no conducting voxel (all values are 0)")
        _check_memory(conductivity, dtype)
    return _solve(
        conductivity,
        diffusivities=None,
        dtype=dtype,
        axis=axis,
        periodic=periodic,
        voxel_size=voxel_size,
        dirichlet_offset=dirichlet_offset,
        conv_crit=conv_crit,
        max_iter=max_iter,
    )


def tortuosity(
    volume: Array | np.ndarray,
    phase: int | Sequence[int] = PORE,
    axis: int = THROUGH_PLANE_AXIS,
    *,
    diffusivities: Mapping[int, float] | None = None,
    periodic: bool = False,
    voxel_size: float | Sequence[float] = 1.0,
    dirichlet_offset: float = 0.5,
    conv_crit: float = DEFAULT_CONV_CRIT,
    max_iter: int = DEFAULT_MAX_ITER,
    dtype=jnp.float32,
) -> TortuosityResult:
    """Tortuosity factor of a conducting phase of a labelled volume (or a batch of volumes).

    ``tortuosity(volume).tau`` is the pore-phase, through-plane value. Jittable (pass the options
    as static values); outside jit the input is checked and the memory estimated first.

    Args:
        volume: integer phase ids, ``(z, y, x)`` or a batch ``(n, z, y, x)``. On CPU a batch
            is solved one volume after another, each to its own iteration count; on
            accelerators as one batch.
        phase: the conducting phase id, or several ids (all with diffusivity 1). Ignored if
            ``diffusivities`` is given.
        axis: transport axis (0 = through-plane, 1 and 2 in-plane).
        diffusivities: phase id -> relative diffusivity, for several conducting phases, e.g.
            ``{PORE: 1.0, CBD: 0.1}`` (then ``tau = sum_p eps_p D_p / D_eff``, TauFactor's
            ``MultiPhaseSolver`` definition).
        periodic: periodic side faces (else no flux through them).
        voxel_size: voxel edge length, one number or three (z, y, x) [m or any unit]; only
            ratios matter (anisotropic voxels).
        dirichlet_offset: distance of the fixed-concentration planes from the first and last
            voxel centres [voxels]: 0.5 (default, TauFactor's ``Solver``) or 1.0 (TauFactor's
            ``MultiPhaseSolver``, which puts them on a ghost voxel; about 0.4 % apart at 48^3).
        conv_crit: relative spread of the plane fluxes at which the solve stops; ``1e-3`` gives
            tau to about 1e-6 relative (5e-6 on the 256^3 electrode), ``1e-4`` to about 1e-7
            (tau comes from the dissipation, whose error is quadratic in the solution error,
            less an estimate of that error).
        max_iter: iteration limit.
        dtype: ``jnp.float32`` (default) or ``jnp.float64`` (needs ``jax_enable_x64``).

    Returns:
        :class:`TortuosityResult`.

    Raises:
        ValueError: on a non-integer or wrongly shaped volume, an axis out of range, a phase id
            that does not occur, an empty conducting phase, a bad option, or a volume whose
            memory estimate exceeds the available memory.
    """
    axis = _check_axis(axis)
    dtype = _check_dtype(dtype)
    kind = volume.dtype if hasattr(volume, "dtype") else np.asarray(volume).dtype
    if not (jnp.issubdtype(kind, jnp.integer) or jnp.issubdtype(kind, jnp.bool_)):
        raise ValueError(
            f"volume must hold integer phase ids, got dtype {kind}; for a continuous field use "
            f"tortuosity_from_field"
        )
    if diffusivities is None:
        phases = [phase] if np.ndim(phase) == 0 else list(phase)
        diffusivities = {int(p): 1.0 for p in phases}
    if not diffusivities or any(not (v > 0 and math.isfinite(v)) for v in diffusivities.values()):
        raise ValueError(f"diffusivities must map phase ids to finite values > 0, got {dict(diffusivities)}")
    _as_batch(volume, "volume")
    if not _is_traced(volume):
        values = np.asarray(volume)
        missing = sorted(p for p in diffusivities if not np.any(values == p))  # 5x faster than unique
        if missing:
            present = np.unique(values).tolist()
            raise ValueError(f"phase id(s) {missing} do not occur in the volume (it holds {present})")
        _check_memory(volume, dtype)
    return _solve(
        volume,
        diffusivities=diffusivities,
        dtype=dtype,
        axis=axis,
        periodic=periodic,
        voxel_size=voxel_size,
        dirichlet_offset=dirichlet_offset,
        conv_crit=conv_crit,
        max_iter=max_iter,
    )
