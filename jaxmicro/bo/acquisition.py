"""Acquisition functions for maximisation: expected improvement (plain and numerically stable
log form), upper confidence bound and the posterior mean.

Convention: the objective is **maximised** (the design loop maximises energy density
[Wh/kg]); an improvement is ``f(x) - best_f``. All functions are pure, elementwise and
jittable, and take the GP's posterior mean and standard deviation of the latent function.

LogEI follows Ament et al., "Unexpected improvements to expected improvement for Bayesian
optimization" (NeurIPS 2023): ``log EI = log h(z) + log sigma`` with ``z = (mu - best_f) /
sigma`` and ``h(z) = phi(z) + z Phi(z)``, evaluated in three regimes so that it is accurate and
has useful gradients even where EI itself underflows to 0.
"""

from __future__ import annotations

import math
from typing import Final

import jax.numpy as jnp
from jax import Array
from jax.scipy.special import erfcx, ndtr

ACQUISITIONS: Final[tuple[str, ...]] = ("logei", "ucb", "mean")

_LOG_SQRT_2PI: Final[float] = 0.5 * math.log(2.0 * math.pi)
_LOG_SQRT_PI_OVER_2: Final[float] = 0.5 * math.log(math.pi / 2.0)


def check_acquisition(kind: str) -> str:
    """Returns ``kind`` if it names a known acquisition, else raises a one-line ``ValueError``."""
    if kind not in ACQUISITIONS:
        raise ValueError(f"unknown acquisition {kind!r}; pass one of {ACQUISITIONS}")
    return kind


def _log1mexp(x: Array) -> Array:
    """``log(1 - exp(x))`` for ``x < 0``, accurate at both ends (Maechler 2012)."""
    return jnp.where(x > -math.log(2.0), jnp.log(-jnp.expm1(x)), jnp.log1p(-jnp.exp(x)))


def log_h(z: Array) -> Array:
    """``log(phi(z) + z Phi(z))``, finite for every finite ``z`` (elementwise).

    Regimes: direct for ``z > -1``; via ``erfcx`` for ``-1/sqrt(eps) < z <= -1`` (avoids the
    cancellation of ``phi + z Phi``); the asymptote ``-z^2/2 - log(sqrt(2 pi)) - 2 log|z|``
    below that. Each branch sees a safe dummy input where it is not selected, so gradients
    are finite everywhere.
    """
    z = jnp.asarray(z)
    threshold = -1.0 / math.sqrt(float(jnp.finfo(z.dtype).eps))
    upper = z > -1.0
    lower_tail = z <= threshold
    z_up = jnp.where(upper, z, -1.0)
    z_mid = jnp.where(upper | lower_tail, -2.0, z)
    z_low = jnp.where(lower_tail, z, threshold)
    direct = jnp.log(jnp.exp(-0.5 * z_up**2) / math.sqrt(2.0 * math.pi) + z_up * ndtr(z_up))
    mid = (-0.5 * z_mid**2 - _LOG_SQRT_2PI
           + _log1mexp(jnp.log(erfcx(-z_mid / math.sqrt(2.0)) * jnp.abs(z_mid))
                       + _LOG_SQRT_PI_OVER_2))
    low = -0.5 * z_low**2 - _LOG_SQRT_2PI - 2.0 * jnp.log(jnp.abs(z_low))
    return jnp.where(upper, direct, jnp.where(lower_tail, low, mid))


def expected_improvement(mean: Array, std: Array, best_f: Array) -> Array:
    """Closed-form EI ``sigma (phi(z) + z Phi(z))``; underflows to 0 far below ``best_f``.

    Args:
        mean: posterior mean, any shape.
        std: posterior standard deviation (> 0), broadcastable to ``mean``.
        best_f: incumbent value, broadcastable.

    Returns:
        EI, same shape as ``mean``; in the units of ``mean``.
    """
    z = (mean - best_f) / std
    return std * (jnp.exp(-0.5 * z**2) / math.sqrt(2.0 * math.pi) + z * ndtr(z))


def log_expected_improvement(mean: Array, std: Array, best_f: Array) -> Array:
    """``log EI`` evaluated stably (finite where EI underflows); arguments as
    :func:`expected_improvement`."""
    z = (mean - best_f) / std
    return log_h(z) + jnp.log(std)


def upper_confidence_bound(mean: Array, std: Array, beta: float | Array = 2.0) -> Array:
    """UCB ``mean + sqrt(beta) std`` (``beta >= 0`` trades exploration for exploitation)."""
    return mean + jnp.sqrt(beta) * std


def acquisition_value(kind: str, mean: Array, var: Array, best_f: Array,
                      beta: float | Array = 2.0) -> Array:
    """Dispatches on ``kind`` (static): ``"logei"``, ``"ucb"`` or ``"mean"``.

    Args:
        kind: acquisition name.
        mean: posterior mean, shape ``(m,)``.
        var: posterior variance of the latent function (> 0), shape ``(m,)``.
        best_f: incumbent for ``"logei"``.
        beta: exploration weight for ``"ucb"``.

    Returns:
        Acquisition values to maximise, shape ``(m,)``.
    """
    std = jnp.sqrt(var)
    if kind == "logei":
        return log_expected_improvement(mean, std, best_f)
    if kind == "ucb":
        return upper_confidence_bound(mean, std, beta)
    if kind == "mean":
        return mean
    raise ValueError(f"unknown acquisition {kind!r}; pass one of {ACQUISITIONS}")

