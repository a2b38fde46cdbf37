"""``report.md`` of a design run, from its files alone (``jaxmicro report RUN_DIR``).

A design run folder is a study (``summary.json`` and one ``power_<P>W_per_kg/`` campaign folder
per power, as ``jaxmicro design`` writes it) or a single campaign folder (``log.jsonl`` and
``state.json``). :func:`write_report` reads the logs and the optimiser states, refits each
campaign's GP for its recommendation (seconds; no volume is generated and no cell simulated),
and writes

* per campaign: ``campaign.png`` (the evaluated labels, the optimum and its indistinguishable
  region) and ``results.csv`` (:mod:`jaxmicro.design.table`);
* in the run folder: ``best_so_far.png`` (the objective of the best evaluation after each
  evaluation), for a study ``optimum_path.png``, and ``report.md``: per power the optimum's
  labels, its posterior mean and interval, the indistinguishable region, the edge warnings,
  its measured microstructure and cell, the sensitivities, the best-so-far trace and the
  failures counted by reason.

Every file is written atomically, so reporting on a run that is still going is safe (a
campaign with a batch in flight is reported as it stands, and marked as running).
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from jaxmicro._files import write_text_atomic

if TYPE_CHECKING:
    from jaxmicro.design.campaign import CampaignResult

REPORT_NAME: Final[str] = "report.md"
"""The report's name in the run folder."""
BEST_SO_FAR_NAME: Final[str] = "best_so_far.png"
"""The best-so-far figure's name in the run folder."""

_SUMMARY_NAME = "summary.json"  # jaxmicro.design.study.SUMMARY_NAME (kept light: no jax import)
_LOG_NAME = "log.jsonl"  # jaxmicro.design.campaign.LOG_NAME
_STATE_NAME = "state.json"  # jaxmicro.design.campaign.STATE_NAME

MICROSTRUCTURE_ROWS: Final[tuple[tuple[str, str, float], ...]] = (
    ("porosity", "porosity (measured)", 1.0),
    ("electrolyte_tau_through_plane", "tortuosity factor tau (through plane)", 1.0),
    ("solid_conductivity_s_m", "solid conductivity [S/m]", 1.0),
    ("am_electrolyte_area_per_volume_m", "AM-electrolyte area per volume [1/m]", 1.0),
    ("particle_radius_m", "particle radius [um]", 1e6),
)
"""The optimum's measured properties in the report: property key, row title, scale to its unit."""
CELL_ROWS: Final[tuple[tuple[str, str, float], ...]] = (
    ("specific_energy_wh_kg", "specific energy [Wh/kg]", 1.0),
    ("energy_density_wh_l", "energy density [Wh/L]", 1.0),
    ("power_w_per_kg", "power [W/kg]", 1.0),
    ("c_rate", "C-rate [1/h]", 1.0),
)
"""The optimum's cell figures in the report: ``CellResult`` key, row title, scale to its unit."""


class NotARunError(ValueError):
    """The folder is not a design run (or its files are damaged); ``str()`` is one line."""


@dataclasses.dataclass(frozen=True)
class CampaignReport:
    """What the report says about one campaign.

    Attributes:
        folder: the campaign folder.
        power_w_per_kg: its cell-level power [W/kg] (NaN when it ran at a C-rate).
        budget: evaluations it was set to make.
        result: the :class:`~jaxmicro.design.campaign.CampaignResult` (evaluations, optimum,
            recommendation).
        summary: :func:`jaxmicro.design.recommendation.summarise` of its recommendation.
        best_so_far: the objective of the best successful evaluation after each evaluation, in
            log order [objective's unit] (NaN until one succeeds).
        failures: number of failed evaluations per reason.
        sensitivities: the stored sensitivities at the optimum (``Sensitivity.to_dict()``), or
            ``None`` when none were stored for these labels.
        running: the campaign is not finished (a batch in flight, or fewer evaluations than
            its budget).
    """

    folder: Path
    power_w_per_kg: float
    budget: int
    result: CampaignResult
    summary: dict[str, Any] | None
    best_so_far: tuple[float, ...]
    failures: dict[str, int]
    sensitivities: list[dict[str, Any]] | None
    running: bool


@dataclasses.dataclass(frozen=True)
class Report:
    """A written report.

    Attributes:
        path: ``report.md``.
        campaigns: one :class:`CampaignReport` per campaign, in power order.
        figures: every figure written.
        tables: every ``results.csv`` written.
    """

    path: Path
    campaigns: tuple[CampaignReport, ...]
    figures: tuple[Path, ...]
    tables: tuple[Path, ...]


