"""The stochastic-geometry family on a non-simulated volume: fit some cubes, judge on others.

Usage: python experiments/stochastic_on_tomogram.py TIFF --json OUT [--evaluations E]
       [--population P] [--draws D]

The volume (e.g. ../shared/data/electrode.tiff, 256^3 at 100/256 um) is subsampled 2x to about
the training data's voxel size and cut into eight 64^3 cubes. The model is fitted to cubes 0-3
(each at the label its own phase fractions give; one particle law for the four, then one CBD
placement for the four, their descriptors pooled, since one volume has one set of manufacturing
labels), then D
volumes are drawn at each of cubes 4-7's labels. Reported: the morphology distances of the
pooled drawn volumes from the pooled cubes 4-7, beside the control's (the pooled fitted cubes
0-3 from cubes 4-7: what another piece of the same electrode reads), and the AM surface and CBD
coverage of each.
"""

from __future__ import annotations

import argparse
import json
import time

import jax
import numpy as np

from jaxmicro.characterise.morphology import distance_names, morphology, morphology_distances
from jaxmicro.data import read_volume
from jaxmicro.data.phases import AM, CBD, PORE
from jaxmicro.data.simulator import SimulatorConfig, am_weight_fraction
from jaxmicro.generator.stochastic import FitSettings, draw, fit_cbd, fit_particles, surface_terms

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("tiff")
parser.add_argument("--json", required=True)
parser.add_argument("--evaluations", type=int, default=FitSettings().max_evaluations)
parser.add_argument("--population", type=int, default=FitSettings().population)
parser.add_argument("--draws", type=int, default=3)
parser.add_argument("--grey", default="0,85,170", help="grey values of pore, AM, CBD")
parser.add_argument("--box-m", type=float, default=100e-6, help="physical edge of the volume [m]")
args = parser.parse_args()

grey = tuple(int(g) for g in args.grey.split(","))
volume = read_volume(args.tiff, grey)[::2, ::2, ::2]
voxel_size_m = args.box_m / volume.shape[0]
cubes = [volume[z : z + 64, y : y + 64, x : x + 64] for z in (0, 64) for y in (0, 64) for x in (0, 64)]


def label_of(cube: np.ndarray) -> np.ndarray:
    """(am_wt, porosity, adhesion) whose fractions are the cube's (adhesion unused)."""
    fractions = np.array([np.mean(cube == p) for p in (PORE, AM, CBD)])
    return np.array([float(am_weight_fraction(fractions, SimulatorConfig())), fractions[PORE], 0.5])


start = time.time()
settings = FitSettings(max_evaluations=args.evaluations, population=args.population)
keys = [jax.random.PRNGKey(i) for i in range(4)]
labels = [label_of(c) for c in cubes[:4]]
law, particle_loss = fit_particles(cubes[:4], labels, voxel_size_m, keys, settings)
print(f"fitted the particle law: {particle_loss:.3f} ({time.time() - start:.0f} s)", flush=True)
pooled, cbd_loss = fit_cbd(cubes[:4], labels, voxel_size_m, law, keys, settings)
print(f"fitted the CBD placement: {cbd_loss:.3f} ({time.time() - start:.0f} s)", flush=True)
tests = cubes[4:]
drawn = np.stack(
    [draw(jax.random.PRNGKey(100 + 10 * i + s), label_of(c), pooled, c.shape)
     for i, c in enumerate(tests) for s in range(args.draws)]
)  # fmt: skip
reference = morphology(np.stack(tests))
model_d = morphology_distances(morphology(drawn), reference)
control_d = morphology_distances(morphology(np.stack(cubes[:4])), reference)
surfaces = {
    name: np.mean([surface_terms(v) for v in group], axis=0).tolist()
    for name, group in (("test cubes", tests), ("drawn", drawn), ("fitted cubes", cubes[:4]))
}
report = {
    "volume": args.tiff,
    "voxel_size_m": voxel_size_m,
    "losses": {"particle": particle_loss, "cbd": cbd_loss},
    "pooled": pooled._asdict(),
    "distances": {n: {"model": float(m), "control": float(c)}
                  for n, m, c in zip(distance_names(), model_d, control_d, strict=True)},
    "surface_terms [am faces/voxel, cbd coverage]": surfaces,
    "seconds": time.time() - start,
}  # fmt: skip
with open(args.json, "w") as handle:
    json.dump(report, handle, indent=1, default=float)
print(f"{'distance [%]':>22} {'model':>8} {'control':>8} {'ratio':>6}")
for n, m, c in zip(distance_names(), model_d, control_d, strict=True):
    print(f"{n:>22} {100 * m:8.1f} {100 * c:8.1f} {m / c:6.1f}")
print(surfaces)
