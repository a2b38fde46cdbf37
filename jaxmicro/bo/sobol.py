"""Scrambled Sobol points in the unit box (``scipy.stats.qmc``), for initial designs and for the
raw candidates of acquisition optimisation. NumPy, not JAX: called at the edge, outside jit."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.stats import qmc


def sobol_points(n: int, d: int, seed: int | Sequence[int], skip: int = 0) -> np.ndarray:
    """Points ``skip .. skip + n - 1`` of one scrambled Sobol sequence.

    The sequence is fixed by ``seed``, so asking for ``skip=0, n=4`` then ``skip=4, n=4`` gives
    the same points as ``skip=0, n=8`` (an initial design can be handed out in pieces).

    Args:
        n: number of points, >= 0.
        d: dimension, >= 1.
        seed: an int or a sequence of ints (``numpy.random.default_rng`` seed); e.g.
            ``(seed, counter)`` for a fresh, reproducible set per call.
        skip: index of the first point returned.

    Returns:
        Points in ``[0, 1)^d``, shape ``(n, d)``, float64.
    """
    if n < 0 or d < 1 or skip < 0:
        raise ValueError(f"need n >= 0, d >= 1 and skip >= 0, got n={n}, d={d}, skip={skip}")
    total = skip + n
    if n == 0:
        return np.zeros((0, d))
    # Drawing a power of two keeps scipy's balance warning quiet; slicing keeps it a prefix.
    m = max(0, math.ceil(math.log2(total)))
    sampler = qmc.Sobol(d, scramble=True, rng=np.random.default_rng(seed))
    return sampler.random_base2(m)[skip:total]