def best_so_far(objectives: Sequence[float]) -> list[float]:
    """The running maximum of the objectives, ignoring failures (NaN).

    Args:
        objectives: objective values in evaluation order (NaN for a failure).

    Returns:
        For each evaluation, the best objective up to and including it (NaN while none
        succeeded).
    """
    out, best = [], math.nan
    for value in objectives:
        value = float(value)
        if math.isfinite(value) and not value <= best:  # `not <=`: NaN best is replaced
            best = value
        out.append(best)
    return out


def failure_counts(evaluations: Sequence[Any]) -> dict[str, int]:
    """Failed evaluations counted by reason, most frequent first.

    Args:
        evaluations: :class:`~jaxmicro.design.objective.Evaluation` objects.
    """
    counts = collections.Counter(e.reason or "(no reason logged)" for e in evaluations if e.failed)
    return dict(counts.most_common())


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise NotARunError(f"{path}: not valid JSON ({error}); it is not a readable {what}") from None


def _campaign_header(folder: Path) -> dict[str, Any]:
    from jaxmicro.design.records import read_records

    log = folder / _LOG_NAME
    if not log.is_file():
        raise NotARunError(f"{folder} holds no campaign ({_LOG_NAME} is missing)")
    records = read_records(log)
    if not records or records[0].get("type") != "campaign":
        raise NotARunError(f"{log} does not start with a campaign header; it is not a jaxmicro campaign log")
    return records[0]


def _campaign_report(folder: Path, space: Any, study_row: Mapping[str, Any] | None = None) -> CampaignReport:
    """Reads one campaign folder and refits its GP (no volume, no cell); ``study_row`` is its
    entry in the study's ``summary.json``, whose sensitivities are used when the campaign folder
    keeps none."""
    from jaxmicro.design.campaign import CampaignResult, campaign_result, load_optimizer
    from jaxmicro.design.records import read_records
    from jaxmicro.design.study import stored_sensitivities

    header = _campaign_header(folder)
    state = folder / _STATE_NAME
    if state.is_file():
        optimizer, pending, _ = load_optimizer(state)
    elif any(r.get("type") == "evaluation" for r in read_records(folder / _LOG_NAME)):
        raise NotARunError(
            f"{folder} has evaluations but no {_STATE_NAME}; restore it to report the campaign"
        )
    else:  # just started: the header is logged, the first batch not yet asked for
        optimizer, pending = None, None
    try:
        label_ranges = {k: tuple(v) for k, v in header["generator"]["label_ranges"].items()}
        design = header["design"]
        budget = int(header["campaign"]["budget"])
    except (KeyError, TypeError, ValueError) as error:
        raise NotARunError(f"{folder / _LOG_NAME}: damaged campaign header ({error!r})") from None
    result = CampaignResult(folder, (), None) if optimizer is None else campaign_result(folder, optimizer)
    stored = None
    if result.best is not None:
        try:
            stored = stored_sensitivities(folder, result.best.labels)
        except ValueError as error:
            raise NotARunError(str(error)) from None
    if stored is None and result.best is not None and isinstance(study_row, Mapping):
        best = study_row.get("best") or {}
        if best.get("labels") == json.loads(json.dumps(result.best.labels)):
            stored = study_row.get("sensitivities")
    power = design.get("power_w_per_kg")
    return CampaignReport(
        folder=folder,
        power_w_per_kg=math.nan if power is None or design.get("c_rate") is not None else float(power),
        budget=budget,
        result=result,
        summary=result.summary(space, label_ranges),
        best_so_far=tuple(best_so_far([e.objective for e in result.evaluations])),
        failures=failure_counts(result.evaluations),
        sensitivities=stored,
        running=pending is not None or len(result.evaluations) < budget,
    )


def _started_campaigns(run_dir: Path) -> list[Path]:
    """The campaign folders ``power_<P>W_per_kg/`` holding a log, in power order."""
    found = []
    for folder in run_dir.glob("power_*W_per_kg"):
        try:
            power = float(folder.name.removeprefix("power_").removesuffix("W_per_kg"))
        except ValueError:
            continue
        if (folder / _LOG_NAME).is_file():
            found.append((power, folder))
    return [folder for _, folder in sorted(found)]


