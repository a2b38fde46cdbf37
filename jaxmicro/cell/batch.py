"""Batch evaluation of many cell designs over a ``concurrent.futures.Executor``.

Cases that share a built model (same thicknesses, radius, format, cell type and mode) are
grouped into the same task, so each worker builds a model once and then solves the group with
inputs from its per-process cache. Any ``Executor`` works (a process pool by default; a thread
pool, or a cluster executor such as ``dask.distributed``'s ``client.get_executor()``). A task
that fails inside the executor returns failed results for its cases; the batch never raises
for a failed simulation.
"""

from __future__ import annotations

import concurrent.futures
import math
import multiprocessing
import os
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple

from tqdm.auto import tqdm

from jaxmicro.cell.inputs import CathodeProperties, CellDesign, OperatingPoint
from jaxmicro.cell.parameters import CellModelConfig, setup_cell
from jaxmicro.cell.result import CellResult
from jaxmicro.cell.simulate import model_key, simulate_cell


class CellCase(NamedTuple):
    """One simulation of a batch."""

    properties: CathodeProperties
    design: CellDesign
    operating_point: OperatingPoint


def _failed(case: CellCase, reason: str) -> CellResult:
    inputs = {
        "properties": case.properties.to_dict(),
        "design": case.design.to_dict(),
        "operating_point": case.operating_point.to_dict(),
    }
    return CellResult(failed=True, reason=reason, inputs=inputs)


def _run_chunk(cases: Sequence[CellCase], config: CellModelConfig) -> list[CellResult]:
    results = []
    for case in cases:
        try:
            results.append(simulate_cell(*case, config=config))
        except Exception as error:
            results.append(_failed(case, f"{type(error).__name__}: {error}"))
    return results


def _chunks(cases: Sequence[CellCase], config: CellModelConfig, n_workers: int) -> list[list[int]]:
    """Indices grouped by model key, split so that no chunk exceeds ``ceil(n / n_workers)``."""
    groups: dict[Any, list[int]] = {}
    for i, case in enumerate(cases):
        key = None
        if not case.properties.non_finite_fields():
            key = model_key(config, setup_cell(*case, config=config))
        groups.setdefault(key, []).append(i)
    size = max(1, math.ceil(len(cases) / n_workers))
    chunks = [g[j : j + size] for g in groups.values() for j in range(0, len(g), size)]
    return sorted(chunks, key=len, reverse=True)


def default_executor(max_workers: int | None = None) -> concurrent.futures.ProcessPoolExecutor:
    """A process pool with the ``spawn`` start method (safe when JAX or torch threads run).

    Args:
        max_workers: number of worker processes; ``None`` uses ``os.cpu_count()``.
    """
    return concurrent.futures.ProcessPoolExecutor(
        max_workers=max_workers or os.cpu_count() or 1,
        mp_context=multiprocessing.get_context("spawn"),
    )


def simulate_batch(
    cases: Iterable[CellCase | tuple[CathodeProperties, CellDesign, OperatingPoint]],
    config: CellModelConfig | None = None,
    *,
    executor: concurrent.futures.Executor | None = None,
    max_workers: int | None = None,
    progress: bool = False,
    on_result: Callable[[int, CellResult], None] | None = None,
) -> list[CellResult]:
    """Simulates many cases, in input order.

    Args:
        cases: ``(properties, design, operating_point)`` triples or :class:`CellCase`.
        config: modelling choices shared by the batch (``None``: defaults).
        executor: where to run the tasks; it is not shut down. ``None``: a spawn process pool
            of ``max_workers`` processes, created and shut down here; with ``max_workers=1``
            everything runs in this process (no pool).
        max_workers: number of workers (``None``: CPU count); sizes the default pool and
            the split of cases into tasks (at most ``ceil(n / max_workers)`` cases a task).
        progress: show a tqdm progress bar.
        on_result: called as ``on_result(index, result)`` in this process as each case
            completes (in completion order), e.g. to log results before the batch ends.

    Returns:
        One :class:`CellResult` per case, in the order of ``cases``.
    """
    config = config or CellModelConfig()
    cases = [CellCase(*case) for case in cases]
    if not cases:
        return []
    n_workers = max_workers or os.cpu_count() or 1
    chunks = _chunks(cases, config, n_workers)
    results: list[CellResult | None] = [None] * len(cases)
    bar = tqdm(total=len(cases), desc="cells", disable=not progress)

    def store(chunk: list[int], chunk_results: list[CellResult]) -> None:
        for i, result in zip(chunk, chunk_results, strict=True):
            results[i] = result
            if on_result is not None:
                on_result(i, result)
        bar.update(len(chunk))

    if executor is None and (n_workers == 1 or len(chunks) == 1):
        # One case at a time, so that on_result sees each as it completes.
        for i in (i for chunk in chunks for i in chunk):
            store([i], _run_chunk([cases[i]], config))
    else:
        pool = executor or default_executor(min(n_workers, len(chunks)))
        try:
            futures = {
                pool.submit(_run_chunk, [cases[i] for i in chunk], config): chunk
                for chunk in chunks
            }
            for future in concurrent.futures.as_completed(futures):
                chunk = futures[future]
                try:
                    chunk_results = future.result()
                except Exception as error:
                    reason = f"executor error: {type(error).__name__}: {error}"
                    chunk_results = [_failed(cases[i], reason) for i in chunk]
                store(chunk, chunk_results)
        finally:
            if executor is None:
                pool.shutdown()
    bar.close()
    return results  # type: ignore[return-value]
