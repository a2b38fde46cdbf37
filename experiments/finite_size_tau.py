"""Pore tortuosity of each volume of a dataset against the mean over its smaller cubes.

What a training loss or a baseline that compares tortuosities at two sizes must allow for: the
cubes' mean ``log tau`` minus the whole volume's, per axis, and its mean per porosity level,
with its standard error over the volumes.

    python experiments/finite_size_tau.py data/wide128 --edge 64 \
        --json docs/experiments/stop45/finite_size_tau_wide128.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import jax.numpy as jnp
import numpy as np

from jaxmicro.data import PORE, load_dataset
from jaxmicro.generator.losses import TAU_AXES, soft_log_tau
from jaxmicro.generator.slices import cubes_of


def _log_tau(volume: np.ndarray) -> np.ndarray:
    """``(len(TAU_AXES),)`` log tau of one ``(z, y, x)`` phase-id volume's pores."""
    return np.asarray(soft_log_tau(jnp.asarray(volume[None] == PORE, jnp.float32)))[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", help="dataset folder of 3-D volumes (e.g. jaxmicro simulate --size 128)")
    parser.add_argument("--edge", type=int, default=64, help="cube edge [voxels] [64]")
    parser.add_argument("--json", type=Path, help="write every volume's numbers here")
    args = parser.parse_args()
    dataset = load_dataset(args.data)
    samples = [s for s in (*dataset.train, *dataset.heldout) if s.volume.ndim == 3]
    rows = []
    for sample in samples:
        whole = _log_tau(sample.volume)
        cubes = np.stack([_log_tau(cube) for cube in cubes_of(sample.volume[None], args.edge)])
        rows.append(
            {"labels": sample.labels.to_array().tolist(), "whole": whole.tolist(), "cubes": cubes.tolist()}
        )
        print(
            rows[-1]["labels"],
            "tau whole",
            np.exp(whole).round(2),
            "cubes",
            np.exp(cubes.mean(0)).round(2),
            flush=True,
        )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps({"edge": args.edge, "axes": list(TAU_AXES), "volumes": rows}, indent=1)
        )
    excess = np.array([np.mean(r["cubes"], axis=0) - r["whole"] for r in rows])
    porosity = np.array([r["labels"][1] for r in rows])
    for level in sorted(set(porosity)):
        x = excess[porosity == level]
        error = x.std(axis=0, ddof=1) / np.sqrt(len(x)) if len(x) > 1 else np.full(x.shape[1], np.nan)
        above = f"{x.mean(0).round(3)} +- {error.round(3)}"
        print(f"porosity {level:.2f}: cubes' log tau above the whole volume's {above} ({len(x)} volumes)")


if __name__ == "__main__":
    main()
