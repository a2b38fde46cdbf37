"""results.csv: one row per evaluation, unit-bearing names, empty cells for missing values, exact
round trip; campaigns' and sweeps' tables are written beside their logs."""

import csv
import math

import numpy as np
import pytest

from jaxmicro._files import plain_json
from jaxmicro.design import DesignObjective, DesignSettings, Evaluation, read_records, sweep
from jaxmicro.design.objective import OBJECTIVES
from jaxmicro.design.sweep import table_path
from jaxmicro.design.table import (
    CELL_COLUMNS,
    OBJECTIVE_UNITS,
    objective_columns,
    results_columns,
    results_rows,
    write_results_csv,
)


def _record(index: int, *, failed: bool = False, batch: int | None = 0, **extra) -> dict:
    """A log record as ``log.jsonl`` holds it (JSON: NaN -> null)."""
    evaluation = Evaluation(
        labels={"am_wt": 0.9 + 0.01 * index, "porosity": 0.3 + 0.01 * index, "adhesion": 0.5},
        seeds=(0, 1),
        objective=math.nan if failed else 200.0 + index / 3.0,
        failed=failed,
        reason="electrolyte does not percolate" if failed else "",
        properties={
            "porosity": 0.31 + index / 7.0,
            "electrolyte_tau_through_plane": math.inf if failed else 3.0 + index / 9.0,
            "percolates": not failed,
            "solid_conductivity_s_m": 0.12,
            "particle_radius_m": 4.6e-06,
        },
        cell={} if failed else {
            "specific_energy_wh_kg": 200.0 + index / 3.0,
            "energy_density_wh_l": 600.0 + index,
            "power_w_per_kg": 200.0,
            "c_rate": 0.9,
            "capacity_ah": 21.5,
            "energy_wh": 75.5,
            "max_temperature_k": None,
            "inputs": {"design": {"cathode_thickness_m": 9.8e-05 + index * 1e-7}},
        },
        timings_s={"generate_and_characterise": 1.5, "cell": 0.0 if failed else 1.1},
        objective_standard_error=math.nan if failed or index == 0 else 0.25 * index,
    )
    record = {"type": "evaluation", "index": index, **evaluation.to_dict(), **extra}
    if batch is not None:
        record["batch"] = batch
    return plain_json(record)


