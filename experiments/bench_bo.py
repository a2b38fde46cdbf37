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
    python experiments/bench_bo.py --scaling --max-n 500 --out docs/bench_bo_scaling.json

``--scaling`` (issue 25): one noisy Hartmann-6 campaign of ours from 10 Sobol points to
``--max-n`` observations, timing every ask; on the same data prefixes at ``--checkpoints`` it
replays our ask from the state saved there and times one BoTorch iteration (fit +
``optimize_acqf``) and one ask of the earlier jitted, padded GP (``fit_gp`` + ``gp_posterior`` +
``maximize_acquisition`` from ``jaxmicro.bo``, as the Optimizer ran them before; after an
untimed compile call; only up to ``--padded-max-n``), interleaved per repeat; wall and CPU time
(each runs on one thread, so CPU time is what an idle machine would take). It also
times the first GP ask in a fresh process for both of ours, and reports every ask's time over
the median of its 10 neighbours.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

from jaxmicro.bo import ACKLEY4, BRANIN, HARTMANN6, SHEKEL, Optimizer, TestFunction, sobol_points

NOISE_SD = 0.1
PROBLEMS = {
    "branin": (BRANIN, 0.0),
    "hartmann6": (HARTMANN6, 0.0),
    "hartmann6_noisy": (HARTMANN6, NOISE_SD),
    # Multimodal (issue 25's stuck runs): ten narrow peaks; a lattice of local maxima.
    "shekel": (SHEKEL, 0.0),
    "ackley4": (ACKLEY4, 0.0),
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


def botorch_ask_time(x: np.ndarray, y: np.ndarray, bounds: np.ndarray, seed: int) -> tuple[float, float]:
    """Wall and CPU seconds of one BoTorch iteration (fit + optimize_acqf, q = 1) on ``(x, y)``."""
    import torch
    from botorch.acquisition.logei import qLogExpectedImprovement
    from botorch.fit import fit_gpytorch_mll
    from botorch.models import SingleTaskGP
    from botorch.models.transforms import Normalize, Standardize
    from botorch.optim import optimize_acqf
    from gpytorch.mlls import ExactMarginalLogLikelihood

    torch.set_num_threads(1)
    torch.manual_seed(seed)
    d = x.shape[1]
    tb = torch.tensor(bounds.T, dtype=torch.float64)
    t, c = time.perf_counter(), time.process_time()
    tx = torch.tensor(x, dtype=torch.float64)
    ty = torch.tensor(y, dtype=torch.float64)[:, None]
    model = SingleTaskGP(tx, ty, input_transform=Normalize(d=d, bounds=tb),
                         outcome_transform=Standardize(m=1))
    fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
    acq = qLogExpectedImprovement(model, best_f=ty.max())
    optimize_acqf(acq, bounds=tb, q=1, num_restarts=10, raw_samples=512)
    return time.perf_counter() - t, time.process_time() - c


def _timed(fn, *args) -> tuple[float, float]:
    t, c = time.perf_counter(), time.process_time()
    fn(*args)
    return time.perf_counter() - t, time.process_time() - c


def padded_ask(x_unit: np.ndarray, y: np.ndarray, seed: int) -> None:
    """One ask of the earlier Optimizer (jitted GP padded to a power of two, q = 1)."""
    import jax
    import jax.numpy as jnp

    from jaxmicro.bo import bucket_size, fit_gp, gp_posterior, make_data, maximize_acquisition
    from jaxmicro.bo.optimizer import _compute_context, _standardise

    with _compute_context(), jax.enable_x64(True):
        z = _standardise(y)[0]
        data = make_data(x_unit, z, n_pad=bucket_size(len(z) + 1, min_size=32))
        key = jax.random.fold_in(jax.random.PRNGKey(seed), len(z))
        params = fit_gp(data, key, 1e-6, n_starts=4, maxiter=60)
        post = gp_posterior(params, data)
        raw = jnp.asarray(sobol_points(512, x_unit.shape[1], (seed, len(z), 0)))
        d = x_unit.shape[1]
        cands = maximize_acquisition(post, jnp.asarray(z.max()), raw, jnp.zeros(d), jnp.ones(d))
        jax.block_until_ready(cands)


_FIRST_ASK = """
import os, sys, time
os.environ.setdefault("JAX_PLATFORMS", "cpu")
import numpy as np
t0 = time.perf_counter()
from jaxmicro.bo import HARTMANN6, Optimizer, sobol_points
sys.path.insert(0, {here!r})
from bench_bo import padded_ask
t_import = time.perf_counter() - t0
lo, hi = np.asarray(HARTMANN6.bounds).T
x = lo + sobol_points(10, 6, 0) * (hi - lo)
y = HARTMANN6.fn(x)
t = time.perf_counter()
if {method!r} == "jaxmicro":
    opt = Optimizer(bounds=HARTMANN6.bounds, seed=0, n_initial=10)
    opt.tell(x, y)
    opt.ask(1)
else:
    padded_ask((x - lo) / (hi - lo), y, 0)
print(time.perf_counter() - t, t_import)
"""


def first_ask_seconds(method: str) -> dict:
    """First GP ask (n = 10, 6-D) in a fresh Python process, and the import time before it."""
    code = _FIRST_ASK.format(here=str(Path(__file__).resolve().parent), method=method)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "JAXMICRO_COMPILATION_CACHE": "0"})
    first, imp = (float(v) for v in out.stdout.split()[-2:])
    return {"first_ask_s": first, "import_s": imp}


