"""Standard BO test functions (NumPy, vectorised), for tests and ``experiments/bench_bo.py``.

Both are given as **maximisation** problems (the negated textbook functions), with their
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
