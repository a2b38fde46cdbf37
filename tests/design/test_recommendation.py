"""The optimum in the user's words: the warnings that come with it."""

import dataclasses
import math

import numpy as np
import pytest

from jaxmicro.bo.recommend import Recommendation
from jaxmicro.design import Evaluation, design_space
from jaxmicro.design.recommendation import confirmed, contradicting, describe, summarise

RANGES = {"am_wt": (0.85, 0.98), "porosity": (0.2, 0.5), "adhesion": (0.0, 1.0)}


def summary(observed: float | None) -> dict:
    return {
        "labels": {"am_wt": 0.98, "porosity": 0.214},
        "objective_mean": 232.9,
        "interval": [225.8, 239.9],
        "level": 0.95,
        "observed": observed,
        "prob_other_better": 0.85,
        "max_shortfall": 4.1,
        "region": {"n_points": 40, "am_wt": [0.953, 0.98], "porosity": [0.2, 0.387]},
        "on_edge": [{"label": "am_wt", "bound": "upper", "value": 0.98, "trained_range_edge": True}],
    }


def test_an_optimum_whose_own_evaluation_is_outside_its_interval_says_so():
    """Stop 54's campaign on the stochastic model: the recommended label's two volumes read 209.1
    and 105.6 Wh/kg, its evaluation 163.4 under a posterior interval of 225.8-239.9."""
    text = describe(summary(163.4), "Wh/kg")
    assert "ON THE EDGE: am_wt at the upper bound 0.98 of the generator's trained range" in text
    assert "OUTSIDE ITS INTERVAL: its own evaluation reads 163.4 Wh/kg" in text
    assert "--max-seeds-per-label" in text
    for inside in (232.5, 225.8, None, float("nan")):
        assert "OUTSIDE" not in describe(summary(inside), "Wh/kg")


def test_labels_in_the_region_that_their_own_volumes_put_below_the_optimum_are_named():
    """The main job of 2026-12-07: the region reached porosity 0.20, where 8 volumes read 186.8 +-
    21.0 Wh/kg under an optimum of 232.9; a noisy label that could still reach it is not named."""
    space = design_space(RANGES)
    region = np.array([[0.98, 0.2885], [0.98, 0.20], [0.944, 0.232], [0.97, 0.25], [0.95, 0.21]])
    recommendation = Recommendation(
        x=region[0], index=0, mean=232.9, lower=232.0, upper=233.7, level=0.95, observed=233.0,
        prob_other_better=0.97, prob_better=np.full(5, np.nan), max_shortfall=1.9, region=region,
        on_edge=((0, "upper"),))

    def evaluation(am_wt, porosity, value, error):
        labels = {"am_wt": am_wt, "porosity": porosity, "adhesion": 0.5}
        return Evaluation(labels, (0, 1), value, False, "", {}, {}, {}, objective_standard_error=error)

    evaluations = [
        evaluation(0.98, 0.2885, 228.0, 0.97),  # the optimum (below its own mean: OUTSIDE says it)
        evaluation(0.98, 0.20, 186.8, 21.0),  # worse at 95 %: named
        evaluation(0.944, 0.232, 218.8, 17.1),  # 218.8 + 1.96 x 17.1 reaches 232.9: not named
        evaluation(0.97, 0.25, 200.0, math.nan),  # no standard error: not judged
        evaluation(0.96, 0.45, 150.0, 1.0),  # worse, but outside the region
    ]
    found = contradicting(recommendation, space, evaluations)
    named = {"labels": {"am_wt": 0.98, "porosity": 0.20}, "objective": 186.8, "standard_error": 21.0}
    assert found == [named]
    assert summarise(recommendation, space, RANGES, evaluations)["contradicting"] == found
    assert summarise(recommendation, space, RANGES)["contradicting"] == []  # no evaluations given
    text = describe(summary(233.0) | {"contradicting": found}, "Wh/kg")
    assert "INSIDE THE REGION: am_wt 0.98, porosity 0.2 reads 186.8 +- 21 Wh/kg" in text
    assert "WORSE BY THEIR OWN VOLUMES" not in describe(summary(233.0), "Wh/kg")  # an older summary


def test_the_optimum_on_fresh_seeds_is_reported_with_a_t_interval_and_a_disagreement_named():
    """The main job of 2026-12-07 re-measured on 40 fresh seeds read 232.1 Wh/kg beside a
    posterior 232.9 (232.0-233.7); with 8 seeds the interval takes Student's t over 7 degrees of
    freedom (2.36 standard errors, not 1.96)."""
    def fresh(value, error):
        seeds = tuple(range(1_000_000, 1_000_008))
        return Evaluation({}, seeds, value, False, "", {}, {}, {}, objective_standard_error=error)

    agreeing = confirmed(fresh(232.1, 0.2))
    assert agreeing["seeds"] == 8
    low, high = agreeing["interval"]
    assert (high - low) / 2 == pytest.approx(2.3646 * 0.2, rel=1e-3)
    text = describe(summary(232.5) | {"confirmation": agreeing}, "Wh/kg")
    assert "on 8 fresh seeds: 232.1 (95 % interval 231.6 to 232.6)" in text
    assert "DISAGREE" not in text
    low_read = describe(summary(232.5) | {"confirmation": confirmed(fresh(221.0, 1.0))}, "Wh/kg")
    assert "FRESH SEEDS DISAGREE: the campaign's shared seeds read this label high" in low_read
    unknown = describe(summary(232.5) | {"confirmation": confirmed(fresh(230.0, math.nan))}, "Wh/kg")
    assert "on 8 fresh seeds: 230 (no error bar: a fresh seed's cell failed)" in unknown
    assert confirmed(None) is None
    assert confirmed(dataclasses.replace(fresh(math.nan, math.nan), failed=True, status="failed")) is None
    assert "fresh seeds" not in describe(summary(232.5), "Wh/kg")  # summaries before 2026-12-08
    # Judged against a target (1 % of the value): still above it after its seeds, it scatters.
    scattered = confirmed(fresh(238.3, 9.0), target_relative_error=0.01)
    assert scattered["above_target"] is True and agreeing["above_target"] is None
    text = describe(summary(232.5) | {"confirmation": scattered}, "Wh/kg")
    assert "FRESH SEEDS SCATTER: after 8 fresh seeds its standard error is still 9 Wh/kg" in text
    assert "--volume-size" in text and "DISAGREE" not in text
    settled = confirmed(fresh(238.3, 2.0), target_relative_error=0.01)
    assert settled["above_target"] is False
    assert "SCATTER" not in describe(summary(232.5) | {"confirmation": settled}, "Wh/kg")
