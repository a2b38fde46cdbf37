"""Fine-tunes an exported generator with residual blocks added after its hidden stages (they
start as the identity), or without them as the control, with the recipe of the run it was
exported from and fresh critics. Issue 26: the `small` generator has one convolution per stage
and draws merged blobs where the simulator has round particles; does depth where the particles
are placed change that? (docs/generator.md, stop 38.) With ``--seeds-per-cell 2`` it gains seed
inputs instead (zero kernel rows, the same output at step 0; stop 39).

    python experiments/train_deeper.py runs/deep runs/vf 6000 --residual-blocks 1,1,1
    python experiments/train_deeper.py runs/plain runs/vf 6000 --residual-blocks 0
    python experiments/train_deeper.py runs/sf runs/vf 6000 --residual-blocks 0 --seeds-per-cell 2
    jaxmicro train --data data/wide64 --out runs/deep --resume --steps 8000   # continue either

``runs/vf`` is a run folder: its exported generator (``generator/``) is the start and its
``run.json`` the recipe. Resumable through ``jaxmicro train --resume``. One XLA thread each on a
shared CPU: ``XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"``.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from jaxmicro.data import load_dataset
from jaxmicro.generator.checkpoint import read_run_json
from jaxmicro.generator.train import train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="new run folder")
    parser.add_argument("source", help="run folder whose exported generator and recipe are the start")
    parser.add_argument("steps", type=int, help="total generator steps of the new run")
    parser.add_argument("--residual-blocks", default="1,1,1", help="per hidden stage; 0: the control")
    parser.add_argument("--seeds-per-cell", type=int, default=0, help="seed points per latent voxel")
    parser.add_argument("--data", default="data/wide64")
    args = parser.parse_args()
    recipe, _ = read_run_json(Path(args.source))
    blocks = tuple(int(v) for v in args.residual_blocks.split(","))
    seeds = args.seeds_per_cell
    network = dataclasses.replace(recipe.generator, residual_blocks=blocks, seeds_per_cell=seeds)
    config = recipe.replace(generator=network, steps=args.steps, checkpoint_every=100, png_every=0)
    train(load_dataset(args.data), args.out, config, init_from=Path(args.source) / "generator")


if __name__ == "__main__":
    main()
