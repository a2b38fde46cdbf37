import json
import subprocess
import sys

import numpy as np
import pytest

from jaxmicro.design.records import append_record, read_records, repair_records


def test_records_round_trip_with_arrays_and_non_finite_values(tmp_path):
    path = tmp_path / "sub" / "log.jsonl"
    append_record(path, {"x": np.array([0.9, 0.3]), "y": float("nan"), "n": np.int64(3)})
    append_record(path, {"x": [1, 2], "nested": {"inf": float("inf")}})
    assert read_records(path) == [
        {"x": [0.9, 0.3], "y": None, "n": 3},
        {"x": [1, 2], "nested": {"inf": None}},
    ]
    for line in path.read_text().splitlines():
        json.loads(line)  # strict JSON, no NaN tokens


def test_truncated_last_line_is_ignored_then_repaired(tmp_path):
    path = tmp_path / "log.jsonl"
    append_record(path, {"i": 0})
    with path.open("a") as handle:
        handle.write('{"i": 1, "partial')
    assert read_records(path) == [{"i": 0}]
    assert repair_records(path) == len('{"i": 1, "partial')
    append_record(path, {"i": 2})
    assert read_records(path) == [{"i": 0}, {"i": 2}]
    assert repair_records(path) == 0


def test_corrupt_middle_line_is_an_error(tmp_path):
    path = tmp_path / "log.jsonl"
    path.write_text('{"i": 0}\nnot json\n{"i": 2}\n')
    with pytest.raises(ValueError, match=":2: not a JSON record"):
        read_records(path)


def test_missing_file_reads_empty(tmp_path):
    assert read_records(tmp_path / "none.jsonl") == []
    assert repair_records(tmp_path / "none.jsonl") == 0


def test_records_written_before_a_kill_survive(tmp_path):
    path = tmp_path / "log.jsonl"
    code = (
        "import os, signal, sys\n"
        "from jaxmicro.design.records import append_record\n"
        f"for i in range(3): append_record({str(path)!r}, {{'i': i}})\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], check=False)
    assert result.returncode != 0
    assert read_records(path) == [{"i": 0}, {"i": 1}, {"i": 2}]
