"""Is the design objective's seed standard error honest on the low-porosity cliff?

    python experiments/seed_error_check.py    # -> runs/jackknife_check.json (about 15 min, 2 cores)
    python experiments/seed_error_check.py --power 100 --labels 0.978,0.225 0.98,0.2 --out runs/j100.json

At (0.98, porosity 0.20 / 0.23 / 0.29, 0.5), 200 W/kg by default, 64^3 volumes of the default
generator: the objective of K = 5 disjoint blocks of 8 seeds (its real spread between blocks)
against two error estimates made inside each block: the spread of the per-seed objectives, std /
sqrt(n) (what the design loop records), and the leave-one-seed-out jackknife of the seed-averaged
cell.
"""

import argparse
import json
import math

import jax
import jax.numpy as jnp
import numpy as np

from jaxmicro.characterise.measure import average_over_seeds
from jaxmicro.design import DesignObjective, DesignSettings
from jaxmicro.design.objective import measurement_row
from jaxmicro.generator import load_default_generator

BLOCKS, SEEDS = 5, 8


def _row(measurement, keep):
    return measurement_row(average_over_seeds(jax.tree.map(lambda x: x[jnp.asarray(keep)], measurement)), 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--power", type=float, default=200.0, help="[W/kg]")
    parser.add_argument("--labels", nargs="+", default=["0.98,0.20", "0.98,0.23", "0.98,0.29"],
                        help="AM_WT,POROSITY")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--out", default="runs/jackknife_check.json")
    args = parser.parse_args()
    settings = DesignSettings(volume_size=64, seeds_per_label=SEEDS, power_w_per_kg=args.power)
    objective = DesignObjective(load_default_generator(), settings)
    out = {}
    for text in args.labels:
        label = [*(float(v) for v in text.split(",")), 0.5]
        labels = np.array([label])
        rows = []
        for k in range(BLOCKS):
            first = args.first_seed + k * SEEDS
            _, per_seed = objective.measure_seeds(labels, list(range(first, first + SEEDS)))
            averaged = _row(per_seed, list(range(SEEDS)))
            singles = [_row(per_seed, [s]) for s in range(SEEDS)]
            left_out = [_row(per_seed, [i for i in range(SEEDS) if i != s]) for s in range(SEEDS)]
            (single,) = objective.evaluate_measured(labels, [averaged], seed_rows=[singles])
            (loo,) = objective.evaluate_measured(labels, [averaged], seed_rows=[left_out])
            f = np.array(loo.seed_objectives)
            jackknife = math.sqrt((SEEDS - 1) / SEEDS * np.sum((f - f.mean()) ** 2))
            rows.append({
                "objective": single.objective,
                "per_seed_se": single.objective_standard_error,
                "per_seed": list(single.seed_objectives),
                "jackknife_se": jackknife,
                "loo": f.tolist(),
            })
            print(label, k, f"obj {single.objective:.1f}  per-seed SE {single.objective_standard_error:.2f}  "
                  f"jackknife SE {jackknife:.2f}", flush=True)
        values = np.array([r["objective"] for r in rows])
        print(label, "block objectives", np.round(values, 1), f"SD {values.std(ddof=1):.2f}", flush=True)
        out[str(label)] = rows
        with open(args.out, "w") as stream:
            json.dump(out, stream)


if __name__ == "__main__":
    main()
