"""Standard BO test functions (NumPy, vectorised), for tests and ``experiments/bench_bo.py``.

All are given as **maximisation** problems (the negated textbook functions), with their
bounds and optimal value, so simple regret is ``f_max - f(x)``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np


class TestFunction(NamedTuple):
    """A maximisation test problem.

    Attributes:
        name: short name.
        fn: ``(n, d) -> (n,)`` objective to maximise.
        bounds: ``(lower, upper)`` per dimension.
        f_max: the global maximum.
    """

    name: str
    fn: object
    bounds: tuple[tuple[float, float], ...]
    f_max: float


def branin(x: np.ndarray) -> np.ndarray:
    """Negated Branin on ``[-5, 10] x [0, 15]``; maximum ``-0.397887`` at three points."""
    x = np.atleast_2d(x)
    x1, x2 = x[:, 0], x[:, 1]
    b, c = 5.1 / (4 * math.pi**2), 5 / math.pi
    t = 1 / (8 * math.pi)
    return -((x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * np.cos(x1) + 10)


_H_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
_H_A = np.array([[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14],
                 [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]])
_H_P = 1e-4 * np.array([[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
                        [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]])


def hartmann6(x: np.ndarray) -> np.ndarray:
    """Negated Hartmann-6 on ``[0, 1]^6``: ``sum_i alpha_i exp(-sum_k A_ik (x_k - P_ik)^2)``;
    maximum 3.32237."""
    x = np.atleast_2d(x)
    inner = np.sum(_H_A[None] * (x[:, None, :] - _H_P[None]) ** 2, axis=-1)
    return np.sum(_H_ALPHA * np.exp(-inner), axis=-1)


BRANIN = TestFunction("branin", branin, ((-5.0, 10.0), (0.0, 15.0)), -0.397887357729739)
HARTMANN6 = TestFunction("hartmann6", hartmann6, ((0.0, 1.0),) * 6, 3.322368011391339)


_S_BETA = 0.1 * np.array([1, 2, 2, 4, 4, 6, 3, 7, 5, 5], dtype=float)
_S_C = np.array([[4, 1, 8, 6, 3, 2, 5, 8, 6, 7], [4, 1, 8, 6, 7, 9, 3, 1, 2, 3.6],
                 [4, 1, 8, 6, 3, 2, 5, 8, 6, 7], [4, 1, 8, 6, 7, 9, 3, 1, 2, 3.6]], dtype=float)


def shekel(x: np.ndarray) -> np.ndarray:
    """Negated Shekel (m = 10) on ``[0, 10]^4``: ``sum_i 1 / (sum_k (x_k - C_ki)^2 + beta_i)``;
    ten narrow peaks, the highest 10.536443 near ``(4, 4, 4, 4)``, the next about 5.18 and 5.13
    (Surjanovic & Bingham, Virtual Library of Simulation Experiments)."""
    x = np.atleast_2d(x)
    squared = np.sum((x[:, :, None] - _S_C[None]) ** 2, axis=1)
    return np.sum(1.0 / (squared + _S_BETA), axis=-1)


def ackley(x: np.ndarray) -> np.ndarray:
    """Negated Ackley (a = 20, b = 0.2, c = 2 pi) on ``[-32.768, 32.768]^d``; maximum 0 at the
    origin among a lattice of local maxima."""
    x = np.atleast_2d(x)
    d = x.shape[1]
    return -(
        -20.0 * np.exp(-0.2 * np.sqrt(np.sum(x**2, axis=1) / d))
        - np.exp(np.sum(np.cos(2 * math.pi * x), axis=1) / d)
        + 20.0
        + math.e
    )


SHEKEL = TestFunction("shekel", shekel, ((0.0, 10.0),) * 4, 10.536443153483)
ACKLEY4 = TestFunction("ackley4", ackley, ((-32.768, 32.768),) * 4, 0.0)
