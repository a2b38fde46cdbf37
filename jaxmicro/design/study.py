"""A design study: one campaign per cell-level power, their figures and a summary.

This is what ``jaxmicro design`` runs. Each power gets its own resumable campaign folder
``power_<P>W_per_kg/`` (log, state, campaign figure, slices and TIFF of the optimum, and
``sensitivities.json``: the objective's and the properties' change per step of each free label at
the optimum; with a refinement, ``refine.jsonl``: the gradient steps from the campaign's best,
:mod:`jaxmicro.design.refine`); the study folder gets ``summary.json`` and ``optimum_path.png`` (the paper's
Figure 1 final panel).
The study folder and each campaign folder are locked for the run (one writer at a time).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from jaxmicro._files import atomic_path, no_space_guard, remove_stale_temporaries, run_lock
from jaxmicro.cell import CellModelConfig
from jaxmicro.data.volume_io import write_volume
from jaxmicro.design.campaign import LOG_NAME, STATE_NAME, Campaign, CampaignResult, CampaignSettings
from jaxmicro.design.objective import DesignObjective, DesignSettings, Evaluation
from jaxmicro.design.plots import plot_campaign, plot_optimum_path
from jaxmicro.design.records import read_records, write_json_atomic
from jaxmicro.design.refine import RefineResult, RefineSettings, refine
from jaxmicro.design.sensitivity import sensitivities
from jaxmicro.design.space import DesignSpace
from jaxmicro.design.table import RESULTS_NAME, write_results_csv
from jaxmicro.generator import VolumeGenerator
from jaxmicro.generator.plotting import save_slices_png

SUMMARY_NAME = "summary.json"
SENSITIVITIES_NAME = "sensitivities.json"
REFINE_NAME = "refine.jsonl"


@dataclasses.dataclass(frozen=True)
class StudyResult:
    """A finished study.

    Attributes:
        out_dir: the study folder.
        powers_w_per_kg: the cell-level powers, one campaign each [W/kg].
        campaigns: the campaign results, in the order of the powers.
        summary_path: ``summary.json``.
        figures: every figure written.
    """

    out_dir: Path
    powers_w_per_kg: tuple[float, ...]
    campaigns: tuple[CampaignResult, ...]
    summary_path: Path
    figures: tuple[Path, ...]


def campaign_dir(out_dir: str | Path, power_w_per_kg: float) -> Path:
    """The folder of the campaign at one power."""
    return Path(out_dir) / f"power_{power_w_per_kg:g}W_per_kg"


def _check_powers(powers: Sequence[float]) -> tuple[float, ...]:
    powers = tuple(float(p) for p in powers)
    if not powers:
        raise ValueError("give at least one cell-level power [W/kg]")
    if len(set(powers)) != len(powers):
        raise ValueError(f"powers {powers} repeat a value; give each power once")
    for power in powers:
        if not power > 0:
            raise ValueError(f"powers must be positive [W/kg], got {power}")
    return powers


def _optimum_figures(
    objective: DesignObjective, best: Evaluation, folder: Path, batch_size: int
) -> list[Path]:
    # Repeated to the campaign's batch size so the compiled generation is reused.
    labels = np.repeat(best.label_array()[None], batch_size, axis=0)
    volumes, _ = objective.measure(labels)
    seeds = objective.seeds
    titles = [f"optimum, seed {s}" for s in seeds]
    tiff = folder / "optimum.tif"
    try:
        with no_space_guard(tiff):
            write_volume(tiff, volumes[0, 0])  # seed 0, 0/128/255 grey
    except BaseException:
        remove_stale_temporaries(folder, tiff.name)  # write_volume's own temporary file
        raise
    png = folder / "optimum_slices.png"
    with atomic_path(png) as tmp:
        save_slices_png(tmp, volumes[:, 0], titles, voxel_size_m=objective.generator.voxel_size_m)
    return [tiff, png]


def _optimum_sensitivities(
    objective: DesignObjective,
    space: DesignSpace,
    best: Evaluation,
    folder: Path,
    batch_size: int,
    refined: RefineResult | None = None,
) -> list[dict[str, Any]]:
    """The sensitivities at the optimum, computed once and kept in the campaign folder (a
    resumed or re-reported study reads them back); a difference refinement whose last gradient
    was taken at the optimum gives them without evaluating (the same differences)."""
    stored = stored_sensitivities(folder, best.labels)
    if stored is not None:
        return stored
    if refined is not None and refined.gradient_labels and refined.gradient_labels[-1] == best.labels:
        found = [s.to_dict() for s in refined.gradients[-1]]
    else:
        found = [s.to_dict() for s in sensitivities(objective, space, best.labels, batch_size=batch_size)]
    write_json_atomic(folder / SENSITIVITIES_NAME, {"labels": best.labels, "sensitivities": found})
    return found


def stored_sensitivities(folder: Path, labels: dict[str, float]) -> list[dict[str, Any]] | None:
    """The sensitivities kept in a campaign folder for these labels (``Sensitivity.to_dict()``
    each), or ``None`` when none are kept for them.

    Raises:
        ValueError: the file is not valid JSON.
    """
    path = Path(folder) / SENSITIVITIES_NAME
    if not path.is_file():
        return None
    try:
        stored = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: not valid JSON ({error}); delete it to recompute") from None
    if isinstance(stored, dict) and stored.get("labels") == json.loads(json.dumps(labels)):
        return stored.get("sensitivities")
    return None


def _best_summary(
    result: CampaignResult, space: DesignSpace, generator: VolumeGenerator
) -> dict[str, Any] | None:
    best = result.best
    if best is None:
        return None
    keys = (
        "specific_energy_wh_kg",
        "energy_density_wh_l",
        "electrode_specific_energy_wh_kg",
        "power_w_per_kg",
        "c_rate",
        "capacity_ah",
        "energy_wh",
        "duration_s",
        "cell_mass_kg",
    )
    return {
        "labels": best.labels,
        "objective": best.objective,
        "properties": best.properties,
        "cell": {k: best.cell.get(k) for k in keys if k in best.cell},
        "objective_standard_error": best.objective_standard_error,
        "recommendation": result.summary(space, generator.label_ranges),
    }


def _refinement_summary(found: RefineResult) -> dict[str, Any]:
    """What ``summary.json`` keeps of a refinement (its log keeps everything)."""
    return {
        "start": {"labels": found.start.labels, "objective": found.start.objective},
        "best": {"labels": found.best.labels, "objective": found.best.objective},
        "gain": found.best.objective - found.start.objective,
        "n_evaluations": len(found.evaluations),
        "n_gradients": len(found.gradients),
        "stopped": found.stopped,
    }


def run_study(
    generator: VolumeGenerator,
    powers_w_per_kg: Sequence[float],
    space: DesignSpace,
    out_dir: str | Path,
    design: DesignSettings = DesignSettings(),
    campaign: CampaignSettings = CampaignSettings(),
    *,
    refinement: RefineSettings | None = None,
    resume: bool = False,
    cell_config: CellModelConfig | None = None,
    executor: concurrent.futures.Executor | None = None,
    header: dict[str, Any] | None = None,
    progress: bool = True,
) -> StudyResult:
    """Runs (or resumes) one campaign per power and writes figures and the summary.

    Args:
        generator: the trained generator.
        powers_w_per_kg: cell-level discharge powers [W/kg]; one campaign each.
        space: the free labels and bounds.
        out_dir: the study folder.
        design: objective and cell settings (its power is replaced by each of the powers).
        campaign: budget, batch size, initial design, seed (shared by the campaigns).
        refinement: after each campaign, refine its best by gradient steps
            (:func:`~jaxmicro.design.refine.refine`, logged to ``refine.jsonl``); the optimum's
            figures and sensitivities are then those of the better of the two. ``None``: no
            refinement.
        resume: continue campaigns found in ``out_dir`` (missing ones start).
        cell_config: PyBaMM modelling choices.
        executor: where cell simulations run (``None``: in this process).
        header: extra JSON for each log header (e.g. the command line).
        progress: show progress bars.

    Raises:
        FileExistsError: a campaign folder exists and ``resume`` is False (checked before any
            work starts).
        RunInUseError: another process is writing the study folder or one of its campaigns.
        NoSpaceError: the disk filled up (what was logged is kept; resume after freeing space).
    """
    powers = _check_powers(powers_w_per_kg)
    generator.check_shape((design.volume_size,) * 3)  # a size it cannot make fails before any folder
    out_dir = Path(out_dir)
    with run_lock(out_dir):
        remove_stale_temporaries(out_dir)
        return _run_study_locked(
            generator,
            powers,
            space,
            out_dir,
            design,
            campaign,
            refinement,
            resume,
            cell_config,
            executor,
            header,
            progress,
        )


def _run_study_locked(
    generator: VolumeGenerator,
    powers: tuple[float, ...],
    space: DesignSpace,
    out_dir: Path,
    design: DesignSettings,
    campaign: CampaignSettings,
    refinement: RefineSettings | None,
    resume: bool,
    cell_config: CellModelConfig | None,
    executor: concurrent.futures.Executor | None,
    header: dict[str, Any] | None,
    progress: bool,
) -> StudyResult:
    folders = [campaign_dir(out_dir, p) for p in powers]
    if not resume:
        taken = [f for f in folders if (f / LOG_NAME).exists() or (f / STATE_NAME).exists()]
        if taken:
            raise FileExistsError(
                f"{taken[0]} already holds a campaign; pass --resume to continue or choose another --out"
            )
    start = time.perf_counter()
    results, figures, rows = [], [], []
    for power, folder in zip(powers, folders, strict=True):
        settings = dataclasses.replace(design, power_w_per_kg=power)
        objective = DesignObjective(generator, settings, cell_config, executor)
        has_campaign = (folder / STATE_NAME).exists() or (folder / LOG_NAME).exists()
        result = Campaign(
            objective,
            space,
            folder,
            campaign,
            resume=resume and has_campaign,
            header=header,
            progress=progress,
        ).run()
        results.append(result)
        write_results_csv(read_records(folder / LOG_NAME), folder / RESULTS_NAME, settings.objective)
        figures.append(
            plot_campaign(
                result.evaluations,
                space,
                folder / "campaign.png",
                settings.objective_description,
                f"{settings.objective_description} at {power:g} W/kg",
                optimum=result.best,
                region=None if result.recommendation is None else result.recommendation.region,
            )
        )
        found, refined, optimum = None, None, result.best
        if refinement is not None and optimum is not None:
            with tqdm(
                total=refinement.max_evaluations,
                desc=f"refine {power:g} W/kg",
                unit="eval",
                disable=not progress,
            ) as bar:
                refined = refine(
                    objective, space, optimum, refinement, folder / REFINE_NAME, lambda _: bar.update()
                )
            optimum = refined.best
        if optimum is not None:
            figures += _optimum_figures(objective, optimum, folder, campaign.batch_size)
            # A chain refinement's gradients are not the differences the summary reports.
            reusable = refined if refinement is not None and refinement.method == "differences" else None
            found = _optimum_sensitivities(objective, space, optimum, folder, campaign.batch_size, reusable)
        rows.append(
            {
                "power_w_per_kg": power,
                "folder": str(folder),
                "n_evaluations": len(result.evaluations),
                "n_failed": result.n_failed,
                "best": _best_summary(result, space, generator),
                "refinement": None if refined is None else _refinement_summary(refined),
                "sensitivities": found,
            }
        )
    figures.append(
        plot_optimum_path(
            powers,
            [r.best for r in results],
            space,
            out_dir / "optimum_path.png",
            design.objective_description,
        )
    )
    summary_path = out_dir / SUMMARY_NAME
    write_json_atomic(
        summary_path,
        {
            "objective": design.objective,
            "objective_description": design.objective_description,
            "space": space.to_dict(),
            "campaign": dataclasses.asdict(campaign),
            "refinement": None if refinement is None else dataclasses.asdict(refinement),
            "design": design.to_dict() | {"power_w_per_kg": list(powers)},
            "campaigns": rows,
            "figures": [str(f) for f in figures],
            "wall_time_s_this_run": time.perf_counter() - start,
        },
    )
    return StudyResult(out_dir, powers, tuple(results), summary_path, tuple(figures))
