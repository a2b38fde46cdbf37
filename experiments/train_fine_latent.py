"""Trains the `small` generator from scratch on data/wide64 with the wide recipe, with its
latent noise every 8 output voxels (``--latent-every 8``: 2 hidden stages of 64/32 channels,
train latent 8^3) or every 16 (``--latent-every 16``: the shipped 64/32/16, train latent 4^3,
the control). Issue 26: does a latent cell smaller than the simulator's 13-voxel particles let
the small network draw particles? (docs/generator.md, stop 36.) With ``--seeds-per-cell 2``,
the network also sees a random marked point pattern (``GeneratorConfig.seeds_per_cell``): does
a structured noise with the particles' density let it? (stop 39.) With ``--particles-per-cell
4`` the AM is drawn as explicit relaxed particles whose law the network learns
(``GeneratorConfig.particles_per_cell``; stop 40).

    python experiments/train_fine_latent.py runs/f8 6000 --latent-every 8
    python experiments/train_fine_latent.py runs/c16 6000 --latent-every 16
    python experiments/train_fine_latent.py runs/s2 6000 --latent-every 16 --seeds-per-cell 2
    python experiments/train_fine_latent.py runs/p4 3000 --latent-every 16 --particles-per-cell 4
    jaxmicro train --data data/wide64 --out runs/f8 --resume --steps 8000   # continue either

Resumable through ``jaxmicro train --resume`` (the run folder keeps its config). One XLA thread
is enough on a shared CPU: set ``XLA_FLAGS="--xla_cpu_multi_thread_eigen=false
intra_op_parallelism_threads=1"``.
"""

from __future__ import annotations

import argparse

from jaxmicro.data import load_dataset
from jaxmicro.generator.config import GeneratorConfig, preset
from jaxmicro.generator.train import train

NETWORKS = {8: ((64, 32), 8), 16: ((64, 32, 16), 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="new run folder")
    parser.add_argument("steps", type=int, help="total generator steps")
    parser.add_argument("--latent-every", type=int, choices=sorted(NETWORKS), default=8)
    parser.add_argument("--seeds-per-cell", type=int, default=0, help="seed points per latent voxel")
    parser.add_argument(
        "--particles-per-cell", type=int, default=0, help="drawn AM particle candidates per latent voxel"
    )
    parser.add_argument("--data", default="data/wide64")
    args = parser.parse_args()
    channels, latent = NETWORKS[args.latent_every]
    config = preset("small").replace(
        generator=GeneratorConfig(
            latent_channels=16, channels=channels, seeds_per_cell=args.seeds_per_cell,
            particles_per_cell=args.particles_per_cell,
        ),
        train_latent_size=latent,
        steps=args.steps,
        checkpoint_every=100,
        png_every=500,
        stats_weight=100.0,
        tau_weight=100.0,
        aux_temperature=0.2,
        ema_decay=0.998,
        lineal_weight=10.0,
        erosion_weight=100.0,
    )
    train(load_dataset(args.data), args.out, config)


if __name__ == "__main__":
    main()
