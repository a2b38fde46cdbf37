"""Acquisition optimisation: score many raw candidates, refine the best few by gradients.

Standard practice (as BoTorch's ``optimize_acqf``): evaluate the acquisition on ``n_raw``
space-filling points, start a bounded quasi-Newton search from the ``n_refine`` best, vectorised
over starts. Everything is one jitted call per padded data size. Fixed dimensions are handled by
giving them a degenerate box (``lower == upper``), so the optimiser never moves them.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import Array

from jaxmicro.bo.acquisition import acquisition_value, check_acquisition
from jaxmicro.bo.gp import GPPosterior, predict
from jaxmicro.bo.optim import minimize_box


class Candidates(NamedTuple):
    """Refined acquisition maximisers, best first.

    Attributes:
        x: points in the unit box, shape ``(n_refine, d)``.
        value: their acquisition values, shape ``(n_refine,)``.
    """

    x: Array
    value: Array


def acquisition_fn(post: GPPosterior, x: Array, best_f: Array, kind: str = "logei",
                   beta: float | Array = 2.0) -> Array:
    """Acquisition values of the GP at unit-box points.

    Args:
        post: conditioned GP.
        x: points, shape ``(m, d)``.
        best_f: incumbent (standardised units), scalar; used by ``"logei"``.
        kind: ``"logei"``, ``"ucb"`` or ``"mean"`` (static).
        beta: UCB exploration weight.

    Returns:
        Values to maximise, shape ``(m,)``.
    """
    mean, var = predict(post, x)
    return acquisition_value(kind, mean, var, best_f, beta)


@functools.partial(jax.jit, static_argnames=("kind", "n_refine", "maxiter"))
def maximize_acquisition(
    post: GPPosterior,
    best_f: Array,
    raw: Array,
    lower: Array,
    upper: Array,
    beta: float | Array = 2.0,
    *,
    kind: str = "logei",
    n_refine: int = 8,
    maxiter: int = 60,
) -> Candidates:
    """Maximises the acquisition over a box from the best raw candidates.

    Args:
        post: conditioned GP.
        best_f: incumbent for LogEI (standardised units), scalar.
        raw: raw candidates in the unit box, shape ``(n_raw, d)`` with ``n_raw >= n_refine``;
            clipped into ``[lower, upper]`` first (which also sets fixed dimensions).
        lower: lower bounds in the unit box, shape ``(d,)``.
        upper: upper bounds, shape ``(d,)``; ``lower[k] == upper[k]`` holds dimension ``k`` fixed.
        beta: UCB exploration weight.
        kind: acquisition name (static).
        n_refine: number of gradient-refined starts (static).
        maxiter: quasi-Newton iterations per start (static).

    Returns:
        :class:`Candidates`, sorted by decreasing acquisition value.
    """
    check_acquisition(kind)
    if raw.shape[0] < n_refine:
        raise ValueError(f"need at least n_refine={n_refine} raw candidates, got {raw.shape[0]}")
    raw = jnp.clip(raw, lower, upper)
    raw_values = acquisition_fn(post, raw, best_f, kind, beta)
    raw_values = jnp.where(jnp.isfinite(raw_values), raw_values, -jnp.inf)
    _, top = jax.lax.top_k(raw_values, n_refine)

    def neg_acq(x: Array) -> Array:
        return -acquisition_fn(post, x[None, :], best_f, kind, beta)[0]

    def refine(x0: Array):
        return minimize_box(neg_acq, x0, lower, upper, maxiter=maxiter, init_step=0.05)

    result = jax.vmap(refine)(raw[top])
    values = jnp.where(jnp.isfinite(result.value), -result.value, -jnp.inf)
    order = jnp.argsort(-values)
    return Candidates(result.x[order], values[order])
