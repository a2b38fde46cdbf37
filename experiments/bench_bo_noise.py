"""Known per-point noise in the optimiser: heteroscedastic GP vs homoscedastic vs noise-free (issue 20).

The design loop's objective is a mean over seeds whose standard error is known per label and
varies by tens of times across the range (near the percolation threshold it is largest). This
benchmark mimics that on standard functions with Gaussian observation noise whose standard
deviation depends on the point and is told to the optimiser (``tell(x, y, noise_std)``):

* ``branin_hetero``: negated Branin, noise sd ``1 + 30 (1 - u_2)^4`` (``u`` the unit-box point):
  up to 31 where two of the three optima lie (low ``x_2``), about 1 at the top;
* ``hartmann6_hetero``: negated Hartmann-6, noise sd ``0.02 + 0.6 u_1^2`` (0.04 at the optimum's
  ``u_1 = 0.20``, 0.62 at ``u_1 = 1``, where a lucky draw looks better than the optimum).

The three noise models of :class:`jaxmicro.bo.Optimizer` (``heteroscedastic``, the default;
``homoscedastic``; ``noiseless``) run from the same Sobol points with the same noise draws (one
RNG per seed and point index). Reported per problem and model, median and quartiles over seeds:

* ``recommendation regret``: ``f_max - f(x_rec)`` at the model's own recommendation
  (:meth:`Optimizer.recommend`, the evaluated point with the best posterior mean), noise-free
  ``f``: what a user gets;
* ``best-sample regret``: the same at the evaluated point with the best *observed* value (the
  naive answer, whatever the model);
* ``search regret``: ``f_max - max_i f(x_i)`` over the evaluated points (how well it searched);
* the ``level`` interval's coverage of ``f(x_rec)`` (heteroscedastic model).

    python experiments/bench_bo_noise.py --seeds 20 --out docs/bench_bo_heteroscedastic.json
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

from jaxmicro.bo import BRANIN, HARTMANN6, Optimizer
from jaxmicro.bo.optimizer import NOISE_MODELS
from jaxmicro.design.records import write_json_atomic


def _branin_sd(u: np.ndarray) -> np.ndarray:
    return 1.0 + 30.0 * (1.0 - u[:, 1]) ** 4


def _hartmann_sd(u: np.ndarray) -> np.ndarray:
    return 0.02 + 0.6 * u[:, 0] ** 2


PROBLEMS = {"branin_hetero": (BRANIN, _branin_sd), "hartmann6_hetero": (HARTMANN6, _hartmann_sd)}


def run_one(problem: str, model: str, seed: int, n_init: int, iters: int, level: float) -> dict:
    prob, sd_fn = PROBLEMS[problem]
    bounds = np.asarray(prob.bounds)
    opt = Optimizer(prob.bounds, seed=seed, n_initial=n_init, noise_model=model)
    start = time.perf_counter()
    for i in range(n_init + iters):
        x = opt.ask(1)
        sd = sd_fn((x - bounds[:, 0]) / (bounds[:, 1] - bounds[:, 0]))
        # The same noise draw for every model at the same point index (common random numbers).
        y = prob.fn(x) + sd * np.random.default_rng([seed, i]).standard_normal(1)
        opt.tell(x, y, sd)
    rec = opt.recommend(level=level)
    wall = time.perf_counter() - start
    f = prob.fn(opt.x)
    f_rec = float(prob.fn(rec.x[None])[0])
    return {
        "problem": problem,
        "model": model,
        "seed": seed,
        "recommendation_regret": prob.f_max - f_rec,
        "best_sample_regret": float(prob.f_max - f[int(np.nanargmax(opt.y))]),
        "search_regret": float(prob.f_max - f.max()),
        "interval_covers": bool(rec.lower <= f_rec <= rec.upper),
        "prob_other_better": rec.prob_other_better,
        "wall_s": wall,
    }


def summarise(runs: list[dict]) -> list[dict]:
    rows = []
    for problem in PROBLEMS:
        for model in NOISE_MODELS:
            sel = [r for r in runs if r["problem"] == problem and r["model"] == model]
            if not sel:
                continue
            row = {"problem": problem, "model": model, "n_seeds": len(sel)}
            for key in ("recommendation_regret", "best_sample_regret", "search_regret", "wall_s"):
                q = np.percentile([r[key] for r in sel], [25, 50, 75])
                row[key] = {"q25": float(q[0]), "median": float(q[1]), "q75": float(q[2])}
            row["interval_coverage"] = float(np.mean([r["interval_covers"] for r in sel]))
            mine = {r["seed"]: r["recommendation_regret"] for r in sel}
            hetero = {r["seed"]: r["recommendation_regret"] for r in runs
                      if r["problem"] == problem and r["model"] == "heteroscedastic"}
            common = sorted(set(mine) & set(hetero))
            row["heteroscedastic_better_on_seeds"] = int(sum(hetero[s] < mine[s] for s in common))
            row["heteroscedastic_worse_on_seeds"] = int(sum(hetero[s] > mine[s] for s in common))
            rows.append(row)
    return rows


def table(rows: list[dict]) -> str:
    lines = ["| problem | noise model | recommendation regret | best-sample regret | search regret | "
             "interval coverage | heteroscedastic better / worse (seeds) |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        cells = [f"{r[k]['median']:.3g} [{r[k]['q25']:.3g}, {r[k]['q75']:.3g}]"
                 for k in ("recommendation_regret", "best_sample_regret", "search_regret")]
        vs = "-" if r["model"] == "heteroscedastic" else \
            f"{r['heteroscedastic_better_on_seeds']} / {r['heteroscedastic_worse_on_seeds']}"
        lines.append(f"| {r['problem']} | {r['model']} | " + " | ".join(cells)
                     + f" | {100 * r['interval_coverage']:.0f} % | {vs} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--initial", type=int, default=8)
    parser.add_argument("--iterations", type=int, default=32)
    parser.add_argument("--level", type=float, default=0.95)
    parser.add_argument("--problems", nargs="+", default=list(PROBLEMS), choices=list(PROBLEMS))
    parser.add_argument("--out", type=Path, default=Path("docs/bench_bo_heteroscedastic.json"))
    args = parser.parse_args()
    runs = []
    if args.out.is_file():  # resume: keep finished runs
        runs = json.loads(args.out.read_text()).get("runs", [])
    done = {(r["problem"], r["model"], r["seed"]) for r in runs}
    meta = {"initial": args.initial, "iterations": args.iterations, "level": args.level,
            "command": "python experiments/bench_bo_noise.py " + " ".join(
                f"--{k} {v}" for k, v in (("seeds", args.seeds), ("initial", args.initial),
                                          ("iterations", args.iterations)))}
    for problem in args.problems:
        for seed in range(args.seeds):
            for model in NOISE_MODELS:
                if (problem, model, seed) in done:
                    continue
                runs.append(run_one(problem, model, seed, args.initial, args.iterations, args.level))
                write_json_atomic(args.out, {"meta": meta, "summary": summarise(runs), "runs": runs})
                r = runs[-1]
                print(f"{problem} {model:15s} seed {seed:2d}: recommendation regret "
                      f"{r['recommendation_regret']:.4g}, best-sample {r['best_sample_regret']:.4g}, "
                      f"search {r['search_regret']:.4g} ({r['wall_s']:.1f} s)", flush=True)
    print(table(summarise(runs)))


if __name__ == "__main__":
    main()
