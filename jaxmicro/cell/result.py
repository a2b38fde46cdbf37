"""The result of one cell simulation."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from jaxmicro._files import finite_or_none


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

    def to_dict(self) -> dict[str, Any]:
        """Returns a JSON-serialisable dict (``nan`` becomes ``None``)."""
        return finite_or_none(dataclasses.asdict(self))

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
