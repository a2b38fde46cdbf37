"""A campaign's optimum in the user's words: labels, error bars, the indistinguishable region and
whether it sits on the edge of the generator's trained range (for the summary JSON, the printed
result and the figures)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import scipy.stats

from jaxmicro.bo.recommend import Recommendation
from jaxmicro.design.objective import Evaluation
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


def contradicting(recommendation: Recommendation, space: DesignSpace,
                  evaluations: Sequence[Evaluation]) -> list[dict[str, Any]]:
    """Evaluated labels other than the optimum inside the indistinguishable region whose own
    volumes alone say they are worse than it: the upper end of their own ``level`` interval (objective +- z x
    its seed standard error) lies below the optimum's posterior mean.

    The Gaussian process's smooth surface can carry the region across a cliff that only a few
    noisy labels show: on the stochastic default at 200 W/kg, porosity 0.20 read 186.8 +- 21.0
    and 159.8 +- 24.7 Wh/kg (8 seeds of 64^3) inside a region whose optimum's posterior is
    232.9, and 5 disjoint blocks of 8 seeds there read 141-209 Wh/kg
    (docs/design.md "Representative volumes").

    Args:
        recommendation: the optimiser's recommendation (user units).
        space: the design space.
        evaluations: the campaign's evaluations (those without a finite standard error are
            skipped: one seed, or a failed seed's cell).

    Returns:
        Per such label: its free ``labels``, ``objective`` and ``standard_error``
        [objective's unit], in the order evaluated.
    """
    z = float(scipy.stats.norm.ppf(0.5 + recommendation.level / 2.0))
    region = np.asarray(recommendation.region, dtype=np.float64)
    out = []
    for evaluation in evaluations:
        value, error = evaluation.objective, evaluation.objective_standard_error
        if evaluation.failed or not math.isfinite(error) or value + z * error >= recommendation.mean:
            continue
        point = np.array([evaluation.labels[name] for name in space.free])
        if np.allclose(point, recommendation.x, rtol=0.0, atol=1e-9):
            continue  # the optimum itself: "OUTSIDE ITS INTERVAL" says it (describe)
        if np.isclose(region, point, rtol=0.0, atol=1e-9).all(axis=1).any():
            out.append({"labels": {name: float(v) for name, v in zip(space.free, point, strict=True)},
                        "objective": float(value), "standard_error": float(error)})
    return out


def summarise(recommendation: Recommendation | None, space: DesignSpace,
              label_ranges: Mapping[str, tuple[float, float]],
              evaluations: Sequence[Evaluation] = (),
              confirmation: Evaluation | None = None,
              target_relative_error: float | None = None) -> dict[str, Any] | None:
    """The recommendation as JSON-ready data (``None`` stays ``None``).

    Args:
        recommendation: the optimiser's recommendation (user units), or ``None``.
        space: the design space.
        label_ranges: the generator's trained range per label.
        evaluations: the campaign's evaluations, for ``contradicting`` (empty: none looked for).
        confirmation: the optimum evaluated again on fresh seeds (``None``: not done).
        target_relative_error: what its seed standard error is judged against, a fraction of
            its value (``None``: not judged).

    Returns:
        ``labels`` (free labels of the optimum), ``objective_mean`` and ``interval`` (its
        ``level`` confidence interval) [objective's unit], ``observed``, ``prob_other_better``,
        ``max_shortfall`` [objective's unit], ``region`` (per free label, the range spanned by
        the labels not distinguishable from the optimum, and their number), ``on_edge``
        (:func:`edges`), ``contradicting`` (:func:`contradicting`) and ``confirmation``
        (:func:`confirmed`).
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
        "contradicting": contradicting(recommendation, space, evaluations),
        "confirmation": confirmed(confirmation, recommendation.level, target_relative_error),
    }


def confirmed(confirmation: Evaluation | None, level: float = 0.95,
              target_relative_error: float | None = None) -> dict[str, Any] | None:
    """The fresh-seed evaluation of an optimum as JSON-ready data: ``seeds`` (their number),
    ``objective``, ``standard_error`` and its ``level`` ``interval`` (Student's t over ``seeds -
    1`` degrees of freedom: the error is estimated from those seeds alone; ``None`` when a
    seed's cell failed) [objective's unit], and ``above_target``: whether that error is still
    above ``target_relative_error`` of the objective (``None``: not judged); ``None`` without a
    successful one."""
    if confirmation is None or confirmation.failed:
        return None
    n, value, error = len(confirmation.seeds), confirmation.objective, confirmation.objective_standard_error
    if not np.isfinite(error):
        return {"seeds": n, "objective": value, "standard_error": None, "interval": None,
                "above_target": None}
    half = float(scipy.stats.t.ppf(0.5 + level / 2.0, n - 1) * error)
    above = None if target_relative_error is None else confirmation.above_target(target_relative_error)
    return {"seeds": n, "objective": value, "standard_error": error, "interval": [value - half, value + half],
            "above_target": above}


def outside_interval(summary: Mapping[str, Any]) -> bool:
    """Whether the optimum's own evaluation (``observed``) lies outside its interval, in a
    :func:`summarise` output (an unknown observation is not outside)."""
    low, high = summary["interval"]
    observed = summary["observed"]
    return observed is not None and bool(np.isfinite(observed)) and not low <= observed <= high


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
    if outside_interval(summary):
        # The Gaussian process discounts a label whose seeds disagree (its standard error is
        # large), so the recommendation can sit where one draw collapsed (stop 54: 163.4 Wh/kg
        # observed under a 225.8-239.9 interval, one 64^3 volume with barely connected pores).
        text += (f"\nOUTSIDE ITS INTERVAL: its own evaluation reads {summary['observed']:.4g}"
                 + (f" {unit}" if unit else "")
                 + "; its volumes disagree with the trend around it: evaluate it with more seeds "
                 "(--max-seeds-per-label) before building at it")
    fresh = summary.get("confirmation")  # summaries written before stop 57 lack it
    if fresh is not None:
        text += f"\non {fresh['seeds']} fresh seeds: {fresh['objective']:.4g} "
    if fresh is not None and fresh["interval"] is None:
        text += "(no error bar: a fresh seed's cell failed)"
    elif fresh is not None:
        f_low, f_high = fresh["interval"]
        text += f"({level} interval {f_low:.4g} to {f_high:.4g})"
        if f_high < low or f_low > high:
            text += ("\nFRESH SEEDS DISAGREE: the campaign's shared seeds read this label "
                     + ("high" if f_high < low else "low")
                     + "; its comparison with the other labels stands, its level is the fresh seeds'")
        if fresh.get("above_target"):  # summaries before stop 58 lack it
            # One poorly connected volume among a few moves a seed average near a percolation
            # cliff by tens of Wh/kg (stop 57, 100 W/kg: 8 fresh seeds 179-298 Wh/kg where the
            # campaign's interval was 244-250 and 40 seeds read 245.8 +- 1.2).
            text += (f"\nFRESH SEEDS SCATTER: after {fresh['seeds']} fresh seeds its standard error is still "
                     f"{fresh['standard_error']:.2g}" + (f" {unit}" if unit else "")
                     + ", above the target: volumes this small are not representative of this label (a "
                     "percolation cliff nearby): confirm it on larger volumes (--volume-size) or build "
                     "at a neighbour inside the region")
    others = summary.get("contradicting") or ()  # summaries written before 2026-12-07 lack it
    if others:
        read = "; ".join(", ".join(f"{k} {v:.3g}" for k, v in o["labels"].items())
                         + f" reads {o['objective']:.4g} +- {o['standard_error']:.2g}" for o in others)
        text += (f"\nWORSE BY THEIR OWN VOLUMES, INSIDE THE REGION: {read}" + (f" {unit}" if unit else "")
                 + "; at 95 % their own volumes put them below the optimum, which the region's smooth "
                 "surface does not follow: the region is narrower there")
    return text
