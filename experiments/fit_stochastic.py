"""Fits the stochastic-geometry generator to a dataset's training volumes (one shard of them).

Usage: python experiments/fit_stochastic.py DATA OUT [--shard I N] [--particle-evaluations E]
       [--evaluations E] [--population P] [--generations G] [--cbd-pooling adhesion|volume]
       [--particle-objective mean|pooled] [--particle-law MODEL] [--seed S] [--kinds K,K]

The first process fits one particle law to all volumes (OUT/particles.json); run N processes
with shards 0..N-1 to share the CBD fits (per volume, or per adhesion level); each appends its
fits to OUT/fits.jsonl, a killed run resumes, and the last one to finish writes
OUT/geometry.json. --particle-law takes the particle law of a fitted model (its value at the
middle of its label range), or of experiments/fit_particle_moments.py's JSON, instead of fitting
one.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from jaxmicro.data import load_dataset
from jaxmicro.generator.stochastic import (
    CBD_POOLINGS,
    PARTICLE_OBJECTIVES,
    FitSettings,
    fit_dataset,
    load_geometry_model,
    neutral_geometry,
)

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("data")
parser.add_argument("out")
parser.add_argument("--shard", type=int, nargs=2, default=(0, 1), metavar=("I", "N"))
defaults = FitSettings()
parser.add_argument("--particle-evaluations", type=int, default=defaults.particle_evaluations, help="Powell")
parser.add_argument("--evaluations", type=int, default=defaults.max_evaluations, help="Powell, CBD stage")
parser.add_argument("--population", type=int, default=defaults.population, help="CBD evolution, per axis")
parser.add_argument("--generations", type=int, default=defaults.generations, help="CBD evolution")
parser.add_argument("--cbd-pooling", choices=CBD_POOLINGS, default=defaults.cbd_pooling,
                    help="volumes sharing one CBD fit: one adhesion level, or each volume alone")
parser.add_argument("--particle-objective", choices=PARTICLE_OBJECTIVES, default=defaults.particle_objective,
                    help="particle stage: mean of per-volume distances, or pooled descriptors")
parser.add_argument("--particle-law", metavar="MODEL",
                    help="fitted model folder or fit_particle_moments.py JSON: keep its particle law")
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--kinds", default="constant,affine,quadratic", help="regression kinds to choose from")
args = parser.parse_args()
settings = FitSettings(args.particle_evaluations, args.evaluations, args.population, args.generations,
                       args.cbd_pooling, args.particle_objective)
law = None
if args.particle_law and args.particle_law.endswith(".json"):
    fitted = json.loads(Path(args.particle_law).read_text())
    if not {"voxel_size_m", "particle_law"} <= fitted.keys():
        sys.exit(f"{args.particle_law} has no 'voxel_size_m' and 'particle_law': give the JSON that "
                 "experiments/fit_particle_moments.py wrote, or a fitted model folder")
    law = neutral_geometry(fitted["voxel_size_m"])._replace(**fitted["particle_law"])
elif args.particle_law:
    law = load_geometry_model(args.particle_law).central_geometry()
model = fit_dataset(load_dataset(args.data), args.out, args.seed, settings, tuple(args.shard),
                    kinds=args.kinds.split(","), particle_law=law)
print("model written" if model else "other shards still running")