def neighbour_ratios(times: list[float], half: int = 5) -> np.ndarray:
    """Each time over the median of up to ``half`` asks either side of it (itself excluded)."""
    t = np.asarray(times)
    out = np.empty(len(t))
    for i in range(len(t)):
        nb = np.concatenate([t[max(0, i - half):i], t[i + 1:i + 1 + half]])
        out[i] = t[i] / np.median(nb)
    return out


def scaling(args: argparse.Namespace, meta: dict) -> dict:
    """Issue 25: time per ask against n, ours vs BoTorch vs the earlier padded GP, same data."""
    prob, noise = PROBLEMS["hartmann6_noisy"]
    bounds = np.asarray(prob.bounds)
    lo, hi = bounds.T
    seed = args.first_seed
    rng = np.random.default_rng([seed, 7])
    opt = Optimizer(bounds=prob.bounds, seed=seed, n_initial=args.initial)
    x0 = opt.ask(args.initial)
    opt.tell(x0, _observe(prob, noise, x0, rng))
    ns, times, cpu_times, snapshots = [], [], [], {}
    for _ in range(args.max_n - args.initial + 1):  # the last ask is at n = max_n
        ns.append(len(opt.y))
        if len(opt.y) in args.checkpoints:
            snapshots[len(opt.y)] = opt.to_dict()  # replayed below, next to BoTorch
        t, c = time.perf_counter(), time.process_time()
        x = opt.ask(1)
        times.append(time.perf_counter() - t)
        cpu_times.append(time.process_time() - c)
        opt.tell(x, _observe(prob, noise, x, rng))
        if len(opt.y) % 50 == 0:
            print(f"n={len(opt.y)}: ask median of last 50 {1e3 * np.median(times[-50:]):.0f} ms", flush=True)
    ratios = neighbour_ratios(times)
    x_all, y_all = opt.x, opt.y
    checkpoints = []
    for n in args.checkpoints:
        if n not in snapshots:
            continue
        i = ns.index(n)
        row = {"n": n, "jaxmicro_campaign_ask_s": times[i], "jaxmicro_campaign_ask_cpu_s": cpu_times[i]}
        # Methods interleaved per repeat: the same load for all of them.
        for _ in range(args.repeats):
            w, c = _timed(lambda state: Optimizer.from_dict(state).ask(1), snapshots[n])
            row.setdefault("jaxmicro_ask_s", []).append(w)
            row.setdefault("jaxmicro_ask_cpu_s", []).append(c)
            if "botorch" in args.methods:
                w, c = botorch_ask_time(x_all[:n], y_all[:n], bounds, seed)
                row.setdefault("botorch_ask_s", []).append(w)
                row.setdefault("botorch_ask_cpu_s", []).append(c)
            if n <= args.padded_max_n:
                xu = (x_all[:n] - lo) / (hi - lo)
                if "padded_first_call_s" not in row:  # compiles this bucket (unless done already)
                    row["padded_first_call_s"] = _timed(padded_ask, xu, y_all[:n], seed)[0]
                w, c = _timed(padded_ask, xu, y_all[:n], seed)
                row.setdefault("padded_ask_s", []).append(w)
                row.setdefault("padded_ask_cpu_s", []).append(c)
        print(row, flush=True)
        checkpoints.append(row)
    first = {m: first_ask_seconds(m) for m in ("jaxmicro", "padded")}
    regret = prob.f_max - float(np.max(prob.fn(x_all)))
    return {"meta": meta, "problem": "hartmann6_noisy", "seed": seed, "final_regret": regret,
            "asks": {"n": ns, "seconds": times, "cpu_seconds": cpu_times,
                     "neighbour_ratio": ratios.tolist()},
            "max_neighbour_ratio": float(ratios.max()),
            "asks_over_3x_neighbours": int((ratios > 3).sum()),
            "checkpoints": checkpoints, "first_ask_fresh_process": first}


