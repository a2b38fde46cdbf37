"""What drives a design: the change of the objective and of the measured properties per step of
each design variable, at a label, in the user's units.

The objective uses the same generator seeds at every label (common random numbers), so it is a
smooth function of the labels and a finite difference measures the design, not seed noise.
:func:`sensitivities` evaluates the label and one step either side of it for every free label
(central differences; one-sided where a step would leave the design space), in one batch, and
returns one :class:`Sensitivity` per free label.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any, Final

import numpy as np

from jaxmicro._files import finite_or_none
from jaxmicro.design.objective import DesignObjective, Evaluation
from jaxmicro.design.space import DesignSpace

DEFAULT_STEPS: Final[dict[str, float]] = {
    "am_wt": 0.01,
    "porosity": 0.01,
    "adhesion": 0.05,
    "am_loading_mg_cm2": 1.0,
    "cathode_thickness_um": 5.0,
}
"""One step of each design variable, in its own units: a percentage point of AM weight fraction
and of porosity, 0.05 of binder adhesion, 1 mg/cm^2 of coat weight, 5 um of thickness."""

PROPERTY_KEYS: Final[tuple[str, ...]] = (
    "electrolyte_tau_through_plane",
    "solid_conductivity_s_m",
    "am_electrolyte_area_per_volume_m",
    "particle_radius_m",
    "porosity",
)
"""Measured properties whose change per step is reported beside the objective's."""


