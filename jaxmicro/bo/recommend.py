"""The optimum of a campaign with its error bars: what a designer can defend.

The recommended point is the **evaluated** point with the best lower confidence bound of its
GP posterior (``rule="lower_bound"``, the default), not the luckiest sample: with noisy
observations the best observed value is biased upwards (the "winner's curse"), while the
posterior pools its neighbours. Among points of near-equal posterior mean the bound prefers the
one the data pin down: where a label's own draws scatter (a poorly connected low-porosity
electrode) the posterior there leans on its neighbours, and its best mean can sit far from what
that label's volumes read (the shipped GAN's main job with adaptive seeds: posterior 231.8
Wh/kg at porosity 0.20, its own 8 volumes 218.9 +- 14.9; the bound picks porosity 0.253,
posterior 231.7 +- 1.2, its own volumes 232.0 +- 1.3; docs/design.md). ``rule="mean"``: the
best posterior mean (the rule until 2026-12-07). It is an evaluated point, so its volumes,
cell and figures exist. Around it:

* a confidence interval for its (noise-free) objective from the latent posterior variance, plus
  its own noise variance where that noise is shared with its neighbours (``shared_var``: a
  design campaign's labels share their generator seeds, common random numbers, so the seeds'
  error in the level does not average out over neighbours; measured in docs/design.md, "Are the
  error bars right?");
* the probability that each other evaluated point is better (``P(f_j > f_best)`` from the
  joint posterior of the pair), and that *any* other is (Monte Carlo over the joint posterior of
  all evaluated points, seeded), and by how much at most (the ``level`` quantile of the best
  other point's lead over the recommendation, 0 where it is not ahead: on a flat top the
  probability is high while the lead is a fraction of the error bars, and the lead is what a
  designer weighs);
* the region of the box whose objective is not distinguishable from it: points ``c`` where the
  upper confidence bound of ``f(c) - f(best)`` (joint posterior, same level) is not below 0.

All functions here work in the unit box and standardised, maximised units;
:meth:`jaxmicro.bo.Optimizer.recommend` converts to the user's units.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import numpy as np
import scipy.stats

from jaxmicro.bo.host_gp import HostPosterior, cholesky, joint_predict

#: How :func:`recommend` picks the evaluated point: the best ``level`` lower confidence bound of
#: its noise-free objective, or the best posterior mean.
RECOMMENDATION_RULES = ("lower_bound", "mean")

# Monte Carlo draws for the probability that another evaluated point is better: its standard
# error is at most 0.5 / sqrt(4096) = 0.008.
_DRAWS = 4096


@dataclasses.dataclass(frozen=True)
class Recommendation:
    """The optimum of a campaign with its uncertainty, in the optimiser's original units.

    Attributes:
        x: the recommended point (an evaluated one), shape ``(d,)``.
        index: its position among the told observations (0-based).
        mean: posterior mean of the objective there (the noise-free value's estimate).
        lower: lower end of the ``level`` confidence interval of that value.
        upper: upper end.
        level: confidence level of the interval and of the region (e.g. 0.95).
        observed: the value observed there (differs from ``mean`` by noise and model fit).
        prob_other_better: probability that some other evaluated point has a better
            noise-free objective.
        prob_better: per told observation, the probability that it is better than the
            recommendation, shape ``(n,)``; NaN for the recommendation itself and for failures.
        max_shortfall: the ``level`` quantile of ``max(0, max_j f_j - f_rec)`` over the joint
            posterior of the evaluated points: with probability ``level`` no other evaluated
            point is better by more than this [objective's unit, >= 0].
        region: points whose objective is not distinguishable from the recommendation's at
            ``level``, shape ``(m, d)`` (Sobol points of the box and evaluated points).
        on_edge: ``(dimension, "lower" | "upper")`` for each free dimension where the
            recommendation lies on (within ``edge_tol`` of) a bound.
    """

    x: np.ndarray
    index: int
    mean: float
    lower: float
    upper: float
    level: float
    observed: float
    prob_other_better: float
    prob_better: np.ndarray
    max_shortfall: float
    region: np.ndarray
    on_edge: tuple[tuple[int, str], ...]


class UnitRecommendation(NamedTuple):
    """:class:`Recommendation` in the unit box and standardised, maximised units."""

    index: int
    mean: float
    lower: float
    upper: float
    prob_other_better: float
    prob_better: np.ndarray
    max_shortfall: float
    region: np.ndarray


def check_level(level: float) -> float:
    """A confidence level strictly between 0 and 1."""
    level = float(level)
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie strictly between 0 and 1 (e.g. 0.95), got {level}")
    return level


def check_rule(rule: str) -> str:
    """One of :data:`RECOMMENDATION_RULES`."""
    if rule not in RECOMMENDATION_RULES:
        raise ValueError(f"the recommendation rule must be one of {RECOMMENDATION_RULES}, got {rule!r}")
    return rule


def recommend(post: HostPosterior, ok: np.ndarray, candidates: np.ndarray, level: float = 0.95,
              seed: int = 0, rule: str = "lower_bound",
              shared_var: np.ndarray | None = None) -> UnitRecommendation:
    """The recommendation from a GP conditioned on every observation (failures imputed).

    Args:
        post: the conditioned GP (``post.x`` are the observations, unit box).
        ok: which observations succeeded, shape ``(n,)``, at least one True.
        candidates: unit-box points searched for the indistinguishable region, shape ``(m, d)``.
        level: confidence level.
        seed: seeds the Monte Carlo draws.
        rule: which evaluated point (:data:`RECOMMENDATION_RULES`): the best ``level`` lower
            confidence bound, or the best posterior mean.
        shared_var: per observation, the variance of its noise that its neighbours share
            (standardised units), shape ``(n,)``; ``None``: none is shared. Pooling neighbours
            cannot average a shared error away, so it is added to each point's own variance in
            its lower bound and interval (differences between points, and so the probabilities
            and the region, are left to the posterior: there the shared part cancels).

    Returns:
        The :class:`UnitRecommendation`.
    """
    z = float(scipy.stats.norm.ppf(0.5 + check_level(level) / 2.0))
    ok = np.asarray(ok, bool)
    mean, cov = joint_predict(post, post.x)
    own_var = np.maximum(np.diagonal(cov), 0.0) + (0.0 if shared_var is None else np.asarray(shared_var))
    score = mean if check_rule(rule) == "mean" else mean - z * np.sqrt(own_var)
    best = int(np.flatnonzero(ok)[np.argmax(score[ok])])
    sd_best = float(np.sqrt(own_var[best]))
    diff_var = np.maximum(np.diagonal(cov) + cov[best, best] - 2.0 * cov[:, best], 1e-12 * post.outputscale)
    prob_better = scipy.stats.norm.cdf((mean - mean[best]) / np.sqrt(diff_var))
    prob_better[best] = np.nan
    prob_better[~ok] = np.nan
    prob_other = shortfall = 0.0
    others = np.flatnonzero(ok & (np.arange(len(ok)) != best))
    if others.size:
        idx = np.concatenate([[best], others])
        sub = cov[np.ix_(idx, idx)]
        chol = cholesky(sub + 1e-9 * post.outputscale * np.eye(len(idx)))  # jitter retried if needed
        draws = mean[idx] + np.random.default_rng(seed).standard_normal((_DRAWS, len(idx))) @ chol.T
        lead = draws[:, 1:].max(axis=1) - draws[:, 0]
        prob_other = float(np.mean(lead > 0.0))
        shortfall = float(np.quantile(np.maximum(lead, 0.0), level))
    points = np.concatenate([post.x[best][None], candidates, post.x[ok]])
    m, c = joint_predict(post, points)
    var = np.maximum(np.diagonal(c)[1:] + c[0, 0] - 2.0 * c[1:, 0], 0.0)
    region = points[1:][(m[1:] - m[0]) + z * np.sqrt(var) >= 0.0]
    return UnitRecommendation(best, float(mean[best]), float(mean[best] - z * sd_best),
                              float(mean[best] + z * sd_best), prob_other, prob_better, shortfall, region)
