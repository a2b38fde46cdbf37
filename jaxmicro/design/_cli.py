"""``jaxmicro design``: Bayesian-optimisation campaigns over manufacturing labels (the main job)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from jaxmicro import _cli_common as common


def add_arguments(parser: argparse.ArgumentParser) -> None:
    common.use_help_formatter(parser)
    what = parser.add_argument_group("what to optimise")
    what.add_argument(
        "--power-w-per-kg",
        type=common.floats,
        default=f"{common.DEFAULT_POWER_W_PER_KG:g}",
        help="cell-level discharge power [W/kg]; comma-separated for one campaign each",
    )
    common.add_hidden_alias(what, "--powers", dest="power_w_per_kg", type=common.floats)
    what.add_argument(
        "--optimise",
        type=common.names,
        default="am_wt,porosity",
        help="design variables to optimise, comma-separated: labels (the others are fixed) and "
        f"at most one cell variable, {' or '.join(common.CELL_VARIABLE_NAMES)} "
        "(AM coat weight per side [mg/cm^2] or coating thickness per side [um])",
    )
    what.add_argument(
        "--bounds",
        type=common.bounds,
        action="append",
        default=[],
        metavar="NAME=LOW,HIGH",
        help="bounds of an optimised variable (repeatable); labels default to the generator's "
        "trained range, am_loading_mg_cm2 to 10,35 and cathode_thickness_um to 40,160",
    )
    common.add_fixed_label_arguments(what)
    common.add_cell_arguments(parser.add_argument_group("cell"))
    budget = parser.add_argument_group("campaign")
    # 16: on the wide trained range 10 labels left the 200 W/kg optimum undetermined (am_wt
    # 0.90-0.98, porosity 0.20-0.49 indistinguishable); 16 narrowed it to 0.965-0.98 / 0.20-0.32.
    budget.add_argument("--budget", type=int, default=16, help="labels evaluated per power")
    budget.add_argument("--batch-size", type=int, default=2, help="labels per BO batch")
    budget.add_argument("--n-initial", type=int, default=4, help="Sobol initial labels")
    budget.add_argument("--seeds-per-label", type=int, default=2, help="generated volumes per label")
    budget.add_argument(
        "--max-seeds-per-label",
        type=int,
        default=None,
        help="adaptive seeds: add --seeds-per-label more seeds to a label while its objective's seed "
        "standard error is above --target-relative-error, up to this many in all (default "
        f"{common.DEFAULT_MAX_SEEDS_PER_LABEL} where --seeds-per-label leaves room; equal to "
        "--seeds-per-label: none)",
    )
    budget.add_argument(
        "--target-relative-error",
        type=float,
        default=0.01,
        help="adaptive seeds' target standard error, a fraction of the objective [-]",
    )
    budget.add_argument(
        "--volume-size", type=int, default=None,
        help="generated volume edge [voxels] (default 64 on CPU, 128 on an accelerator)",
    )
    budget.add_argument("--seed", type=int, default=0, help="optimiser seed")
    budget.add_argument(
        "--input-warping",
        action="store_true",
        help="warp each label before the GP's kernel (Kumaraswamy CDF fitted with it; docs/bo.md)",
    )
    budget.add_argument(
        "--confirm-seeds",
        type=int,
        default=8,
        help="re-measure each campaign's optimum on this many fresh seeds, its level independent of "
        "the seeds every label shares (0: not)",
    )
    budget.add_argument(
        "--confirm-max-seeds",
        type=int,
        default=None,
        help="while the fresh seeds' standard error is above --target-relative-error of the optimum's "
        "objective, add --confirm-seeds more, up to this many in all (default 32, or --confirm-seeds "
        "if more)",
    )
    budget.add_argument(
        "--refine",
        type=int,
        default=0,
        metavar="N",
        help="after each campaign, up to N more labels by gradient steps from its best, inside the "
        "trained range (0: none); see docs/design.md for when it pays",
    )
    budget.add_argument(
        "--refine-gradient",
        choices=common.GRADIENT_METHODS,
        default=common.GRADIENT_METHODS[0],
        help="the refinement's gradient: common-seed differences (2 labels per variable) or the "
        "chain rule through the microstructure (no label, a forward-mode pass and 12 cells)",
    )
    run = parser.add_argument_group("run")
    run.add_argument(
        "--out",
        default="runs/design",
        help="output folder; a campaign already there with the same options "
        "is continued, or reported at once if it is finished; other options need another folder",
    )
    run.add_argument("--resume", action="store_true", help=argparse.SUPPRESS)  # now the default
    common.add_run_arguments(run)


def _existing_campaigns(out: str, powers: list[float]) -> list[Path]:
    """The campaign folders of ``powers`` in ``out`` that already hold a campaign."""
    from jaxmicro.design.campaign import LOG_NAME, STATE_NAME
    from jaxmicro.design.study import campaign_dir

    folders = (campaign_dir(out, p) for p in dict.fromkeys(powers))
    return [f for f in folders if (f / STATE_NAME).is_file() or (f / LOG_NAME).is_file()]


def run(args: argparse.Namespace) -> int:
    common.select_device(args)
    import jax

    from jaxmicro.design import CampaignSettings, design_space, run_study
    from jaxmicro.design.refine import RefineSettings

    generator = common.load_generator_of(args)
    space = design_space(
        generator.label_ranges, free=args.optimise, fixed=common.fixed_labels(args), bounds=dict(args.bounds)
    )
    volume_size = args.volume_size
    if volume_size is None:
        volume_size = 64 if jax.default_backend() == "cpu" else 128
    if args.confirm_max_seeds is not None and args.confirm_max_seeds < args.confirm_seeds:
        raise ValueError(f"--confirm-max-seeds ({args.confirm_max_seeds}) must be at least --confirm-seeds "
                         f"({args.confirm_seeds}); raise it or leave it out")
    # The power is replaced by each of --power-w-per-kg, one campaign each (run_study).
    design = common.design_settings(args, power_w_per_kg=200.0, volume_size=volume_size)
    campaign = CampaignSettings(
        budget=args.budget,
        batch_size=args.batch_size,
        n_initial=min(args.n_initial, args.budget),
        seed=args.seed,
        input_warping=args.input_warping,
        confirm_seeds=args.confirm_seeds,
        confirm_max_seeds=(max(CampaignSettings.confirm_max_seeds, args.confirm_seeds)
                           if args.confirm_max_seeds is None else args.confirm_max_seeds),
    )
    if args.refine < 0:
        raise ValueError(f"--refine must be 0 (none) or a positive number of labels, got {args.refine}")
    refinement = RefineSettings(args.refine, args.refine_gradient) if args.refine else None
    finished = _finished_study(Path(args.out), args.power_w_per_kg, space, design, campaign, refinement)
    if finished is not None:
        common.note(args, f"{args.out} holds this finished study; use another --out for a new run")
        result = finished
    else:
        existing = _existing_campaigns(args.out, args.power_w_per_kg)
        if existing:
            common.note(
                args,
                f"continuing the campaign(s) in {', '.join(str(f) for f in existing)} "
                "(use another --out for a new run)",
            )
        with common.cell_executor(args) as executor:
            result = run_study(
                generator,
                args.power_w_per_kg,
                space,
                args.out,
                design,
                campaign,
                refinement=refinement,
                resume=bool(existing),
                executor=executor,
                header={"command": sys.argv},
                progress=common.show_progress(args),
            )
    _report(design, space, result, generator.label_ranges)
    return 0 if any(c.best is not None for c in result.campaigns) else 1


def _report(design: Any, space: Any, result: Any, label_ranges: Any) -> None:
    """Prints the best labels and cell of each campaign of a :class:`StudyResult`, with the
    optimum's error bars and a warning when it lies on the edge of the trained range."""
    import json
    import textwrap

    from jaxmicro.design.recommendation import describe, objective_unit
    from jaxmicro.design.refine import STOPS
    from jaxmicro.design.sensitivity import Sensitivity, most_important

    print(f"\n{design.objective_description}, optimising {', '.join(space.free)}; fixed {space.fixed}")
    rows = json.loads(result.summary_path.read_text())["campaigns"]
    for i, (power, found) in enumerate(zip(result.powers_w_per_kg, result.campaigns, strict=True)):
        best = found.best
        head = f"{power:7g} W/kg: {len(found.evaluations)} evaluations, {found.n_failed} failed"
        if best is None:
            print(f"{head}; no successful evaluation")
            continue
        labels = ", ".join(f"{k} {v:.4g}" for k, v in best.labels.items())
        props = best.properties
        cell_design = (best.cell.get("inputs") or {}).get("design") or {}
        thickness_um = 1e6 * float(cell_design.get("cathode_thickness_m", float("nan")))
        print(
            f"{head}; best {best.objective:.4g} at {labels}\n"
            f"{'':14}porosity {props['porosity']:.3f}, tau {props['electrolyte_tau_through_plane']:.2f}, "
            f"{thickness_um:.0f} um, {best.cell.get('areal_capacity_mah_cm2', float('nan')):.2f} mAh/cm^2, "
            f"{best.cell.get('specific_energy_wh_kg', float('nan')):.1f} Wh/kg, "
            f"{best.cell.get('energy_density_wh_l', float('nan')):.0f} Wh/L, "
            f"{best.cell.get('power_w_per_kg', float('nan')):.0f} W/kg"
        )
        summary = found.summary(space, label_ranges)
        unit = objective_unit(design.objective_description)
        if summary is not None:
            print(textwrap.indent(describe(summary, unit), " " * 14))
        refined = rows[i].get("refinement")
        if refined is not None:
            where = ", ".join(f"{k} {v:.4g}" for k, v in refined["best"]["labels"].items())
            print(
                f"{'':14}gradient refinement: {refined['best']['objective']:.4g} at {where} "
                f"({refined['gain']:+.3g} over the campaign's best; {refined['n_evaluations']} labels, "
                f"{refined['n_gradients']} gradients; stopped: {STOPS[refined['stopped']]})"
            )
        steps = [Sensitivity.from_dict(d) for d in (rows[i].get("sensitivities") or [])]
        if steps:
            print(f"{'':14}per step at the optimum: " + "; ".join(s.describe(unit) for s in steps))
            top = most_important(tuple(steps))
            if top is not None and len(steps) > 1:
                print(f"{'':14}matters most here: {top.name}")
    print(f"\nsummary: {result.summary_path}")
    print("figures: " + ", ".join(str(f) for f in result.figures))
    print("logs:    " + ", ".join(str(c.log_path) for c in result.campaigns))


