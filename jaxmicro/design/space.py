"""The design space: which manufacturing labels a campaign optimises, and where.

The optimiser sees only the free labels, in their physical units; the fixed ones are filled in
when a point becomes a full ``(am_wt, porosity, adhesion)`` label. Bounds default to the
generator's trained range, since a generator is not trusted outside it.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from jaxmicro.data.labels import LABEL_FIELDS


@dataclasses.dataclass(frozen=True)
class DesignSpace:
    """Free labels with their bounds, and fixed values for the rest.

    Attributes:
        free: names of the optimised labels, in :data:`LABEL_FIELDS` order.
        bounds: ``(low, high)`` per free label, physical units.
        fixed: value of every other label.
    """

    free: tuple[str, ...]
    bounds: tuple[tuple[float, float], ...]
    fixed: Mapping[str, float]

    def __post_init__(self) -> None:
        if not self.free:
            raise ValueError(f"a design space needs at least one free label; choose from {LABEL_FIELDS}")
        if len(self.bounds) != len(self.free):
            raise ValueError(f"got {len(self.bounds)} bounds for {len(self.free)} free labels {self.free}")
        for name, (low, high) in zip(self.free, self.bounds, strict=True):
            if not (math.isfinite(low) and math.isfinite(high) and low < high):
                raise ValueError(f"bounds of {name!r} must be finite with low < high, got ({low}, {high})")
        if set(self.free) & set(self.fixed) or set(self.free) | set(self.fixed) != set(LABEL_FIELDS):
            raise ValueError(
                f"every label must be either free or fixed, once: free {self.free},"
                f" fixed {sorted(self.fixed)}"
            )

    @property
    def dim(self) -> int:
        return len(self.free)

    def full_labels(self, x: np.ndarray) -> np.ndarray:
        """Free-label points ``(n, dim)`` -> full labels ``(n, 3)`` in :data:`LABEL_FIELDS` order."""
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        columns = {name: x[:, i] for i, name in enumerate(self.free)}
        return np.stack(
            [columns.get(name, np.full(len(x), self.fixed.get(name, np.nan))) for name in LABEL_FIELDS],
            axis=1,
        )

    def free_values(self, labels: np.ndarray) -> np.ndarray:
        """Full labels ``(n, 3)`` -> free-label points ``(n, dim)``."""
        labels = np.atleast_2d(np.asarray(labels, dtype=np.float64))
        return labels[:, [LABEL_FIELDS.index(name) for name in self.free]]

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
        free: labels to optimise (default ``am_wt`` and ``porosity``, as in the paper).
        fixed: values of the other labels (default: the middle of the trained range).
        bounds: narrower bounds for some free labels (must lie inside the trained range).

    Raises:
        ValueError: an unknown label, a fixed value or bound outside the trained range.
    """
    fixed = dict(fixed or {})
    bounds = dict(bounds or {})
    for name in [*free, *fixed, *bounds]:
        if name not in LABEL_FIELDS:
            raise ValueError(f"unknown label {name!r}; labels are {LABEL_FIELDS}")
    if both := sorted(set(free) & set(fixed)):
        raise ValueError(f"labels {both} are both optimised and fixed; drop one")
    free = tuple(name for name in LABEL_FIELDS if name in free)
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
