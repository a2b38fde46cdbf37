"""``jaxmicro design --scheduler`` and ``jaxmicro sweep --scheduler`` against a real Dask cluster.

The test starts a ``dask.distributed.LocalCluster`` (one worker process on loopback), runs the
commands with its address and checks that the cell simulations ran on the worker.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from jaxmicro.cli import main

distributed = pytest.importorskip("distributed", reason="dask.distributed (the test extra) is not installed")


def _toy_checkpoint(folder: Path) -> Path:
    """The design tests' toy generator (tests/design/conftest.py), saved to ``folder``."""
    spec = importlib.util.spec_from_file_location(
        "_design_conftest", Path(__file__).parent / "design" / "conftest.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    from jaxmicro.generator import save_generator

    return save_generator(module.toy_generator(), folder / "generator")


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as local:
        yield local


def _cell_tasks(cluster) -> int:
    """How many cell-simulation chunks (``batch._run_chunk``) finished on the workers so far."""
    prefix = cluster.scheduler.task_prefixes.get("run_chunk")  # Dask drops the leading underscore
    return 0 if prefix is None else prefix.state_counts["memory"]  # transitions into memory


def test_design_and_sweep_run_their_cells_on_the_scheduler(cluster, tmp_path):
    checkpoint = _toy_checkpoint(tmp_path)
    common = ["--checkpoint", str(checkpoint), "--scheduler", cluster.scheduler_address, "--no-progress"]
    small = ["--volume-size", "16", "--seeds-per-label", "1"]
    design_out = tmp_path / "design"
    code = main(
        ["design", *common, *small, "--budget", "2", "--n-initial", "2", "--batch-size", "2",
         "--confirm-max-seeds", "8", "--out", str(design_out)]
    )
    assert code in (0, 1), "the design command crashed"  # 1: every toy evaluation failed
    summary = json.loads((design_out / "summary.json").read_text())
    assert summary
    after_design = _cell_tasks(cluster)
    assert after_design >= 1, "no cell simulation ran on the Dask worker"

    labels = tmp_path / "labels.csv"
    labels.write_text("am_wt,porosity\n0.90,0.40\n0.93,0.36\n")
    sweep_out = tmp_path / "sweep.jsonl"
    code = main(["sweep", *common, *small, "--labels", str(labels), "--out", str(sweep_out)])
    assert code in (0, 1), "the sweep command crashed"
    assert len(sweep_out.read_text().splitlines()) == 2
    assert _cell_tasks(cluster) > after_design, "the sweep's cells did not run on the Dask worker"
