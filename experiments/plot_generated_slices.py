"""Middle slices of generated volumes beside the simulator's held-out volumes at the same labels.

Writes ``docs/figures/generator_heldout_slices.png``: one row per held-out label of the dataset
(generated, seed 0, same size as the held-out volume), then the held-out rows.

    python experiments/plot_generated_slices.py [--data data/wide64] [--checkpoint PATH]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from jaxmicro.data import load_dataset
from jaxmicro.generator import generate, load_generator, load_shipped_generator
from jaxmicro.generator.plotting import save_slices_png


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="data/wide64", help="dataset with held-out volumes")
    parser.add_argument("--checkpoint", default=None, help="generator checkpoint (default: shipped)")
    parser.add_argument("--out", default="docs/figures/generator_heldout_slices.png")
    args = parser.parse_args()

    generator = load_generator(args.checkpoint) if args.checkpoint else load_shipped_generator("gan")
    heldout = [s for s in load_dataset(args.data).heldout if s.volume.ndim == 3]
    labels = np.stack([s.labels.to_array() for s in heldout])
    real = np.stack([s.volume for s in heldout])
    generated = generate(generator, labels, real.shape[1:], seed=0, extrapolate=True).volume
    titles = [",".join(f"{v:.2f}" for v in row) for row in labels]
    print(save_slices_png(Path(args.out), np.asarray(generated), titles, real))


if __name__ == "__main__":
    main()