def _uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def summarise(runs: list[dict]) -> list[dict]:
    """Per problem and method: regret quantiles, time per iteration, and the stuck runs: final
    regret no better than Sobol search's median with the same budget (issue 25's definition)."""
    rows = []
    for prob in dict.fromkeys(r["problem"] for r in runs):
        sobol = [r["regret"] for r in runs if r["problem"] == prob and r["method"] == "sobol"]
        stuck_at = float(np.median(sobol)) if sobol else None
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
                "stuck_threshold": stuck_at,
                "stuck_runs": None if stuck_at is None else int(np.sum(reg >= stuck_at)),
            })
    return rows


def table(rows: list[dict]) -> str:
    lines = ["| problem | method | seeds | final regret: median [q25, q75] | stuck runs "
             "| time / iteration (median) |", "|---|---|---|---|---|---|"]
    for r in rows:
        t = r["time_per_iter_median_s"]
        ts = "-" if t is None else f"{1e3 * t:.0f} ms"
        stuck = "-" if r.get("stuck_runs") is None else f"{r['stuck_runs']} of {r['seeds']}"
        lines.append(f"| {r['problem']} | {r['method']} | {r['seeds']} | {r['regret_median']:.2e} "
                     f"[{r['regret_q25']:.2e}, {r['regret_q75']:.2e}] | {stuck} | {ts} |")
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
    ap.add_argument("--scaling", action="store_true", help="time per ask against n (issue 25)")
    ap.add_argument("--max-n", type=int, default=500, help="--scaling: observations at the end")
    ap.add_argument("--checkpoints", type=int, nargs="+", default=[20, 50, 100, 150, 200, 300, 400, 500],
                    help="--scaling: n at which BoTorch and the padded GP are timed")
    ap.add_argument("--padded-max-n", type=int, default=200,
                    help="--scaling: largest n at which the earlier padded GP is timed")
    ap.add_argument("--repeats", type=int, default=2, help="--scaling: timed repeats per checkpoint")
    args = ap.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"seeds": args.seeds, "first_seed": args.first_seed, "initial": args.initial,
            "iterations": args.iterations, "q": args.q,
            "noise_sd": NOISE_SD, "uptime_start": _uptime(), "nproc": os.cpu_count(),
            "threads": "torch 1, OpenBLAS 1"}
    if args.scaling:
        meta["uptime_start"] = _uptime()
        result = scaling(args, meta)
        meta["uptime_end"] = _uptime()
        args.out.write_text(json.dumps(result, indent=1))
        print(json.dumps({k: v for k, v in result.items() if k != "asks"}, indent=1))
        return
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
