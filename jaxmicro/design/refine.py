"""Gradient refinement of a design optimum: projected steepest ascent from a campaign's best
label, inside the design space (issue 23 item 4, "a local gradient refinement of the BO optimum
inside the trained range").

The objective uses common generator seeds, so it is a deterministic, smooth function of the
labels, and a gradient step is a step of the design, not of seed noise. From the start label the
refinement takes the gradient (:func:`~jaxmicro.design.sensitivity.point_and_sensitivities`,
either ``method``), projects it on the design space's box (a component pushing out of an active
bound is dropped), and steps along it in the space scaled to unit ranges:

* a step that improves the objective is kept and the next one along the same direction is twice
  as long (no new gradient while the direction keeps paying);
* a step that does not is halved; after a kept step a failed one first takes a new gradient at
  the best label;
* it stops when the label evaluations reach ``max_evaluations`` (a difference gradient spends
  ``2 x free`` of them, the chain none), the radius falls below ``min_radius``, the projected
  gradient vanishes (a corner or a stationary point), or a gradient could not be taken
  (:data:`STOPS`).

Every evaluation and gradient is appended to a JSON-lines log as it completes; a rerun with the
same log replays them and goes on (the steps are deterministic), so a killed refinement loses at
most the evaluation in flight.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import numpy as np

from jaxmicro.design.objective import DesignObjective, Evaluation
from jaxmicro.design.records import append_record, read_records, repair_records
from jaxmicro.design.sensitivity import METHODS, Sensitivity, difference_evaluations, point_and_sensitivities
from jaxmicro.design.space import DesignSpace

STOPS: Final[dict[str, str]] = {
    "budget": "its labels ran out",
    "radius": "no shorter step improved",
    "stationary": "the gradient points out of the design space or vanishes: an optimum on its edge",
    "failed": "a neighbouring evaluation failed, so there was no gradient to follow",
}
"""Why a refinement stopped, and what that says."""


@dataclasses.dataclass(frozen=True)
class RefineSettings:
    """How a refinement spends its evaluations.

    Attributes:
        max_evaluations: label evaluations it may add (generation + cells; a difference
            gradient's neighbours count, the chain's cell-only simulations do not).
        method: how the gradient is taken (one of
            :data:`~jaxmicro.design.sensitivity.METHODS`).
        initial_radius: first step length, as a fraction of each free variable's range [-].
        min_radius: stop below this step length [-].
    """

    max_evaluations: int = 6
    method: str = "differences"
    initial_radius: float = 0.15
    min_radius: float = 0.01

    def __post_init__(self) -> None:
        if isinstance(self.max_evaluations, bool) or not isinstance(self.max_evaluations, int | np.integer):
            raise ValueError(f"max_evaluations must be a whole number, got {self.max_evaluations!r}")
        if self.max_evaluations < 1:
            raise ValueError(f"max_evaluations must be at least 1, got {self.max_evaluations}")
        if self.method not in METHODS:
            raise ValueError(f"unknown gradient method {self.method!r}; use one of {', '.join(METHODS)}")
        if not 0 < self.min_radius <= self.initial_radius <= 1:
            raise ValueError(
                f"need 0 < min_radius <= initial_radius <= 1 (fractions of the range), got "
                f"{self.min_radius} and {self.initial_radius}"
            )


@dataclasses.dataclass(frozen=True)
class RefineResult:
    """A finished refinement.

    Attributes:
        start: the label it started from.
        best: the best evaluation seen (``start`` when nothing improved on it).
        evaluations: every label evaluation it added, in order (steps and difference
            neighbours).
        roles: per evaluation, ``"step"`` or ``"gradient"`` (a difference neighbour).
        gradients: each gradient taken, one :class:`Sensitivity` per free variable.
        gradient_labels: the full label each gradient was taken at.
        stopped: a key of :data:`STOPS`.
        wall_time_s: wall time of this run (replayed records cost nothing) [s].
    """

    start: Evaluation
    best: Evaluation
    evaluations: tuple[Evaluation, ...]
    roles: tuple[str, ...]
    gradients: tuple[tuple[Sensitivity, ...], ...]
    gradient_labels: tuple[dict[str, float], ...]
    stopped: str
    wall_time_s: float


class _Log:
    """Replays a refinement log in order, then appends to it."""

    def __init__(self, path: Path | None, header: dict[str, Any]) -> None:
        self.path = path
        self.pending: list[dict[str, Any]] = []
        if path is None:
            return
        repair_records(path)
        records = read_records(path)
        if records and records[0] != header:
            raise ValueError(
                f"{path} holds another refinement (start or settings differ); choose another folder"
            )
        if not records:
            append_record(path, header)
        self.pending = records[1:]

    def replay(self, kind: str, labels: dict[str, float]) -> dict[str, Any] | None:
        if not self.pending:
            return None
        record = self.pending.pop(0)
        logged = record.get("labels") or {}
        same = logged.keys() == labels.keys() and all(
            math.isclose(logged[k], v, rel_tol=1e-9) for k, v in labels.items()
        )
        if record.get("type") != kind or not same:
            raise ValueError(f"{self.path}: the log does not replay ({kind} at {labels}); it was edited")
        return record

    def append(self, record: dict[str, Any]) -> None:
        if self.path is not None:
            append_record(self.path, record)


def refine(
    objective: DesignObjective,
    space: DesignSpace,
    start: Evaluation,
    settings: RefineSettings = RefineSettings(),
    log_path: str | Path | None = None,
    on_evaluation: Callable[[Evaluation], None] | None = None,
) -> RefineResult:
    """Refines ``start`` by projected steepest ascent of ``objective`` over ``space``.

    Args:
        objective: the design objective (common seeds: evaluated with ``adaptive=False``).
        space: the free variables and their bounds (the steps stay inside).
        start: an evaluation (e.g. a campaign's best); a failed one cannot be refined. One
            with other seeds than the objective's (adaptive seeds) is first evaluated again on
            the objective's, as the first of the budget.
        settings: budget, gradient method and step lengths.
        log_path: JSON-lines log to append to and to resume from (``None``: none).
        on_evaluation: called with each new label evaluation (progress).

    Returns:
        The :class:`RefineResult`.

    Raises:
        ValueError: ``start`` failed, or the log holds another refinement.
    """
    if start.failed:
        raise ValueError(f"cannot refine a failed evaluation ({start.reason}); start from a successful one")
    begun = time.perf_counter()
    low, high = (np.array(b, dtype=np.float64) for b in zip(*space.bounds, strict=True))
    header = {"type": "refine", "start": start.labels, "settings": dataclasses.asdict(settings)}
    log = _Log(None if log_path is None else Path(log_path), header)
    evaluations: list[Evaluation] = []
    roles: list[str] = []
    gradients: list[tuple[Sensitivity, ...]] = []
    gradient_labels: list[dict[str, float]] = []

    def add(found: Evaluation, role: str) -> None:
        evaluations.append(found)
        roles.append(role)
        if on_evaluation is not None:
            on_evaluation(found)

    def evaluate(unit: np.ndarray) -> Evaluation:
        x = low + unit * (high - low)
        labels = {**dict(zip(space.free, map(float, x), strict=True)), **_fixed(space, start)}
        full = {name: labels[name] for name in start.labels}
        if (record := log.replay("evaluation", full)) is not None:
            found = Evaluation.from_dict(record)
        else:
            found = objective(space.full_labels(x), cell_variables=space.cell_variables(x), adaptive=False)[0]
            log.append({"type": "evaluation", **found.to_dict()})
        add(found, "step")
        return found

    def gradient(at: Evaluation) -> np.ndarray:
        """d objective / d unit coordinate at ``at``, with its neighbours' evaluations added."""
        if (record := log.replay("gradient", at.labels)) is not None:
            items = tuple(Sensitivity.from_dict(d) for d in record["sensitivities"])
            neighbours = [Evaluation.from_dict(d) for d in record["neighbours"]]
        elif settings.method == "differences":
            found, items = difference_evaluations(objective, space, at.labels, point=at)
            neighbours = found[1:]
        else:
            items = point_and_sensitivities(objective, space, at.labels, method="chain", point=at)[1]
            neighbours = []
        if record is None:
            log.append(
                {
                    "type": "gradient",
                    "labels": at.labels,
                    "sensitivities": [s.to_dict() for s in items],
                    "neighbours": [e.to_dict() for e in neighbours],
                }
            )
        for neighbour in neighbours:
            add(neighbour, "gradient")
        gradients.append(items)
        gradient_labels.append(dict(at.labels))
        return np.array([s.gradient for s in items]) * (high - low)

    cost = 2 * space.dim if settings.method == "differences" else 0
    best, unit = start, (space.point(start.labels) - low) / (high - low)
    if tuple(start.seeds) != tuple(objective.seeds):  # adaptive seeds: compare like with like
        best = evaluate(unit)  # the start on the objective's own seeds, one of the budget
        if best.failed:
            raise ValueError(f"the start failed on the objective's seeds ({best.reason}); cannot refine it")
    radius, stopped, direction, kept = settings.initial_radius, "budget", None, False
    while True:
        if direction is None:
            if len(evaluations) + cost + 1 > settings.max_evaluations:
                break
            slope = gradient(best)
            kept = False
            if not np.isfinite(slope).all():
                stopped = "failed"
                break
            direction = _projected(slope, unit)
            if direction is None:
                stopped = "stationary"
                break
        if len(evaluations) + 1 > settings.max_evaluations:
            break
        trial = np.clip(unit + radius * direction, 0.0, 1.0)
        if np.max(np.abs(trial - unit)) < 0.5 * settings.min_radius:
            stopped = "stationary"
            break
        found = evaluate(trial)
        if not found.failed and found.objective > best.objective:
            best, unit, kept = found, trial, True
            radius = min(2.0 * radius, 1.0)
            continue
        radius *= 0.5
        if radius < settings.min_radius:
            stopped = "radius"
            break
        if kept:
            direction = None  # the old direction stopped paying: a fresh gradient at the best
    best_seen = max((e for e in evaluations if not e.failed), key=lambda e: e.objective, default=best)
    if best_seen.objective > best.objective:
        best = best_seen  # a difference neighbour can beat the steps
    return RefineResult(
        start,
        best,
        tuple(evaluations),
        tuple(roles),
        tuple(gradients),
        tuple(gradient_labels),
        stopped,
        time.perf_counter() - begun,
    )


def _fixed(space: DesignSpace, start: Evaluation) -> dict[str, float]:
    """The start's values of everything that is not free (fixed labels, a fixed cell variable)."""
    return {name: float(value) for name, value in start.labels.items() if name not in space.free}


def _projected(slope: np.ndarray, unit: np.ndarray) -> np.ndarray | None:
    """The unit ascent direction with components that push out of an active bound dropped, or
    ``None`` when nothing is left."""
    blocked = ((unit <= 1e-9) & (slope < 0)) | ((unit >= 1 - 1e-9) & (slope > 0))
    direction = np.where(blocked, 0.0, slope)
    norm = float(np.linalg.norm(direction))
    return None if norm == 0 or not math.isfinite(norm) else direction / norm


__all__ = ["STOPS", "RefineResult", "RefineSettings", "refine"]
