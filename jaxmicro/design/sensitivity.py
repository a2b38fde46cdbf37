"""What drives a design: the change of the objective and of the measured properties per step of
each design variable, at a label, in the user's units.

The objective uses the same generator seeds at every label (common random numbers), so it is a
smooth function of the labels and a finite difference measures the design, not seed noise.
:func:`sensitivities` evaluates the label and one step either side of it for every free label
(central differences; one-sided where a step would leave the design space), in one batch, and
returns one :class:`Sensitivity` per free label. With ``method="chain"`` the same record comes
from the gradient by the chain rule through the microstructure
(:func:`~jaxmicro.design.gradient.label_gradient`): no neighbouring label is generated, at the
price of a forward-mode pass per label and 12 cell simulations (``docs/bench.md`` has both
costs); it covers the three labels, not a cell variable.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any, Final

import numpy as np

from jaxmicro._files import finite_or_none
from jaxmicro.data.labels import LABEL_FIELDS
from jaxmicro.design.gradient import CELL_INPUTS, label_gradient
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

METHODS: Final[tuple[str, ...]] = ("differences", "chain")
"""How a :class:`Sensitivity` is found: common-seed finite differences of the whole loop, or the
chain rule through the soft measurement (:mod:`jaxmicro.design.gradient`)."""


@dataclasses.dataclass(frozen=True)
class Sensitivity:
    """The effect of one step of one design variable at a label.

    Attributes:
        name: the label (``"am_wt"``, ``"porosity"`` or ``"adhesion"``).
        step: the step [the label's unit].
        objective_per_step: change of the objective per ``+step`` [objective's unit].
        properties_per_step: change of each of :data:`PROPERTY_KEYS` per ``+step`` [their units].
        method: ``"central"``, ``"forward"`` or ``"backward"`` difference, ``"chain"`` (the
            first-order change by the chain rule), or ``"failed"`` when a neighbour's evaluation
            failed (then the values are NaN).
        objective_per_step_standard_error: its standard error over the generator seeds: the
            same difference taken on each seed's own objective, ``sd / sqrt(n)`` (the chain:
            over the property Jacobian's seeds) [objective's unit]; NaN with one seed or when a
            seed's cell failed.
    """

    name: str
    step: float
    objective_per_step: float
    properties_per_step: dict[str, float]
    method: str
    objective_per_step_standard_error: float = math.nan

    def to_dict(self) -> dict[str, Any]:
        return finite_or_none(dataclasses.asdict(self))

    @property
    def gradient(self) -> float:
        """d objective / d variable [objective's unit per the variable's unit]."""
        return self.objective_per_step / self.step

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
    method: str = "differences",
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
        method: one of :data:`METHODS`.

    Returns:
        One :class:`Sensitivity` per free variable, in ``space.free`` order.

    Raises:
        ValueError: a step that is not positive, or leaves the space both ways; an unknown
            method; the chain asked for a cell variable, or its cell failed.
    """
    return point_and_sensitivities(objective, space, labels, steps, batch_size, method)[1]


def point_and_sensitivities(
    objective: DesignObjective,
    space: DesignSpace,
    labels: Mapping[str, float],
    steps: Mapping[str, float] | None = None,
    batch_size: int | None = None,
    method: str = "differences",
    point: Evaluation | None = None,
) -> tuple[Evaluation, tuple[Sensitivity, ...]]:
    """As :func:`sensitivities`, with the evaluation of ``labels`` itself (evaluated anyway).

    Args:
        point: the objective's evaluation at ``labels`` with its own seeds, when known (then
            only the neighbours are evaluated); ``None``: evaluated here.
    """
    if method not in METHODS:
        raise ValueError(f"unknown sensitivity method {method!r}; use one of {', '.join(METHODS)}")
    if method == "chain":
        _, plan = _neighbours(space, space.point(labels), steps or {})
        return _chain(objective, space, labels, plan, point)
    evaluations, items = difference_evaluations(objective, space, labels, steps, batch_size, point)
    return evaluations[0], items


def difference_evaluations(
    objective: DesignObjective,
    space: DesignSpace,
    labels: Mapping[str, float],
    steps: Mapping[str, float] | None = None,
    batch_size: int | None = None,
    point: Evaluation | None = None,
) -> tuple[list[Evaluation], tuple[Sensitivity, ...]]:
    """The finite-difference sensitivities with every evaluation they took: the point's first
    (``point`` when given), then each neighbour's in ``space.free`` order (arguments as
    :func:`point_and_sensitivities`)."""
    points, plan = _neighbours(space, space.point(labels), steps or {})
    todo = points if point is None else points[1:]
    size = len(todo) if batch_size is None else int(batch_size)
    evaluations: list[Evaluation] = [] if point is None else [point]
    for start in range(0, len(todo), size):
        chunk = np.stack(todo[start : start + size])
        padded = np.concatenate([chunk, np.repeat(chunk[:1], size - len(chunk), axis=0)])
        cells = space.cell_variables(padded)
        # The same seeds at every point (no adaptive seeds): a difference of the design alone.
        found = objective(space.full_labels(padded), cell_variables=cells, adaptive=False)
        evaluations += list(found)[: len(chunk)]
    return evaluations, tuple(_difference(evaluations, *row) for row in plan)


def _chain(
    objective: DesignObjective,
    space: DesignSpace,
    labels: Mapping[str, float],
    plan: list[tuple[str, float, str, int, int]],
    point: Evaluation | None,
) -> tuple[Evaluation, tuple[Sensitivity, ...]]:
    """Sensitivities from the chain-rule gradient (first order: gradient x step)."""
    cell = [name for name in space.free if name not in LABEL_FIELDS]
    if cell:
        raise ValueError(
            f"the chain differentiates the labels only, not {cell[0]!r}; use method='differences'"
        )
    found = label_gradient(objective, {name: float(labels[name]) for name in LABEL_FIELDS}, evaluation=point)
    items = []
    for name, step, *_ in plan:
        k = LABEL_FIELDS.index(name)
        changes = {key: found.property_jacobian[CELL_INPUTS.index(key), k] * step if key in CELL_INPUTS
                   else math.nan for key in PROPERTY_KEYS}  # fmt: skip
        error = float(found.gradient_standard_error[k]) * step
        items.append(Sensitivity(name, step, float(found.gradient[k]) * step, changes, "chain", error))
    return found.evaluation, tuple(items)


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
