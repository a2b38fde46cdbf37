"""The chain-rule gradient of the design objective (jaxmicro.design.gradient) against common-seed
central differences of the whole loop, on the shipped generator (issue 23 item 3).

    python experiments/gradient_check.py [--powers 500,700] [--seeds 2] [--vary am_wt,porosity] \
        [--out docs/experiments/gradient_check.json]

For each power and label: the objective, the chain's change per step (0.01 am_wt, 0.01
porosity) with its two factors, the whole-loop differences with their seed standard errors, and
the wall time of each. Rows are written as they come (the file is rewritten after each label).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

LABELS = (
    {"am_wt": 0.93, "porosity": 0.36, "adhesion": 0.5},
    {"am_wt": 0.92, "porosity": 0.40, "adhesion": 0.5},
    {"am_wt": 0.95, "porosity": 0.32, "adhesion": 0.5},
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--powers", default="500,700", help="powers [W/kg], comma-separated")
    parser.add_argument("--seeds", type=int, default=2, help="generator seeds per label [%(default)s]")
    parser.add_argument("--vary", default="am_wt,porosity", help="labels differenced [%(default)s]")
    parser.add_argument("--out", default="docs/experiments/gradient_check.json")
    args = parser.parse_args()

    from jaxmicro._files import write_text_atomic
    from jaxmicro.data.labels import LABEL_FIELDS
    from jaxmicro.design import DesignObjective, DesignSettings, design_space
    from jaxmicro.design.gradient import CELL_INPUTS, label_gradient
    from jaxmicro.design.sensitivity import point_and_sensitivities
    from jaxmicro.generator import load_shipped_generator

    generator = load_shipped_generator("gan")
    rows = []
    for power in (float(p) for p in args.powers.split(",")):
        settings = DesignSettings(power_w_per_kg=power, seeds_per_label=args.seeds)
        objective = DesignObjective(generator, settings)
        for label in LABELS:
            free = args.vary.split(",")
            fixed = {name: value for name, value in label.items() if name not in free}
            space = design_space(generator.label_ranges, free=free, fixed=fixed)
            start = time.perf_counter()
            chain = label_gradient(objective, label)
            chain_s = time.perf_counter() - start
            start = time.perf_counter()
            _, differences = point_and_sensitivities(objective, space, label)
            differences_s = time.perf_counter() - start
            steps = {d.name: d.step for d in differences}
            row = {
                "power_w_per_kg": power,
                "seeds": args.seeds,
                "labels": label,
                "objective_wh_kg": chain.evaluation.objective,
                "chain_per_step": chain.per_step(steps),
                "chain_standard_error": {
                    name: float(chain.gradient_standard_error[LABEL_FIELDS.index(name)]) * step
                    for name, step in steps.items()
                },
                "differences_per_step": {d.name: d.objective_per_step for d in differences},
                "differences_standard_error": {
                    d.name: d.objective_per_step_standard_error for d in differences
                },
                "cell_inputs": dict(zip(CELL_INPUTS, chain.cell_inputs.tolist(), strict=True)),
                "cell_sensitivities": dict(zip(CELL_INPUTS, chain.cell_sensitivities.tolist(), strict=True)),
                "property_jacobian": dict(zip(CELL_INPUTS, chain.property_jacobian.tolist(), strict=True)),
                "chain_s": chain_s,
                "differences_s": differences_s,
            }
            rows.append(row)
            shown = ("power_w_per_kg", "labels", "chain_per_step", "chain_standard_error",
                     "differences_per_step", "differences_standard_error",
                     "chain_s", "differences_s")  # fmt: skip
            print(json.dumps({k: row[k] for k in shown}), flush=True)
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            write_text_atomic(Path(args.out), json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
