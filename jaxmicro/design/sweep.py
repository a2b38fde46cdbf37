"""Dense sweeps: evaluate a grid (or list) of labels without BO, in chunks, resumably.

A sweep is the ground truth a campaign's surrogate is judged against. Labels are evaluated
``chunk_size`` at a time (generation and characterisation of a chunk is one jitted computation,
so a chunk size that divides the grid avoids recompiling), each evaluation is appended to a
JSON-lines file as it completes, and a rerun skips the labels already in the file.

With a ``mesh`` (:func:`jaxmicro.design.sharding.batch_mesh`), generation and characterisation
of each chunk are sharded over the mesh's devices along the label axis, every chunk padded to
the same size (a multiple of the device count) so that a sweep compiles once.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import jax
import numpy as np
from tqdm.auto import tqdm

from jaxmicro._files import run_lock
from jaxmicro.design.objective import DesignObjective, Evaluation
from jaxmicro.design.records import append_record, read_records, repair_records
from jaxmicro.design.space import DesignSpace
from jaxmicro.design.table import write_results_csv

if TYPE_CHECKING:
    from jax.sharding import Mesh


def label_grid(space: DesignSpace, points_per_label: int | Sequence[int]) -> np.ndarray:
    """A full-factorial grid over the free labels (bounds included), as full labels ``(n, 3)``.

    Args:
        space: the design space.
        points_per_label: grid points per free label (one number for all, or one each).
    """
    if space.cell_variable is not None:
        raise ValueError(
            f"a label grid cannot vary {space.cell_variable}; sweep the labels once per value of it, "
            "or optimise it with a campaign"
        )
    counts = [points_per_label] * space.dim if isinstance(points_per_label, int) else list(points_per_label)
    if len(counts) != space.dim or min(counts) < 1:
        raise ValueError(f"need a positive number of grid points for each of {space.free}, got {counts}")
    axes = [np.linspace(lo, hi, n) for (lo, hi), n in zip(space.bounds, counts, strict=True)]
    return space.full_labels(np.array(list(itertools.product(*axes))))


def sweep(
    objective: DesignObjective,
    labels: np.ndarray,
    path: str | Path,
    chunk_size: int = 8,
    progress: bool = True,
    *,
    mesh: Mesh | None = None,
    properties_only: bool = False,
) -> list[Evaluation]:
    """Evaluates every label, appending ``{"type": "sweep", "index": i, ...}`` records to ``path``.

    At the end the whole sweep is also written as a CSV table beside it (:func:`table_path`:
    ``sweep.jsonl`` -> ``sweep.csv``; :func:`jaxmicro.design.table.results_rows`), one row per
    label in input order.

    Args:
        objective: evaluates labels.
        labels: ``(n, 3)`` labels.
        path: the ``.jsonl`` results file; labels whose index it already holds are skipped
            (after checking that they are the same labels).
        chunk_size: labels generated and characterised together (with a ``mesh``, rounded up
            to a multiple of its device count).
        progress: show a progress bar.
        mesh: shard generation and characterisation over this 1-D ``"batch"`` mesh
            (:func:`~jaxmicro.design.sharding.batch_mesh`); ``None``: the objective's device.
            With several processes (``jax.distributed``), every process calls with the same
            arguments; only process 0 simulates cells and writes ``path``, which every process
            then reads back (so it must be on a shared filesystem).
        properties_only: skip the cell simulations (see
            :func:`~jaxmicro.design.sharding.evaluate_sharded`).

    Returns:
        One :class:`Evaluation` per label, in input order.

    Raises:
        ValueError: ``path`` holds results for different labels, or properties-only results
            when cells are wanted.
        RunInUseError: another process is writing ``path`` (the writer holds
            ``.<name>.lock`` beside it for the whole sweep).
        NoSpaceError: the disk filled up (rerun to resume).
    """
    labels = np.atleast_2d(np.asarray(labels, dtype=np.float64))
    if labels.ndim != 2 or labels.shape[1] != 3:
        raise ValueError(f"labels must be (n, 3) (am_wt, porosity, adhesion), got shape {labels.shape}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(
            f"{path} is a folder; give the sweep a results file such as {path / 'sweep.jsonl'}"
        )
    writer = jax.process_index() == 0
    lock = run_lock(path.parent, f".{path.name}.lock") if writer else contextlib.nullcontext()
    with lock:
        return _sweep(objective, labels, path, chunk_size, progress, mesh, properties_only, writer)


def _sweep(
    objective: DesignObjective,
    labels: np.ndarray,
    path: Path,
    chunk_size: int,
    progress: bool,
    mesh: Mesh | None,
    properties_only: bool,
    writer: bool,
) -> list[Evaluation]:
    from jaxmicro.design.objective import NOT_SIMULATED
    from jaxmicro.design.sharding import evaluate_sharded, padded_size

    if mesh is not None:
        chunk_size = padded_size(chunk_size, mesh.size)
    if writer:
        repair_records(path)
    done = {r["index"]: r for r in read_records(path) if r.get("type") == "sweep"}
    for index, record in done.items():
        logged = np.array(list(record["labels"].values()))
        if index >= len(labels) or not np.allclose(logged, labels[index]):
            raise ValueError(f"{path} holds results for other labels (index {index}); use a new file")
        if not properties_only and record.get("reason") == NOT_SIMULATED:
            raise ValueError(f"{path} holds properties-only results; use a new file to simulate cells")
    if mesh is None and not properties_only and writer:
        evaluate = objective
    else:  # other processes only help with the sharded part; process 0 simulates the cells
        evaluate = functools.partial(
            evaluate_sharded,
            objective,
            mesh=mesh,
            properties_only=properties_only or not writer,
            pad_to=chunk_size,
        )
    todo = [i for i in range(len(labels)) if i not in done]
    bar = tqdm(total=len(labels), initial=len(done), desc="sweep", unit="label", disable=not progress)
    for start in range(0, len(todo), chunk_size):
        chunk = todo[start : start + chunk_size]

        def log(position: int, evaluation: Evaluation, chunk: list[int] = chunk) -> None:
            if writer:
                append_record(path, {"type": "sweep", "index": chunk[position], **evaluation.to_dict()})
            bar.update(1)

        evaluate(labels[chunk], on_evaluation=log)
    bar.close()
    if jax.process_count() > 1:  # pragma: no cover - multi-process only: wait for process 0's writes
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices("jaxmicro sweep written")
    records = {r["index"]: r for r in read_records(path) if r.get("type") == "sweep"}
    ordered = [records[i] for i in range(len(labels))]
    if writer:
        write_results_csv(ordered, table_path(path), objective.settings.objective)
    return [Evaluation.from_dict(r) for r in ordered]


def table_path(path: str | Path) -> Path:
    """The CSV table beside a sweep's JSONL results: ``<name>.csv`` (``sweep.jsonl`` ->
    ``sweep.csv``; a results file that is itself named ``.csv`` gets ``.csv.csv``)."""
    path = Path(path)
    table = path.with_suffix(".csv")
    return table if table != path else path.with_name(path.name + ".csv")


def evaluations_to_reach(values: Sequence[float], target: float, tolerance: float = 0.01) -> int | None:
    """How many evaluations a campaign needed to come within ``tolerance`` (relative) of ``target``.

    Args:
        values: objective values in evaluation order (NaN for failures).
        target: the reference optimum (e.g. a dense sweep's best), positive.

    Returns:
        The 1-based count, or ``None`` if never reached.
    """
    for count, value in enumerate(values, start=1):
        if math.isfinite(value) and value >= (1.0 - tolerance) * target:
            return count
    return None