def _same_interval(stored: dict | None, recommendation: Any) -> bool:
    """Whether a summary's recommendation interval is this recommendation's (to round-off)."""
    import math

    if stored is None or recommendation is None:
        return stored is None and recommendation is None
    low, high = stored.get("interval") or (math.nan, math.nan)
    return math.isclose(low, recommendation.lower, rel_tol=1e-6) and math.isclose(
        high, recommendation.upper, rel_tol=1e-6
    )


def _finished_study(
    out: Path, powers: list[float], space: Any, design: Any, campaign: Any, refinement: Any = None
) -> Any | None:
    """The :class:`StudyResult` of a finished study in ``out`` with exactly these options, read
    from its summary and logs without computing anything; ``None`` when there is none (then
    :func:`run_study` continues, starts, or refuses other options with a clear error)."""
    import dataclasses
    import json

    from jaxmicro.design.campaign import LOG_NAME, STATE_NAME, campaign_result, load_optimizer
    from jaxmicro.design.records import read_records
    from jaxmicro.design.study import SUMMARY_NAME, StudyResult, campaign_dir

    summary_path = out / SUMMARY_NAME
    if not summary_path.is_file():
        return None
    try:
        summary = json.loads(summary_path.read_text())
        mine = json.loads(
            json.dumps(
                {
                    "space": space.to_dict(),
                    "campaign": dataclasses.asdict(campaign),
                    "refinement": None if refinement is None else dataclasses.asdict(refinement),
                    "design": design.to_dict() | {"power_w_per_kg": [float(p) for p in powers]},
                }
            )
        )
        if any(summary.get(key) != value for key, value in mine.items()):
            return None
        results = []
        for power, row in zip(powers, summary["campaigns"], strict=True):
            folder = campaign_dir(out, power)
            optimizer, pending, _ = load_optimizer(folder / STATE_NAME)
            records = [r for r in read_records(folder / LOG_NAME) if r.get("type") == "evaluation"]
            if pending is not None or len(records) < campaign.budget:
                return None
            result = campaign_result(folder, optimizer)
            stored = row.get("best") or {}
            if stored.get("labels") != (None if result.best is None else result.best.labels):
                return None  # recommended by another rule: its optimum's outputs are made again
            if not _same_interval(stored.get("recommendation"), result.recommendation):
                return None  # error bars by another rule: the summary is written again
            results.append(result)
        figures = tuple(Path(f) for f in summary.get("figures", []))
        if not all(f.is_file() for f in figures):
            return None
    except (OSError, ValueError, KeyError, TypeError):
        return None  # anything unexpected: let run_study look at the folder
    return StudyResult(out, tuple(float(p) for p in powers), tuple(results), summary_path, figures)
