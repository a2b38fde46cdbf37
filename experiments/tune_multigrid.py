"""Times the tortuosity solve over the multigrid's two tuning constants, on one device.

The two fields of :class:`jaxmicro.characterise.MultigridConfig` (``max_coarse_voxels``, the
coarsest grid solved with a dense inverse, and ``inner_iterations``, the flexible-CG steps per
coarse-grid visit) have defaults chosen on a 2-core CPU. On an accelerator the balance differs
(each coarse-grid kernel costs a launch whatever its size), so this script measures every
combination on the same volumes: best of ``--repeats`` timed solves after one compiling call each (each
combination is its own solver option, so its own compilation).

    python experiments/tune_multigrid.py --device gpu --electrode .device_data/electrode.tiff

Prints a table and writes JSON (``--json``).
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--device", choices=("cpu", "gpu"), default="cpu")
    p.add_argument("--size", type=int, default=256, help="edge of the random media [voxels]")
    p.add_argument("--porosities", type=float, nargs="+", default=[0.3])
    p.add_argument("--electrode", type=Path, default=ROOT / ".." / "shared" / "data" / "electrode.tiff")
    p.add_argument("--conv-crit", type=float, default=1e-2)
    p.add_argument("--max-coarse", type=int, nargs="+", default=[64, 512, 4096])
    p.add_argument("--inner", type=int, nargs="+", default=[1, 2])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)
    if args.repeats < 1 or min(args.max_coarse) < 1 or min(args.inner) < 1:
        p.error("--repeats, --max-coarse and --inner take positive integers")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import jax

    from jaxmicro.bench import time_call
    from jaxmicro.characterise import MultigridConfig, tortuosity
    from jaxmicro.characterise.synthetic import gaussian_random_medium

    device = jax.devices(args.device)[0]
    volumes = {
        f"random {args.size}^3 eps={p}": gaussian_random_medium((args.size,) * 3, p) for p in args.porosities
    }
    if args.electrode.is_file():
        from jaxmicro.data import read_volume

        volumes["electrode 256^3"] = read_volume(args.electrode, grey_values=(0, 85, 170))
    defaults = MultigridConfig()
    rows = []
    print(f"{device}; conv_crit {args.conv_crit:.0e}")
    print(
        f"{'volume':<24}{'max coarse':>11}{'inner':>6}{'t [s]':>9}{'iters':>6}{'compile [s]':>12}{'tau':>10}"
    )
    for (name, volume), max_coarse, inner in itertools.product(volumes.items(), args.max_coarse, args.inner):
        tuning = MultigridConfig(max_coarse_voxels=max_coarse, inner_iterations=inner)
        with jax.default_device(device):
            timing, result = time_call(
                lambda volume=volume, tuning=tuning: tortuosity(
                    volume, 0, 0, conv_crit=args.conv_crit, multigrid=tuning
                ),
                args.repeats,
            )
        row = {
            "volume": name,
            "max_coarse_voxels": max_coarse,
            "inner_iterations": inner,
            "seconds": timing.min_s,
            "median_seconds": timing.median_s,
            "compile_seconds": max(timing.first_s - timing.min_s, 0.0),
            "iterations": int(result.iterations),
            "tau": float(result.tau),
        }
        rows.append(row)
        print(
            f"{name:<24}{max_coarse:>11d}{inner:>6d}{row['seconds']:>9.4f}{row['iterations']:>6d}"
            f"{row['compile_seconds']:>12.1f}{row['tau']:>10.5f}",
            flush=True,
        )
        if args.json:
            report = {
                "device": str(device),
                "conv_crit": args.conv_crit,
                "defaults": [defaults.max_coarse_voxels, defaults.inner_iterations],
                "rows": rows,
            }
            args.json.write_text(json.dumps(report, indent=2))
    best = {
        name: min((r for r in rows if r["volume"] == name), key=lambda r: r["seconds"]) for name in volumes
    }
    for name, r in best.items():
        print(
            f"fastest on {name}: max coarse {r['max_coarse_voxels']}, "
            f"inner {r['inner_iterations']}: {r['seconds']:.4f} s"
        )
    return 0 if rows and np.all([np.isfinite(r["tau"]) for r in rows]) else 1


if __name__ == "__main__":
    sys.exit(main())
