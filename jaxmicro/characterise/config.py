"""Options of the tortuosity solver as one value (as lineax and optimistix pass a solver object).

:class:`SolverConfig` is frozen and hashable: it can be a static argument of ``jax.jit``, a
dictionary key, or a module constant. :func:`~jaxmicro.characterise.tortuosity` and
:func:`~jaxmicro.characterise.tortuosity_from_field` take one (``config=``) and also accept its
fields as keyword options, which override the config's.
"""

from __future__ import annotations

import dataclasses
from typing import Final

import numpy as np

DEFAULT_CONV_CRIT: Final[float] = 1e-4
DEFAULT_MAX_ITER: Final[int] = 300

PLATFORMS: Final[tuple[str, ...]] = ("auto", "cpu", "accelerator")
"""Values of :attr:`SolverConfig.platform` (see :mod:`~jaxmicro.characterise.dispatch`)."""


def _positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


@dataclasses.dataclass(frozen=True)
class MultigridConfig:
    """Tuning of the multigrid K-cycle preconditioner (:mod:`~jaxmicro.characterise.multigrid`).

    The defaults were chosen on a 2-core CPU (``experiments/tune_multigrid.py`` times others).

    Attributes:
        max_coarse_voxels: largest coarsest grid, solved with a dense inverse [voxels].
        inner_iterations: flexible-CG steps on each intermediate coarse grid per visit
            (K-cycle); 1 = a V-cycle whose coarse corrections are scaled by one CG step size.
    """

    max_coarse_voxels: int = 64
    inner_iterations: int = 2

    def __post_init__(self) -> None:
        for name in ("max_coarse_voxels", "inner_iterations"):
            object.__setattr__(self, name, _positive_int(getattr(self, name), name))


@dataclasses.dataclass(frozen=True)
class SolverConfig:
    """Options of a tortuosity solve (frozen, hashable; checked on construction).

    Attributes:
        conv_crit: relative spread of the plane fluxes ``(max F - min F) / mean F`` at which
            the solve stops, in (0, 1). ``1e-3`` gives tau to about 1e-6 relative, ``1e-4``
            to about 1e-7 (tau comes from the dissipation, whose error is quadratic in the
            solution error, less an estimate of that error). Traced: changing it does not
            recompile.
        max_iter: iteration limit (``converged`` is False where it is reached). Traced too.
        dtype: ``"float32"`` or ``"float64"`` (needs ``jax_enable_x64``); ``None`` (default):
            float32 for labelled volumes, the field's own dtype for
            :func:`~jaxmicro.characterise.tortuosity_from_field` (another dtype converts it).
        periodic: periodic side faces (else no flux through them).
        dirichlet_offset: distance of the fixed-concentration planes from the first and last
            voxel centres [voxels]: 0.5 (TauFactor's ``Solver``) or 1.0 (TauFactor's
            ``MultiPhaseSolver``, which puts them on a ghost voxel; about 0.4 % apart at 48^3).
        platform: how a batch is solved and where its clusters are labelled
            (:func:`~jaxmicro.characterise.dispatch.choose_strategy`): ``"cpu"``, volume after
            volume with host labelling (cc3d); ``"accelerator"``, one vmapped batch with the
            flood fill on the device; ``"auto"`` (default), by the platform the solve runs on.
        multigrid: the preconditioner's tuning.
    """

    conv_crit: float = DEFAULT_CONV_CRIT
    max_iter: int = DEFAULT_MAX_ITER
    dtype: str | None = None
    periodic: bool = False
    dirichlet_offset: float = 0.5
    platform: str = "auto"
    multigrid: MultigridConfig = dataclasses.field(default_factory=MultigridConfig)

    def __post_init__(self) -> None:
        conv_crit = self.conv_crit
        if isinstance(conv_crit, bool) or not (isinstance(conv_crit, (int, float)) and 0 < conv_crit < 1):
            raise ValueError(f"conv_crit must be a number in (0, 1), got {conv_crit!r}")
        offset = self.dirichlet_offset
        if isinstance(offset, bool) or not (isinstance(offset, (int, float)) and offset > 0):
            raise ValueError(f"dirichlet_offset must be > 0 (voxels), got {offset!r}")
        if self.platform not in PLATFORMS:
            raise ValueError(f"platform must be one of {PLATFORMS}, got {self.platform!r}")
        if not isinstance(self.multigrid, MultigridConfig):
            raise ValueError(f"multigrid must be a MultigridConfig, got {self.multigrid!r}")
        # normalised, so that equal options give equal (and equally hashed) configs
        object.__setattr__(self, "conv_crit", float(conv_crit))
        object.__setattr__(self, "max_iter", _positive_int(self.max_iter, "max_iter"))
        object.__setattr__(self, "dtype", None if self.dtype is None else _float_dtype_name(self.dtype))
        object.__setattr__(self, "periodic", bool(self.periodic))
        object.__setattr__(self, "dirichlet_offset", float(offset))

    @classmethod
    def of(cls, config: SolverConfig | None = None, **options) -> SolverConfig:
        """``config`` (default: the defaults) with some fields replaced by keyword options.

        Raises:
            TypeError: an option that is not a field of :class:`SolverConfig`.
        """
        config = cls() if config is None else config
        if not isinstance(config, cls):
            raise TypeError(f"config must be a SolverConfig, got {type(config).__name__}")
        unknown = sorted(set(options) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            names = ", ".join(f.name for f in dataclasses.fields(cls))
            raise TypeError(f"unknown solver option(s) {unknown}; the options are {names}")
        return dataclasses.replace(config, **options) if options else config


def _float_dtype_name(dtype) -> str:
    try:
        name = np.dtype(dtype).name
    except TypeError:
        name = str(dtype)
    if name not in ("float32", "float64"):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    return name
