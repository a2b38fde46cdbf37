"""The result of one cell simulation."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from jaxmicro._files import finite_or_none

MAX_CURVE_POINTS = 100
"""Most points a :class:`DischargeCurve` keeps (about 8 kB of JSON): enough for a smooth plot,
small enough for one record per design evaluation in a campaign log."""

_CURVE_FIELDS = ("time_s", "voltage_v", "current_a", "capacity_ah", "temperature_k")


def _subsample(capacity: np.ndarray, voltage: np.ndarray, max_points: int) -> np.ndarray:
    """Indices of at most ``max_points`` points, first and last kept, evenly spaced along the
    curve's length in the (capacity, voltage) plane, each axis scaled to its range: the steep
    end of a discharge keeps as many points as its flat middle."""
    n = len(capacity)
    if n <= max_points:
        return np.arange(n)
    scaled = []
    for values in (capacity, voltage):
        span = float(np.nanmax(values) - np.nanmin(values))
        scaled.append(values / span if span > 0.0 else np.zeros_like(values))
    step = np.hypot(np.diff(scaled[0]), np.diff(scaled[1]))
    length = np.concatenate([[0.0], np.cumsum(np.nan_to_num(step))])
    if length[-1] <= 0.0:  # a degenerate curve: even in index
        return np.unique(np.linspace(0, n - 1, max_points).round().astype(int))
    chosen = np.searchsorted(length, np.linspace(0.0, length[-1], max_points))
    chosen = np.unique(np.clip(chosen, 0, n - 1))
    chosen[0], chosen[-1] = 0, n - 1
    return np.unique(chosen)


@dataclasses.dataclass(frozen=True)
class DischargeCurve:
    """The discharge curve of a :class:`CellResult`, whole cell, subsampled.

    Every field holds one value per kept point (at most :data:`MAX_CURVE_POINTS`, the first and
    the last point of the solve always among them, so the last ``capacity_ah`` is the result's
    ``capacity_ah``). Currents and capacities are those of the whole cell (the model's current
    collector is the whole wound or stacked cathode area), as in :class:`CellResult`.

    Attributes:
        time_s: time since the start of the discharge [s].
        voltage_v: terminal voltage [V].
        current_a: discharge current, positive when discharging [A] (constant for a
            constant-current discharge; rises as the voltage falls at constant power).
        capacity_ah: charge discharged so far [A.h].
        temperature_k: volume-averaged cell temperature [K] with the lumped thermal model;
            empty when isothermal.
    """

    time_s: tuple[float, ...] = ()
    voltage_v: tuple[float, ...] = ()
    current_a: tuple[float, ...] = ()
    capacity_ah: tuple[float, ...] = ()
    temperature_k: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        for name in _CURVE_FIELDS:
            object.__setattr__(
                self, name, tuple(math.nan if v is None else float(v) for v in getattr(self, name))
            )
        n = len(self.time_s)
        lengths = {name: len(getattr(self, name)) for name in _CURVE_FIELDS[1:4]}
        if any(m != n for m in lengths.values()):
            raise ValueError(f"curve fields must have one value per time point ({n}), got {lengths}")
        if self.temperature_k and len(self.temperature_k) != n:
            raise ValueError(f"temperature_k must be empty or have {n} values, got {len(self.temperature_k)}")

    def __len__(self) -> int:
        return len(self.time_s)

    @classmethod
    def from_solution(
        cls,
        time_s: Sequence[float],
        voltage_v: Sequence[float],
        current_a: Sequence[float],
        capacity_ah: Sequence[float],
        temperature_k: Sequence[float] | None = None,
        max_points: int = MAX_CURVE_POINTS,
    ) -> DischargeCurve:
        """The curve of a solve's full output, subsampled to at most ``max_points`` (>= 2)."""
        if max_points < 2:
            raise ValueError(f"max_points must be >= 2, got {max_points}")
        arrays = [np.asarray(a, dtype=float).ravel() for a in (time_s, voltage_v, current_a, capacity_ah)]
        keep = _subsample(arrays[3], arrays[1], max_points)
        temperature = [] if temperature_k is None else np.asarray(temperature_k, dtype=float).ravel()[keep]
        return cls(*(a[keep].tolist() for a in arrays), temperature_k=list(temperature))

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> DischargeCurve:
        """Inverse of ``dataclasses.asdict`` (JSON ``null`` becomes ``nan``)."""
        return cls(**{name: tuple(values.get(name) or ()) for name in _CURVE_FIELDS})


