"""The Dask distributed executor, on a LocalCluster bound to loopback."""

import math

import pytest

from jaxmicro.cell import (
    CathodeProperties,
    CellCase,
    CellDesign,
    OperatingPoint,
    dask_executor,
    simulate_batch,
    simulate_cell,
)

pytest.importorskip("distributed", reason="dask.distributed (the cluster extra) is not installed")


def _props(tau):
    return CathodeProperties(0.30, 0.63, 0.07, tau, 3 * 0.63 / 5.22e-6, 0.0)


CASES = [
    CellCase(_props(2.0), CellDesign(70e-6), OperatingPoint(c_rate=1.0)),
    CellCase(_props(math.nan), CellDesign(70e-6), OperatingPoint(c_rate=1.0)),
    CellCase(_props(3.0), CellDesign(80e-6), OperatingPoint(c_rate=1.0)),
]


def test_local_cluster_matches_serial_and_marks_failures():
    with dask_executor(n_workers=2) as executor:
        results = simulate_batch(CASES, executor=executor, max_workers=2)
    assert [r.failed for r in results] == [False, True, False]
    assert "tortuosity_through_plane" in results[1].reason
    for case, result in zip(CASES, results, strict=True):
        if not result.failed:
            assert result.energy_wh == pytest.approx(simulate_cell(*case).energy_wh, rel=1e-6)


def test_task_failing_on_a_worker_becomes_failed_results(monkeypatch):
    import jaxmicro.cell.batch as batch

    def crash(cases, config):
        raise MemoryError("worker ran out of memory")

    monkeypatch.setattr(batch, "_run_chunk", crash)
    with dask_executor(n_workers=1, processes=False) as executor:
        results = simulate_batch(CASES, executor=executor, max_workers=2)
    assert all(r.failed and "worker ran out of memory" in r.reason for r in results)


def test_bad_scheduler_addresses_fail_clearly():
    with pytest.raises(ValueError, match="tcp://host:8786"), dask_executor("localhost:1"):
        pass
    with pytest.raises(ConnectionError, match="could not reach the Dask scheduler"):
        with dask_executor("tcp://127.0.0.1:9"):
            pass
