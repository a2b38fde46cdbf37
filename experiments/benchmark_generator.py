"""Generation time of the shipped generator vs the manufacturing simulator, per volume.

Usage (repo root):  python experiments/benchmark_generator.py [--checkpoint checkpoints/gan]
                    [--sizes 64 128] [--repeats 3] [--out experiments/results/benchmark_generator.json]

For each edge n it times, after one warm-up call (compilation excluded and reported apart):
generating one n^3 volume (soft probabilities + argmax) at the centre label, and simulating one
n^3 volume at the same label and voxel size with ``jaxmicro.data.simulate``. Prints a table and
writes JSON. Set ``XLA_FLAGS`` yourself to pin threads; the value used is recorded.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import jax
import numpy as np

from jaxmicro.data import SimulatorConfig, simulate
from jaxmicro.generator import generate, load_generator, shipped_checkpoint_path

LABEL = np.array([0.93, 0.36, 0.5])


def _time(fn, repeats: int) -> tuple[float, float]:
    start = time.perf_counter()
    fn()
    first = time.perf_counter() - start
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return first, float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=str(shipped_checkpoint_path("gan")))
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default="experiments/results/benchmark_generator.json")
    args = parser.parse_args()
    generator = load_generator(args.checkpoint)
    rows = []
    for n in args.sizes:
        seeds = iter(range(1000))
        config = SimulatorConfig(shape=(n,) * 3, voxel_size_m=generator.voxel_size_m)

        def gen(n=n, seeds=seeds):
            return generate(generator, LABEL, (n,) * 3, seed=next(seeds))

        def sim(config=config, seeds=seeds):
            return simulate(LABEL, config, seed=next(seeds))

        gen_first, gen_s = _time(gen, args.repeats)
        sim_first, sim_s = _time(sim, args.repeats)
        rows.append(
            {
                "edge": n,
                "generate_s": gen_s,
                "generate_first_call_s": gen_first,
                "simulate_s": sim_s,
                "simulate_first_call_s": sim_first,
                "speedup": sim_s / gen_s,
            }
        )
    print(f"{'edge':>6} {'generate [s]':>13} {'simulate [s]':>13} {'simulate/generate':>18}")
    for r in rows:
        print(f"{r['edge']:>5}^3 {r['generate_s']:13.3f} {r['simulate_s']:13.3f} {r['speedup']:18.1f}")
    meta = {
        "checkpoint": args.checkpoint,
        "label": LABEL.tolist(),
        "voxel_size_m": generator.voxel_size_m,
        "repeats": args.repeats,
        "backend": jax.default_backend(),
        "cpu_count": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
        "XLA_FLAGS": os.environ.get("XLA_FLAGS", ""),
        "note": "median of the repeats after one warm-up (compilation) call",
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
