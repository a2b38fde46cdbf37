"""The benchmark test functions: their stated maxima are where and what they say."""

import numpy as np
import pytest
from scipy.optimize import minimize

from jaxmicro.bo import ACKLEY4, BRANIN, HARTMANN6, SHEKEL


@pytest.mark.parametrize(
    ("problem", "start"),
    [
        (BRANIN, [np.pi, 2.275]),
        (HARTMANN6, [0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573]),
        (SHEKEL, [4.0, 4.0, 4.0, 4.0]),
        (ACKLEY4, [0.01, -0.01, 0.01, 0.0]),
    ],
)
def test_stated_maximum_is_the_local_maximum_near_the_known_optimum(problem, start):
    result = minimize(lambda x: -problem.fn(x[None])[0], np.array(start), method="Nelder-Mead",
                      options={"xatol": 1e-9, "fatol": 1e-12, "maxiter": 20000})
    assert -result.fun == pytest.approx(problem.f_max, abs=1e-5)
    lows, highs = np.array(problem.bounds).T
    points = lows + np.random.default_rng(0).random((2000, len(lows))) * (highs - lows)
    assert problem.fn(points).max() < problem.f_max  # no random point beats it


def test_shekel_has_the_textbook_local_maxima():
    # Surjanovic & Bingham: the peaks at (1,1,1,1) and (8,8,8,8) are about 5.13 and 5.18.
    for corner, height in (([1.0] * 4, 5.128), ([8.0] * 4, 5.176)):
        result = minimize(lambda x: -SHEKEL.fn(x[None])[0], np.array(corner), method="Nelder-Mead")
        assert -result.fun == pytest.approx(height, abs=2e-3)
