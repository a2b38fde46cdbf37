"""A campaign's optimum in the user's words: labels, error bars, the indistinguishable region and
whether it sits on the edge of the generator's trained range (for the summary JSON, the printed
result and the figures)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from jaxmicro.bo.recommend import Recommendation
from jaxmicro.design.space import DesignSpace


def edges(recommendation: Recommendation, space: DesignSpace,
          label_ranges: Mapping[str, tuple[float, float]]) -> list[dict[str, Any]]:
    """The free labels at which the optimum lies on a bound of the space.

    Args:
        recommendation: the optimiser's recommendation (points in the space's free labels).
        space: the design space.
        label_ranges: the generator's trained range per label.

    Returns:
        One entry per such label: ``label``, ``bound`` (``"lower"``/``"upper"``), ``value`` and
        ``trained_range_edge`` (the bound is the generator's own limit, so the optimum may lie
        beyond what the generator can make).
    """
    out = []
    for k, side in recommendation.on_edge:
        name = space.free[k]
        value = space.bounds[k][0 if side == "lower" else 1]
        trained = label_ranges.get(name, (np.nan, np.nan))[0 if side == "lower" else 1]
        out.append({"label": name, "bound": side, "value": float(value),
                    "trained_range_edge": bool(np.isclose(value, trained, rtol=0.0, atol=1e-9))})
    return out


def summarise(recommendation: Recommendation | None, space: DesignSpace,
              label_ranges: Mapping[str, tuple[float, float]]) -> dict[str, Any] | None:
    """The recommendation as JSON-ready data (``None`` stays ``None``).

    Returns:
        ``labels`` (free labels of the optimum), ``objective_mean`` and ``interval`` (its
        ``level`` confidence interval) [objective's unit], ``observed``, ``prob_other_better``,
        ``max_shortfall`` [objective's unit], ``region`` (per free label, the range spanned by
        the labels not distinguishable from the optimum, and their number) and ``on_edge``
        (:func:`edges`).
    """
    if recommendation is None:
        return None
    region = recommendation.region
    spans = {name: [float(region[:, k].min()), float(region[:, k].max())]
             for k, name in enumerate(space.free)}
    return {
        "labels": {name: float(v) for name, v in zip(space.free, recommendation.x, strict=True)},
        "objective_mean": recommendation.mean,
        "interval": [recommendation.lower, recommendation.upper],
        "level": recommendation.level,
        "observed": recommendation.observed,
        "prob_other_better": recommendation.prob_other_better,
        "max_shortfall": recommendation.max_shortfall,
        "region": {
            "n_points": len(region),
            **spans,
        },
        "on_edge": edges(recommendation, space, label_ranges),
    }


def objective_unit(description: str) -> str:
    """The unit in an objective's description, e.g. ``"Wh/kg"`` from ``"cell-level specific
    energy [Wh/kg]"`` (the description itself when it has no bracketed unit)."""
    return description.rsplit("[", 1)[-1].rstrip("]")


def describe(summary: Mapping[str, Any] | None, unit: str = "") -> str:
    """One or two printable lines from :func:`summarise`'s output ('' for ``None``); ``unit``:
    the objective's (:func:`objective_unit`)."""
    if summary is None:
        return ""
    low, high = summary["interval"]
    level = f"{100 * summary['level']:.0f} %"
    region = ", ".join(f"{k} {v[0]:.3f}-{v[1]:.3f}" for k, v in summary["region"].items() if k != "n_points")
    shortfall = f"{summary['max_shortfall']:.2g}" + (f" {unit}" if unit else "")
    text = (f"posterior mean {summary['objective_mean']:.4g} ({level} interval {low:.4g} to {high:.4g}); "
            f"P(another evaluated label is better) {summary['prob_other_better']:.2f}, by at most "
            f"{shortfall} ({level}); not distinguishable: {region}")
    for edge in summary["on_edge"]:
        where = "the generator's trained range" if edge["trained_range_edge"] else "the design space"
        text += (f"\nON THE EDGE: {edge['label']} at the {edge['bound']} bound {edge['value']:g} of {where}; "
                 "the optimum may lie beyond it")
    observed = summary["observed"]
    if observed is not None and np.isfinite(observed) and not low <= observed <= high:
        # The Gaussian process discounts a label whose seeds disagree (its standard error is
        # large), so the recommendation can sit where one draw collapsed (stop 54: 163.4 Wh/kg
        # observed under a 225.8-239.9 interval, one 64^3 volume with barely connected pores).
        text += (f"\nOUTSIDE ITS INTERVAL: its own evaluation reads {observed:.4g}"
                 + (f" {unit}" if unit else "")
                 + "; its volumes disagree with the trend around it: evaluate it with more seeds "
                 "(--max-seeds-per-label) before building at it")
    return text
