"""Normalised autocovariance of one phase, generated vs simulated, lag by lag.

The validation's two-point distance is one number per phase and direction; this prints the
curves behind it, ``(S2(r) - phi^2) / (phi - phi^2)`` for ``r = 0 .. --lags`` along one axis,
pooled over as many volumes per label from each generator and from the simulator. Stop 42
found the shipped default's CBD curve rising again towards lag 16 (the latent period), where
the simulator's is flat (docs/generator.md, "The latent-grid deviation"). With
``--strip-cbd-beyond K`` each generator's curve is printed again after its CBD farther than K
voxels from the nearest AM voxel is made pore (do CBD islands in the pores make the tail?).

    python experiments/autocovariance.py checkpoints/gan [more generators]
        [--data data/wide64] [--phase 2] [--axis 0] [--volumes 3] [--lags 16]
        [--strip-cbd-beyond 4]
"""

from __future__ import annotations

import argparse

import numpy as np
from heldout_volumes import add_arguments, heldout_volumes, load_generators
from scipy.ndimage import distance_transform_edt

from jaxmicro.characterise.morphology import morphology, normalised_autocovariance
from jaxmicro.data import AM, CBD, PORE
from jaxmicro.data.labels import label_tag


def curve(volumes: np.ndarray, phase: int, axis: int, lags: int) -> np.ndarray:
    """``(n, z, y, x)`` phase ids -> the pooled normalised autocovariance at lags 0..``lags``."""
    pooled = morphology(volumes)
    return normalised_autocovariance(pooled.two_point[list(pooled.phases).index(phase), axis])[: lags + 1]


def strip_cbd(volumes: np.ndarray, beyond: float) -> np.ndarray:
    """A copy of ``(n, z, y, x)`` phase ids whose CBD farther than ``beyond`` voxels from the
    nearest AM voxel is pore."""
    stripped = volumes.copy()
    for volume in stripped:
        volume[(volume == CBD) & (distance_transform_edt(volume != AM) > beyond)] = PORE
    return stripped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    parser.add_argument("--phase", type=int, default=2, help="0 pore, 1 AM, 2 CBD [%(default)s]")
    parser.add_argument("--axis", type=int, default=0, help="0 through-plane, 1 or 2 in-plane [%(default)s]")
    parser.add_argument("--lags", type=int, default=16, help="largest lag printed [voxels]")
    parser.add_argument(
        "--strip-cbd-beyond", type=float, default=None, metavar="K",
        help="also print each generator's curve without its CBD farther than K voxels from the AM",
    )
    args = parser.parse_args()
    np.set_printoptions(precision=2, suppress=True, linewidth=200)
    for label, simulated, generated in heldout_volumes(parser, args, load_generators(args)):
        print(f"{label_tag(label)} lags 0..{args.lags}")
        print(f"  {'simulator':>24} {curve(simulated, args.phase, args.axis, args.lags)}")
        for path, volumes in generated.items():
            print(f"  {path[-24:]:>24} {curve(volumes, args.phase, args.axis, args.lags)}")
            if args.strip_cbd_beyond is not None:
                stripped = strip_cbd(volumes, args.strip_cbd_beyond)
                moved = np.mean(volumes == CBD) - np.mean(stripped == CBD)
                print(f"  {'stripped':>24} {curve(stripped, args.phase, args.axis, args.lags)} "
                      f"({100 * moved:.2f} % of the volume)")


if __name__ == "__main__":
    main()