@dataclasses.dataclass(frozen=True)
class CellResult:
    """Outcome of one discharge, normalised at electrode and cell level.

    A failed simulation has ``failed=True``, a ``reason``, and ``nan`` for every number the
    solve would have produced (the budget fields are still filled when the geometry was
    resolved). ``to_dict`` writes ``nan`` as ``None`` so the result is strict JSON.

    Attributes:
        failed: True when no trustworthy discharge was obtained.
        reason: why it failed ("" when it did not).
        termination: PyBaMM's termination message, e.g. ``"event: Minimum voltage [V]"``.
        capacity_ah: discharged capacity [A.h].
        energy_wh: discharged energy [W.h].
        mean_voltage_v: energy over capacity [V].
        duration_s: discharge time to cut-off [s].
        mean_power_w: energy over duration [W].
        power_w_per_kg: mean discharge power per kg of the whole cell [W/kg].
        c_rate: mean current over the nominal capacity [1/h].
        specific_energy_wh_kg: energy per kg of the whole cell [Wh/kg].
        energy_density_wh_l: energy per litre of the whole cell [Wh/L].
        electrode_specific_energy_wh_kg: energy per kg of cathode coating (AM + CBD) [Wh/kg].
        am_specific_capacity_mah_g: capacity per g of cathode active material [mAh/g].
        nominal_capacity_ah: cathode reversible capacity, the 1C basis [A.h].
        areal_capacity_mah_cm2: nominal capacity per cathode area [mAh/cm^2].
        electrode_area_m2: cathode area facing a counter electrode [m^2].
        anode_thickness_m: counter-electrode thickness per side [m].
        cell_mass_kg: whole-cell mass [kg].
        cell_volume_l: whole-cell volume [L].
        max_temperature_k: highest cell temperature of the discharge [K] (lumped thermal
            model; NaN when isothermal).
        masses_kg: mass budget by component [kg].
        build_time_s: time spent building the model for this result (0 on a cache hit) [s].
        solve_time_s: time of the solve [s]; the first solve of a new model includes the
            IDAKLU set-up (about 0.15 s).
        inputs: the properties, design and operating point that produced this result.
        curve: the discharge curve (:class:`DischargeCurve`; empty for a failed result or
            one loaded from a record written before curves were kept).
    """

    failed: bool
    reason: str = ""
    termination: str = ""
    capacity_ah: float = math.nan
    energy_wh: float = math.nan
    mean_voltage_v: float = math.nan
    duration_s: float = math.nan
    mean_power_w: float = math.nan
    power_w_per_kg: float = math.nan
    c_rate: float = math.nan
    specific_energy_wh_kg: float = math.nan
    energy_density_wh_l: float = math.nan
    electrode_specific_energy_wh_kg: float = math.nan
    am_specific_capacity_mah_g: float = math.nan
    nominal_capacity_ah: float = math.nan
    areal_capacity_mah_cm2: float = math.nan
    electrode_area_m2: float = math.nan
    anode_thickness_m: float = math.nan
    cell_mass_kg: float = math.nan
    cell_volume_l: float = math.nan
    max_temperature_k: float = math.nan
    masses_kg: dict[str, float] = dataclasses.field(default_factory=dict)
    build_time_s: float = 0.0
    solve_time_s: float = 0.0
    inputs: dict[str, Any] = dataclasses.field(default_factory=dict)
    curve: DischargeCurve = dataclasses.field(default_factory=DischargeCurve)

    def to_dict(self) -> dict[str, Any]:
        """Returns a JSON-serialisable dict (``nan`` becomes ``None``)."""
        return finite_or_none(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> CellResult:
        """The result of a :meth:`to_dict` record (JSON ``null`` becomes ``nan``).

        Records written before a field existed (e.g. without ``curve``) load with that field's
        default; keys this version does not know are ignored.
        """
        fields = {f.name: f for f in dataclasses.fields(cls)}
        kwargs: dict[str, Any] = {}
        for name, value in values.items():
            if name not in fields:
                continue
            if name == "curve":
                value = DischargeCurve.from_dict(value or {})
            elif name == "masses_kg":
                value = {k: math.nan if v is None else float(v) for k, v in (value or {}).items()}
            elif name == "inputs":
                value = dict(value or {})
            elif name in ("reason", "termination"):
                value = "" if value is None else str(value)
            elif name == "failed":
                value = bool(value)
            else:
                value = math.nan if value is None else float(value)
            kwargs[name] = value
        if "failed" not in kwargs:
            raise ValueError("a CellResult record needs a 'failed' field")
        return cls(**kwargs)

    def summary(self) -> str:
        """Returns a short human-readable table of the main numbers."""
        if self.failed:
            return f"FAILED: {self.reason}"
        rows = [
            ("capacity", self.capacity_ah, "Ah"),
            ("energy", self.energy_wh, "Wh"),
            ("mean voltage", self.mean_voltage_v, "V"),
            ("duration", self.duration_s / 60.0, "min"),
            ("C-rate (mean)", self.c_rate, "1/h"),
            ("power (mean)", self.power_w_per_kg, "W/kg cell"),
            ("specific energy", self.specific_energy_wh_kg, "Wh/kg cell"),
            ("energy density", self.energy_density_wh_l, "Wh/L cell"),
            ("electrode specific energy", self.electrode_specific_energy_wh_kg, "Wh/kg cathode"),
            ("AM specific capacity", self.am_specific_capacity_mah_g, "mAh/g AM"),
            ("areal capacity", self.areal_capacity_mah_cm2, "mAh/cm2"),
            ("electrode area", self.electrode_area_m2, "m2"),
            ("anode thickness", self.anode_thickness_m * 1e6, "um"),
            ("cell mass", self.cell_mass_kg * 1e3, "g"),
            ("cell volume", self.cell_volume_l * 1e3, "mL"),
        ]
        if math.isfinite(self.max_temperature_k):
            rows.append(("max temperature", self.max_temperature_k - 273.15, "degC"))
        return "\n".join(f"{name:<27s}{value:>12.4g}  {unit}" for name, value, unit in rows)

    def plot(self, ax: Any = None) -> Any:
        """Plots the discharge curve: terminal voltage against discharged capacity.

        Matplotlib is imported here, not with the package. Without ``ax`` a new
        ``matplotlib.figure.Figure`` is made (no pyplot, so no window and no change of the
        user's backend); save it with ``ax.figure.savefig(path)``.

        Args:
            ax: the matplotlib ``Axes`` to draw on; ``None``: a new figure.

        Returns:
            The ``Axes`` drawn on (its figure is ``ax.figure``).

        Raises:
            ValueError: the result failed, or it has no curve (a record from before curves were
                kept).
        """
        if self.failed:
            raise ValueError(f"cannot plot a failed cell result ({self.reason})")
        if len(self.curve) < 2:
            raise ValueError("this cell result has no discharge curve (written before curves were kept)")
        if ax is None:
            from matplotlib.figure import Figure

            ax = Figure(figsize=(6.0, 4.0), layout="constrained").add_subplot()
        ax.plot(self.curve.capacity_ah, self.curve.voltage_v, color="C0", lw=1.5)
        ax.set_xlabel("discharged capacity [A.h]")
        ax.set_ylabel("terminal voltage [V]")
        ax.set_xlim(left=0.0)
        ax.grid(True, lw=0.4, alpha=0.5)
        ax.set_title(
            f"{self.energy_wh:.3g} Wh, {self.specific_energy_wh_kg:.0f} Wh/kg at "
            f"{self.power_w_per_kg:.0f} W/kg ({self.mean_power_w:.3g} W, {self.c_rate:.2g} C mean)",
            fontsize=10,
        )
        return ax
