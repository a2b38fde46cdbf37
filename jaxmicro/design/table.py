"""Evaluation records as a CSV table, for spreadsheets, pandas and other tools.

One row per evaluation (a campaign's ``evaluation`` records or a sweep's ``sweep`` records), in
the order they were logged, with the project's own names: SI units in the names as in
``log.jsonl`` and ``summary.json`` (``specific_energy_wh_kg``, ``particle_radius_m``,
``am_electrolyte_area_per_volume_m`` [1/m]); the generator labels get a ``label_`` prefix (the
measured ``porosity`` is a column too), and the objective's columns name its unit
(``objective_wh_kg``). A missing or non-finite value (a failed evaluation's objective, the tau of
a volume that does not percolate) is an empty cell; booleans are ``true``/``false``.

:func:`results_rows` is pure (records in, rows out); :func:`write_results_csv` writes them
atomically (a reader or a kill sees the old file or the complete new one).
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Final

from jaxmicro._files import atomic_path
from jaxmicro.data.labels import LABEL_FIELDS
from jaxmicro.design.space import CELL_VARIABLES

RESULTS_NAME: Final[str] = "results.csv"
"""The table's name in a campaign folder."""

CELL_COLUMNS: Final[tuple[str, ...]] = (
    "specific_energy_wh_kg",
    "energy_density_wh_l",
    "electrode_specific_energy_wh_kg",
    "power_w_per_kg",
    "c_rate",
    "capacity_ah",
    "energy_wh",
    "mean_voltage_v",
    "duration_s",
    "cell_mass_kg",
    "cathode_thickness_m",
    "max_temperature_k",
)
"""The cell figures tabulated (``CellResult`` names; the thickness comes from the cell's inputs)."""

_RECORD_TYPES = frozenset({"evaluation", "sweep"})

# What an objective name (a key of jaxmicro.design.objective.OBJECTIVES) is measured in, as a
# column-name suffix; kept here so that the table needs no jax (tested against OBJECTIVES).
OBJECTIVE_UNITS: Final[dict[str, str]] = {
    "specific_energy": "wh_kg",
    "energy_density": "wh_l",
    "electrode_specific_energy": "wh_kg",
}
"""Unit suffix of each objective's columns (``objective_<unit>``)."""


def objective_columns(objective: str | None = None) -> tuple[str, str]:
    """The names of the objective's and its standard error's columns.

    Args:
        objective: the objective's name (``"specific_energy"``, ``"energy_density"`` or
            ``"electrode_specific_energy"``); ``None`` when unknown (no unit in the names).

    Returns:
        ``("objective_<unit>", "objective_standard_error_<unit>")``, or without the unit.

    Raises:
        ValueError: an unknown objective name.
    """
    if objective is None:
        return "objective", "objective_standard_error"
    if objective not in OBJECTIVE_UNITS:
        raise ValueError(f"unknown objective {objective!r}; choose one of {', '.join(OBJECTIVE_UNITS)}")
    unit = OBJECTIVE_UNITS[objective]
    return f"objective_{unit}", f"objective_standard_error_{unit}"


