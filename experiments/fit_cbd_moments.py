"""Fits the stochastic-geometry generator's CBD placement per adhesion level by simulated moments.

Usage: python experiments/fit_cbd_moments.py DATA LAW.json OUT [--start MODEL] [--points P]
       [--widths W,W] [--seed S] [--kinds K,K] [--fields F,F --pool RUN]

DATA: a dataset of 3-D training volumes as large as the model is judged at (stop 53: data/wide128,
`jaxmicro simulate --out data/wide128 --size 128 --voxel-size-m 0.75e-6 --seed 0`). LAW.json: a
particle law (experiments/fit_particle_moments.py's output). --start: a fitted model whose CBD
fields at each adhesion level (and the middle of the other labels) centre that level's first
round (default: checkpoints/stochastic). Each adhesion level's fit
(`jaxmicro.generator.moments.fit_cbd_moments`) is appended to OUT/levels.jsonl as it ends, so a
killed run resumes with the next level; then every CBD field is regressed on the labels
(`stochastic.regress`, each volume carrying its level's fit) and the model written to
OUT/geometry.json, ready for `jaxmicro validate --checkpoint OUT`. One process per OUT (a lock).

--fields F,F --pool RUN: fit only those CBD fields per level; each level starts from its fit in
RUN/levels.jsonl (an earlier run of this script on the same DATA) with every other CBD field
set to its pooled value over RUN's levels (`stochastic.regress` with one constant: the film's
neck weight and roughness weighted by the film share squared, the agglomerate length by one
minus it squared, as `stochastic.regression_weights` says). Stop 54: the neck weight,
roughness and agglomerate length pooled, the film share per level (`--fields film_share`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from jaxmicro._files import plain_json, run_lock
from jaxmicro.data import load_dataset
from jaxmicro.data.labels import LABEL_FIELDS
from jaxmicro.generator.moments import DEFAULT_CBD_MOMENTS, MomentSettings, fit_cbd_moments
from jaxmicro.generator.stochastic import (
    CBD_STAGE,
    PARTICLE_STAGE,
    GeometryParams,
    load_geometry_model,
    regress,
    save_geometry_model,
)

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("data")
parser.add_argument("law")
parser.add_argument("out")
parser.add_argument("--start", default="checkpoints/stochastic", metavar="MODEL")
parser.add_argument("--points", type=int, default=DEFAULT_CBD_MOMENTS.points)
parser.add_argument("--widths", default=",".join(str(w) for w in DEFAULT_CBD_MOMENTS.widths))
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--kinds", default="constant,affine,quadratic", help="regression kinds to choose from")
parser.add_argument("--fields", default=",".join(CBD_STAGE), help="the CBD fields fitted per level")
parser.add_argument("--pool", metavar="RUN", help="start from RUN's level fits, the other CBD fields pooled")
args = parser.parse_args()
try:
    widths = tuple(float(w) for w in args.widths.split(","))
except ValueError:
    sys.exit(f"--widths {args.widths!r}: give the rounds' half-widths as numbers, e.g. 0.1,0.05")
settings = MomentSettings(args.points, widths)
fields = tuple(args.fields.split(","))
every = set(fields) == set(CBD_STAGE)  # in any order
if not set(fields) <= set(CBD_STAGE) or not (every or args.pool):
    sys.exit(f"--fields {args.fields!r}: CBD fields among {','.join(CBD_STAGE)}; a subset needs --pool RUN")
if args.pool and every:
    sys.exit("--pool RUN holds the CBD fields not fitted: name the fitted ones, e.g. --fields film_share")
law = json.loads(Path(args.law).read_text())
if "particle_law" not in law:
    sys.exit(f"{args.law} has no 'particle_law': give experiments/fit_particle_moments.py's JSON")
samples = [s for s in load_dataset(args.data).train if np.ndim(s.volume) == 3]
labels = np.array([s.labels.to_array() for s in samples])
voxel_size_m = float(samples[0].voxel_size_m)
ranges = {f: (float(labels[:, j].min()), float(labels[:, j].max())) for j, f in enumerate(LABEL_FIELDS)}
adhesions = sorted({round(float(a), 3) for a in labels[:, 2]})


def level_fits(rows: dict[float, dict]) -> list[GeometryParams]:
    """Each training volume's fit: its adhesion level's."""
    return [GeometryParams(**rows[round(float(a), 3)]["geometry"]) for a in labels[:, 2]]


recipe = {"data": args.data, "law": law["particle_law"], "start": args.start, "seed": args.seed,
          "settings": settings._asdict()}  # fmt: skip
if args.pool:
    pool_path = Path(args.pool) / "levels.jsonl"
    if not pool_path.is_file():
        sys.exit(f"--pool {args.pool}: no levels.jsonl there; give a finished run of this script")
    pooled_rows = {row["adhesion"]: row for row in map(json.loads, pool_path.read_text().splitlines())}
    if not set(adhesions) <= set(pooled_rows):
        sys.exit(f"--pool {args.pool}: its levels {sorted(pooled_rows)} miss some of {args.data}'s adhesions")
    constants = regress(labels, level_fits(pooled_rows), ranges, voxel_size_m, kinds=["constant"])
    pooled = constants.central_geometry()
    shared = {n: getattr(pooled, n) for n in CBD_STAGE if n not in fields}
    recipe |= {"start": args.pool, "fields": list(fields), "pooled": shared}
    print(f"pooled from {pool_path}: {({n: round(v, 3) for n, v in shared.items()})}", flush=True)
else:
    start_model = load_geometry_model(args.start)
out = Path(args.out)
out.mkdir(parents=True, exist_ok=True)
levels_path = out / "levels.jsonl"
with run_lock(out):
    done = {}
    if levels_path.exists():
        for line in levels_path.read_text().splitlines():
            row = json.loads(line)
            if row["recipe"] != plain_json(recipe):
                sys.exit(f"{levels_path} holds a fit of {row['recipe']}, not {recipe}; fit into a new folder")
            done[row["adhesion"]] = row
    middle = [float(np.mean([labels[:, j].min(), labels[:, j].max()])) for j in range(2)]  # am_wt, porosity
    for adhesion in adhesions:
        if adhesion in done:
            continue
        members = [i for i in range(len(samples)) if round(float(labels[i, 2]), 3) == adhesion]
        if args.pool:
            start = GeometryParams(**pooled_rows[adhesion]["geometry"])._replace(**shared)
        else:
            start = start_model.geometry(np.array([*middle, adhesion]))
        start = start._replace(**law["particle_law"])
        name = f"CBD at adhesion {adhesion} ({len(members)} volumes)"
        print(f"{name}: from {({n: round(getattr(start, n), 3) for n in CBD_STAGE})}", flush=True)
        volumes = [samples[i].volume for i in members]
        try:
            fit = fit_cbd_moments(volumes, [labels[i] for i in members], voxel_size_m, start, args.seed,
                                  settings, progress=name, fields=fields)  # fmt: skip
        except ValueError as error:  # bad settings or volumes: checked before any draw
            sys.exit(f"{args.data}: {error}")
        row = {"adhesion": adhesion, "geometry": fit.geometry._asdict(), "chi2": fit.chi2,
               "statistics": fit.statistics, "standard_errors": fit.standard_errors, "rounds": fit.rounds,
               "volumes": [samples[i].file for i in members], "recipe": recipe}  # fmt: skip
        with open(levels_path, "a") as handle:
            handle.write(json.dumps(plain_json(row)) + "\n")
        done[adhesion] = row
    fits = level_fits(done)
    provenance = {"dataset": args.data, "volumes": len(samples), "fit": "cbd moments per adhesion level",
                  "recipe": recipe, "particle_stage": list(PARTICLE_STAGE), "kinds": args.kinds}  # fmt: skip
    model = regress(labels, fits, ranges, voxel_size_m, provenance, args.kinds.split(","))
    save_geometry_model(model, out)
print(f"wrote {out / 'geometry.json'}: kinds {model.kinds}", flush=True)
