"""Tortuosity factor by steady diffusion: the front ends and the one driver behind them.

:func:`tortuosity` (phase ids) and :func:`tortuosity_from_field` (a continuous diffusivity
field) check their input, turn their options into one
:class:`~jaxmicro.characterise.config.SolverConfig` and call :func:`_solve`, which picks the
:class:`~jaxmicro.characterise.dispatch.Strategy` (CPU or accelerator; the only place it is
chosen), checks the memory budget (:mod:`~jaxmicro.characterise.memory`), labels the inlet
clusters (:mod:`~jaxmicro.characterise.percolation`) and runs the jitted solve
(:mod:`~jaxmicro.characterise.core`, where the method is described).

Eager and traced calls give the same answer: a phase that does not occur (or a field without a
conducting voxel) is ``tau = inf, percolates = False`` both ways. Genuinely bad input (dtype,
shape, axis, options, NaN or negative values outside jit) raises a one-line ``ValueError``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from jaxmicro.characterise.config import SolverConfig
from jaxmicro.characterise.core import TortuosityResult, _solve_batch, conductivity_field, transport_field
from jaxmicro.characterise.dispatch import choose_strategy
from jaxmicro.characterise.memory import check_memory
from jaxmicro.characterise.percolation import inlet_clusters, inlet_clusters_numpy
from jaxmicro.data.phases import PORE, THROUGH_PLANE_AXIS

__all__ = [
    "MIN_DIFFUSIVITY_RATIO",
    "SolverConfig",
    "TortuosityResult",
    "conductivity_field",
    "tortuosity",
    "tortuosity_from_field",
]

_inlet_cluster_batch = jax.jit(inlet_clusters, static_argnames=("periodic", "method", "sequential_scan"))


# ---------------------------------------------------------------------------------------------
# Validation helpers (host side: they see shapes, and values when not traced).


def _is_traced(x) -> bool:
    return isinstance(x, jax.core.Tracer)


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


def _check_dtype(dtype) -> str:
    """``"float32"`` or ``"float64"``; the latter only with 64-bit JAX."""
    name = np.dtype(dtype).name if dtype is not None else "float32"
    if name not in ("float32", "float64"):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    if name == "float64" and not jax.config.jax_enable_x64:
        raise ValueError(
            'dtype float64 needs 64-bit JAX: call jax.config.update("jax_enable_x64", True) first'
        )
    return name


def _host_mask(values: np.ndarray, diffusivities: tuple[tuple[int, float], ...] | None) -> np.ndarray:
    """The conducting voxels of a NumPy batch (phase ids, or a field if ``diffusivities`` is None)."""
    if diffusivities is None:
        return values > 0
    mask = np.zeros(values.shape, bool)
    for phase, _ in diffusivities:  # 0.3 ms per phase at 128^3; np.isin takes 15 ms
        mask |= values == phase
    return mask


MIN_DIFFUSIVITY_RATIO: dict[str, float] = {"float32": 1e-7, "float64": 1e-13}
"""Smallest ratio of the lowest to the highest conducting diffusivity the solver accepts, per
dtype. Measured on 24^3 random three-phase media (pore 1, CBD ``r``): float32 converges to the
float64 tau at ``r = 3e-8`` and returns NaN from ``r = 1e-8`` (the multigrid hierarchy
underflows); float64 converges down to ``r = 1e-15``. The limits keep a factor 3 to 100 below
that. A phase that conducts so little barely changes tau where the others percolate: leave it
out of ``diffusivities`` (it then does not conduct), or solve in float64."""


def _check_contrast(low: float, high: float, dtype: str, what: str) -> None:
    """Refuses a diffusivity contrast ``low / high`` below :data:`MIN_DIFFUSIVITY_RATIO`."""
    limit = MIN_DIFFUSIVITY_RATIO[dtype]
    if high > 0 and low / high < limit:
        hint = "solve in float64 (dtype=jnp.float64) or " if dtype == "float32" else ""
        raise ValueError(
            f"{what} span a contrast of {low / high:.1e} (lowest / highest conducting value), below "
            f"the {limit:.0e} a {dtype} solve resolves (it would return NaN); {hint}leave the "
            f"weakest phase out (treat it as non-conducting)"
        )


def _solve(
    values: Array | np.ndarray,
    *,
    diffusivities: tuple[tuple[int, float], ...] | None,
    dtype: str,
    axis: int,
    voxel_size,
    config: SolverConfig,
) -> TortuosityResult:
    """The one driver: batch, choose the strategy, check memory, label the clusters, solve.

    ``values`` is a diffusivity field (``diffusivities=None``) or phase ids mapped by
    ``diffusivities``; the field is built inside the jitted solve. Eager calls with host
    labelling (CPU) label a NumPy mask with cc3d directly (eager JAX ops on the whole volume
    cost ~15 ms at 128^3); traced calls through a host callback; with device labelling
    (accelerators) the flood fill runs in its own jitted call (cc3d: 0.14 s at 256^3 here,
    the flood fill 2.8 s on CPU; on a GPU host labelling plus two transfers would outlast the
    solve).
    """
    batch, batched = _as_batch(values, "volume")
    weights = _spacing_weights(voxel_size, axis)
    if batch.shape[axis + 1] < 2:
        raise ValueError(
            f"the volume needs at least 2 voxels along the transport axis {axis}, "
            f"got shape {tuple(np.shape(values))}"
        )
    strategy = choose_strategy(config.platform, batch)
    traced = _is_traced(batch)
    if not traced:
        check_memory(np.shape(batch), dtype, strategy.one_volume_at_a_time)
    if strategy.label_on_host and not traced:
        host = np.asarray(batch)
        mask = np.moveaxis(_host_mask(host, diffusivities), axis + 1, 1)
        cluster, percolates = inlet_clusters_numpy(mask, periodic=config.periodic)
    else:
        batch = jnp.asarray(batch)
        mask = transport_field(batch, diffusivities, dtype, axis) > 0
        cluster, percolates = _inlet_cluster_batch(
            mask,
            periodic=config.periodic,
            method="host" if strategy.label_on_host else "flood_fill",
            sequential_scan=strategy.sequential_scan,
        )
    return _solve_batch(
        batch,
        cluster,
        percolates,
        config.conv_crit,
        config.max_iter,
        diffusivities=diffusivities,
        dtype=dtype,
        axis=axis,
        weights=weights,
        periodic=config.periodic,
        dirichlet_offset=config.dirichlet_offset,
        multigrid=config.multigrid,
        batched=batched,
        one_at_a_time=strategy.one_volume_at_a_time,
    )


def _from_mask(mask, phase, diffusivities) -> tuple[Array | np.ndarray, int, None]:
    """A boolean mask as phase ids: ``True`` (conducting) is phase 1, ``False`` phase 0.

    TauFactor and most imaging tools read a binary image with 1 = the phase of interest; read
    as phase ids with the default ``PORE = 0``, a mask would solve its ``False`` voxels.
    """
    if phase is not None or diffusivities is not None:
        raise ValueError(
            "a boolean mask conducts where it is True, so phase and diffusivities do not apply; "
            "pass integer phase ids to choose phases (e.g. mask.astype(np.uint8))"
        )
    ids = mask.astype(jnp.uint8) if isinstance(mask, jax.Array) else np.asarray(mask, np.uint8)
    return ids, 1, None


# ---------------------------------------------------------------------------------------------
# Public API.


def tortuosity_from_field(
    conductivity: Array,
    axis: int = THROUGH_PLANE_AXIS,
    *,
    voxel_size: float | Sequence[float] = 1.0,
    config: SolverConfig | None = None,
    **options,
) -> TortuosityResult:
    """Tortuosity factor of a continuous (soft) per-voxel diffusivity field; differentiable.

    Works inside ``jax.jit`` and under ``jax.grad``/``jax.vmap``: ``jax.grad`` of ``.tau`` with
    respect to ``conductivity`` is exact up to the solver tolerance (implicit differentiation).
    Face conductances are harmonic means of the voxel values; voxels with value 0 do not conduct.

    Args:
        conductivity: ``(z, y, x)`` or a batch ``(n, z, y, x)`` of relative diffusivities
            ``D / D_0 >= 0`` (float32 or float64); a batch is solved as in :func:`tortuosity`.
        axis: transport axis of the volume (0 = through-plane).
        voxel_size: voxel edge length, one number or three (z, y, x); only ratios matter.
        config: the solver options (default :class:`SolverConfig` ``()``); its ``dtype``, if
            set, converts the field, else the field's own dtype is used.
        **options: any field of :class:`SolverConfig` (``conv_crit``, ``max_iter``, ``dtype``,
            ``periodic``, ``dirichlet_offset``, ``platform``, ``multigrid``), overriding
            ``config``'s.

    Returns:
        :class:`TortuosityResult` (``tau = mean(conductivity) / D_eff``; ``inf`` where nothing
        conducts from face to face).

    Raises:
        ValueError: bad dimensionality, dtype, axis, options, or (outside jit) NaN, negative or
            infinite values, or a memory estimate above the available memory.
        TypeError: an unknown option.
    """
    config = SolverConfig.of(config, **options)
    axis = _check_axis(axis)
    kind = getattr(conductivity, "dtype", None)
    if kind is None or not jnp.issubdtype(kind, jnp.floating):
        raise ValueError(
            f"conductivity must be a float array, got dtype {kind}; for phase labels use "
            f"tortuosity(volume, phase=...)"
        )
    dtype = _check_dtype(config.dtype or kind)
    if dtype != np.dtype(kind).name:
        conductivity = jnp.asarray(conductivity, dtype)
    if not _is_traced(conductivity):
        values = np.asarray(conductivity)
        if np.isnan(values).any():
            raise ValueError("conductivity contains NaN; replace them (e.g. jnp.nan_to_num) first")
        if (values < 0).any() or np.isinf(values).any():
            raise ValueError("conductivity must be finite and >= 0 everywhere")
        conducting = values[values > 0]
        if conducting.size:
            _check_contrast(float(conducting.min()), float(conducting.max()), dtype, "conductivity values")
    return _solve(
        conductivity, diffusivities=None, dtype=dtype, axis=axis, voxel_size=voxel_size, config=config
    )


def tortuosity(
    volume: Array | np.ndarray,
    phase: int | Sequence[int] | None = None,
    axis: int = THROUGH_PLANE_AXIS,
    *,
    diffusivities: Mapping[int, float] | None = None,
    voxel_size: float | Sequence[float] = 1.0,
    config: SolverConfig | None = None,
    **options,
) -> TortuosityResult:
    """Tortuosity factor of a conducting phase of a labelled volume (or a batch of volumes).

    ``tortuosity(volume).tau`` is the pore-phase, through-plane value. Jittable (options are
    static values); outside jit the input is checked and the memory estimated first.

    Args:
        volume: integer phase ids, ``(z, y, x)`` or a batch ``(n, z, y, x)``; or a boolean
            mask in which ``True`` conducts (as TauFactor reads a binary image). On CPU a batch
            is solved one volume after another, each to its own iteration count; on
            accelerators as one batch (``platform``, :mod:`~jaxmicro.characterise.dispatch`).
        phase: the conducting phase id, or several ids (all with diffusivity 1); default
            ``PORE``. Ignored if ``diffusivities`` is given. A phase that does not occur gives
            ``tau = inf``. Not allowed with a boolean mask (its ``True`` voxels conduct).
        axis: transport axis (0 = through-plane, 1 and 2 in-plane).
        diffusivities: phase id -> relative diffusivity, for several conducting phases, e.g.
            ``{PORE: 1.0, CBD: 0.1}`` (then ``tau = sum_p eps_p D_p / D_eff``, TauFactor's
            ``MultiPhaseSolver`` definition).
        voxel_size: voxel edge length, one number or three (z, y, x) [m or any unit]; only
            ratios matter (anisotropic voxels).
        config: the solver options (default :class:`SolverConfig` ``()``: conv_crit 1e-4,
            float32, closed side faces, TauFactor's face-centred fixed concentrations).
        **options: any field of :class:`SolverConfig` (``conv_crit``, ``max_iter``, ``dtype``,
            ``periodic``, ``dirichlet_offset``, ``platform``, ``multigrid``), overriding
            ``config``'s.

    Returns:
        :class:`TortuosityResult`; ``tau = inf``, ``percolates = False`` for a volume whose
        phase does not join the two faces (or does not occur).

    Raises:
        ValueError: on a non-integer or wrongly shaped volume, an axis out of range, a bad
            option or diffusivity, a diffusivity contrast below :data:`MIN_DIFFUSIVITY_RATIO`,
            a ``phase`` or ``diffusivities`` given with a boolean mask, or a volume whose
            memory estimate exceeds the available memory.
        TypeError: an unknown option.
    """
    config = SolverConfig.of(config, **options)
    axis = _check_axis(axis)
    dtype = _check_dtype(config.dtype)
    kind = volume.dtype if hasattr(volume, "dtype") else np.asarray(volume).dtype
    if jnp.issubdtype(kind, jnp.bool_):
        volume, phase, diffusivities = _from_mask(volume, phase, diffusivities)
    elif not jnp.issubdtype(kind, jnp.integer):
        raise ValueError(
            f"volume must hold integer phase ids, got dtype {kind}; for a continuous field use "
            f"tortuosity_from_field"
        )
    if diffusivities is None:
        phases = [PORE if phase is None else phase] if np.ndim(phase) == 0 else list(phase)
        diffusivities = {int(p): 1.0 for p in phases}
    if not diffusivities or any(not (v > 0 and math.isfinite(v)) for v in diffusivities.values()):
        raise ValueError(f"diffusivities must map phase ids to finite values > 0, got {dict(diffusivities)}")
    values = [float(v) for v in diffusivities.values()]
    _check_contrast(min(values), max(values), dtype, f"diffusivities {dict(diffusivities)}")
    static = tuple(sorted((int(p), float(d)) for p, d in diffusivities.items()))  # hashable, for jit
    return _solve(volume, diffusivities=static, dtype=dtype, axis=axis, voxel_size=voxel_size, config=config)
