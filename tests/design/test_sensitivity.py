"""Sensitivities at a label: finite differences of the objective and the properties per step."""

import dataclasses
import math

import numpy as np
import pytest

from jaxmicro.design import DesignObjective, DesignSettings, design_space
from jaxmicro.design.objective import Evaluation
from jaxmicro.design.sensitivity import PROPERTY_KEYS, most_important, sensitivities

SPACE_RANGES = {"am_wt": (0.90, 0.96), "porosity": (0.28, 0.44), "adhesion": (0.0, 1.0)}
SPACE = design_space(SPACE_RANGES)


class _Linear:
    """A stand-in objective: 300 am_wt - 80 porosity^2 + 2 am_loading_mg_cm2 [Wh/kg] (the
    loading 20 mg/cm^2 unless a cell variable gives it); tau = 2 / porosity."""

    def __init__(self, fail_above_porosity: float = math.inf) -> None:
        self.fail_above = fail_above_porosity

    def __call__(self, labels, cell_variables=None, adaptive=True):
        out = []
        cells = cell_variables or [{}] * len(labels)
        for (am, por, adh), cell in zip(np.asarray(labels), cells, strict=True):
            loading = cell.get("am_loading_mg_cm2", 20.0)
            failed = por > self.fail_above
            properties = {key: 0.0 for key in PROPERTY_KEYS} | {"electrolyte_tau_through_plane": 2.0 / por}
            out.append(
                Evaluation(
                    labels={"am_wt": am, "porosity": por, "adhesion": adh} | cell,
                    seeds=(0,),
                    objective=math.nan if failed else 300 * am - 80 * por**2 + 2 * loading,
                    failed=failed,
                    reason="x" if failed else "",
                    properties=properties,
                    cell={},
                    timings_s={},
                )
            )
        return out


def test_central_differences_inside_and_one_sided_at_the_edge():
    inside = sensitivities(_Linear(), SPACE, {"am_wt": 0.93, "porosity": 0.36, "adhesion": 0.5})
    am, por = inside
    assert (am.name, am.method, por.method) == ("am_wt", "central", "central")
    assert am.objective_per_step == pytest.approx(300 * 0.01)
    assert por.objective_per_step == pytest.approx(-80 * 2 * 0.36 * 0.01)  # exact for a quadratic
    tau_step = por.properties_per_step["electrolyte_tau_through_plane"]
    assert tau_step == pytest.approx((2 / 0.37 - 2 / 0.35) / 2)
    assert most_important(inside).name == "am_wt"
    assert am.describe("Wh/kg") == "+0.01 am_wt: +3 Wh/kg"
    edge = sensitivities(_Linear(), SPACE, {"am_wt": 0.96, "porosity": 0.28, "adhesion": 0.5})
    assert edge[0].method == "backward" and edge[1].method == "forward"
    assert edge[0].objective_per_step == pytest.approx(3.0)


def test_a_failed_neighbour_gives_nan_and_says_so():
    label = {"am_wt": 0.93, "porosity": 0.36, "adhesion": 0.5}
    items = sensitivities(_Linear(fail_above_porosity=0.365), SPACE, label)
    assert items[1].method == "failed" and math.isnan(items[1].objective_per_step)
    assert items[1].to_dict()["objective_per_step"] is None
    assert most_important(items).name == "am_wt"


def test_bad_steps_are_refused():
    with pytest.raises(ValueError, match="must be a positive number"):
        sensitivities(_Linear(), SPACE, {"am_wt": 0.93, "porosity": 0.36, "adhesion": 0.5}, {"am_wt": -0.01})
    with pytest.raises(ValueError, match="leaves the design space both ways"):
        sensitivities(_Linear(), SPACE, {"am_wt": 0.93, "porosity": 0.36, "adhesion": 0.5}, {"am_wt": 0.1})


def test_sensitivities_of_the_real_objective_use_common_seeds(toy):
    objective = DesignObjective(toy, DesignSettings(volume_size=16, power_w_per_kg=100.0))
    space = design_space(toy.label_ranges)
    middle = {name: float(np.mean(bounds)) for name, bounds in toy.label_ranges.items()}
    items = sensitivities(objective, space, middle)
    assert [s.name for s in items] == list(space.free)
    assert all(s.method in ("central", "failed") for s in items)
    again = sensitivities(objective, space, middle)
    for a, b in zip(items, again, strict=True):  # same seeds: deterministic differences
        assert a.to_dict() == b.to_dict()


def test_batched_evaluation_pads_the_last_batch_and_gives_the_same_answer():
    calls = []

    class _Counting(_Linear):
        def __call__(self, labels, cell_variables=None, adaptive=True):
            assert not adaptive  # finite differences need the same seeds at every point
            calls.append(len(labels))
            return super().__call__(labels, cell_variables)

    label = {"am_wt": 0.93, "porosity": 0.36, "adhesion": 0.5}
    batched = sensitivities(_Counting(), SPACE, label, batch_size=2)
    assert calls == [2, 2, 2]  # 5 points: the label, and one step either way in two labels
    assert [s.to_dict() for s in batched] == [s.to_dict() for s in sensitivities(_Linear(), SPACE, label)]
    back = [type(s).from_dict(s.to_dict()) for s in batched]
    assert [s.to_dict() for s in back] == [s.to_dict() for s in batched]


def test_the_seed_standard_error_of_a_step_comes_from_each_seeds_own_difference():
    class _Seeded(_Linear):
        """Two seeds whose objectives differ by +-100 am_wt around the mean."""

        def __call__(self, labels, cell_variables=None, adaptive=True):
            out = super().__call__(labels, cell_variables)
            return [dataclasses.replace(e, seeds=(0, 1), seed_objectives=(
                e.objective + 100 * e.labels["am_wt"], e.objective - 100 * e.labels["am_wt"])) for e in out]

    am, por = sensitivities(_Seeded(), SPACE, {"am_wt": 0.93, "porosity": 0.36, "adhesion": 0.5})
    # Per seed the am_wt step is 3 +- 1 (100 x 0.02 / 2), so sd/sqrt(2) = 1; porosity: no spread.
    assert am.objective_per_step_standard_error == pytest.approx(1.0)
    assert por.objective_per_step_standard_error == pytest.approx(0.0, abs=1e-9)
    assert am.describe("Wh/kg") == "+0.01 am_wt: +3 +- 1 Wh/kg"
    assert math.isnan(sensitivities(_Linear(), SPACE, {"am_wt": 0.93, "porosity": 0.36, "adhesion": 0.5})[0]
                      .objective_per_step_standard_error)  # one seed: unknown


def test_a_cell_variable_gets_its_own_step():
    space = design_space(SPACE_RANGES, free=("porosity", "am_loading_mg_cm2"))
    label = {"am_wt": 0.93, "porosity": 0.36, "adhesion": 0.5, "am_loading_mg_cm2": 20.0}
    porosity, loading = sensitivities(_Linear(), space, label)
    assert (loading.name, loading.step, loading.method) == ("am_loading_mg_cm2", 1.0, "central")
    assert loading.objective_per_step == pytest.approx(2.0, rel=1e-9)  # 2 Wh/kg per mg/cm^2
    assert porosity.objective_per_step == pytest.approx(-80 * 2 * 0.36 * 0.01, rel=1e-9)
