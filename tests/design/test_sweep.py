"""Dense label sweeps: grid, chunked resumable evaluation, evaluations-to-optimum."""

import math

import pytest

from jaxmicro.design import (
    DesignObjective,
    DesignSettings,
    design_space,
    evaluations_to_reach,
    label_grid,
    read_records,
    sweep,
)


def test_label_grid_spans_the_bounds_of_the_free_labels():
    space = design_space({"am_wt": (0.90, 0.96), "porosity": (0.28, 0.44), "adhesion": (0.0, 1.0)})
    grid = label_grid(space, (3, 2))
    assert grid.shape == (6, 3)
    assert sorted(set(grid[:, 0])) == pytest.approx([0.90, 0.93, 0.96])
    assert sorted(set(grid[:, 1])) == pytest.approx([0.28, 0.44])
    assert set(grid[:, 2]) == {0.5}
    with pytest.raises(ValueError, match="grid points"):
        label_grid(space, (3,))


def test_sweep_logs_each_label_and_a_rerun_skips_them(toy, tmp_path):
    space = design_space(toy.label_ranges)
    labels = label_grid(space, 2)
    objective = DesignObjective(toy, DesignSettings(volume_size=16, seeds_per_label=1))
    path = tmp_path / "sweep.jsonl"
    first = sweep(objective, labels, path, chunk_size=2, progress=False)
    assert [e.labels["porosity"] for e in first] == pytest.approx(labels[:, 1].tolist())
    records = read_records(path)
    assert sorted(r["index"] for r in records) == [0, 1, 2, 3]
    before = path.read_bytes()
    again = sweep(objective, labels, path, chunk_size=2, progress=False)
    assert path.read_bytes() == before
    assert [e.objective for e in again] == pytest.approx([e.objective for e in first], nan_ok=True)
    with pytest.raises(ValueError, match="other labels"):
        sweep(objective, labels[::-1], path, progress=False)


def test_evaluations_to_reach_counts_to_the_first_value_within_tolerance():
    values = [100.0, math.nan, 195.0, 199.0, 201.0]
    assert evaluations_to_reach(values, 200.0, tolerance=0.01) == 4
    assert evaluations_to_reach(values, 200.0, tolerance=0.05) == 3
    assert evaluations_to_reach(values, 300.0) is None


def test_a_second_sweep_writer_is_refused(toy, tmp_path):
    import subprocess
    import sys

    from jaxmicro._files import RunInUseError

    code = (
        "import sys\nfrom jaxmicro._files import run_lock\n"
        "with run_lock(sys.argv[1], sys.argv[2]):\n    print('locked', flush=True)\n    sys.stdin.read()\n"
    )
    path = tmp_path / "sweep.jsonl"
    holder = subprocess.Popen([sys.executable, "-c", code, str(tmp_path), ".sweep.jsonl.lock"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "locked"
        objective = DesignObjective(toy, DesignSettings(volume_size=16, seeds_per_label=1))
        labels = label_grid(design_space(toy.label_ranges), 2)
        with pytest.raises(RunInUseError, match=f"pid {holder.pid}"):
            sweep(objective, labels, path, chunk_size=2, progress=False)
        assert not path.exists()
    finally:
        holder.kill()
        holder.wait()
