"""Is a campaign's answer a small-volume answer? Its optimum (and other labels) at larger boxes.

    python experiments/optimum_volume_size.py runs/design57c/power_200W_per_kg \
        --porosities 0.20,0.25 --sizes 64:16,128:4,192:2 --out runs/optimum_size.json

A campaign decides on 64^3 volumes (48 um at 0.75 um voxels); the simulator family's volumes
were biased towards high tortuosity below 144 um at low porosity (docs/design.md,
"Representative volumes"). For the campaign's recommended label (its ``state.json``), and the
same am_wt and adhesion at each ``--porosities`` value, this evaluates the campaign's own
objective (its log header's design settings and cell model) on fresh seeds (from 1000, never a
campaign's) at each ``size:seeds``: the seed-averaged cell (conductances averaged), its
leave-one-seed-out standard error, and the averaged through-plane tortuosity. Rows are appended
to ``--out`` as they finish; a rerun skips those already there.
"""

import argparse
import dataclasses
import json
import time
from pathlib import Path

import jax
import numpy as np

from jaxmicro.cell import CellModelConfig
from jaxmicro.characterise.measure import average_over_seeds
from jaxmicro.design import DesignObjective, DesignSettings
from jaxmicro.design.campaign import LOG_NAME, STATE_NAME, load_optimizer
from jaxmicro.design.records import read_records
from jaxmicro.generator import load_default_generator

FIRST_SEED = 1000


def _sizes(text: str) -> list[tuple[int, int]]:
    pairs = [item.split(":") for item in text.split(",")]
    return [(int(size), int(seeds)) for size, seeds in pairs]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("campaign", type=Path, help="a campaign folder (log.jsonl + state.json)")
    parser.add_argument("--porosities", default="", help="other porosities at the optimum's am_wt")
    parser.add_argument("--sizes", type=_sizes, default=_sizes("64:16,128:4,192:2"),
                        help="size:seeds pairs [voxels per edge : fresh seeds]")
    parser.add_argument("--out", type=Path, default=Path("runs/optimum_size.json"))
    args = parser.parse_args()
    header = read_records(args.campaign / LOG_NAME)[0]
    design = DesignSettings(**header["design"])
    cell = CellModelConfig.from_dict(header["cell"]) if "cell" in header else CellModelConfig()
    optimizer, _, _ = load_optimizer(args.campaign / STATE_NAME)
    best = dict(zip(header["space"]["free"], optimizer.recommend(shared_noise=True).x, strict=True))
    best |= header["space"]["fixed"]
    porosities = [best["porosity"]] + [float(p) for p in args.porosities.split(",") if p]
    generator = load_default_generator()
    rows = json.loads(args.out.read_text()) if args.out.exists() else []
    for size, n_seeds in args.sizes:
        settings = dataclasses.replace(design, volume_size=size, seeds_per_label=n_seeds,
                                       max_seeds_per_label=None)
        objective = DesignObjective(generator, settings, cell)
        for porosity in porosities:
            label = [best["am_wt"], porosity, best["adhesion"]]
            key = {"campaign": str(args.campaign), "label": np.round(label, 6).tolist(), "size": size,
                   "seeds": n_seeds}
            if any(all(row.get(k) == v for k, v in key.items()) for row in rows):
                continue
            start = time.perf_counter()
            seeds = list(range(FIRST_SEED, FIRST_SEED + n_seeds))
            _, per_seed = objective.measure_seeds(np.array([label]), seeds)
            (evaluation,) = objective.evaluate_seeds(np.array([label]), per_seed)
            averaged = jax.tree.map(np.asarray, average_over_seeds(per_seed))
            taus = np.asarray(per_seed.electrolyte_tau_through_plane)[:, 0]
            row = key | {
                "objective": evaluation.objective,
                "standard_error": evaluation.objective_standard_error,
                "seed_objectives": list(evaluation.seed_objectives),
                "tau_through_plane": float(averaged.electrolyte_tau_through_plane[0]),
                "tau_per_seed": taus.tolist(),
                "pore_fraction": float(averaged.volume_fraction[0, 0]),
                "seconds": time.perf_counter() - start,
            }
            rows.append(row)
            args.out.write_text(json.dumps(rows, indent=1))
            per_seed_tau = np.round(taus.astype(np.float64), 2).tolist()
            print(f"{size}^3 x {n_seeds}, porosity {porosity:.3f}: {row['objective']:.1f} +- "
                  f"{row['standard_error']:.2f} Wh/kg, tau {row['tau_through_plane']:.2f} "
                  f"(per seed {per_seed_tau}), {row['seconds']:.0f} s", flush=True)


if __name__ == "__main__":
    main()
