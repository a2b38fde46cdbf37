"""The design space: which design variables a campaign optimises, and where.

The design variables are the three manufacturing labels and, optionally, one cell design
variable (:data:`CELL_VARIABLES`): the AM coat weight or the coating thickness, which sets how
much of the microstructure the cell holds. The optimiser sees only the free variables, in their
physical units; the fixed labels are filled in when a point becomes a full
``(am_wt, porosity, adhesion)`` label, and a free cell variable becomes that point's coat weight
or thickness (:meth:`DesignSpace.cell_variables`). Label bounds default to the generator's
trained range, since a generator is not trusted outside it.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any, Final

import numpy as np

from jaxmicro.data.labels import LABEL_FIELDS

CELL_VARIABLES: Final[dict[str, str]] = {
    "am_loading_mg_cm2": "loading",
    "cathode_thickness_um": "thickness",
}
"""Cell design variables that can be optimised beside the labels, with the design basis each
one sets for its point (see :class:`~jaxmicro.design.DesignSettings`): the AM coat weight per
side [mg/cm^2] (a coater's set point; the thickness follows from the calendered porosity) or the
coating thickness per side [um] (the loading follows)."""

CELL_VARIABLE_BOUNDS: Final[dict[str, tuple[float, float]]] = {
    "am_loading_mg_cm2": (10.0, 35.0),
    "cathode_thickness_um": (40.0, 160.0),
}
"""Default bounds of the cell variables: 10-35 mg/cm^2 of NMC at the model's 175 mAh/g is
1.75-6.1 mAh/cm^2, from power cells to the thickest commercial energy cathodes (about
4-5 mAh/cm^2 in automotive cells, Kwade et al., Nat. Energy 3, 290 (2018)); 40-160 um spans the
same range in thickness."""

DESIGN_VARIABLES: Final[tuple[str, ...]] = (*LABEL_FIELDS, *CELL_VARIABLES)
"""Every design variable, in the order a design space lists its free ones."""


@dataclasses.dataclass(frozen=True)
class DesignSpace:
    """Free design variables with their bounds, and fixed values for the other labels.

    Attributes:
        free: names of the optimised variables, in :data:`DESIGN_VARIABLES` order: labels, then
            at most one of :data:`CELL_VARIABLES`.
        bounds: ``(low, high)`` per free variable, physical units.
        fixed: value of every label that is not free (a cell variable that is not free takes
            its value from the :class:`~jaxmicro.design.DesignSettings`).
    """

    free: tuple[str, ...]
    bounds: tuple[tuple[float, float], ...]
    fixed: Mapping[str, float]

    def __post_init__(self) -> None:
        if not self.free:
            raise ValueError(
                f"a design space needs at least one free variable; choose from {DESIGN_VARIABLES}"
            )
        if unknown := [name for name in self.free if name not in DESIGN_VARIABLES]:
            raise ValueError(f"unknown design variables {unknown}; choose from {DESIGN_VARIABLES}")
        if len(cells := [name for name in self.free if name in CELL_VARIABLES]) > 1:
            raise ValueError(
                f"optimise at most one cell variable, got {cells}: at given labels a coat weight "
                "sets the thickness and vice versa"
            )
        if len(self.bounds) != len(self.free):
            raise ValueError(f"got {len(self.bounds)} bounds for {len(self.free)} free labels {self.free}")
        for name, (low, high) in zip(self.free, self.bounds, strict=True):
            if not (math.isfinite(low) and math.isfinite(high) and low < high):
                raise ValueError(f"bounds of {name!r} must be finite with low < high, got ({low}, {high})")
        labels = set(self.free) - set(CELL_VARIABLES)
        if labels & set(self.fixed) or labels | set(self.fixed) != set(LABEL_FIELDS):
            raise ValueError(
                f"every label must be either free or fixed, once: free {self.free},"
                f" fixed {sorted(self.fixed)}"
            )

    @property
    def dim(self) -> int:
        return len(self.free)

    @property
    def cell_variable(self) -> str | None:
        """The free cell variable (one of :data:`CELL_VARIABLES`), or ``None``."""
        return next((name for name in self.free if name in CELL_VARIABLES), None)

    def full_labels(self, x: np.ndarray) -> np.ndarray:
        """Points ``(n, dim)`` -> full labels ``(n, 3)`` in :data:`LABEL_FIELDS` order (a free
        cell variable is dropped: see :meth:`cell_variables`)."""
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        columns = {name: x[:, i] for i, name in enumerate(self.free)}
        return np.stack(
            [columns.get(name, np.full(len(x), self.fixed.get(name, np.nan))) for name in LABEL_FIELDS],
            axis=1,
        )

    def cell_variables(self, x: np.ndarray) -> list[dict[str, float]] | None:
        """Points ``(n, dim)`` -> each point's cell variable ``{name: value}``, or ``None`` when
        no cell variable is free (every point uses the settings' coat weight or thickness)."""
        name = self.cell_variable
        if name is None:
            return None
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        return [{name: float(v)} for v in x[:, self.free.index(name)]]

    def point(self, values: Mapping[str, float]) -> np.ndarray:
        """The point ``(dim,)`` of an evaluation's ``labels`` (its labels and cell variable)."""
        return np.array([float(values[name]) for name in self.free])

    def to_dict(self) -> dict[str, Any]:
        return {"free": list(self.free), "bounds": [list(b) for b in self.bounds], "fixed": dict(self.fixed)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DesignSpace:
        return cls(
            free=tuple(data["free"]),
            bounds=tuple((float(lo), float(hi)) for lo, hi in data["bounds"]),
            fixed={k: float(v) for k, v in data["fixed"].items()},
        )


def design_space(
    label_ranges: Mapping[str, tuple[float, float]],
    free: Sequence[str] = ("am_wt", "porosity"),
    fixed: Mapping[str, float] | None = None,
    bounds: Mapping[str, tuple[float, float]] | None = None,
) -> DesignSpace:
    """A design space inside a generator's trained range.

    Args:
        label_ranges: the generator's trained range ``{field: (low, high)}``.
        free: variables to optimise (default ``am_wt`` and ``porosity``, as in the paper): labels
            and at most one of :data:`CELL_VARIABLES`.
        fixed: values of the other labels (default: the middle of the trained range).
        bounds: narrower bounds for some free labels (must lie inside the trained range), or the
            bounds of a free cell variable (default :data:`CELL_VARIABLE_BOUNDS`; positive).

    Raises:
        ValueError: an unknown variable, a fixed value or bound outside the trained range.
    """
    fixed = dict(fixed or {})
    bounds = dict(bounds or {})
    for name in [*free, *bounds]:
        if name not in DESIGN_VARIABLES:
            raise ValueError(f"unknown design variable {name!r}; choose from {DESIGN_VARIABLES}")
    for name in fixed:
        if name not in LABEL_FIELDS:
            hint = " (set a cell variable's value in DesignSettings)" if name in CELL_VARIABLES else ""
            raise ValueError(f"cannot fix {name!r}; fixed values are labels {LABEL_FIELDS}{hint}")
    if both := sorted(set(free) & set(fixed)):
        raise ValueError(f"labels {both} are both optimised and fixed; drop one")
    free = tuple(name for name in DESIGN_VARIABLES if name in free)
    for name in free:
        if name in CELL_VARIABLES:
            low, high = bounds.get(name, CELL_VARIABLE_BOUNDS[name])
            if not 0 < low < high:
                raise ValueError(f"bounds of {name!r} must be positive with low < high, got ({low}, {high})")
            bounds[name] = (float(low), float(high))
    for name in LABEL_FIELDS:
        low, high = label_ranges[name]
        if name in free:
            b_low, b_high = bounds.get(name, (low, high))
            if b_low < low - 1e-12 or b_high > high + 1e-12:
                raise ValueError(
                    f"bounds {(b_low, b_high)} of {name!r} leave the generator's trained range "
                    f"({low}, {high}); narrow them"
                )
            bounds[name] = (float(b_low), float(b_high))
        else:
            value = float(fixed.get(name, 0.5 * (low + high)))
            if not low - 1e-12 <= value <= high + 1e-12:
                raise ValueError(
                    f"fixed {name}={value} is outside the generator's trained range ({low}, {high})"
                )
            fixed[name] = value
    return DesignSpace(free=free, bounds=tuple(bounds[name] for name in free), fixed=fixed)
