"""Benchmark jaxmicro.bo against BoTorch and Sobol random search (issue 6).

Problems (all maximised): Branin 2D, Hartmann 6D and Hartmann 6D with Gaussian observation
noise (sd 0.1). Budget: ``--initial`` Sobol points (the same points for every method) plus
``--iterations`` BO iterations of ``--q`` points each (default 1), ``--seeds`` seeds each.
Reported per problem and method: median and quartiles of the final simple regret
``f_max - max_i f(x_i)`` (noiseless ``f`` at the evaluated points) and the median wall time per
iteration (fit + acquisition, after compilation: one untimed warm-up run per problem compiles
every padded size first).

BoTorch baseline (its standard loop): ``SingleTaskGP`` (default priors, inputs normalised,
outputs standardised), ``fit_gpytorch_mll``, ``qLogExpectedImprovement(best_f=max y)``,
``optimize_acqf(q, num_restarts=10, raw_samples=512)``, float64.

Both run single-threaded (``torch.set_num_threads(1)``, OpenBLAS 1 thread) since the machine is
shared; the JSON records ``uptime`` before and after.

Usage::

    python experiments/bench_bo.py                      # full: 10 seeds, 10 + 40 evaluations
    python experiments/bench_bo.py --seeds 2 --iterations 10 --out /tmp/bo.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import time
from pathlib import Path

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

from jaxmicro.bo import BRANIN, HARTMANN6, Optimizer, TestFunction, sobol_points

NOISE_SD = 0.1
PROBLEMS = {
    "branin": (BRANIN, 0.0),
    "hartmann6": (HARTMANN6, 0.0),
    "hartmann6_noisy": (HARTMANN6, NOISE_SD),
}
METHODS = ("jaxmicro", "botorch", "sobol")


def _observe(prob: TestFunction, noise: float, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    y = prob.fn(x)
    return y + noise * rng.standard_normal(y.shape) if noise > 0 else y


def run_jaxmicro(prob: TestFunction, noise: float, seed: int, n_init: int, iters: int, q: int = 1) -> dict:
    rng = np.random.default_rng([seed, 7])
    opt = Optimizer(bounds=prob.bounds, seed=seed, n_initial=n_init)
    x0 = opt.ask(n_init)
    opt.tell(x0, _observe(prob, noise, x0, rng))
    times = []
    for _ in range(iters):
        t = time.perf_counter()
        x = opt.ask(q)
        times.append(time.perf_counter() - t)
        opt.tell(x, _observe(prob, noise, x, rng))
    return {"x": opt.x, "times": times}


def run_botorch(prob: TestFunction, noise: float, seed: int, n_init: int, iters: int, q: int = 1) -> dict:
    import torch
    from botorch.acquisition.logei import qLogExpectedImprovement
    from botorch.fit import fit_gpytorch_mll
    from botorch.models import SingleTaskGP
    from botorch.models.transforms import Normalize, Standardize
    from botorch.optim import optimize_acqf
    from gpytorch.mlls import ExactMarginalLogLikelihood

    torch.set_num_threads(1)
    torch.manual_seed(seed)
    rng = np.random.default_rng([seed, 7])
    lo, hi = np.asarray(prob.bounds).T
    d = len(lo)
    x = lo + sobol_points(n_init, d, seed) * (hi - lo)
    y = _observe(prob, noise, x, rng)
    bounds = torch.tensor(np.stack([lo, hi]), dtype=torch.float64)
    times = []
    for _ in range(iters):
        t = time.perf_counter()
        tx = torch.tensor(x, dtype=torch.float64)
        ty = torch.tensor(y, dtype=torch.float64)[:, None]
        model = SingleTaskGP(tx, ty, input_transform=Normalize(d=d, bounds=bounds),
                             outcome_transform=Standardize(m=1))
        fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
        acq = qLogExpectedImprovement(model, best_f=ty.max())
        cand, _ = optimize_acqf(acq, bounds=bounds, q=q, num_restarts=10, raw_samples=512)
        times.append(time.perf_counter() - t)
        xn = cand.detach().numpy()
        x = np.concatenate([x, xn])
        y = np.concatenate([y, _observe(prob, noise, xn, rng)])
    return {"x": x, "times": times}


def run_sobol(prob: TestFunction, noise: float, seed: int, n_init: int, iters: int, q: int = 1) -> dict:
    lo, hi = np.asarray(prob.bounds).T
    return {"x": lo + sobol_points(n_init + q * iters, len(lo), seed) * (hi - lo), "times": []}


RUNNERS = {"jaxmicro": run_jaxmicro, "botorch": run_botorch, "sobol": run_sobol}


def _uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def summarise(runs: list[dict]) -> list[dict]:
    rows = []
    for prob in dict.fromkeys(r["problem"] for r in runs):
        for method in dict.fromkeys(r["method"] for r in runs):
            sel = [r for r in runs if r["problem"] == prob and r["method"] == method]
            if not sel:
                continue
            reg = np.array([r["regret"] for r in sel])
            med_t = [float(np.median(r["times"])) for r in sel if r["times"]]
            rows.append({
                "problem": prob, "method": method, "seeds": len(sel),
                "regret_median": float(np.median(reg)),
                "regret_q25": float(np.quantile(reg, 0.25)),
                "regret_q75": float(np.quantile(reg, 0.75)),
                "time_per_iter_median_s": float(np.median(med_t)) if med_t else None,
            })
    return rows


def table(rows: list[dict]) -> str:
    lines = ["| problem | method | seeds | final regret: median [q25, q75] | time / iteration (median) |",
             "|---|---|---|---|---|"]
    for r in rows:
        t = r["time_per_iter_median_s"]
        ts = "-" if t is None else f"{1e3 * t:.0f} ms"
        lines.append(f"| {r['problem']} | {r['method']} | {r['seeds']} | {r['regret_median']:.2e} "
                     f"[{r['regret_q25']:.2e}, {r['regret_q75']:.2e}] | {ts} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--first-seed", type=int, default=0,
                    help="seeds are first-seed .. first-seed + seeds - 1")
    ap.add_argument("--initial", type=int, default=10)
    ap.add_argument("--iterations", type=int, default=40)
    ap.add_argument("--q", type=int, default=1,
                    help="batch size per iteration (ours: Kriging believer; BoTorch: joint qLogEI)")
    ap.add_argument("--problems", nargs="+", default=list(PROBLEMS), choices=list(PROBLEMS))
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    ap.add_argument("--out", type=Path, default=Path("experiments/bench_bo.json"))
    args = ap.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"seeds": args.seeds, "first_seed": args.first_seed, "initial": args.initial,
            "iterations": args.iterations, "q": args.q,
            "noise_sd": NOISE_SD, "uptime_start": _uptime(), "nproc": os.cpu_count(),
            "threads": "torch 1, OpenBLAS 1"}
    runs: list[dict] = []

    def dump() -> None:
        out = {"meta": meta, "summary": summarise(runs), "runs": runs}
        tmp = args.out.with_suffix(".tmp")
        tmp.write_text(json.dumps(out, indent=1))
        os.replace(tmp, args.out)

    for name in args.problems:
        prob, noise = PROBLEMS[name]
        if "jaxmicro" in args.methods:  # untimed warm-up: compiles every padded size used below
            t = time.perf_counter()
            run_jaxmicro(prob, noise, 10_000, args.initial, args.iterations, args.q)
            meta[f"warmup_s_{name}"] = time.perf_counter() - t
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            for method in args.methods:
                t = time.perf_counter()
                res = RUNNERS[method](prob, noise, seed, args.initial, args.iterations, args.q)
                best = float(np.max(prob.fn(res["x"])))
                runs.append({"problem": name, "method": method, "seed": seed,
                             "regret": prob.f_max - best, "n_evals": len(res["x"]),
                             "times": res["times"], "total_s": time.perf_counter() - t})
                print(f"{name:16s} {method:9s} seed {seed}: regret {prob.f_max - best:.3e}, "
                      f"median iter {1e3 * np.median(res['times']) if res['times'] else 0:.0f} ms",
                      flush=True)
                dump()
    meta["uptime_end"] = _uptime()
    dump()
    print(table(summarise(runs)))


if __name__ == "__main__":
    main()