def _read(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_objective_units_mirror_the_objectives():
    assert set(OBJECTIVE_UNITS) == set(OBJECTIVES)
    for name, (figure, description) in OBJECTIVES.items():
        unit = OBJECTIVE_UNITS[name]
        assert figure.endswith(unit) and objective_columns(name) == (
            f"objective_{unit}", f"objective_standard_error_{unit}")
        assert {"wh_kg": "[Wh", "wh_l": "[Wh/L]"}[unit] in description
    assert objective_columns(None) == ("objective", "objective_standard_error")
    with pytest.raises(ValueError, match="unknown objective 'power'"):
        objective_columns("power")


def test_columns_name_their_units_and_skip_what_the_records_lack():
    header = {"type": "campaign", "space": {}}
    records = [header, _record(0), {"type": "proposal", "batch": 1}, _record(1, failed=True)]
    columns = results_columns(records, "specific_energy")
    assert columns[:3] == ["batch", "index", "label_am_wt"]
    for name in ("label_porosity", "label_adhesion", "status", "failed", "reason", "objective_wh_kg",
                 "objective_standard_error_wh_kg", "porosity", "electrolyte_tau_through_plane",
                 "solid_conductivity_s_m", "particle_radius_m", "percolates", *CELL_COLUMNS):
        assert name in columns
    assert len(set(columns)) == len(columns)
    # A sweep's records have an index but no batch.
    sweep_records = [_record(0, batch=None, type="sweep"), _record(1, batch=None, type="sweep")]
    assert results_columns(sweep_records, "energy_density")[:2] == ["index", "label_am_wt"]
    assert "objective_wh_l" in results_columns(sweep_records, "energy_density")
    assert len(results_rows(sweep_records)) == 2


def test_a_failed_row_keeps_its_reason_and_leaves_the_objective_empty(tmp_path):
    records = [_record(0), _record(1, failed=True), _record(2, batch=1)]
    rows = results_rows(records, "specific_energy")
    assert [r["failed"] for r in rows] == [False, True, False]
    assert rows[1]["status"] == "failed" and rows[1]["reason"] == "electrolyte does not percolate"
    assert math.isnan(rows[1]["objective_wh_kg"]) and math.isnan(rows[1]["specific_energy_wh_kg"])
    assert rows[2]["batch"] == 1 and rows[2]["cathode_thickness_m"] == pytest.approx(9.82e-05)
    path = write_results_csv(records, tmp_path / "results.csv", "specific_energy")
    read = _read(path)
    assert len(read) == 3
    assert read[1]["objective_wh_kg"] == "" and read[1]["failed"] == "true"
    assert read[1]["electrolyte_tau_through_plane"] == ""  # inf in memory, null in the log
    assert read[1]["percolates"] == "false" and read[0]["percolates"] == "true"
    assert read[1]["reason"] == "electrolyte does not percolate" and read[0]["reason"] == ""


def test_nan_is_an_empty_cell_and_numbers_round_trip_exactly(tmp_path):
    records = [_record(i) for i in range(4)]
    path = write_results_csv(records, tmp_path / "results.csv", "specific_energy")
    read = _read(path)
    assert list(read[0]) == results_columns(records, "specific_energy")
    assert read[0]["objective_standard_error_wh_kg"] == ""  # NaN: one seed's worth
    assert read[0]["max_temperature_k"] == ""  # null in the cell result
    for row, record in zip(read, records, strict=True):
        assert float(row["objective_wh_kg"]) == record["objective"]  # exact, not approximate
        assert float(row["label_am_wt"]) == record["labels"]["am_wt"]
        assert float(row["porosity"]) == record["properties"]["porosity"]
        assert float(row["energy_density_wh_l"]) == record["cell"]["energy_density_wh_l"]
        assert int(row["index"]) == record["index"] and int(row["n_seeds"]) == 2
    assert [float(r["objective_standard_error_wh_kg"]) for r in read[1:]] == [0.25, 0.5, 0.75]
    # Rewritten in place, atomically: no temporary file is left beside it.
    write_results_csv(records[:2], path, "specific_energy")
    assert len(_read(path)) == 2 and sorted(p.name for p in tmp_path.iterdir()) == ["results.csv"]


def test_a_record_that_is_not_an_evaluation_is_one_clear_error(tmp_path):
    with pytest.raises(ValueError, match="evaluation record 2 is not a jaxmicro evaluation"):
        write_results_csv([_record(0), {"type": "evaluation", "objective": 1.0}], tmp_path / "r.csv")
    assert not (tmp_path / "r.csv").exists()


def test_table_path_never_overwrites_the_results():
    assert table_path("runs/sweep.jsonl").name == "sweep.csv"
    assert table_path("runs/sweep").name == "sweep.csv"
    assert table_path("runs/sweep.csv").name == "sweep.csv.csv"


def test_a_sweep_writes_its_table_beside_its_jsonl(toy, tmp_path):
    objective = DesignObjective(toy, DesignSettings(volume_size=16, seeds_per_label=1))
    labels = np.array([[0.93, 0.40, 0.5], [0.95, 0.30, 0.5]])
    evaluations = sweep(objective, labels, tmp_path / "grid.jsonl", chunk_size=2, progress=False)
    read = _read(tmp_path / "grid.csv")
    assert len(read) == len(labels) and "batch" not in read[0]
    logged = {r["index"]: r for r in read_records(tmp_path / "grid.jsonl")}
    for i, (row, evaluation) in enumerate(zip(read, evaluations, strict=True)):
        assert int(row["index"]) == i
        assert float(row["label_porosity"]) == labels[i, 1]
        assert row["status"] == evaluation.status and row["reason"] == logged[i]["reason"]
        assert row["objective_wh_kg"] == ("" if evaluation.failed else repr(evaluation.objective))
