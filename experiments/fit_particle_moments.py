"""Fits the stochastic-geometry generator's particle law by simulated moments (jaxmicro.generator.moments).

Usage: python experiments/fit_particle_moments.py DATA OUT.json [--start MODEL] [--one-per-level]
       [--points P] [--widths W,W,W] [--seed S]

DATA: a dataset of 3-D training volumes, as large as the model is judged at (stop 52: 128^3,
`jaxmicro simulate --out data/wide128 --size 128 --voxel-size-m 0.75e-6 --seed 0`). --start: a
fitted model whose particle law (at the middle of its label range) centres the first round
(default: checkpoints/stochastic). --one-per-level: one training volume per (am_wt, porosity)
pair (the particle law does not depend on the adhesion; 12 of data/wide128's 30). OUT.json gets
the law, its standard errors and each round (written once, at the end; an existing OUT is
refused). Then `python experiments/fit_stochastic.py DATA64 RUN --particle-law OUT.json` fits
the CBD with that law.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from jaxmicro._files import write_json_atomic
from jaxmicro.data import load_dataset
from jaxmicro.generator.moments import DEFAULT_MOMENTS, MOMENT_NAMES, MomentSettings, fit_particle_moments
from jaxmicro.generator.stochastic import PARTICLE_STAGE, load_geometry_model

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("data")
parser.add_argument("out")
parser.add_argument("--start", default="checkpoints/stochastic", metavar="MODEL")
parser.add_argument("--one-per-level", action="store_true", help="one volume per (am_wt, porosity)")
parser.add_argument("--points", type=int, default=DEFAULT_MOMENTS.points)
parser.add_argument("--widths", default=",".join(str(w) for w in DEFAULT_MOMENTS.widths))
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()
if Path(args.out).exists():
    sys.exit(f"{args.out} exists; choose another output file")
samples = [s for s in load_dataset(args.data).train if np.ndim(s.volume) == 3]
if args.one_per_level:
    seen: set[tuple[float, float]] = set()
    kept = []
    for sample in samples:
        level = tuple(np.round(sample.labels.to_array()[:2], 3))
        if level not in seen:
            seen.add(level)
            kept.append(sample)
    samples = kept
start = load_geometry_model(args.start).central_geometry()
try:
    widths = tuple(float(w) for w in args.widths.split(","))
except ValueError:
    sys.exit(f"--widths {args.widths!r}: give the rounds' half-widths as numbers, e.g. 0.06,0.03,0.03")
settings = MomentSettings(args.points, widths)
voxel_size_m = float(samples[0].voxel_size_m)
print(f"fitting the particle law to {len(samples)} volumes of {samples[0].volume.shape}", flush=True)
try:
    fit = fit_particle_moments([s.volume for s in samples], [s.labels.to_array() for s in samples],
                               voxel_size_m, start, args.seed, settings, progress=True)  # fmt: skip
except ValueError as error:  # bad settings or volumes: checked before any draw
    sys.exit(f"{args.data}: {error}")
write_json_atomic(args.out, {
    "particle_law": {n: float(getattr(fit.geometry, n)) for n in PARTICLE_STAGE},
    "standard_errors": fit.standard_errors,
    "correlation": fit.correlation.tolist(),
    "chi2": fit.chi2,
    "statistics": fit.statistics,
    "moments": list(MOMENT_NAMES),
    "rounds": fit.rounds,
    "data": args.data,
    "volumes": [s.file for s in samples],
    "voxel_size_m": voxel_size_m,
    "start": args.start,
    "settings": settings._asdict(),
    "seed": args.seed,
})  # fmt: skip
print(f"wrote {args.out}: {fit.rounds[-1]}", flush=True)
