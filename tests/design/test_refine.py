"""Gradient refinement of an optimum (issue 23 item 4): on a known smooth objective it climbs to
the optimum inside the box, stops at an active bound, keeps its budget and resumes from its log;
on the toy generator both gradient methods run end to end."""

import math

import numpy as np
import pytest

from jaxmicro.data.labels import LABEL_FIELDS
from jaxmicro.design import DesignObjective, DesignSettings, design_space
from jaxmicro.design.objective import Evaluation
from jaxmicro.design.refine import STOPS, RefineSettings, refine
from jaxmicro.design.space import DesignSpace

SPACE = DesignSpace(free=("am_wt", "porosity"), bounds=((0.85, 0.95), (0.25, 0.45)), fixed={"adhesion": 0.5})


class Quadratic:
    """A stand-in objective: ``-((am_wt - a)/0.1)^2 - ((porosity - p)/0.2)^2`` (deterministic, as
    the real one with common seeds), counting its label evaluations; it can be told to die
    after some calls (a killed process)."""

    seeds = (0, 1)

    def __init__(self, optimum: tuple[float, float], die_after: int | None = None) -> None:
        self.optimum = np.array(optimum)
        self.calls = 0
        self.die_after = die_after

    def value(self, am_wt: float, porosity: float) -> float:
        a, p = self.optimum
        return 100.0 - ((am_wt - a) / 0.1) ** 2 - ((porosity - p) / 0.2) ** 2

    def __call__(self, labels, cell_variables=None, adaptive=True):
        assert adaptive is False  # refinement and differences use common seeds
        found = []
        for row in np.atleast_2d(labels):
            if self.die_after is not None and self.calls >= self.die_after:
                raise KeyboardInterrupt("killed")
            self.calls += 1
            labels = dict(zip(LABEL_FIELDS, map(float, row), strict=True))
            value = self.value(labels["am_wt"], labels["porosity"])
            found.append(
                Evaluation(labels, self.seeds, value, False, "", {}, {}, {}, seed_objectives=(value, value))
            )
        return found


def _start(objective: Quadratic, am_wt: float, porosity: float) -> Evaluation:
    return objective(np.array([[am_wt, porosity, 0.5]]), adaptive=False)[0]


def test_refinement_climbs_to_an_interior_optimum_within_its_budget():
    objective = Quadratic((0.92, 0.33))
    start = _start(objective, 0.87, 0.42)
    result = refine(objective, SPACE, start, RefineSettings(max_evaluations=20))
    assert len(result.evaluations) <= 20
    assert objective.calls - 1 == len(result.evaluations)  # every evaluation is in the result
    assert result.best.objective > start.objective
    # From 0.45 below the maximum in objective to within 0.05 of it (a tenth of its start gap).
    assert 100.0 - result.best.objective < 0.1 * (100.0 - start.objective)
    assert set(result.roles) == {"step", "gradient"}
    gradient = {s.name: s.gradient for s in result.gradients[0]}
    # Central differences of a quadratic are exact: d/d am_wt = -2 (0.87 - 0.92) / 0.01 = 10.
    assert gradient["am_wt"] == pytest.approx(10.0, rel=1e-6)
    assert gradient["porosity"] == pytest.approx(-2 * (0.42 - 0.33) / 0.04, rel=1e-6)


def test_refinement_stops_at_an_active_bound_and_stays_inside():
    objective = Quadratic((1.10, 0.30))  # the best am_wt lies past the upper bound 0.95
    start = _start(objective, 0.90, 0.40)
    result = refine(objective, SPACE, start, RefineSettings(max_evaluations=30))
    for found in result.evaluations:
        assert 0.85 - 1e-12 <= found.labels["am_wt"] <= 0.95 + 1e-12
        assert 0.25 - 1e-12 <= found.labels["porosity"] <= 0.45 + 1e-12
    assert result.best.labels["am_wt"] == pytest.approx(0.95)
    assert result.best.labels["porosity"] == pytest.approx(0.30, abs=0.01)
    assert result.stopped in ("radius", "stationary")
    assert set(STOPS) >= {result.stopped}


