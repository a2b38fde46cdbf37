"""Are the design answer's error bars right? Each campaign's optimum re-measured on fresh seeds.

    python experiments/posterior_calibration_check.py runs/design55d/power_200W_per_kg \
        runs/cs56/powers/loading_isothermal/power_*W_per_kg --out runs/calibration.json

For each campaign folder (its ``log.jsonl`` header gives the design settings, its ``state.json``
the optimiser): the recommendation as the campaign makes it now and with its interval from the
posterior alone (``shared_noise=False``, the rule until 2026-12-07); for each recommended label,
its objective on K = 5 disjoint blocks of 8 fresh seeds (1000 onwards, never used by a campaign)
and on all 40 together (the "truth": the seed-averaged cell of 40 volumes, the block spread / sqrt
5 its error). A truth already in ``--out`` is not measured again. Prints and writes, per rule,
z = (truth - posterior mean) / sqrt((interval half-width / 1.96)^2 + truth's error^2).
The truth is simulated with the campaign's cell model, from its log header; a log written
before stop 58 does not record it and is taken as the default (isothermal) one: do not pass a
lumped-thermal campaign of those.
"""

import argparse
import dataclasses
import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxmicro.cell import CellModelConfig
from jaxmicro.characterise.measure import average_over_seeds
from jaxmicro.design import DesignObjective, DesignSettings
from jaxmicro.design.campaign import LOG_NAME, STATE_NAME, load_optimizer
from jaxmicro.design.objective import measurement_row
from jaxmicro.design.records import read_records
from jaxmicro.generator import load_default_generator

BLOCKS, SEEDS, FIRST_SEED = 5, 8, 1000


def _objective(objective: DesignObjective, labels: np.ndarray, per_seed, keep: list[int]) -> float:
    row = measurement_row(average_over_seeds(jax.tree.map(lambda x: x[jnp.asarray(keep)], per_seed)), 0)
    (evaluation,) = objective.evaluate_measured(labels, [row])
    return evaluation.objective


def truth(generator, settings: DesignSettings, cell: CellModelConfig, label: list[float]) -> dict:
    """The label's objective on 5 blocks of 8 fresh seeds and on all 40."""
    settings = dataclasses.replace(settings, seeds_per_label=SEEDS, max_seeds_per_label=None)
    objective = DesignObjective(generator, settings, cell)
    labels = np.array([label])
    _, per_seed = objective.measure_seeds(labels, list(range(FIRST_SEED, FIRST_SEED + BLOCKS * SEEDS)))
    blocks = [_objective(objective, labels, per_seed, list(range(k * SEEDS, (k + 1) * SEEDS)))
              for k in range(BLOCKS)]
    return {
        "objective_40": _objective(objective, labels, per_seed, list(range(BLOCKS * SEEDS))),
        "blocks_8": blocks,
        "block_sd": float(np.std(blocks, ddof=1)),
    }


def _said(optimizer, shared_noise: bool, fixed: dict, space: dict) -> dict:
    rec = optimizer.recommend(shared_noise=shared_noise)
    label = [float(v) for v in rec.x]
    full = dict(zip(space["free"], label, strict=True)) | fixed
    return {"label": [full["am_wt"], full["porosity"], full["adhesion"]], "posterior_mean": rec.mean,
            "interval": [rec.lower, rec.upper], "observed": rec.observed,
            "observed_se": float(optimizer.noise_std[rec.index])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("campaigns", nargs="+", help="campaign folders (log.jsonl + state.json)")
    parser.add_argument("--out", default="runs/calibration.json")
    args = parser.parse_args()
    generator = load_default_generator()
    out_path = Path(args.out)
    stored = json.loads(out_path.read_text()) if out_path.exists() else {}
    truths = stored.get("truths", {})
    rows = []
    for folder in map(Path, args.campaigns):
        header = read_records(folder / LOG_NAME)[0]
        settings = DesignSettings(**header["design"])
        cell = CellModelConfig.from_dict(header["cell"]) if "cell" in header else CellModelConfig()
        optimizer, _, _ = load_optimizer(folder / STATE_NAME)
        row = {"campaign": str(folder), "power_w_per_kg": settings.power_w_per_kg,
               "settings": settings.to_dict(), "cell": cell.to_dict()}
        for rule, shared in (("shared_seeds", True), ("posterior_only", False)):
            said = _said(optimizer, shared, header["space"]["fixed"], header["space"])
            key = json.dumps([settings.to_dict(), np.round(said["label"], 6).tolist()]
                             + ([cell.to_dict()] if cell != CellModelConfig() else []))
            if key not in truths:
                truths[key] = truth(generator, settings, cell, said["label"])
                out_path.write_text(json.dumps({"truths": truths, "rows": rows}, indent=1))
            t, t_error = truths[key]["objective_40"], truths[key]["block_sd"] / BLOCKS**0.5
            half = (said["interval"][1] - said["interval"][0]) / 2
            said["truth_40"], said["truth_40_error"] = t, t_error
            # The 40 seeds' own error (0.1-15 Wh/kg) counts beside the interval's.
            said["z"] = (t - said["posterior_mean"]) / np.hypot(half / 1.96, t_error)
            row[rule] = said
            print(f"{settings.power_w_per_kg:5.0f} W/kg {rule:>14}: {np.round(said['label'], 3).tolist()} "
                  f"posterior {said['posterior_mean']:.1f} {np.round(said['interval'], 1).tolist()}, own "
                  f"{said['observed']:.1f} +- {said['observed_se']:.2f}; 40 seeds {t:.1f} "
                  f"(+- {t_error:.2f}): z {said['z']:+.2f}", flush=True)
        rows.append(row)
        out_path.write_text(json.dumps({"truths": truths, "rows": rows}, indent=1))
    for rule in ("shared_seeds", "posterior_only"):
        # Campaigns run twice with the same settings (a case study reusing another's) count once.
        distinct = {json.dumps([r["settings"], r["cell"], np.round(r[rule]["label"], 6).tolist()]):
                    r[rule]["z"] for r in rows}
        z = np.array(list(distinct.values()))
        outside = int(np.sum(abs(z) > 1.96))
        print(f"{rule}: rms z {np.sqrt(np.mean(z ** 2)):.2f}, |z| > 1.96 in {outside} "
              f"of {len(z)}")


if __name__ == "__main__":
    main()