def _study_folders(run_dir: Path) -> tuple[dict[str, Any], list[Path]]:
    """The summary of a study folder and its campaign folders, in power order."""
    from jaxmicro.design.study import campaign_dir

    summary = _read_json(run_dir / _SUMMARY_NAME, "design summary")
    try:
        powers = [float(p) for p in summary["design"]["power_w_per_kg"]]
    except (KeyError, TypeError, ValueError) as error:
        raise NotARunError(
            f"{run_dir / _SUMMARY_NAME} is not a jaxmicro design summary (missing or bad {error})"
        ) from None
    # The folders are found beside the summary, not at the paths it names: a moved or copied
    # run folder still reports.
    return summary, [campaign_dir(run_dir, p) for p in powers]


def write_report(run_dir: str | Path) -> Report:
    """Regenerates a design run's figures and tables and writes its ``report.md``.

    Args:
        run_dir: a study folder (with ``summary.json``, or still on its first pass: with
            ``power_<P>W_per_kg/`` campaign folders) or a single campaign folder (with
            ``log.jsonl`` and ``state.json``).

    Returns:
        The :class:`Report`: paths written and what was read.

    Raises:
        NotARunError: ``run_dir`` is missing, a file, or not a design run, or one of its files
            is damaged (one line naming it).
        NoSpaceError: the disk filled up.
    """
    from jaxmicro.design.objective import OBJECTIVES
    from jaxmicro.design.plots import plot_campaign, plot_optimum_path
    from jaxmicro.design.records import read_records
    from jaxmicro.design.space import DesignSpace
    from jaxmicro.design.table import RESULTS_NAME, write_results_csv

    run_dir = Path(run_dir)
    if not run_dir.exists():
        raise NotARunError(f"{run_dir}: no such folder")
    if not run_dir.is_dir():
        raise NotARunError(
            f"{run_dir} is a file; give a design run folder (a study with {_SUMMARY_NAME}, "
            f"or a campaign with {_LOG_NAME})"
        )
    if (run_dir / _SUMMARY_NAME).is_file():
        summary, folders = _study_folders(run_dir)
        header = None
        missing = [f for f in folders if not (f / _LOG_NAME).is_file()]
        if missing:
            raise NotARunError(f"{missing[0]}: this study's campaign is missing (no {_LOG_NAME})")
        space_dict, objective = summary["space"], summary.get("objective")
        study_rows = summary.get("campaigns") if isinstance(summary.get("campaigns"), list) else []
    elif (run_dir / _LOG_NAME).is_file() or _started_campaigns(run_dir):
        # One campaign, or a study still on its first pass (no summary.json yet): the settings
        # come from the (first) campaign log's header.
        folders = [run_dir] if (run_dir / _LOG_NAME).is_file() else _started_campaigns(run_dir)
        header = _campaign_header(folders[0])
        summary, study_rows = None, []
        space_dict, objective = header.get("space"), (header.get("design") or {}).get("objective")
    else:
        raise NotARunError(
            f"{run_dir} is not a jaxmicro design run: it has no {_SUMMARY_NAME} (a study) "
            f"and no {_LOG_NAME} (a campaign)"
        )
    if objective not in OBJECTIVES:
        raise NotARunError(f"{run_dir}: unknown objective {objective!r} in the run's settings")
    try:
        space = DesignSpace.from_dict(space_dict)
    except (KeyError, TypeError, ValueError) as error:
        raise NotARunError(f"{run_dir}: damaged design space in the run's settings ({error!r})") from None
    description = OBJECTIVES[objective][1]
    rows = list(study_rows) + [None] * (len(folders) - len(study_rows))
    campaigns = [_campaign_report(folder, space, row) for folder, row in zip(folders, rows, strict=True)]
    figures, tables = [], []
    for campaign in campaigns:
        result = campaign.result
        at = f" at {campaign.power_w_per_kg:g} W/kg" if math.isfinite(campaign.power_w_per_kg) else ""
        if result.evaluations:  # nothing to draw before the first evaluation
            figures.append(
                plot_campaign(
                    result.evaluations,
                    space,
                    campaign.folder / "campaign.png",
                    description,
                    f"{description}{at}",
                    optimum=result.best,
                    region=None if result.recommendation is None else result.recommendation.region,
                )
            )
        tables.append(
            write_results_csv(
                read_records(campaign.folder / _LOG_NAME), campaign.folder / RESULTS_NAME, objective
            )
        )
    if folders != [run_dir]:  # a study
        figures.append(
            plot_optimum_path(
                [c.power_w_per_kg for c in campaigns],
                [c.result.best for c in campaigns],
                space,
                run_dir / "optimum_path.png",
                description,
            )
        )
    figures.append(plot_best_so_far(campaigns, run_dir / BEST_SO_FAR_NAME, description))
    path = run_dir / REPORT_NAME
    linked = [f.name for f in figures if f.parent == run_dir and f.name != "campaign.png"]
    write_text_atomic(
        path,
        report_markdown(run_dir, campaigns, space, description, summary or header, linked),
        hint="run jaxmicro report again",
    )
    return Report(path, tuple(campaigns), tuple(figures), tuple(tables))


