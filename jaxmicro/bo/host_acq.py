"""Acquisition values with analytic gradients and their maximisation, on the host (NumPy/SciPy),
for :class:`~jaxmicro.bo.Optimizer` (see :mod:`jaxmicro.bo.host_gp` for why not jitted).

Same acquisitions as :mod:`jaxmicro.bo.acquisition` (LogEI with the three-regime ``log h``, UCB,
posterior mean; tested equal) and the same search as :func:`jaxmicro.bo.maximize_acquisition`:
score ``n_raw`` space-filling candidates, refine the ``n_refine`` best by gradients. The
refinement optimises the *sum* of the acquisitions of all starts with one L-BFGS-B run (as
BoTorch's ``gen_candidates_scipy``): the starts do not interact, and every evaluation is then one
batched NumPy computation instead of ``n_refine``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import scipy.optimize
import scipy.special

from jaxmicro.bo.acquisition import check_acquisition
from jaxmicro.bo.host_gp import HostPosterior, predict

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
_LOG_SQRT_PI_OVER_2 = 0.5 * math.log(math.pi / 2.0)
_TAIL = -1.0 / math.sqrt(float(np.finfo(np.float64).eps))


def log_h(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``log(phi(z) + z Phi(z))`` and its derivative ``Phi(z) / h(z)``, elementwise, float64.

    The same three regimes as :func:`jaxmicro.bo.acquisition.log_h` (direct for ``z > -1``,
    ``erfcx`` down to ``-1/sqrt(eps)``, the asymptote below); the derivative is computed in
    the same regimes (``erfcx`` form in the middle, the asymptote's ``-z - 2/z`` in the tail).
    """
    z = np.asarray(z, np.float64)
    upper = z > -1.0
    tail = z <= _TAIL
    z_up = np.where(upper, z, -1.0)
    z_mid = np.where(upper | tail, -2.0, z)
    z_low = np.where(tail, z, _TAIL)
    phi_up = scipy.special.ndtr(z_up)
    h_up = np.exp(-0.5 * z_up**2) / math.sqrt(2.0 * math.pi) + z_up * phi_up
    erfcx_mid = scipy.special.erfcx(-z_mid / math.sqrt(2.0))
    inner = np.log(erfcx_mid * np.abs(z_mid)) + _LOG_SQRT_PI_OVER_2
    log1mexp = np.where(inner > -math.log(2.0), np.log(-np.expm1(inner)), np.log1p(-np.exp(inner)))
    mid = -0.5 * z_mid**2 - _LOG_SQRT_2PI + log1mexp
    low = -0.5 * z_low**2 - _LOG_SQRT_2PI - 2.0 * np.log(np.abs(z_low))
    value = np.where(upper, np.log(h_up), np.where(tail, low, mid))
    # Phi(z) / h(z) per regime: Phi = sqrt(pi/2) erfcx(-z/sqrt2) phi(z) in the middle one.
    slope_mid = math.sqrt(math.pi / 2.0) * erfcx_mid / np.exp(log1mexp)
    slope = np.where(upper, phi_up / h_up, np.where(tail, -z_low - 2.0 / z_low, slope_mid))
    return value, slope


def acquisition(kind: str, post: HostPosterior, x: np.ndarray, best_f: float, beta: float = 2.0,
                grad: bool = False):
    """Acquisition values at unit-box points, optionally with their gradients.

    Args:
        kind: ``"logei"``, ``"ucb"`` or ``"mean"``.
        post: the conditioned GP.
        x: points, shape ``(m, d)``.
        best_f: incumbent for LogEI [standardised units].
        beta: UCB exploration weight.
        grad: also return the gradient, shape ``(m, d)``.

    Returns:
        Values to maximise, shape ``(m,)`` (and the gradient when ``grad``).
    """
    check_acquisition(kind)
    out = predict(post, x, grad=grad)
    mean, var = out[0], out[1]
    std = np.sqrt(var)
    if kind == "logei":
        z = (mean - best_f) / std
        lh, dlh = log_h(z)
        value = lh + np.log(std)
        d_mean, d_var = dlh / std, (1.0 - dlh * z) / (2.0 * var)
    elif kind == "ucb":
        value = mean + math.sqrt(beta) * std
        d_mean, d_var = np.ones_like(mean), math.sqrt(beta) / (2.0 * std)
    else:
        value = mean
        d_mean, d_var = np.ones_like(mean), np.zeros_like(mean)
    if not grad:
        return value
    return value, d_mean[:, None] * out[2] + d_var[:, None] * out[3]


class HostCandidates(NamedTuple):
    """Refined acquisition maximisers, best first.

    Attributes:
        x: points in the unit box, shape ``(n_refine, d)``.
        value: their acquisition values, shape ``(n_refine,)``.
    """

    x: np.ndarray
    value: np.ndarray


def maximize(kind: str, post: HostPosterior, best_f: float, raw: np.ndarray, lower: np.ndarray,
             upper: np.ndarray, beta: float = 2.0, n_refine: int = 8, maxiter: int = 60) -> HostCandidates:
    """Maximises the acquisition over a box from the best raw candidates.

    Args:
        kind: acquisition name.
        post: the conditioned GP.
        best_f: incumbent for LogEI.
        raw: raw candidates in the unit box, shape ``(n_raw, d)``, ``n_raw >= n_refine``;
            clipped into ``[lower, upper]`` first (which also sets fixed dimensions).
        lower: lower bounds in the unit box, shape ``(d,)``.
        upper: upper bounds, shape ``(d,)``; ``lower[k] == upper[k]`` holds dimension ``k`` fixed.
        beta: UCB exploration weight.
        n_refine: number of gradient-refined starts.
        maxiter: L-BFGS-B iterations of the joint refinement.

    Returns:
        :class:`HostCandidates`, sorted by decreasing acquisition value.
    """
    if len(raw) < n_refine:
        raise ValueError(f"need at least n_refine={n_refine} raw candidates, got {len(raw)}")
    raw = np.clip(raw, lower, upper)
    values = acquisition(kind, post, raw, best_f, beta)
    values = np.where(np.isfinite(values), values, -np.inf)
    top = np.argsort(-values, kind="stable")[:n_refine]
    d = raw.shape[1]
    free = upper > lower
    x0 = raw[top]

    def objective(flat: np.ndarray) -> tuple[float, np.ndarray]:
        x = x0.copy()
        x[:, free] = flat.reshape(n_refine, -1)
        v, g = acquisition(kind, post, x, best_f, beta, grad=True)
        if not (np.isfinite(v).all() and np.isfinite(g).all()):
            return 1e10, np.zeros_like(flat)
        return float(-np.sum(v)), -g[:, free].ravel()

    bounds = [(float(lower[k]), float(upper[k])) for k in range(d) if free[k]] * n_refine
    res = scipy.optimize.minimize(objective, x0[:, free].ravel(), jac=True, method="L-BFGS-B",
                                  bounds=bounds, options={"maxiter": maxiter})
    x = x0.copy()
    x[:, free] = np.clip(res.x.reshape(n_refine, -1), lower[free], upper[free])
    refined = acquisition(kind, post, x, best_f, beta)
    # Keep a start's raw point if the joint run made it worse (L-BFGS-B only lowers the sum).
    worse = ~(refined >= values[top])
    x[worse], refined[worse] = x0[worse], values[top][worse]
    order = np.argsort(-refined, kind="stable")
    return HostCandidates(x[order], refined[order])
