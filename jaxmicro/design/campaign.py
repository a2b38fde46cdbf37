"""A Bayesian-optimisation campaign over manufacturing labels that survives being killed.

A :class:`Campaign` repeats: ask the optimiser for a batch of labels, evaluate them with a
:class:`~jaxmicro.design.objective.DesignObjective`, tell the optimiser the objectives. Its
folder holds

* ``log.jsonl``: a header (the space, the campaign's, design's and cell model's settings, the
  generator), then one ``proposal`` record per batch and one ``evaluation`` record
  per label, appended (and fsynced) as each completes;
* ``state.json``: the optimiser's whole state and the pending batch, replaced atomically after
  every ask and every tell.

Each label's objective is told to the optimiser with its standard error over seeds, which the
GP uses as known noise; the campaign's answer is :meth:`jaxmicro.bo.Optimizer.recommend`'s: the
evaluated label with the best lower confidence bound of its posterior (the objective it most
surely reaches), with a confidence interval, the region of labels
not distinguishable from it, and whether it sits on a bound of the space.

Resuming (``resume=True``) reloads the state, evaluates only the labels of the pending batch
that the log does not hold, and goes on; so nothing logged is lost or computed twice, and a
resumed campaign makes the proposals the uninterrupted one would have made.

One process at a time: :meth:`Campaign.run` holds the folder's lock
(:func:`jaxmicro._files.run_lock`) from start to end, and refuses to start while another
process holds it.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from jaxmicro._files import plain_json, remove_stale_temporaries, run_lock
from jaxmicro.bo import Optimizer
from jaxmicro.bo.acquisition import check_acquisition
from jaxmicro.bo.recommend import Recommendation
from jaxmicro.data.simulator import check_seed
from jaxmicro.design.objective import DesignObjective, DesignSettings, Evaluation
from jaxmicro.design.recommendation import summarise
from jaxmicro.design.records import append_record, read_records, repair_records, write_json_atomic
from jaxmicro.design.space import DesignSpace

LOG_NAME = "log.jsonl"
STATE_NAME = "state.json"
_STATE_FORMAT = "jaxmicro-campaign-state"


@dataclasses.dataclass(frozen=True)
class CampaignSettings:
    """How a campaign spends its evaluations.

    Attributes:
        budget: total labels evaluated (initial design included).
        batch_size: labels proposed and evaluated together (generation and characterisation
            of a batch is one jitted computation; its cells run in parallel on an executor).
        n_initial: labels from a scrambled Sobol design before the GP takes over.
        seed: seeds the optimiser (the generator seeds are the objective's).
        acquisition: the optimiser's acquisition function (``"logei"`` or ``"ucb"``).
        input_warping: the GP warps each label before its kernel (``jaxmicro.bo.Settings``).
        confirm_seeds: once the budget is spent, the recommended label is evaluated again on
            this many fresh seeds (:meth:`DesignObjective.confirm`; 0: not). Every label of a
            campaign is drawn from the same seeds (common random numbers: differences between
            labels are precise), so the campaign's level carries those seeds' shared error,
            estimated from as few as 2 of them; the fresh seeds measure the level
            independently (docs/design.md, "Are the error bars right?").
        confirm_max_seeds: the confirmation is adaptive: while its seed standard error is
            above the design's ``target_relative_standard_error`` of its value, another
            ``confirm_seeds`` fresh seeds, up to this many in all.
    """

    budget: int = 12
    batch_size: int = 2
    n_initial: int = 4
    seed: int = 0
    acquisition: str = "logei"
    input_warping: bool = False
    confirm_seeds: int = 8
    confirm_max_seeds: int = 32

    def __post_init__(self) -> None:
        value = self.confirm_seeds
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value == 1 or value < 0:
            raise ValueError(f"confirm_seeds must be 0 (no confirmation) or at least 2, got {value!r}")
        most = self.confirm_max_seeds
        if isinstance(most, bool) or not isinstance(most, int | np.integer) or most < value:
            raise ValueError(
                f"confirm_max_seeds must be a whole number at least confirm_seeds ({value}), got {most!r}"
            )
        for name in ("budget", "batch_size", "n_initial"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer):
                raise ValueError(f"{name} must be a whole number, got {value!r}")
            if value < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")
        check_seed(self.seed, "seed")
        check_acquisition(self.acquisition)
        if self.n_initial > self.budget:
            raise ValueError(f"n_initial ({self.n_initial}) cannot exceed the budget ({self.budget})")


@dataclasses.dataclass(frozen=True)
class CampaignResult:
    """What a finished campaign found.

    Attributes:
        out_dir: the campaign folder.
        evaluations: every evaluation, in the order it was logged.
        best: the recommended evaluation: the label with the best 95 % lower confidence bound of
            its GP posterior (not the
            luckiest sample); with fewer than two successes the highest objective; ``None`` if
            all failed.
        recommendation: the optimiser's :class:`~jaxmicro.bo.recommend.Recommendation` (points
            in the space's free labels), ``None`` with fewer than two successes.
        confirmation: ``best`` evaluated again on fresh seeds (``CampaignSettings.confirm_seeds``),
            ``None`` when not (yet) done.
        target_relative_error: the design's ``target_relative_standard_error`` [-], which the
            confirmation's seed standard error is judged against.
    """

    out_dir: Path
    evaluations: tuple[Evaluation, ...]
    best: Evaluation | None
    recommendation: Recommendation | None = None
    confirmation: Evaluation | None = None
    target_relative_error: float = DesignSettings.target_relative_standard_error

    @property
    def log_path(self) -> Path:
        return self.out_dir / LOG_NAME

    @property
    def n_failed(self) -> int:
        return sum(e.failed for e in self.evaluations)

    def summary(
        self, space: DesignSpace, label_ranges: Mapping[str, tuple[float, float]]
    ) -> dict[str, Any] | None:
        """The recommendation as JSON-ready data, with its warnings' evidence (the evaluations)
        and the confirmation: :func:`jaxmicro.design.recommendation.summarise`; ``None``
        without a recommendation.

        Args:
            space: the campaign's design space.
            label_ranges: the generator's trained range per label.
        """
        return summarise(self.recommendation, space, label_ranges, self.evaluations, self.confirmation,
                         self.target_relative_error)


def best_evaluation(evaluations: tuple[Evaluation, ...] | list[Evaluation]) -> Evaluation | None:
    """The successful evaluation with the highest objective (first one on ties)."""
    ok = [e for e in evaluations if not e.failed]
    return max(ok, key=lambda e: e.objective) if ok else None


def campaign_result(out_dir: str | Path, optimizer: Optimizer) -> CampaignResult:
    """The result of the campaign logged in ``out_dir`` whose optimiser has been told every
    evaluation (no pending batch): its evaluations and its recommendation."""
    out_dir = Path(out_dir)
    logged = read_records(out_dir / LOG_NAME)
    records = [r for r in logged if r.get("type") == "evaluation"]
    evaluations = tuple(Evaluation.from_dict(r) for r in records)
    # Every label's volumes are drawn from the same seeds (common random numbers): the seeds'
    # error is shared between neighbouring labels, so the optimum's interval keeps its own.
    recommendation = optimizer.recommend(shared_noise=True)
    if recommendation is None:
        return CampaignResult(out_dir, evaluations, best_evaluation(evaluations))
    design = logged[0].get("design", {}) if logged else {}
    target = design.get("target_relative_standard_error", DesignSettings.target_relative_standard_error)
    # The optimiser was told batch by batch, each in index order.
    told = sorted(records, key=lambda r: (r["batch"], r["index"]))
    best = Evaluation.from_dict(told[recommendation.index])
    confirmations = [r for r in logged if r.get("type") == "confirmation" and r.get("labels") == best.labels]
    confirmation = Evaluation.from_dict(confirmations[-1]) if confirmations else None
    return CampaignResult(out_dir, evaluations, best, recommendation, confirmation, target)


def load_optimizer(state_path: str | Path) -> tuple[Optimizer, dict[str, Any] | None, int]:
    """The optimiser, pending batch and next batch number of a campaign's ``state.json``.

    Raises:
        ValueError: the file is not a campaign state or is damaged.
    """
    state_path = Path(state_path)
    try:
        state = json.loads(state_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{state_path}: not valid JSON ({error}); the state is damaged") from None
    if not isinstance(state, dict) or state.get("format") != _STATE_FORMAT:
        raise ValueError(f"{state_path} is not a jaxmicro campaign state")
    try:
        return Optimizer.from_dict(state["optimizer"]), state["pending"], int(state["next_batch"])
    except (KeyError, TypeError, IndexError) as error:
        raise ValueError(
            f"{state_path}: damaged campaign state ({type(error).__name__}: {error}); "
            "restore it or start a new campaign"
        ) from None


class Campaign:
    """BO over a design space with a design objective, logged to ``out_dir``.

    Args:
        objective: evaluates labels (generator, settings, cell model, executor).
        space: the free labels and their bounds (inside the generator's trained range).
        out_dir: the campaign folder.
        settings: budget, batch size, initial design, seed.
        resume: continue the campaign in ``out_dir``; without it an existing campaign there
            is an error (never overwritten).
        header: extra JSON written into the log's header record (e.g. the command line).
        progress: show a progress bar.

    Raises:
        FileExistsError: ``out_dir`` holds a campaign and ``resume`` is False.
        FileNotFoundError: ``resume`` with no campaign in ``out_dir``.
        ValueError: resuming with a different space or settings than the logged campaign.
    """

    def __init__(
        self,
        objective: DesignObjective,
        space: DesignSpace,
        out_dir: str | Path,
        settings: CampaignSettings = CampaignSettings(),
        *,
        resume: bool = False,
        header: dict[str, Any] | None = None,
        progress: bool = True,
    ) -> None:
        self.objective = objective
        self.space = space
        self.settings = settings
        self.out_dir = Path(out_dir)
        self.progress = progress
        self.resume = resume
        self._started = False
        self._header = {
            "type": "campaign",
            "space": space.to_dict(),
            "campaign": dataclasses.asdict(settings),
            "design": objective.settings.to_dict(),
            "cell": objective.cell_config.to_dict(),
            "generator": {
                "label_ranges": {k: list(v) for k, v in objective.generator.label_ranges.items()},
                "voxel_size_m": objective.generator.voxel_size_m,
                "info": dict(objective.generator.info),
            },
            **(header or {}),
        }
        self._check_folder()

    def _check_folder(self) -> None:
        if self.out_dir.exists() and not self.out_dir.is_dir():
            raise NotADirectoryError(f"{self.out_dir} is a file, not a campaign folder; choose another one")
        exists = (self.out_dir / STATE_NAME).is_file() or (self.out_dir / LOG_NAME).is_file()
        if exists and not self.resume:
            raise FileExistsError(
                f"{self.out_dir} already holds a campaign; pass resume=True (--resume) to continue it "
                "or choose another output folder"
            )
        if self.resume and not exists:
            raise FileNotFoundError(f"no campaign to resume in {self.out_dir} (no {STATE_NAME})")
        if self.resume:
            self._check_same_campaign()

    @property
    def log_path(self) -> Path:
        return self.out_dir / LOG_NAME

    @property
    def state_path(self) -> Path:
        return self.out_dir / STATE_NAME

    def _check_same_campaign(self) -> None:
        records = read_records(self.log_path)
        if not records or records[0].get("type") != "campaign":
            raise ValueError(f"{self.log_path} does not start with a campaign header; it cannot be resumed")
        logged = records[0]
        # A campaign setting added since the log was written reads as its default there.
        added = {"campaign": dataclasses.asdict(CampaignSettings())}
        for key in ("space", "campaign", "design", "cell"):
            mine = json.loads(json.dumps(self._header[key]))
            theirs = logged.get(key)
            if key == "cell" and theirs is None:
                continue  # logged before 2026-12-08, without its cell model: not checked
            if key in added and isinstance(theirs, dict):
                theirs = added[key] | theirs
            if theirs != mine:
                raise ValueError(
                    f"cannot resume {self.out_dir}: its {key} settings {logged.get(key)} differ from "
                    f"these {mine}; use the original options or a new output folder"
                )

    def _new_optimizer(self) -> Optimizer:
        return Optimizer(
            bounds=list(self.space.bounds),
            seed=self.settings.seed,
            n_initial=self.settings.n_initial,
            acquisition=self.settings.acquisition,
            input_warping=self.settings.input_warping,
        )

    def _load_state(self) -> tuple[Optimizer, dict[str, Any] | None, int]:
        if not self.state_path.is_file():
            return self._new_optimizer(), None, 0
        return load_optimizer(self.state_path)

    def _save_state(self, optimizer: Optimizer, pending: dict[str, Any] | None, next_batch: int) -> None:
        write_json_atomic(
            self.state_path,
            {
                "format": _STATE_FORMAT,
                "version": 1,
                "optimizer": optimizer.to_dict(),
                "pending": pending,
                "next_batch": next_batch,
            },
        )

    def run(self) -> CampaignResult:
        """Runs (or resumes) the campaign to its budget and returns what it found.

        Raises:
            RunInUseError: another process is running a campaign in this folder.
            NoSpaceError: the disk filled up (what was logged is kept; resume after freeing space).
        """
        with run_lock(self.out_dir):
            if not self._started:
                self._check_folder()  # again, now that no other process can be writing
            self._started = True  # the folder's campaign is this one's from here on
            remove_stale_temporaries(self.out_dir)
            return self._run_locked()

    def _run_locked(self) -> CampaignResult:
        repair_records(self.log_path)
        if not self.log_path.is_file():
            append_record(self.log_path, self._header | {"time": time.time()})
        optimizer, pending, next_batch = self._load_state()
        records = read_records(self.log_path)
        evaluated = {(r["batch"], r["index"]): r for r in records if r.get("type") == "evaluation"}
        bar = tqdm(
            total=self.settings.budget,
            initial=len(evaluated),
            desc=f"design {self.objective.settings.power_w_per_kg:g} W/kg",
            unit="eval",
            disable=not self.progress,
        )
        while True:
            if pending is not None:
                self._finish_batch(pending, evaluated, records, bar)
                x = np.asarray(pending["x"], dtype=np.float64)
                told = [evaluated[(pending["batch"], i)] for i in range(len(x))]
                optimizer.tell(
                    x,
                    [_objective_or_nan(r) for r in told],
                    [r.get("objective_standard_error") for r in told],  # None/NaN: unknown
                )
                pending = None
                self._save_state(optimizer, pending, next_batch)
            remaining = self.settings.budget - len(evaluated)
            if remaining <= 0:
                break
            start = time.perf_counter()
            x = np.asarray(optimizer.ask(min(self.settings.batch_size, remaining)), dtype=np.float64)
            pending = {"batch": next_batch, "x": x.tolist(), "ask_time_s": time.perf_counter() - start}
            next_batch += 1
            self._save_state(optimizer, pending, next_batch)
        bar.close()
        result = campaign_result(self.out_dir, optimizer)
        if result.recommendation is not None and self._confirmation_unfinished(result.confirmation):
            result = self._confirm(result)
        return result

    def _confirmation_unfinished(self, logged: Evaluation | None) -> bool:
        """Whether the recommendation still wants (more) fresh seeds after ``logged``."""
        settings = self.settings
        if not settings.confirm_seeds:
            return False
        return logged is None or (
            logged.above_target(self.objective.settings.target_relative_standard_error)
            and len(logged.seeds) + settings.confirm_seeds <= settings.confirm_max_seeds
        )

    def _confirm(self, result: CampaignResult) -> CampaignResult:
        """Evaluates the recommended label on fresh seeds, logging a ``confirmation`` record
        after each block (a resumed or rerun campaign reads the last one and draws again only
        when it wants more seeds; blocks logged before a crash are not logged twice)."""
        best, logged = result.best, result.confirmation
        x = self.space.point(best.labels)[None]
        cells = self.space.cell_variables(x)
        records: list[dict[str, Any]] = []
        bar = tqdm(desc=f"confirm {self.objective.settings.power_w_per_kg:g} W/kg", unit="block",
                   disable=not self.progress)

        def log(evaluation: Evaluation) -> None:
            bar.set_postfix(seeds=len(evaluation.seeds), objective=f"{evaluation.objective:.4g}",
                            error=f"{evaluation.objective_standard_error:.2g}", refresh=False)
            bar.update(1)
            if logged is not None and len(evaluation.seeds) <= len(logged.seeds):
                return
            # The record carries the recommended evaluation's labels exactly (the lookup's key).
            record = {"type": "confirmation", **evaluation.to_dict(), "labels": best.labels,
                      "time": time.time()}
            append_record(self.log_path, record)
            records.append(record)

        settings = self.settings
        self.objective.confirm(
            self.space.full_labels(x)[0], settings.confirm_seeds, None if cells is None else cells[0],
            max_seeds=settings.confirm_max_seeds, on_block=log,
        )
        bar.close()
        if not records:  # the logged confirmation was already the last block
            return result
        # As read back from the log (NaN -> null); the recommendation itself is unchanged.
        return dataclasses.replace(result, confirmation=Evaluation.from_dict(plain_json(records[-1])))

    def _finish_batch(
        self,
        pending: dict[str, Any],
        evaluated: dict[tuple[int, int], dict[str, Any]],
        records: list[dict[str, Any]],
        bar: tqdm,
    ) -> None:
        batch = pending["batch"]
        if not any(r.get("type") == "proposal" and r["batch"] == batch for r in records):
            proposal = {
                "type": "proposal",
                "batch": batch,
                "x": pending["x"],
                "labels": self.space.full_labels(pending["x"]).tolist(),
                "ask_time_s": pending.get("ask_time_s"),
                "time": time.time(),
            }
            append_record(self.log_path, proposal)
            records.append(proposal)
        todo = [i for i in range(len(pending["x"])) if (batch, i) not in evaluated]
        if not todo:
            return
        x = np.asarray(pending["x"])[todo]

        def log(position: int, evaluation: Evaluation) -> None:
            record = {"type": "evaluation", "batch": batch, "index": todo[position], **evaluation.to_dict()}
            record["time"] = time.time()
            append_record(self.log_path, record)
            evaluated[(batch, todo[position])] = json.loads(json.dumps(record, default=float))
            bar.update(1)
            best = best_evaluation([Evaluation.from_dict(r) for r in evaluated.values()])
            if best is not None:
                bar.set_postfix(best=f"{best.objective:.4g}")

        labels, cells = self.space.full_labels(x), self.space.cell_variables(x)
        self.objective(labels, on_evaluation=log, cell_variables=cells)


def _objective_or_nan(record: dict[str, Any]) -> float:
    value = record.get("objective")
    return math.nan if record.get("failed") or value is None else float(value)
