"""Batch evaluation over executors, and the ``jaxmicro cell`` command."""

import concurrent.futures
import json
import math

import pytest

from jaxmicro.cell import (
    CathodeProperties,
    CellCase,
    CellDesign,
    OperatingPoint,
    simulate_batch,
    simulate_cell,
)
from jaxmicro.cli import main


def props(tau=2.5):
    return CathodeProperties(0.30, 0.63, 0.07, tau, 3 * 0.63 / 5.22e-6, 0.0)


CASES = [
    CellCase(props(2.0), CellDesign(70e-6), OperatingPoint(c_rate=1.0)),
    CellCase(props(math.inf), CellDesign(70e-6), OperatingPoint(c_rate=1.0)),
    CellCase(props(3.0), CellDesign(90e-6), OperatingPoint(power_w_per_kg=200.0)),
    CellCase(props(4.0), CellDesign(70e-6), OperatingPoint(c_rate=1.0)),
]


@pytest.fixture(scope="module")
def reference():
    return [simulate_cell(*case) for case in CASES]


def check_same(results, reference):
    assert len(results) == len(reference)
    for got, want in zip(results, reference, strict=True):
        assert got.failed == want.failed and got.reason == want.reason
        if not want.failed:
            assert got.energy_wh == pytest.approx(want.energy_wh, rel=1e-6)
            assert got.inputs == want.inputs


def test_serial_batch_keeps_order_and_marks_failures(reference):
    results = simulate_batch(CASES, max_workers=1)
    check_same(results, reference)
    assert results[1].failed and "non-percolating" in results[1].reason


def test_thread_pool_batch(reference):
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        results = simulate_batch(CASES, executor=pool, max_workers=2)
    check_same(results, reference)


def test_default_process_pool_batch(reference):
    # Spawned workers import PyBaMM and build their own models: a few seconds.
    results = simulate_batch(CASES[:2] + CASES[3:], max_workers=2)
    check_same(results, [reference[0], reference[1], reference[3]])


class BrokenExecutor(concurrent.futures.Executor):
    def submit(self, fn, /, *args, **kwargs):
        future = concurrent.futures.Future()
        future.set_exception(RuntimeError("worker lost"))
        return future


def test_executor_errors_become_failed_results():
    results = simulate_batch(CASES, executor=BrokenExecutor(), max_workers=2)
    assert all(r.failed and "worker lost" in r.reason for r in results)


def test_empty_batch():
    assert simulate_batch([]) == []


def test_cli_prints_json(capsys):
    code = main(["cell", "--thickness-um", "70", "--c-rate", "1", "--tau", "2.5", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["failed"] is False
    assert 150 < out["specific_energy_wh_kg"] < 300


def test_cli_table_half_cell_power_and_bad_input(capsys):
    assert main(["cell", "--half-cell", "--power-w-per-kg", "300", "--format", "pouch"]) == 0
    assert "specific energy" in capsys.readouterr().out
    assert main(["cell", "--porosity", "1.5"]) == 2
    assert "porosity must be in (0, 1)" in capsys.readouterr().err
