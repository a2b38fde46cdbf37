"""Stuck runs of jaxmicro.bo under variants of its GP priors or kernel (issue 25; docs/bo.md).

Each variant replaces the prior of :mod:`jaxmicro.bo.gp` in this process (the log-lengthscale
mode shift from ``sqrt2 + log(d)/2``, the log-noise mean and sd) or passes options to the
``Optimizer``, then runs ``experiments/bench_bo.py``'s loop (10 Sobol + 40 asks) per seed and
prints, per problem, the runs with regret > 1, the median regret and every seed's regret.

    python experiments/bench_bo_prior_variants.py NAME '{"noise_loc": -3.0, "noise_scale": 1.5}' \
        h6noisy:0-59,h6:30
    python experiments/bench_bo_prior_variants.py rbf '{"optimizer": {"kernel": "rbf"}}' h6noisy:200-259

Problems: h6noisy (Hartmann-6, noise sd 0.1), h6, branin, shekel, ackley4; ``NAME:K`` runs seeds
0..K-1, ``NAME:A-B`` seeds A..B. Defaults of a variant are the shipped priors.
"""

from __future__ import annotations

import functools
import json
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_bo

import jaxmicro.bo.gp as gp
import jaxmicro.bo.host_gp as host_gp
from jaxmicro.bo import ACKLEY4, BRANIN, HARTMANN6, SHEKEL

PROBLEMS = {
    "h6noisy": (HARTMANN6, bench_bo.NOISE_SD),
    "h6": (HARTMANN6, 0.0),
    "branin": (BRANIN, 0.0),
    "shekel": (SHEKEL, 0.0),
    "ackley4": (ACKLEY4, 0.0),
}


def prior_variant(ls_shift: float = -3.0, noise_loc: float = -5.0, noise_scale: float = 1.0):
    """The GP prior ``(loc, scale)`` function with the given lengthscale shift and noise prior."""
    shipped = gp._prior

    def prior(d: int) -> tuple[np.ndarray, np.ndarray]:
        loc, scale = (np.array(v, copy=True) for v in shipped(d))
        loc[:d] = math.sqrt(2.0) + 0.5 * math.log(d) + ls_shift
        loc[d + 1], scale[d + 1] = noise_loc, noise_scale
        return loc, scale

    return prior


def _seeds(spec: str) -> range:
    low, _, high = spec.partition("-")
    return range(int(low), int(high) + 1) if high else range(int(spec))


def main() -> None:
    name, options, problems = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
    optimizer_options = options.pop("optimizer", {})
    if optimizer_options:
        bench_bo.Optimizer = functools.partial(bench_bo.Optimizer, **optimizer_options)
    prior = prior_variant(**options)
    gp._prior = host_gp._prior = prior
    host_gp._prior_cached.cache_clear()
    for spec in problems.split(","):
        problem_name, seeds = spec.split(":")
        problem, noise = PROBLEMS[problem_name]
        runs = [bench_bo.run_jaxmicro(problem, noise, s, 10, 40)["x"] for s in _seeds(seeds)]
        regrets = np.array([problem.f_max - float(np.max(problem.fn(x))) for x in runs])
        stuck = int((regrets > 1).sum())
        print(
            f"{name} {problem_name} seeds {seeds}: regret > 1 in {stuck} of {len(regrets)}, "
            f"median {np.median(regrets):.3g}",
            flush=True,
        )
        print(f"{name} {problem_name} regrets {[round(float(v), 4) for v in regrets]}", flush=True)


if __name__ == "__main__":
    main()
