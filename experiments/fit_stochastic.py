"""Fits the stochastic-geometry generator to a dataset's training volumes (one shard of them).

Usage: python experiments/fit_stochastic.py DATA OUT [--shard I N] [--evaluations E] [--seed S] [--kinds K,K]

Run N processes with shards 0..N-1 to share the volumes; each appends its fits to
OUT/fits.jsonl, a killed run resumes, and the last one to finish writes OUT/geometry.json.
"""

from __future__ import annotations

import argparse

from jaxmicro.data import load_dataset
from jaxmicro.generator.stochastic import fit_dataset

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("data")
parser.add_argument("out")
parser.add_argument("--shard", type=int, nargs=2, default=(0, 1), metavar=("I", "N"))
parser.add_argument("--evaluations", type=int, default=60)
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--kinds", default="constant,affine,quadratic", help="regression kinds to choose from")
args = parser.parse_args()
model = fit_dataset(load_dataset(args.data), args.out, args.seed, args.evaluations, tuple(args.shard),
                    kinds=args.kinds.split(","))
print("model written" if model else "other shards still running")
