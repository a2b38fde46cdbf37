"""Dense sweeps: evaluate a grid (or list) of labels without BO, in chunks, resumably.

A sweep is the ground truth a campaign's surrogate is judged against. Labels are evaluated
``chunk_size`` at a time (generation and characterisation of a chunk is one jitted computation,
so a chunk size that divides the grid avoids recompiling), each evaluation is appended to a
JSON-lines file as it completes, and a rerun skips the labels already in the file.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from jaxmicro.design.objective import DesignObjective, Evaluation
from jaxmicro.design.records import append_record, read_records, repair_records
from jaxmicro.design.space import DesignSpace


def label_grid(space: DesignSpace, points_per_label: int | Sequence[int]) -> np.ndarray:
    """A full-factorial grid over the free labels (bounds included), as full labels ``(n, 3)``.

    Args:
        space: the design space.
        points_per_label: grid points per free label (one number for all, or one each).
    """
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
) -> list[Evaluation]:
    """Evaluates every label, appending ``{"type": "sweep", "index": i, ...}`` records to ``path``.

    Args:
        objective: evaluates labels.
        labels: ``(n, 3)`` labels.
        path: the ``.jsonl`` results file; labels whose index it already holds are skipped
            (after checking that they are the same labels).
        chunk_size: labels generated and characterised together.
        progress: show a progress bar.

    Returns:
        One :class:`Evaluation` per label, in input order.

    Raises:
        ValueError: ``path`` holds results for different labels.
    """
    labels = np.atleast_2d(np.asarray(labels, dtype=np.float64))
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
    path = Path(path)
    repair_records(path)
    done = {r["index"]: r for r in read_records(path) if r.get("type") == "sweep"}
    for index, record in done.items():
        logged = np.array(list(record["labels"].values()))
        if index >= len(labels) or not np.allclose(logged, labels[index]):
            raise ValueError(f"{path} holds results for other labels (index {index}); use a new file")
    todo = [i for i in range(len(labels)) if i not in done]
    bar = tqdm(total=len(labels), initial=len(done), desc="sweep", unit="label", disable=not progress)
    for start in range(0, len(todo), chunk_size):
        chunk = todo[start : start + chunk_size]

        def log(position: int, evaluation: Evaluation, chunk: list[int] = chunk) -> None:
            record = {"type": "sweep", "index": chunk[position], **evaluation.to_dict()}
            append_record(path, record)
            bar.update(1)

        objective(labels[chunk], on_evaluation=log)
    bar.close()
    records = {r["index"]: r for r in read_records(path) if r.get("type") == "sweep"}
    return [Evaluation.from_dict(records[i]) for i in range(len(labels))]


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
