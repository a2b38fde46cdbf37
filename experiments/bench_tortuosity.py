"""Benchmark: jaxmicro's tortuosity solver against TauFactor 2 on the same machine and volumes.

Volumes: Gaussian random media (pore fraction 0.3 and 0.5, correlation length 2 voxels) at
64^3, 128^3, 200^3, and the 256^3 electrode volume (pore phase, axis 0). Each solver runs per
volume and criterion (ours after a warm-up call on the same shape, so that jit compilation
is reported separately): TauFactor at each of ``--taufactor-crit`` (default 1e-2, its own
default, and 1e-3), ours at each of ``--conv-crit`` (default 3e-2 to 1e-4, our library
default). On volumes of at most ``--repeat-max-voxels`` (default 128^3), both
solvers run ``--repeats`` times and the fastest time of each is reported (such solves vary by
tens of percent from run to run on a shared machine); on larger ones each runs once, except
ours on a GPU (always ``--repeats`` times).

Host memory: as the ``jaxmicro`` command does, the script first makes glibc malloc keep freed
memory for reuse (:func:`jaxmicro.host_memory.retain_freed_memory`; both solvers run in this
one process under the same setting). ``--system-malloc`` leaves malloc as it is.

Accuracy: every volume is also solved, untimed, by our solver in float64 to a flux spread of
1e-8 (the reference ``tau``); every run's relative error against it is printed. For each
TauFactor run the script then gives two speed-ups: at the same criterion value, and "at equal
accuracy": TauFactor's time over that of our fastest run whose error is no larger than
TauFactor's (our criteria being a fixed ladder, every run is printed too).

    python experiments/bench_tortuosity.py                 # CPU, everything (11 to 23 min quiet)
    python experiments/bench_tortuosity.py --device gpu    # JAX and TauFactor on the GPU
    python experiments/bench_tortuosity.py --sizes 64 128 --no-electrode

Prints a table and writes JSON (``--json``, default experiments/bench_tortuosity_<device>.json).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
ELECTRODE = ROOT / ".." / "shared" / "data" / "electrode.tiff"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--device", choices=("cpu", "gpu"), default="cpu")
    p.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 200])
    p.add_argument("--porosities", type=float, nargs="+", default=[0.3, 0.5])
    p.add_argument("--no-electrode", action="store_true", help="skip the 256^3 electrode volume")
    p.add_argument(
        "--electrode", type=Path, default=ELECTRODE, help="the electrode TIFF (default: ../shared/data)"
    )
    p.add_argument(
        "--taufactor-crit",
        type=float,
        nargs="+",
        default=[1e-2, 1e-3],
        help="TauFactor conv_crit values (one run each; 1e-2 is its default)",
    )
    p.add_argument(
        "--conv-crit",
        type=float,
        nargs="+",
        default=[3e-2, 1e-2, 5e-3, 1e-3, 1e-4],
        help="our flux criteria (one run each; 1e-4 is the library default)",
    )
    p.add_argument(
        "--torch-threads",
        type=int,
        default=None,
        help="torch CPU threads (default: torch's own, i.e. all cores; use 1 on a busy machine)",
    )
    p.add_argument("--repeats", type=int, default=3, help="runs per solver on quick volumes (best time)")
    p.add_argument(
        "--repeat-max-voxels",
        type=int,
        default=128**3,
        help="repeat on volumes of at most this many voxels (larger ones: one run each)",
    )
    p.add_argument("--system-malloc", action="store_true", help="leave glibc malloc's settings as they are")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)
    if args.repeats < 1:
        p.error(f"--repeats must be at least 1, got {args.repeats}")
    return args


def volumes(args: argparse.Namespace):
    from jaxmicro.characterise.synthetic import gaussian_random_medium

    for n in args.sizes:
        for porosity in args.porosities:
            yield f"random {n}^3 eps={porosity}", gaussian_random_medium((n, n, n), porosity)
    if not args.no_electrode:
        if args.electrode.is_file():
            from jaxmicro.data import read_volume

            yield "electrode 256^3", read_volume(args.electrode, grey_values=(0, 85, 170))
        else:
            print(f"skipping the electrode: {args.electrode} is absent", file=sys.stderr)


def run_ours(volume: np.ndarray, conv_crit: float, device, repeats: int) -> dict:
    import jax

    from jaxmicro.characterise import tortuosity

    with jax.default_device(device):
        start = time.perf_counter()
        jax.block_until_ready(tortuosity(volume, 0, 0, conv_crit=conv_crit))
        first = time.perf_counter() - start
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            result = jax.block_until_ready(tortuosity(volume, 0, 0, conv_crit=conv_crit))
            times.append(time.perf_counter() - start)
    return {
        "tau": float(result.tau),
        "seconds": min(times),
        "all_seconds": times,
        "compile_seconds": max(first - min(times), 0.0),
        "iterations": int(result.iterations),
        "converged": bool(result.converged),
    }


def labelling_seconds(volume: np.ndarray, device, repeats: int) -> float:
    """Best time of the inlet-cluster labelling alone, done as ``tortuosity`` does it on
    ``device``: cc3d on the host for CPU, the JAX flood fill on an accelerator (part of our
    solve times above, reported to show the split)."""
    import jax

    from jaxmicro.bench import time_call
    from jaxmicro.characterise.dispatch import choose_strategy
    from jaxmicro.characterise.percolation import inlet_clusters, inlet_clusters_numpy

    mask = (volume == 0)[None]
    on_device = jax.device_put(mask, device)
    strategy = choose_strategy("auto", on_device)  # as tortuosity chooses for this device
    if strategy.label_on_host:
        label = partial(inlet_clusters_numpy, mask)
    else:
        flood_fill = partial(inlet_clusters, method="flood_fill", sequential_scan=strategy.sequential_scan)
        label = partial(jax.jit(flood_fill), on_device)
    timing, _ = time_call(label, repeats)
    return timing.min_s


def reference_tau(volume: np.ndarray, device) -> float:
    """Our solver in float64 to a flux spread of 1e-8 (untimed): the accuracy reference."""
    import jax
    import jax.numpy as jnp

    from jaxmicro.characterise import tortuosity

    with jax.enable_x64(True), jax.default_device(device):
        return float(tortuosity(volume, 0, 0, conv_crit=1e-8, max_iter=1000, dtype=jnp.float64).tau)


def run_taufactor(volume: np.ndarray, conv_crit: float, device: str, repeats: int) -> dict:
    """TauFactor through :func:`jaxmicro.bench.bench_taufactor` (the one TauFactor timer; the
    ``Solver`` set-up is inside the timed call, a few milliseconds beside the solve)."""
    from jaxmicro.bench import bench_taufactor

    row = bench_taufactor(volume[None], conv_crit=conv_crit, repeats=repeats, device=device)
    return {
        "tau": row.tau[0],
        "seconds": row.timing.min_s,
        "median_seconds": row.timing.median_s,
        "iterations": row.iterations,
    }


def machine(args: argparse.Namespace, device) -> dict:
    import jax
    import taufactor
    import torch

    info = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "jax": jax.__version__,
        "jax_device": str(device),
        "jax_device_kind": device.device_kind,
        "taufactor": getattr(taufactor, "__version__", "1.2.1"),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "torch_cuda_device": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        "load_average_at_start": os.getloadavg(),
    }
    try:
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        info["cpu_model"] = names[0] if names else None
    except OSError:
        pass
    return info


def equal_accuracy(taufactor_run: dict, our_runs: list[dict]) -> dict | None:
    """Our fastest run whose error is no larger than TauFactor's (None if none is)."""
    good = [r for r in our_runs if abs(r["error"]) <= abs(taufactor_run["error"])]
    return min(good, key=lambda r: r["seconds"]) if good else None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    retained = False
    if not args.system_malloc:  # before jax and torch start their threads
        from jaxmicro.host_memory import retain_freed_memory

        retained = retain_freed_memory()
    print(f"malloc retains freed memory: {retained}")
    import jax
    import torch

    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)
    device = jax.devices("gpu")[0] if args.device == "gpu" else jax.devices("cpu")[0]
    tf_device = "cuda" if args.device == "gpu" else "cpu"
    load_at_start = os.getloadavg()
    print(f"load average at start: {load_at_start}; torch threads {torch.get_num_threads()}")
    print(
        f"{'volume':<24}{'tau ref':>9}{'solver':>11}{'crit':>7}{'error':>10}{'t [s]':>9}"
        f"{'iters':>7}{'compile [s]':>13}"
    )
    out = args.json or ROOT / "experiments" / f"bench_tortuosity_{args.device}.json"
    info = machine(args, device)
    info["load_average_at_start"] = load_at_start
    info["malloc_retains_freed_memory"] = retained
    info["repeats"] = (
        f"best of {args.repeats} on volumes of at most {args.repeat_max_voxels} voxels, else 1"
        + (f" (ours: always best of {args.repeats})" if args.device == "gpu" else "")
    )
    report = {
        "machine": info,
        "reference": "jaxmicro float64, conv_crit 1e-8",
        "equal_accuracy": "TauFactor's time over that of our fastest run whose |error| <= TauFactor's",
        "volumes": [],
    }
    for name, volume in volumes(args):
        tau_ref = reference_tau(volume, device)
        repeats = args.repeats if volume.size <= args.repeat_max_voxels else 1
        our_repeats = args.repeats if args.device == "gpu" else repeats  # GPU solves take < 1 s
        runs = []
        for crit in args.taufactor_crit:
            run = run_taufactor(volume, crit, tf_device, repeats)
            runs.append({"solver": "TauFactor", "conv_crit": crit, **run})
        for crit in args.conv_crit:
            run = run_ours(volume, crit, device, our_repeats)
            runs.append({"solver": "jaxmicro", "conv_crit": crit, **run})
        for run in runs:
            run["error"] = run["tau"] / tau_ref - 1
            compile_s = f"{run['compile_seconds']:>13.1f}" if "compile_seconds" in run else ""
            print(
                f"{name:<24}{tau_ref:>9.5f}{run['solver']:>11}{run['conv_crit']:>7.0e}{run['error']:>+10.1e}"
                f"{run['seconds']:>9.3f}{run['iterations']:>7d}{compile_s}",
                flush=True,
            )
        labelling = labelling_seconds(volume, device, our_repeats)
        print(f"{'':<24}of our times, labelling the inlet cluster: {labelling:.3f} s", flush=True)
        ours = [r for r in runs if r["solver"] == "jaxmicro"]
        comparisons = []
        for tf in (r for r in runs if r["solver"] == "TauFactor"):
            same = next((r for r in ours if r["conv_crit"] == tf["conv_crit"]), None)
            matched = equal_accuracy(tf, ours)
            comparison = {
                "taufactor_conv_crit": tf["conv_crit"],
                "speed_up_same_criterion": tf["seconds"] / same["seconds"] if same else None,
                "equal_accuracy_conv_crit_ours": matched["conv_crit"] if matched else None,
                "speed_up_equal_accuracy": tf["seconds"] / matched["seconds"] if matched else None,
            }
            comparisons.append(comparison)
            line = f"{'':<24}TauFactor at {tf['conv_crit']:.0e}: "
            if same:
                line += f"{comparison['speed_up_same_criterion']:.1f}x at the same criterion; "
            if matched:
                line += f"{comparison['speed_up_equal_accuracy']:.1f}x at equal accuracy "
                line += f"(ours at {matched['conv_crit']:.0e})"
            else:
                line += "none of our runs is as accurate"
            print(line, flush=True)
        report["volumes"].append(
            {
                "volume": name,
                "shape": list(volume.shape),
                "tau_reference": tau_ref,
                "labelling_seconds": labelling,
                "runs": runs,
                "comparisons": comparisons,
                "load_average_after": os.getloadavg(),
            }
        )
        info["load_average_at_end"] = os.getloadavg()
        out.write_text(json.dumps(report, indent=2))  # after every volume: a cut-off run keeps its results
    print(f"load average at end: {os.getloadavg()}")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
