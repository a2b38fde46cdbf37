"""Where does the CBD sit relative to the active material? Generated vs simulated.

For each held-out label and source, pooled over ``--volumes`` volumes: the fraction of the
non-AM voxels that are CBD, binned by their Euclidean distance to the nearest AM voxel (periodic
boundaries are not assumed: the distance is to AM inside the box). The simulator places CBD by
rank of a film-and-neck score on the AM surfaces, so its CBD fraction falls steeply with the
distance; stop 42 found the generated CBD clustered (autocovariance tail at lags 4-12, chords
short), and this says whether it has left the surfaces.

    python experiments/cbd_placement.py checkpoints/gan [more generators]
        [--data data/wide64] [--volumes 3] [--max-distance 8]
"""

from __future__ import annotations

import argparse

import numpy as np
from heldout_volumes import add_arguments, heldout_volumes, load_generators
from scipy.ndimage import distance_transform_edt

from jaxmicro.data import AM, CBD
from jaxmicro.data.labels import label_tag


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
    add_arguments(parser)
    parser.add_argument("--max-distance", type=int, default=8, help="last distance bin [voxels]")
    args = parser.parse_args()
    np.set_printoptions(precision=3, suppress=True, linewidth=200)
    for label, simulated, generated in heldout_volumes(parser, args, load_generators(args)):
        print(f"{label_tag(label)}: CBD fraction of non-AM voxels at 1..{args.max_distance} voxels from AM")
        print(f"  {'simulator':>24} {cbd_by_distance(simulated, args.max_distance)}")
        for path, volumes in generated.items():
            print(f"  {path[-24:]:>24} {cbd_by_distance(volumes, args.max_distance)}")


if __name__ == "__main__":
    main()
