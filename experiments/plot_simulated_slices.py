"""Slices of simulated electrodes at low/high adhesion and porosity, plus simulator timing.

Writes ``docs/figures/simulated_slices.png`` and prints the time to simulate one volume.

    python experiments/plot_simulated_slices.py [--size 128] [--voxel-size-m 0.5e-6]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import jax
import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.colors import ListedColormap

from jaxmicro.data import SimulatorConfig, simulate_electrode

PHASE_COLOURS = ListedColormap(["#1b1b1b", "#9a9a9a", "#e8b04a"])  # pore, AM, CBD
LABELS = [(0.93, 0.28, 0.0), (0.93, 0.28, 1.0), (0.93, 0.44, 0.0), (0.93, 0.44, 1.0)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--voxel-size-m", type=float, default=0.5e-6)
    parser.add_argument("--out", default="docs/figures/simulated_slices.png")
    args = parser.parse_args()
    config = SimulatorConfig(shape=(args.size,) * 3, voxel_size_m=args.voxel_size_m)

    key = jax.random.PRNGKey(0)
    start = time.perf_counter()
    simulate_electrode(key, np.array(LABELS[0]), config).block_until_ready()
    first_call_s = time.perf_counter() - start
    volumes, times = [], []
    for label in LABELS:
        start = time.perf_counter()
        volumes.append(np.asarray(simulate_electrode(key, np.array(label), config)))
        times.append(time.perf_counter() - start)

    extent_um = args.size * args.voxel_size_m * 1e6
    fig, axes = plt.subplots(2, len(LABELS), figsize=(3.2 * len(LABELS), 6.6), constrained_layout=True)
    mid = args.size // 2
    for column, (label, volume) in enumerate(zip(LABELS, volumes, strict=True)):
        for row, (image, name) in enumerate(
            [(volume[:, :, mid], "through-plane (z-y)"), (volume[mid], "in-plane (y-x)")]
        ):
            ax = axes[row, column]
            ax.imshow(image, cmap=PHASE_COLOURS, vmin=0, vmax=2, extent=(0, extent_um, extent_um, 0))
            ax.set_title(f"porosity {label[1]}, adhesion {label[2]:.0f}\n{name}", fontsize=9)
            ax.set_xlabel("um", fontsize=8)
            ax.tick_params(labelsize=7)
    fig.suptitle("Simulated NMC cathodes (am_wt 0.93; black pore, grey AM, gold CBD; z = thickness)")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    summary = {
        "shape": config.shape,
        "voxel_size_m": config.voxel_size_m,
        "first_call_including_compile_s": round(first_call_s, 3),
        "per_volume_s": [round(t, 3) for t in times],
        "median_per_volume_s": round(float(np.median(times)), 3),
        "device": str(jax.devices()[0]),
    }
    print(json.dumps(summary, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
