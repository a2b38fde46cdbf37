"""``jaxmicro simulate``: write a labelled dataset with the manufacturing simulator."""

from __future__ import annotations

import argparse
import time


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="data/simulated", help="output dataset folder [%(default)s]")
    parser.add_argument("--size", type=int, default=128, help="cubic volume edge [voxels] [%(default)s]")
    parser.add_argument(
        "--voxel-size-m", type=float, default=0.5e-6, help="voxel edge [m] [%(default)s]"
    )
    parser.add_argument(
        "--mean-radius-m", type=float, default=5.0e-6, help="mean AM particle radius [m] [%(default)s]"
    )
    parser.add_argument("--seed", type=int, default=0, help="dataset seed [%(default)s]")
    parser.add_argument(
        "--grid",
        choices=("wide", "narrow"),
        default="wide",
        help="label grid: wide (am_wt 0.85-0.98, porosity 0.20-0.50, adhesion 0-1; 36 labels, 6 "
        "held out; the shipped generator's) or narrow (0.90-0.96, 0.28-0.44, 0-1; 27 labels, 6 "
        "held out; checkpoints/narrow's) [%(default)s]",
    )
    parser.add_argument("--format", choices=("npy", "tif"), default="npy", help="file format")
    parser.add_argument("--force", action="store_true", help="replace an existing dataset")


def run(args: argparse.Namespace) -> int:
    from jaxmicro.data.simulated_dataset import GRIDS, label_grid, simulate_dataset
    from jaxmicro.data.simulator import SimulatorConfig

    config = SimulatorConfig(
        shape=(args.size,) * 3, voxel_size_m=args.voxel_size_m, mean_radius_m=args.mean_radius_m
    )
    start = time.perf_counter()
    levels, heldout = GRIDS[args.grid]
    labels = label_grid(levels)
    root = simulate_dataset(
        args.out, config, args.seed, labels, heldout, file_format=args.format, force=args.force
    )
    print(f"wrote {root} ({len(labels)} volumes of {args.size}^3, {args.grid} grid, seed {args.seed}) "
          f"in {time.perf_counter() - start:.1f} s")
    return 0