@dataclasses.dataclass(frozen=True)
class Sensitivity:
    """The effect of one step of one design variable at a label.

    Attributes:
        name: the label (``"am_wt"``, ``"porosity"`` or ``"adhesion"``).
        step: the step [the label's unit].
        objective_per_step: change of the objective per ``+step`` [objective's unit].
        properties_per_step: change of each of :data:`PROPERTY_KEYS` per ``+step`` [their units].
        method: ``"central"``, ``"forward"`` or ``"backward"`` difference, or ``"failed"`` when a
            neighbour's evaluation failed (then the values are NaN).
        objective_per_step_standard_error: its standard error over the generator seeds: the
            same difference taken on each seed's own objective, ``sd / sqrt(n)`` [objective's
            unit]; NaN with one seed or when a seed's cell failed.
    """

    name: str
    step: float
    objective_per_step: float
    properties_per_step: dict[str, float]
    method: str
    objective_per_step_standard_error: float = math.nan

    def to_dict(self) -> dict[str, Any]:
        return finite_or_none(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Sensitivity:
        """Reads :meth:`to_dict` output back (None -> NaN)."""
        nan = lambda v: math.nan if v is None else float(v)  # noqa: E731
        return cls(
            name=values["name"],
            step=float(values["step"]),
            objective_per_step=nan(values["objective_per_step"]),
            properties_per_step={k: nan(v) for k, v in values["properties_per_step"].items()},
            method=values["method"],
            objective_per_step_standard_error=nan(values.get("objective_per_step_standard_error")),
        )

    def describe(self, unit: str = "") -> str:
        """One line, e.g. ``+0.01 porosity: -1.9 Wh/kg`` (``-1.9 +- 0.2 Wh/kg`` with a seed
        standard error)."""
        if self.method == "failed":
            return f"+{self.step:g} {self.name}: (a neighbouring evaluation failed)"
        error = self.objective_per_step_standard_error
        spread = f" +- {error:.2g}" if math.isfinite(error) else ""
        return f"+{self.step:g} {self.name}: {self.objective_per_step:+.3g}{spread} {unit}".rstrip()


def _neighbours(
    space: DesignSpace, point: np.ndarray, steps: Mapping[str, float]
) -> tuple[list[np.ndarray], list[tuple[str, float, str, int, int]]]:
    """Points to evaluate (the point first) and, per free label, how to difference them."""
    points = [point]
    plan = []
    for i, name in enumerate(space.free):
        step = float(steps.get(name, DEFAULT_STEPS[name]))
        if not (math.isfinite(step) and step > 0):
            raise ValueError(f"the step of {name!r} must be a positive number, got {step}")
        low, high = space.bounds[i]
        up, down = point.copy(), point.copy()
        up[i] += step
        down[i] -= step
        can_up, can_down = up[i] <= high + 1e-12, down[i] >= low - 1e-12
        if not (can_up or can_down):
            raise ValueError(
                f"a step of {step} in {name!r} leaves the design space both ways; use a smaller one"
            )
        plus = minus = 0  # index 0 is the point itself
        if can_up:
            points.append(up)
            plus = len(points) - 1
        if can_down:
            points.append(down)
            minus = len(points) - 1
        method = "central" if can_up and can_down else ("forward" if can_up else "backward")
        plan.append((name, step, method, plus, minus))
    return points, plan


def sensitivities(
    objective: DesignObjective,
    space: DesignSpace,
    labels: Mapping[str, float],
    steps: Mapping[str, float] | None = None,
    batch_size: int | None = None,
) -> tuple[Sensitivity, ...]:
    """The objective's and the properties' change per step of each free variable at ``labels``.

    Args:
        objective: the design objective (its seeds are the common random numbers).
        space: which labels are free, and their bounds.
        labels: the full label ``{am_wt, porosity, adhesion}`` (e.g. a campaign's optimum),
            with the free cell variable when the space has one.
        steps: step per free variable in its unit (default :data:`DEFAULT_STEPS`).
        batch_size: evaluate in batches of this many labels, the last padded with the label
            itself (a campaign's batch size reuses its compiled generation); ``None``: one batch.

    Returns:
        One :class:`Sensitivity` per free variable, in ``space.free`` order.

    Raises:
        ValueError: a step that is not positive, or leaves the space both ways.
    """
    return point_and_sensitivities(objective, space, labels, steps, batch_size)[1]


def point_and_sensitivities(
    objective: DesignObjective,
    space: DesignSpace,
    labels: Mapping[str, float],
    steps: Mapping[str, float] | None = None,
    batch_size: int | None = None,
) -> tuple[Evaluation, tuple[Sensitivity, ...]]:
    """As :func:`sensitivities`, with the evaluation of ``labels`` itself (evaluated anyway)."""
    points, plan = _neighbours(space, space.point(labels), steps or {})
    size = len(points) if batch_size is None else int(batch_size)
    evaluations: list[Evaluation] = []
    for start in range(0, len(points), size):
        chunk = np.stack(points[start : start + size])
        padded = np.concatenate([chunk, np.repeat(chunk[:1], size - len(chunk), axis=0)])
        cells = space.cell_variables(padded)
        # The same seeds at every point (no adaptive seeds): a difference of the design alone.
        found = objective(space.full_labels(padded), cell_variables=cells, adaptive=False)
        evaluations += list(found)[: len(chunk)]
    return evaluations[0], tuple(_difference(evaluations, *row) for row in plan)


def _difference(
    evaluations: list[Evaluation], name: str, step: float, method: str, plus: int, minus: int
) -> Sensitivity:
    up, down = evaluations[plus], evaluations[minus]
    if up.failed or down.failed:
        nan = {key: math.nan for key in PROPERTY_KEYS}
        return Sensitivity(name, step, math.nan, nan, "failed")
    span = 2.0 if method == "central" else 1.0

    def per_step(a: float | None, b: float | None) -> float:
        if a is None or b is None:
            return math.nan
        return (float(a) - float(b)) / span

    properties = {key: per_step(up.properties.get(key), down.properties.get(key)) for key in PROPERTY_KEYS}
    seeds = np.subtract(up.seed_objectives, down.seed_objectives) / span if (
        len(up.seed_objectives) == len(down.seed_objectives)) else np.array([])  # fmt: skip
    error = (float(np.std(seeds, ddof=1) / math.sqrt(len(seeds)))
             if len(seeds) > 1 and np.isfinite(seeds).all() else math.nan)  # fmt: skip
    return Sensitivity(name, step, per_step(up.objective, down.objective), properties, method, error)


def most_important(items: tuple[Sensitivity, ...]) -> Sensitivity | None:
    """The free label whose step changes the objective most (by magnitude), if any is finite."""
    finite = [s for s in items if math.isfinite(s.objective_per_step)]
    return max(finite, key=lambda s: abs(s.objective_per_step)) if finite else None
