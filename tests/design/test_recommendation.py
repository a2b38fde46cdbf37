"""The optimum in the user's words: the warnings that come with it."""

from jaxmicro.design.recommendation import describe


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
