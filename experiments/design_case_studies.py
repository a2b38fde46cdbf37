"""The paper's design case studies on a shipped generator (the default one unless ``--generator``
names another), as resumable runs.

    python experiments/design_case_studies.py powers         # Figure 1: optimum vs cell-level power,
                                                             # on both design bases and with heat
    python experiments/design_case_studies.py normalisation  # specific energy vs energy density vs electrode
    python experiments/design_case_studies.py halfcell       # half vs full cell, at equal W/kg and at
                                                             # equal areal current density
    python experiments/design_case_studies.py sweep          # dense grid (ground truth) vs BO

Each study runs under ``runs/case_studies/<study>/`` (rerun to resume after a crash), then copies
its figures to ``docs/figures/`` and writes ``docs/experiments/<study>.md`` with a results table
and the command that made it. ``--budget``, ``--volume-size`` and ``--grid`` trade time for
fidelity; the defaults take minutes each on a 2-core CPU. Seeds per label adapt as in
``jaxmicro design`` (2, up to ``--max-seeds-per-label`` while the seed standard error exceeds
1 %), and each optimum is the evaluated label with the best 95 % lower bound.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import shutil
import sys
from pathlib import Path

import numpy as np

from jaxmicro.cell import CellModelConfig
from jaxmicro.design import (
    OBJECTIVES,
    CampaignSettings,
    DesignObjective,
    DesignSettings,
    design_space,
    evaluations_to_reach,
    label_grid,
    run_study,
    sweep,
)
from jaxmicro.design.plots import plot_campaign
from jaxmicro.design.recommendation import describe, outside_interval
from jaxmicro.generator import DEFAULT_GENERATOR, SHIPPED_GENERATORS, load_shipped_generator

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
POWERS = (100.0, 300.0, 500.0, 700.0, 900.0)


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def _fmt(value: float | None, digits: int = 4) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.{digits}g}"


def _best_row(label: str, best, evaluations, recommendation: dict | None = None) -> list[str]:
    n_failed = sum(e.failed for e in evaluations)
    n_volumes = sum(len(e.seeds) for e in evaluations)
    count = f"{len(evaluations)} ({n_failed} failed), {n_volumes} volumes"
    if best is None:
        return [label, *["-"] * (len(BEST_HEADER) - 2), count]
    interval, fresh, region, edge, warnings = "-", "-", "-", "-", "-"
    if recommendation is not None:
        low, high = recommendation["interval"]
        interval = f"{recommendation['objective_mean']:.4g} [{low:.4g}, {high:.4g}]"
        confirmation = recommendation.get("confirmation")
        if confirmation is not None and confirmation["interval"] is not None:
            fresh = "{:.4g} [{:.4g}, {:.4g}], {} seeds".format(
                confirmation["objective"], *confirmation["interval"], confirmation["seeds"])
        region = "{:.3f}-{:.3f}".format(*recommendation["region"]["porosity"])
        edge = ", ".join(f"{e['label']} {e['bound']}" for e in recommendation["on_edge"]) or "no"
        warnings = _warnings(recommendation)
    props, cell = best.properties, best.cell
    areal_current = _number(cell, "c_rate") * _number(cell, "areal_capacity_mah_cm2")
    return [
        label,
        f"{best.labels['am_wt']:.4f}",
        f"{best.labels['porosity']:.4f}",
        _fmt(props["electrolyte_tau_through_plane"], 3),
        _fmt(cell.get("cathode_thickness_m", _design(cell, "cathode_thickness_m")) * 1e6, 3),
        _fmt(areal_current, 3),
        _fmt(_number(cell, "max_temperature_k") - 273.15, 3),
        _fmt(cell.get("specific_energy_wh_kg")),
        _fmt(cell.get("energy_density_wh_l")),
        _fmt(best.objective),
        interval,
        fresh,
        region,
        edge,
        warnings,
        count,
    ]


def _warnings(recommendation: dict) -> str:
    """The printed output's warnings, in short: its own evaluation outside its interval, the
    fresh seeds disagreeing or scattering, and labels inside the region that their own volumes
    put below the optimum."""
    found = []
    if outside_interval(recommendation):
        found.append(f"observed {recommendation['observed']:.4g} outside its interval")
    printed = describe(recommendation)
    found += [flag.lower() for flag in ("FRESH SEEDS DISAGREE", "FRESH SEEDS SCATTER") if flag in printed]
    for other in recommendation.get("contradicting", ()):
        where = ", ".join(f"{k} {v:.3g}" for k, v in other["labels"].items())
        value, error = other["objective"], other["standard_error"]
        found.append(f"({where}) worse by its own volumes, {value:.4g} +- {error:.2g}")
    return "; ".join(found) or "none"


def _number(cell: dict, name: str) -> float:
    """A cell figure from a log record (null, e.g. an isothermal cell's temperature, -> NaN)."""
    value = cell.get(name)
    return math.nan if value is None else float(value)


def _design(cell: dict, name: str) -> float:
    return float(cell.get("inputs", {}).get("design", {}).get(name, math.nan))


def _campaign_row(label: str, campaign, space, generator) -> list[str]:
    recommendation = campaign.summary(space, generator.label_ranges)
    return _best_row(label, campaign.best, campaign.evaluations, recommendation)


BEST_HEADER = [
    "case",
    "am_wt",
    "porosity",
    "tau (measured)",
    "cathode um",
    "mA/cm^2",
    "max T (C)",
    "Wh/kg",
    "Wh/L",
    "objective",
    "posterior mean [95 % interval]",
    "on fresh seeds [95 %]",
    "porosity not distinguishable",
    "on the edge",
    "warnings",
    "labels (failed), volumes",
]
# Figure 1 variants: (design basis, thermal model). The first is the default design loop.
POWER_VARIANTS = (("loading", "isothermal"), ("thickness", "isothermal"), ("loading", "lumped"))


def _seeds_text(design: DesignSettings) -> str:
    if design.max_seeds_per_label is None:
        return str(design.seeds_per_label)
    ceiling = design.max_seeds_per_label
    return f"{design.seeds_per_label} (up to {ceiling} while the seed standard error exceeds 1 %)"


def _publish(study: str, figures: list[tuple[str, Path]], text: str) -> Path:
    """Copies ``(case, figure)`` PNGs to docs/figures/<study>_<case>_<name> and writes the page."""
    figure_dir = DOCS / "figures"
    figure_dir.mkdir(parents=True, exist_ok=True)
    links = []
    for case, figure in figures:
        if figure.suffix != ".png":
            continue
        target = figure_dir / f"{study}_{case}_{figure.name}"
        shutil.copyfile(figure, target)
        links.append(f"![{figure.stem}](../figures/{target.name})")
    out = DOCS / "experiments" / f"{study}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    command = "python experiments/design_case_studies.py " + " ".join(sys.argv[1:])
    out.write_text(f"{text}\n\nMade by `{command}`.\n\n" + "\n\n".join(links) + "\n")
    return out


def study_powers(args, generator, space, design, campaign) -> Path:
    rows, figures = [], []
    for basis, thermal in POWER_VARIANTS:
        variant = f"{basis}_{thermal}"
        result = run_study(
            generator,
            POWERS,
            space,
            args.out / "powers" / variant,
            dataclasses.replace(design, basis=basis),
            campaign,
            resume=True,
            cell_config=CellModelConfig(thermal=thermal),
        )
        rows += [
            _campaign_row(f"{p:g} W/kg, {basis} basis, {thermal}", c, space, generator)
            for p, c in zip(result.powers_w_per_kg, result.campaigns, strict=True)
        ]
        figures += [(f"{variant}_{f.parent.name}", f) for f in result.figures if f.name == "campaign.png"]
        figures += [(variant, f) for f in result.figures if f.name == "optimum_path.png"]
    text = (
        "# Figure 1: the optimum across cell-level powers\n\n"
        f"4680 full cell, {design.objective_description}, optimising am_wt and porosity "
        f"(adhesion {space.fixed['adhesion']}), {campaign.budget} evaluations per power, "
        f"{_seeds_text(design)} generated {design.volume_size}^3 volumes per label "
        f"(`{args.generator}` generator). Three variants: "
        f"the default loading basis ({design.am_loading_mg_cm2:g} mg/cm^2 of AM; thickness follows "
        f"the porosity), a fixed {design.cathode_thickness_m * 1e6:g} um cathode (loading follows "
        "the porosity), and the loading basis with PyBaMM's lumped thermal model (h = 10 W/m^2K).\n\n"
        + _table(BEST_HEADER, rows)
    )
    return _publish("powers", figures, text)


def _compare_settings(args, generator, space, campaign, study: str, cases: dict, title: str) -> Path:
    """One campaign at ``args.power`` per ``{case: (row label, DesignSettings)}``, tabled together."""
    rows, figures = [], []
    for case, (label, settings) in cases.items():
        result = run_study(
            generator, [args.power], space, args.out / study / case, settings, campaign, resume=True
        )
        rows.append(_campaign_row(label, result.campaigns[0], space, generator))
        figures += [(case, f) for f in result.figures if f.name == "campaign.png"]
    return _publish(study, figures, title + _table(BEST_HEADER, rows))


def study_normalisation(args, generator, space, design, campaign) -> Path:
    cases = {
        objective: (OBJECTIVES[objective][1], dataclasses.replace(design, objective=objective))
        for objective in OBJECTIVES
    }
    title = (
        f"# Normalisation study at {args.power:g} W/kg\n\n"
        "The same campaign maximising three objectives; how the optimum label moves. The 4680 can "
        "has a fixed outer volume, so energy density is energy / 0.133 L and its optimum is the "
        "energy optimum by construction (structural, not a finding); specific energy differs from it "
        "only through the cell's mass (a porous cathode carries electrolyte instead of NMC), and the "
        "electrode-level figure leaves out the anode, separator, current collectors and can.\n\n"
    )
    return _compare_settings(args, generator, space, campaign, "normalisation", cases, title)


def study_halfcell(args, generator, space, design, campaign) -> Path:
    """Half vs full cell at equal W/kg, then both at the C-rate of the full cell's optimum: on
    the loading basis equal C-rate is equal areal current density (same areal capacity)."""
    full = run_study(
        generator, [args.power], space, args.out / "halfcell" / "full", design, campaign, resume=True
    ).campaigns[0]
    if full.best is None:
        raise SystemExit("the full-cell campaign found no valid design; nothing to match")
    c_rate = round(float(full.best.cell["c_rate"]), 3)
    cases = {
        "full": ("full cell, equal W/kg", design),
        "half": ("half cell, equal W/kg", dataclasses.replace(design, half_cell=True)),
        "full_crate": (f"full cell, {c_rate:g}C", dataclasses.replace(design, c_rate=c_rate)),
        "half_crate": (f"half cell, {c_rate:g}C", dataclasses.replace(design, c_rate=c_rate, half_cell=True)),
    }
    title = (
        f"# Half cell vs full cell at {args.power:g} W/kg and at equal areal current\n\n"
        "Lithium-metal half cell against graphite full cell, both normalised to a 4680 cell. At equal "
        "W/kg the two cells draw different areal currents (the half cell is lighter per unit area); "
        f"the last two rows run both at {c_rate:g}C, the C-rate of the full cell's optimum at "
        f"{args.power:g} W/kg, which on the loading basis ({design.am_loading_mg_cm2:g} mg/cm^2) is the "
        "same areal current density for every label and both cells.\n\n"
    )
    return _compare_settings(args, generator, space, campaign, "halfcell", cases, title)


def study_sweep(args, generator, space, design, campaign) -> Path:
    settings = dataclasses.replace(design, power_w_per_kg=args.power)
    objective = DesignObjective(generator, settings)
    folder = args.out / "sweep"
    labels = label_grid(space, args.grid)
    evaluations = sweep(objective, labels, folder / "sweep.jsonl", chunk_size=args.grid)
    values = np.array([e.objective for e in evaluations])
    if not np.isfinite(values).any():
        raise SystemExit("every sweep evaluation failed; nothing to compare with")
    best = evaluations[int(np.nanargmax(values))]
    figure = plot_campaign(
        evaluations,
        space,
        folder / "grid.png",
        settings.objective_description,
        f"{args.grid}x{args.grid} grid",
    )
    bo = run_study(generator, [args.power], space, folder / "bo", settings, campaign, resume=True).campaigns[
        0
    ]
    bo_values = [e.objective for e in bo.evaluations]
    needed = evaluations_to_reach(bo_values, best.objective, 0.01) or "never (not within the budget)"
    rows = [
        _best_row(f"grid {args.grid}x{args.grid}", best, evaluations),
        _campaign_row("BO", bo, space, generator),
    ]
    text = (
        f"# Dense sweep vs Bayesian optimisation at {args.power:g} W/kg\n\n"
        + _table(BEST_HEADER, rows)
        + f"\n\nBO came within 1 % of the grid optimum after **{needed}**"
        f" of {len(bo_values)} evaluations (the grid used {len(evaluations)})."
    )
    return _publish("sweep", [("sweep", figure), (bo.out_dir.name, bo.out_dir / "campaign.png")], text)


STUDIES = {
    "powers": study_powers,
    "normalisation": study_normalisation,
    "halfcell": study_halfcell,
    "sweep": study_sweep,
}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("study", choices=sorted(STUDIES))
    parser.add_argument("--budget", type=int, default=16, help="evaluations per campaign")
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--n-initial", type=int, default=6)
    parser.add_argument("--volume-size", type=int, default=64)
    parser.add_argument("--seeds-per-label", type=int, default=2)
    parser.add_argument(
        "--max-seeds-per-label",
        type=int,
        default=8,
        help="adaptive seeds' ceiling; at --seeds-per-label: fixed",
    )
    parser.add_argument("--generator", choices=sorted(SHIPPED_GENERATORS), default=DEFAULT_GENERATOR)
    parser.add_argument("--power", type=float, default=500.0, help="power of the single-power studies [W/kg]")
    parser.add_argument("--grid", type=int, default=8, help="sweep grid points per label")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "case_studies")
    args = parser.parse_args()
    generator = load_shipped_generator(args.generator)
    space = design_space(generator.label_ranges)
    adaptive = args.max_seeds_per_label > args.seeds_per_label
    design = DesignSettings(
        volume_size=args.volume_size,
        seeds_per_label=args.seeds_per_label,
        max_seeds_per_label=args.max_seeds_per_label if adaptive else None,
    )
    campaign = CampaignSettings(budget=args.budget, batch_size=args.batch_size, n_initial=args.n_initial)
    print(STUDIES[args.study](args, generator, space, design, campaign))


if __name__ == "__main__":
    main()
