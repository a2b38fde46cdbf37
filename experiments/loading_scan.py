"""Objective vs AM coat weight at fixed labels: the 1-D scan behind the coat-weight optima of
``jaxmicro design --optimise am_wt,porosity,am_loading_mg_cm2`` (docs/design.md, "Coat weight").

Each power's labels are generated and measured once (same seeds); only the coat weight, and so
the thickness, changes between the cells of a row.

    python experiments/loading_scan.py --out docs/experiments/loading_scan.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from jaxmicro._files import plain_json
from jaxmicro.data.labels import LABEL_FIELDS
from jaxmicro.design import DesignObjective, DesignSettings
from jaxmicro.generator import load_shipped_generator


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--powers", default="200,500,900", help="cell-level powers [W/kg]")
    parser.add_argument("--labels", default="0.96,0.42,0.5", help="am_wt,porosity,adhesion")
    parser.add_argument("--loadings", default="10,12.5,15,17.5,20,22.5,25,27.5,30,35",
                        help="AM coat weights per side [mg/cm^2]")
    parser.add_argument("--out", default="docs/experiments/loading_scan.json")
    args = parser.parse_args()
    label = np.array([float(v) for v in args.labels.split(",")])
    loadings = [float(v) for v in args.loadings.split(",")]
    generator = load_shipped_generator("gan")
    rows = []
    for power in (float(p) for p in args.powers.split(",")):
        objective = DesignObjective(generator, DesignSettings(power_w_per_kg=power))
        labels = np.repeat(label[None], len(loadings), axis=0)
        cells = [{"am_loading_mg_cm2": v} for v in loadings]
        for loading, e in zip(loadings, objective(labels, cell_variables=cells), strict=True):
            design = (e.cell.get("inputs") or {}).get("design") or {}
            rows.append({
                "power_w_per_kg": power,
                "am_loading_mg_cm2": loading,
                "cathode_thickness_um": 1e6 * design.get("cathode_thickness_m", float("nan")),
                "areal_capacity_mah_cm2": e.cell.get("areal_capacity_mah_cm2"),
                "specific_energy_wh_kg": None if e.failed else e.objective,
                "standard_error_wh_kg": e.objective_standard_error,
                "reason": e.reason,
            })
            r = rows[-1]
            print(f"{power:5g} W/kg {loading:5.1f} mg/cm^2 {r['cathode_thickness_um']:6.1f} um "
                  f"{e.objective:7.2f} +- {e.objective_standard_error:.2f} Wh/kg {e.reason}", flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "labels": dict(zip(LABEL_FIELDS, label.tolist(), strict=True)),
        "command": "python experiments/loading_scan.py "
        + " ".join(f"--{k} {v}" for k, v in vars(args).items()),
        "rows": rows,
    }
    out.write_text(json.dumps(plain_json(record), indent=1) + "\n")

if __name__ == "__main__":
    main()