def evaluation_records(records: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The evaluation records among ``records`` (a log's header and proposals are left out;
    a record without a ``type``, such as ``Evaluation.to_dict()``, counts as an evaluation)."""
    return [r for r in records if r.get("type", "evaluation") in _RECORD_TYPES]


def _property_names(records: list[Mapping[str, Any]]) -> list[str]:
    names: dict[str, None] = {}
    for record in records:
        names.update(dict.fromkeys(record.get("properties") or {}))
    return list(names)


def results_columns(records: Iterable[Mapping[str, Any]], objective: str | None = None) -> list[str]:
    """The table's columns for these records, in order.

    ``batch`` appears only when a record has one (campaigns; a sweep's records have an
    ``index`` only); an optimised cell variable (e.g. ``am_loading_mg_cm2``) follows the
    labels when a record has one; the measured properties are those the records hold, in the
    order first seen.

    Args:
        records: log records (non-evaluation records are ignored).
        objective: the objective's name, for the unit in its columns (see
            :func:`objective_columns`).

    Returns:
        The column names.
    """
    records = evaluation_records(records)
    value, error = objective_columns(objective)
    position = [k for k in ("batch", "index") if any(k in r for r in records)]
    labels = [f"label_{name}" for name in LABEL_FIELDS]
    labels += [name for name in CELL_VARIABLES if any(name in (r.get("labels") or {}) for r in records)]
    timings = ["generate_and_characterise_time_s", "cell_time_s"]
    return [
        *position,
        *labels,
        "n_seeds",
        "status",
        "failed",
        "reason",
        value,
        error,
        *_property_names(records),
        *CELL_COLUMNS,
        *timings,
    ]


def _float(value: Any) -> float:
    """``value`` as a float; None (JSON's NaN) becomes NaN."""
    return math.nan if value is None else float(value)


def _cell_value(cell: Mapping[str, Any], name: str) -> Any:
    if name == "cathode_thickness_m":
        design = (cell.get("inputs") or {}).get("design") or {}
        return _float(design.get("cathode_thickness_m"))
    return _float(cell.get(name))


def results_rows(records: Iterable[Mapping[str, Any]], objective: str | None = None) -> list[dict[str, Any]]:
    """One row per evaluation record: every column of :func:`results_columns`.

    Args:
        records: log records (``log.jsonl`` of a campaign or a sweep's JSONL, as read by
            :func:`~jaxmicro.design.records.read_records`, or ``Evaluation.to_dict()`` output);
            non-evaluation records are ignored.
        objective: the objective's name, for the unit in its columns.

    Returns:
        Rows in record order, mapping column -> value: numbers [the column's unit] (NaN where
        missing or failed), booleans (``failed``, ``percolates``), strings (``status``,
        ``reason``), integers (``batch``, ``index``, ``n_seeds``).

    Raises:
        ValueError: a record lacks the labels or holds a non-numeric value.
    """
    records = evaluation_records(records)
    columns = results_columns(records, objective)
    value_column, error_column = objective_columns(objective)
    properties = _property_names(records)
    rows = []
    for number, record in enumerate(records, start=1):
        try:
            labels = record["labels"]
            failed = bool(record.get("failed", record.get("objective") is None))
            row: dict[str, Any] = dict.fromkeys(columns, math.nan)
            for key in ("batch", "index"):
                if key in row:
                    row[key] = record[key] if key in record else None
            row.update({f"label_{name}": _float(labels.get(name)) for name in LABEL_FIELDS})
            row.update({name: _float(labels.get(name)) for name in CELL_VARIABLES if name in row})
            row["n_seeds"] = len(record.get("seeds") or ())
            row["status"] = record.get("status") or ("failed" if failed else "ok")
            row["failed"] = failed
            row["reason"] = record.get("reason") or ""
            row[value_column] = math.nan if failed else _float(record.get("objective"))
            row[error_column] = _float(record.get("objective_standard_error"))
            measured = record.get("properties") or {}
            for name in properties:
                value = measured.get(name)
                row[name] = value if isinstance(value, bool) else _float(value)
            cell = record.get("cell") or {}
            row.update({name: _cell_value(cell, name) for name in CELL_COLUMNS})
            timings = record.get("timings_s") or {}
            row["generate_and_characterise_time_s"] = _float(timings.get("generate_and_characterise"))
            row["cell_time_s"] = _float(timings.get("cell"))
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise ValueError(
                f"evaluation record {number} is not a jaxmicro evaluation ({type(error).__name__}: {error})"
            ) from None
        rows.append(row)
    return rows


def format_cell(value: Any) -> str:
    """A value as CSV text: empty for None/NaN/inf, ``true``/``false`` for booleans, the
    shortest exact text (``repr``) for floats, so a number reads back to the same float."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ""
    return str(value)


def write_results_csv(
    records: Iterable[Mapping[str, Any]], path: str | os.PathLike, objective: str | None = None
) -> Path:
    """Writes the evaluation records as a CSV table (header row, one row per evaluation).

    Written to a temporary file beside ``path`` and renamed, so a kill or a full disk never
    leaves half a table (see :func:`jaxmicro._files.atomic_path`).

    Args:
        records: log records (non-evaluation records are ignored; see :func:`results_rows`).
        path: the ``.csv`` file.
        objective: the objective's name, for the unit in its columns.

    Returns:
        ``path``.

    Raises:
        ValueError: a record is not an evaluation record.
        NoSpaceError: the disk filled up (the old table, if any, is kept).
    """
    records = evaluation_records(records)
    columns = results_columns(records, objective)
    rows = results_rows(records, objective)
    path = Path(path)
    with atomic_path(path, hint="run again to rewrite it") as tmp, tmp.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows([format_cell(row[c]) for c in columns] for row in rows)
    return path
