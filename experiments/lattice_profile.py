"""Does a generator draw phases preferentially at some positions of its latent grid?

The generator is equivariant only to shifts by whole latent voxels (``upsample_factor`` output
voxels), so it can lock structure to the grid; the simulator cannot. For each generator and
label this measures each phase's fraction at each position modulo the period along each axis
(``jaxmicro.generator.losses.lattice_deviation``, pooled over the volumes) and reports the RMS
relative deviation from the phase's mean, beside the same measure on as many simulator volumes
of the label (the floor: sampling noise only). Stop 41 found CBD layers every 16 voxels
through-plane in the particle generator (docs/generator.md).

    python experiments/lattice_profile.py runs/f1_raw400/generator [more generators]
        [--data data/wide64] [--volumes 6] [--json docs/experiments/particles/lattice.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import jax
import numpy as np

from jaxmicro.data import dataset_simulator, load_dataset
from jaxmicro.data.phases import N_PHASES, PHASE_NAMES
from jaxmicro.data.simulator import simulate
from jaxmicro.generator import generate, load_generator
from jaxmicro.generator.losses import lattice_deviation

AXES = ("through", "in_plane_1", "in_plane_2")


def deviation(volumes: np.ndarray, period: int) -> np.ndarray:
    """``(n, z, y, x)`` phase ids -> ``(3 axes, 3 phases)`` RMS relative deviation of the
    phase's fraction by position modulo ``period`` from its mean [-]."""
    return np.sqrt(np.asarray(lattice_deviation(jax.nn.one_hot(volumes, N_PHASES), period)))


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
    report = {"labels": labels.tolist(), "axes": AXES, "phases": list(PHASE_NAMES.values()), "generators": {}}
    reference = None
    for path in args.checkpoints:
        generator = load_generator(path)
        period = generator.config.upsample_factor
        if reference is None:
            reference = [deviation(np.stack([simulate(label, config, seed=1000 + s)
                                             for s in range(args.volumes)]), period) for label in labels]
            report["simulator"] = [r.tolist() for r in reference]
        shape = (args.size,) * 3
        ours = [deviation(np.concatenate([generate(generator, label[None], shape=shape, seed=s).volume
                                          for s in range(args.volumes)]), period) for label in labels]
        report["generators"][path] = [o.tolist() for o in ours]
        print(f"{path} (period {period} voxels): RMS relative deviation by grid position [%], "
              "generated / simulator, mean over labels")
        gen, ref = np.mean(ours, axis=0) * 100, np.mean(reference, axis=0) * 100
        for a, axis in enumerate(AXES):
            cells = "  ".join(f"{n} {gen[a, p]:5.1f} / {ref[a, p]:4.1f}" for p, n in PHASE_NAMES.items())
            print(f"  {axis:>10}: {cells}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