def test_a_killed_refinement_resumes_from_its_log_to_the_same_result(tmp_path):
    log = tmp_path / "refine.jsonl"
    settings = RefineSettings(max_evaluations=12)
    whole = refine(Quadratic((0.92, 0.33)), SPACE, _start(Quadratic((0.92, 0.33)), 0.87, 0.42), settings)
    dying = Quadratic((0.92, 0.33), die_after=7)
    start = _start(dying, 0.87, 0.42)
    with pytest.raises(KeyboardInterrupt):
        refine(dying, SPACE, start, settings, log_path=log)
    fresh = Quadratic((0.92, 0.33))
    resumed = refine(fresh, SPACE, start, settings, log_path=log)
    assert [e.labels for e in resumed.evaluations] == [e.labels for e in whole.evaluations]
    assert resumed.best.objective == whole.best.objective
    # Only what the killed run had not logged was evaluated again: 6 logged (the 7th call died
    # after the start's), and the gradient taken in the dying batch is recomputed as a whole.
    assert fresh.calls < len(whole.evaluations)
    with pytest.raises(ValueError, match="another refinement"):
        refine(fresh, SPACE, start, RefineSettings(max_evaluations=5), log_path=log)


def test_bad_settings_and_starts_are_refused():
    with pytest.raises(ValueError, match="gradient method"):
        RefineSettings(method="newton")
    with pytest.raises(ValueError, match="min_radius"):
        RefineSettings(initial_radius=0.001)
    objective = Quadratic((0.92, 0.33))
    labels = {"am_wt": 0.9, "porosity": 0.3, "adhesion": 0.5}
    failed = Evaluation(labels, (0, 1), math.nan, True, "no cell", {}, {}, {})
    with pytest.raises(ValueError, match="failed"):
        refine(objective, SPACE, failed)
    # Adaptive seeds: a start on more seeds is evaluated again on the objective's (budget 1).
    other_seeds = Evaluation(labels, (0, 1, 2), 1.0, False, "", {}, {}, {})
    again = refine(objective, SPACE, other_seeds, RefineSettings(max_evaluations=1))
    assert len(again.evaluations) == 1 and again.evaluations[0].seeds == objective.seeds
    assert again.best.objective == objective.value(0.9, 0.3)  # the old value (1.0) is not compared


@pytest.mark.parametrize("method", ["differences", "chain"])
def test_refinement_runs_on_the_toy_generator(toy, method):
    """Both gradient methods end to end on real generation, measurement and cells (16^3):
    within the budget, inside the trained range, never worse than the start; the chain spends no
    label evaluation on its gradient."""
    objective = DesignObjective(toy, DesignSettings(volume_size=16, power_w_per_kg=100.0))
    space = design_space(toy.label_ranges, free=("am_wt", "porosity"), fixed={"adhesion": 0.5})
    start = objective(np.array([[0.93, 0.40, 0.5]]), adaptive=False)[0]
    assert not start.failed
    budget = 5 if method == "differences" else 2  # a difference gradient takes 4 of them
    result = refine(objective, space, start, RefineSettings(max_evaluations=budget, method=method))
    assert 1 <= len(result.evaluations) <= budget
    assert result.best.objective >= start.objective
    assert len(result.gradients) >= 1 and all(s.method in ("central", "chain") for s in result.gradients[0])
    if method == "chain":
        assert set(result.roles) == {"step"}


def test_a_difference_refinement_ending_at_the_optimum_gives_its_sensitivities_without_evaluating(
    tmp_path, monkeypatch
):
    """The study reuses the last gradient when it was taken at the optimum; elsewhere (or with
    another optimum) it would evaluate, which this objective refuses."""
    from types import SimpleNamespace

    from jaxmicro.design import study
    from jaxmicro.design.refine import RefineResult
    from jaxmicro.design.study import SENSITIVITIES_NAME, _optimum_sensitivities

    class Record(SimpleNamespace):
        def to_dict(self):
            return dict(vars(self))

    def refuse(*args, **kwargs):
        raise AssertionError("evaluated")

    monkeypatch.setattr(study, "sensitivities", refuse)
    labels = {"am_wt": 0.93, "porosity": 0.36, "adhesion": 0.5}
    best = SimpleNamespace(labels=labels)
    gradient = (Record(variable="am_wt", gradient=1.5),)
    refined = RefineResult(best, best, (), (), (gradient,), (dict(labels),), "radius", 0.0)
    found = _optimum_sensitivities(refuse, None, best, tmp_path, 2, refined)
    assert found == [{"variable": "am_wt", "gradient": 1.5}]
    assert (tmp_path / SENSITIVITIES_NAME).is_file()  # kept for a rerun, as computed ones are
    moved = RefineResult(best, best, (), (), (gradient,), ({**labels, "am_wt": 0.94},), "radius", 0.0)
    with pytest.raises(AssertionError, match="evaluated"):
        _optimum_sensitivities(refuse, None, best, tmp_path / "other", 2, moved)
