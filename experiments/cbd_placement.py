"""Where does the CBD sit relative to the active material? Generated vs simulated.

For each held-out label and source, pooled over ``--volumes`` volumes: the fraction of the
non-AM voxels that are CBD, binned by their Euclidean distance to the nearest AM voxel (periodic
boundaries are not assumed: the distance is to AM inside the box). The simulator places CBD by
rank of a film-and-neck score on the AM surfaces, so its CBD fraction falls steeply with the
distance; stop 42 found the generated CBD clustered (autocovariance tail at lags 4-12, chords
short), and this says whether it has left the surfaces.

    python experiments/cbd_placement.py checkpoints/default [more generators]
        [--data data/wide64] [--volumes 3] [--max-distance 8]
"""

from __future__ import annotations

import argparse
import dataclasses

import numpy as np
from scipy.ndimage import distance_transform_edt

from jaxmicro.data import AM, CBD, dataset_simulator, load_dataset
from jaxmicro.data.labels import label_tag
from jaxmicro.data.simulator import simulate
from jaxmicro.generator import generate, load_generator


def cbd_by_distance(volumes: np.ndarray, max_distance: int) -> np.ndarray:
    """``(n, z, y, x)`` phase ids -> CBD fraction of the non-AM voxels at distance bins
    ``1, 2, .., max_distance`` voxels (rounded) from the nearest AM voxel; the last bin takes
    everything farther."""
    hits, totals = np.zeros(max_distance), np.zeros(max_distance)
    for volume in volumes:
        distance = distance_transform_edt(volume != AM)
        bins = np.clip(np.rint(distance).astype(int), 1, max_distance) - 1
        outside = volume != AM
        hits += np.bincount(bins[outside], weights=(volume[outside] == CBD), minlength=max_distance)
        totals += np.bincount(bins[outside], minlength=max_distance)
    return hits / np.maximum(totals, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", nargs="+", help="exported generator folders")
    parser.add_argument("--data", default="data/wide64", help="dataset whose held-out labels to use")
    parser.add_argument("--volumes", type=int, default=3, help="volumes per label and source")
    parser.add_argument("--size", type=int, default=64, help="volume edge [voxels]")
    parser.add_argument("--max-distance", type=int, default=8, help="last distance bin [voxels]")
    args = parser.parse_args()
    dataset = load_dataset(args.data)
    simulator = dataset_simulator(dataset)
    if simulator is None:
        parser.error(f"{args.data} was not made by jaxmicro's simulator: no references to compare with")
    config = dataclasses.replace(simulator[0], shape=(args.size,) * 3)
    generators = {path: load_generator(path) for path in args.checkpoints}
    np.set_printoptions(precision=3, suppress=True, linewidth=200)
    seeds = list(range(args.volumes))
    for label in dataset.label_array("heldout"):
        simulated = np.stack([simulate(label, config, seed=2000 + s) for s in seeds])
        print(f"{label_tag(label)}: CBD fraction of non-AM voxels at 1..{args.max_distance} voxels from AM")
        print(f"  {'simulator':>24} {cbd_by_distance(simulated, args.max_distance)}")
        for path, generator in generators.items():
            volumes = generate(generator, label[None], shape=(args.size,) * 3, seed=seeds).volume
            print(f"  {path[-24:]:>24} {cbd_by_distance(volumes, args.max_distance)}")


if __name__ == "__main__":
    main()
