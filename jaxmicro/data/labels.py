"""Manufacturing labels: the three parameters an electrode maker chooses.

* ``am_wt`` [-]: active-material weight fraction of the dry coating solids, 0.80 to 0.99.
  The rest is carbon-binder domain (CBD).
* ``porosity`` [-]: pore volume fraction after calendering, 0.15 to 0.60.
* ``adhesion`` [-]: binder adhesion metric, 0 to 1. 0: CBD forms separate agglomerates in the
  pores; 1: CBD wets the AM and forms films on particle surfaces and necks between particles.

A single label is a :class:`Labels`; a batch is a float array of shape ``(n, 3)`` with columns
in ``LABEL_FIELDS`` order. ``LABEL_RANGES`` are the physical ranges any label must lie in
(wider than the range NMC cathodes are made in: am_wt about 0.85 to 0.98, porosity about 0.20
to 0.50); a generator has its own, narrower trained range and normalises labels onto [0, 1]
with the ranges it was trained with (:attr:`jaxmicro.generator.Generator.label_normalisation`).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Mapping
from typing import Final

import numpy as np

LABEL_FIELDS: Final[tuple[str, str, str]] = ("am_wt", "porosity", "adhesion")
LABEL_RANGES: Final[dict[str, tuple[float, float]]] = {
    "am_wt": (0.80, 0.99),
    "porosity": (0.15, 0.60),
    "adhesion": (0.0, 1.0),
}
LEGACY_LABEL_NORMALISATION: Final[dict[str, tuple[float, float]]] = {
    "am_wt": (0.90, 0.96),
    "porosity": (0.25, 0.45),
    "adhesion": (0.0, 1.0),
}
"""The ranges that generators exported without a ``label_normalisation`` (before 2026-12-04)
normalised their labels with: the physical ``LABEL_RANGES`` of that time."""
LABEL_UNITS: Final[dict[str, str]] = {
    "am_wt": "AM weight fraction of dry solids [-]",
    "porosity": "pore volume fraction after calendering [-]",
    "adhesion": "binder adhesion metric, 0 agglomerated to 1 filming [-]",
}
_RANGE_TOL: Final[float] = 1e-9


@dataclasses.dataclass(frozen=True)
class Labels:
    """One set of manufacturing labels, validated on construction.

    Attributes:
        am_wt: active-material weight fraction of the dry solids [-], in [0.80, 0.99].
        porosity: porosity after calendering [-], in [0.15, 0.60].
        adhesion: binder adhesion metric [-], in [0, 1].
    """

    am_wt: float
    porosity: float
    adhesion: float

    def __post_init__(self) -> None:
        for name in LABEL_FIELDS:
            object.__setattr__(self, name, float(getattr(self, name)))
        validate_labels(self.to_array())

    def to_array(self) -> np.ndarray:
        """Returns the labels as a float array of shape ``(3,)`` in ``LABEL_FIELDS`` order."""
        return np.array([self.am_wt, self.porosity, self.adhesion], dtype=np.float64)

    def to_dict(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in LABEL_FIELDS}

    @classmethod
    def from_array(cls, values: Iterable[float]) -> Labels:
        values = np.asarray(values, dtype=np.float64)
        if values.shape != (3,):
            raise ValueError(f"labels need 3 values {LABEL_FIELDS}, got an array of shape {values.shape}")
        return cls(*values.tolist())

    @classmethod
    def from_dict(cls, mapping: Mapping[str, float]) -> Labels:
        missing = [name for name in LABEL_FIELDS if name not in mapping]
        unknown = [name for name in mapping if name not in LABEL_FIELDS]
        if missing or unknown:
            raise ValueError(
                f"labels need exactly the fields {LABEL_FIELDS}; missing {missing}, unknown {unknown}"
            )
        return cls(**{name: mapping[name] for name in LABEL_FIELDS})


def _as_label_matrix(labels: np.ndarray) -> np.ndarray:
    labels = np.asarray(labels, dtype=np.float64)
    if labels.ndim not in (1, 2) or labels.shape[-1] != len(LABEL_FIELDS):
        raise ValueError(
            f"labels must have shape (3,) or (n, 3) with columns {LABEL_FIELDS}, got shape {labels.shape}"
        )
    return labels.reshape(-1, len(LABEL_FIELDS))


def validate_labels(
    labels: np.ndarray,
    ranges: Mapping[str, tuple[float, float]] = LABEL_RANGES,
) -> np.ndarray:
    """Checks labels against their physical (or trained) ranges.

    Args:
        labels: shape ``(3,)`` or ``(n, 3)``, columns in ``LABEL_FIELDS`` order.
        ranges: allowed ``(low, high)`` per field; defaults to the physical ``LABEL_RANGES``.

    Returns:
        The labels as a float64 array of the input's shape.

    Raises:
        ValueError: naming the first field that is NaN or out of range, with its range.
    """
    matrix = _as_label_matrix(labels)
    for column, name in enumerate(LABEL_FIELDS):
        low, high = ranges[name]
        values = matrix[:, column]
        bad = ~np.isfinite(values) | (values < low - _RANGE_TOL) | (values > high + _RANGE_TOL)
        if bad.any():
            value = float(values[np.argmax(bad)])
            raise ValueError(
                f"label {name}={value!r} is outside its range [{low}, {high}] "
                f"({LABEL_UNITS[name]}); pass a finite value within the range"
            )
    return np.asarray(labels, dtype=np.float64)


def _bounds(ranges: Mapping[str, tuple[float, float]]) -> tuple[np.ndarray, np.ndarray]:
    low = np.array([ranges[name][0] for name in LABEL_FIELDS])
    high = np.array([ranges[name][1] for name in LABEL_FIELDS])
    return low, high


def normalise_labels(labels: np.ndarray, ranges: Mapping[str, tuple[float, float]]) -> np.ndarray:
    """Maps physical labels of shape ``(..., 3)`` onto the unit cube, field by field, with
    ``ranges`` (``{field: (low, high)}``; a generator's ``label_normalisation``)."""
    low, high = _bounds(ranges)
    return (np.asarray(labels, dtype=np.float64) - low) / (high - low)


def denormalise_labels(unit_labels: np.ndarray, ranges: Mapping[str, tuple[float, float]]) -> np.ndarray:
    """Inverse of :func:`normalise_labels`: unit-cube values ``(..., 3)`` to physical labels."""
    low, high = _bounds(ranges)
    return low + np.asarray(unit_labels, dtype=np.float64) * (high - low)


def label_tag(label: Iterable[float]) -> str:
    """A label for titles and tables, ``0.915,0.2,1``: three significant digits per field (two
    decimals printed 0.915 as 0.92)."""
    return ",".join(f"{float(v):.3g}" for v in label)


def read_labels_csv(path: str | os.PathLike, fixed: Mapping[str, float]) -> np.ndarray:
    """Labels ``(n, 3)`` from a CSV file with a header row of label names.

    Columns may come in any order and any subset of :data:`LABEL_FIELDS`; the missing ones take
    their value from ``fixed``. Blank lines are skipped. Every error names the file, the line and
    the field.

    Args:
        path: the CSV file (comma-separated, one label per row).
        fixed: values for the label columns the file lacks.

    Returns:
        float64 array ``(n, 3)``, columns in :data:`LABEL_FIELDS` order, each within its
        physical range (:data:`LABEL_RANGES`).

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a text CSV, no header or no rows, an unknown or repeated column, a row
            with the wrong number of values, a value that is not a finite number or is outside
            its physical range (naming file, line and field).
    """
    import csv

    try:
        with open(path, newline="", encoding="utf-8") as handle:
            lines = [(number, row) for number, row in enumerate(csv.reader(handle), start=1)]
    except (UnicodeDecodeError, csv.Error) as error:
        raise ValueError(f"{path}: not a readable text CSV ({error})") from None
    lines = [(number, row) for number, row in lines if any(cell.strip() for cell in row)]
    if len(lines) < 2:
        raise ValueError(f"{path}: needs a header row of label names and at least one row of labels")
    header_line, header = lines[0][0], [cell.strip() for cell in lines[0][1]]
    if unknown := sorted(set(header) - set(LABEL_FIELDS)):
        raise ValueError(
            f"{path}: line {header_line}: unknown columns {unknown}; label columns are "
            f"{', '.join(LABEL_FIELDS)}"
        )
    if len(set(header)) != len(header):
        raise ValueError(f"{path}: line {header_line}: a column is named twice in {header}")
    missing = [name for name in LABEL_FIELDS if name not in header]
    if absent := [name for name in missing if name not in fixed]:
        raise ValueError(f"{path}: no column for {absent} and no fixed value given for them")
    rows = []
    for number, row in lines[1:]:
        if len(row) != len(header):
            raise ValueError(
                f"{path}: line {number} has {len(row)} values, the header {len(header)} ({', '.join(header)})"
            )
        values = {name: float(fixed[name]) for name in missing}
        for name, cell in zip(header, row, strict=True):
            try:
                values[name] = float(cell)
            except ValueError:
                raise ValueError(f"{path}: line {number}, {name}: {cell.strip()!r} is not a number") from None
        label = np.array([values[name] for name in LABEL_FIELDS])
        try:
            validate_labels(label)
        except ValueError as error:
            raise ValueError(f"{path}: line {number}: {error}") from None
        rows.append(label)
    return np.stack(rows)
