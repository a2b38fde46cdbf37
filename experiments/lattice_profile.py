"""Does a generator draw phases preferentially at some positions of its latent grid?

The generator is equivariant only to shifts by whole latent voxels (``upsample_factor`` output
voxels), so it can lock structure to the grid; the simulator cannot. For each generator and
label this measures each phase's fraction at each position modulo the period along each
axis (``jaxmicro.generator.validate.grid_deviation``, pooled over the volumes; in-plane pools
axes 1 and 2) and reports the RMS relative deviation from the phase's mean, beside the same
measure on as many simulator volumes of the label (the floor: sampling noise only). Stop 41
found CBD layers every 16 voxels through-plane in the particle generator (docs/generator.md).
``jaxmicro validate`` reports the same measure (3 volumes per label); this is the quick look.

    python experiments/lattice_profile.py runs/f1_raw400/generator [more generators]
        [--data data/wide64] [--volumes 6] [--json docs/experiments/particles/lattice.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np

from jaxmicro.data import dataset_simulator, load_dataset
from jaxmicro.data.simulator import simulate
from jaxmicro.generator import generate, load_generator
from jaxmicro.generator.validate import GRID_NAMES, grid_deviation


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", nargs="+", help="exported generator folders")
    parser.add_argument("--data", default="data/wide64", help="dataset whose held-out labels to use")
    parser.add_argument("--volumes", type=int, default=6, help="generated and simulated volumes per label")
    parser.add_argument("--size", type=int, default=64, help="volume edge [voxels]")
    parser.add_argument("--json", default=None, help="write the report here")
    args = parser.parse_args()
    dataset = load_dataset(args.data)
    labels = dataset.label_array("heldout")
    simulator = dataset_simulator(dataset)
    if simulator is None:
        parser.error(f"{args.data} was not made by jaxmicro's simulator: no references to compare with")
    config = dataclasses.replace(simulator[0], shape=(args.size,) * 3)
    report = {"labels": labels.tolist(), "entries": list(GRID_NAMES), "generators": {}}
    reference = None
    for path in args.checkpoints:
        generator = load_generator(path)
        period = generator.config.upsample_factor
        if reference is None:
            reference = [grid_deviation(np.stack([simulate(label, config, seed=1000 + s)
                                                  for s in range(args.volumes)]), period) for label in labels]
            report["simulator"] = [r.tolist() for r in reference]
        shape = (args.size,) * 3
        ours = [grid_deviation(np.concatenate([generate(generator, label[None], shape=shape, seed=s).volume
                                               for s in range(args.volumes)]), period) for label in labels]
        report["generators"][path] = [o.tolist() for o in ours]
        print(f"{path} (period {period} voxels): RMS relative deviation by grid position [%], "
              "generated / simulator, mean over labels")
        gen, ref = np.mean(ours, axis=0) * 100, np.mean(reference, axis=0) * 100
        for name, g, r in zip(GRID_NAMES, gen, ref, strict=True):
            print(f"  {name:>20}: {g:5.1f} / {r:4.1f}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
