"""Input warping: a learned monotone map of each unit-box input before the kernel.

A stationary kernel assumes the objective varies at one rate everywhere; the design surface does
not: at low porosity the electrolyte's transport collapses within a few hundredths of porosity
(docs/design.md "Representative volumes") while the top of the surface is flat. Warping each
input by the Kumaraswamy CDF ``w(x) = 1 - (1 - x^a)^b`` (Snoek et al., "Input warping for
Bayesian optimization of non-stationary functions", ICML 2014; BoTorch's ``Warp``), with ``a``
and ``b`` fitted with the other hyperparameters, lets the GP stretch the region where the
objective changes fast. ``a = b = 1`` is the identity.

As BoTorch, inputs are first squeezed into ``[eps, 1 - eps]`` so that the map and its
derivatives stay finite at the bounds, and ``log a, log b ~ N(0, 0.75^2)`` (BoTorch's
LogNormal(0, 0.75^2) prior on the concentrations) keeps unneeded warps near the identity.
Host-side NumPy, used by :mod:`jaxmicro.bo.host_gp`.
"""

from __future__ import annotations

import math
from typing import Final, NamedTuple

import numpy as np

#: Inputs are squeezed into [EPS, 1 - EPS] before warping.
EPS: Final[float] = 1e-7
#: Gaussian prior (loc, scale) of log a and log b.
PRIOR: Final[tuple[float, float]] = (0.0, 0.75)
#: Box bounds of log a and log b (concentrations 0.05 to 20).
BOUNDS: Final[tuple[float, float]] = (math.log(0.05), math.log(20.0))


class Warped(NamedTuple):
    """Warped inputs and their derivatives, each shape ``(n, d)``.

    Attributes:
        z: ``w(x)``, in ``(0, 1)``.
        dz_dx: derivative in the (unsqueezed) input.
        dz_dlog_a: derivative in ``log a`` of the input's own dimension.
        dz_dlog_b: derivative in ``log b``.
    """

    z: np.ndarray
    dz_dx: np.ndarray
    dz_dlog_a: np.ndarray
    dz_dlog_b: np.ndarray


def kumaraswamy(x: np.ndarray, log_a: np.ndarray, log_b: np.ndarray) -> Warped:
    """The Kumaraswamy-CDF warping of unit-box inputs, per dimension.

    Args:
        x: inputs in the unit box, shape ``(n, d)``.
        log_a: ``log a`` per dimension, shape ``(d,)``.
        log_b: ``log b`` per dimension, shape ``(d,)``.

    Returns:
        The :class:`Warped` inputs with their derivatives.
    """
    a, b = np.exp(log_a), np.exp(log_b)
    s = EPS + (1.0 - 2.0 * EPS) * np.asarray(x, np.float64)
    sa = s**a
    rest = 1.0 - sa  # in (0, 1): s < 1
    rest_b = rest**b
    z = 1.0 - rest_b
    rest_b1 = rest_b / rest  # (1 - s^a)^(b - 1)
    dz_dx = (1.0 - 2.0 * EPS) * a * b * sa / s * rest_b1
    dz_dlog_a = a * b * rest_b1 * sa * np.log(s)
    dz_dlog_b = -b * rest_b * np.log(rest)
    return Warped(z, dz_dx, dz_dlog_a, dz_dlog_b)