def plot_best_so_far(campaigns: Sequence[CampaignReport], path: str | Path, objective_label: str) -> Path:
    """The objective of the best evaluation after each evaluation, one line per campaign.

    Args:
        campaigns: the campaigns.
        path: the ``.png`` file.
        objective_label: the objective's description with its unit (the y axis).

    Returns:
        ``path``.
    """
    from jaxmicro.design.plots import _pyplot, _save

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for campaign in campaigns:
        trace = campaign.best_so_far
        power = campaign.power_w_per_kg
        name = f"{power:g} W/kg" if math.isfinite(power) else campaign.folder.name
        ax.step(range(1, len(trace) + 1), trace, where="post", marker="o", ms=3, label=name)
    ax.set_xlabel("evaluations")
    ax.set_ylabel(objective_label, fontsize=8)
    ax.set_title("best so far", fontsize=9)
    if campaigns:
        ax.legend(fontsize=7, loc="best")
    return _save(fig, path)


def _number(value: Any, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{float(value):.{digits}g}"


def _value_rows(values: Mapping[str, Any], rows: Sequence[tuple[str, str, float]]) -> list[str]:
    return [
        f"| {title} | {_number(None if values.get(key) is None else float(values[key]) * scale)} |"
        for key, title, scale in rows
    ]


def _campaign_markdown(
    campaign: CampaignReport, space: Any, description: str, run_dir: Path
) -> list[str]:
    from jaxmicro.design.recommendation import describe, objective_unit
    from jaxmicro.design.sensitivity import Sensitivity, most_important

    unit = objective_unit(description)
    result = campaign.result
    power = campaign.power_w_per_kg
    folder = campaign.folder.relative_to(run_dir).as_posix() if campaign.folder != run_dir else "."
    title = f"{power:g} W/kg" if math.isfinite(power) else campaign.folder.name
    n_failed = sum(campaign.failures.values())
    lines = [f"## {title}", ""]
    state = " (not finished)" if campaign.running else ""
    figure = f"Figure [`{folder}/campaign.png`]({folder}/campaign.png), t" if result.evaluations else "T"
    lines += [
        f"{len(result.evaluations)} of {campaign.budget} evaluations{state}, {n_failed} failed. "
        f"{figure}able [`{folder}/results.csv`]({folder}/results.csv).",
        "",
    ]
    best = result.best
    if best is None:
        lines += ["No successful evaluation: no optimum.", ""]
    else:
        labels = ", ".join(f"{k} {v:.4f}" for k, v in best.labels.items())
        error = best.objective_standard_error
        spread = f" +- {error:.2g}" if math.isfinite(error) else ""
        lines += [f"**Optimum**: {labels}; observed {best.objective:.4g}{spread} {unit} (mean over "
                  f"{len(best.seeds)} seed(s), +- its standard error).", ""]
        for line in describe(campaign.summary, unit).splitlines():
            for flag in ("ON THE EDGE:", "OUTSIDE ITS INTERVAL:"):
                line = line.replace(flag, f"**{flag[:-1]}**:")
            lines.append("- " + line)
        if campaign.summary is None:
            lines.append("- fewer than two successful evaluations: no posterior mean or region")
        lines += ["", "| at the optimum | value |", "|---|---|"]
        lines += _value_rows(best.properties, MICROSTRUCTURE_ROWS)
        lines += _value_rows(best.cell, CELL_ROWS)
        lines.append("")
        if campaign.sensitivities:
            steps = [Sensitivity.from_dict(d) for d in campaign.sensitivities]
            lines.append("Per step at the optimum: " + "; ".join(s.describe(unit) for s in steps) + ".")
            top = most_important(tuple(steps))
            if top is not None and len(steps) > 1:
                lines.append(f"Matters most here: {top.name}.")
            lines.append("")
    lines += _trace_markdown(campaign, space, unit)
    if campaign.failures:
        lines += ["| failure reason | evaluations |", "|---|---|"]
        lines += [f"| {reason.replace('|', '/')} | {count} |" for reason, count in campaign.failures.items()]
    else:
        lines.append("No failures.")
    lines.append("")
    return lines


def _trace_markdown(campaign: CampaignReport, space: Any, unit: str) -> list[str]:
    """The best-so-far trace as a table of the evaluations that improved it."""
    lines = [f"Best so far (the evaluations that improved it; [{unit}]):", "",
             "| evaluation | best so far | labels |", "|---|---|---|"]
    previous = math.nan
    for number, (value, evaluation) in enumerate(
        zip(campaign.best_so_far, campaign.result.evaluations, strict=True), start=1
    ):
        if math.isfinite(value) and not value == previous:
            labels = ", ".join(f"{k} {evaluation.labels[k]:.4f}" for k in space.free)
            lines.append(f"| {number} | {value:.4g} | {labels} |")
            previous = value
    if math.isnan(previous):
        lines.append("| - | n/a | no successful evaluation |")
    return [*lines, ""]


def report_markdown(
    run_dir: Path,
    campaigns: Sequence[CampaignReport],
    space: Any,
    description: str,
    settings: Mapping[str, Any] | None,
    figures: Sequence[str],
) -> str:
    """The text of ``report.md``.

    Args:
        run_dir: the run folder (links are relative to it).
        campaigns: the campaigns, in power order.
        space: the :class:`~jaxmicro.design.space.DesignSpace`.
        description: the objective's description with its unit.
        settings: the run's settings, with ``design`` and ``campaign`` entries (a study's
            ``summary.json`` or a campaign log's header); ``None``: not shown.
        figures: names of the run folder's figures to link.

    Returns:
        Markdown.
    """
    fixed = ", ".join(f"{k} {v:g}" for k, v in space.fixed.items()) or "none"
    lines = [f"# Design report: {run_dir.name}", ""]
    lines.append(f"{description}, optimising {', '.join(space.free)}; fixed: {fixed}.")
    if settings is not None:
        design, campaign = settings.get("design") or {}, settings.get("campaign") or {}
        kind = "half" if design.get("half_cell") else "full"
        lines.append(
            f"{design.get('cell_format', '?')} {kind} cell, {design.get('basis', '?')} basis; budget "
            f"{campaign.get('budget', '?')} per power in batches of {campaign.get('batch_size', '?')}, "
            f"{design.get('seeds_per_label', '?')} seed(s) per label."
        )
    lines += ["", "Figures: " + ", ".join(f"[`{name}`]({name})" for name in figures) + ".", ""]
    for campaign in campaigns:
        lines += _campaign_markdown(campaign, space, description, run_dir)
    return "\n".join(lines).rstrip() + "\n"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``jaxmicro report``'s options."""
    parser.add_argument(
        "run_dir",
        metavar="RUN_DIR",
        help="a design run folder: a study (with summary.json) or one campaign (with log.jsonl)",
    )
    parser.add_argument(
        "--quiet", "-q", action="store_true", help="print only the path of the report (and errors)"
    )


def run(args: argparse.Namespace) -> int:
    """Writes the report of ``args.run_dir`` and prints where it is, with a line per campaign.

    Returns:
        0 (errors are raised as one-line :class:`NotARunError`).
    """
    report = write_report(args.run_dir)
    if not args.quiet:
        for campaign in report.campaigns:
            power = campaign.power_w_per_kg
            name = f"{power:7g} W/kg" if math.isfinite(power) else campaign.folder.name
            best = campaign.result.best
            n_failed = sum(campaign.failures.values())
            head = f"{name}: {len(campaign.result.evaluations)} evaluations, {n_failed} failed"
            if best is None:
                print(f"{head}; no successful evaluation")
                continue
            labels = ", ".join(f"{k} {v:.4f}" for k, v in best.labels.items())
            print(f"{head}; best {best.objective:.4g} at {labels}")
        print("figures: " + ", ".join(str(f) for f in report.figures))
        print("tables:  " + ", ".join(str(t) for t in report.tables))
    print(f"report:  {report.path}")
    return 0
