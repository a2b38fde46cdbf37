"""Simulates one discharge with PyBaMM's DFN and normalises it at electrode and cell level.

Models are built once per distinct set of non-input parameters (thicknesses, radius, area,
voltage window, model options) and kept in a small per-process LRU cache; every other
parameter is an IDAKLU input, so a repeat solve costs tens of milliseconds instead of a build.
Nothing here raises for a failed or infeasible simulation: :func:`simulate_cell` returns a
:class:`CellResult` marked failed with the reason.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import math
import threading
import time
from typing import Any

from jaxmicro.cell.inputs import CathodeProperties, CellDesign, OperatingPoint
from jaxmicro.cell.parameters import (
    AREA_FACTOR,
    TEMPERATURE,
    CellModelConfig,
    CellSetup,
    build_parameter_values,
    import_pybamm,
    setup_cell,
)
from jaxmicro.cell.result import CellResult, DischargeCurve

CACHE_SIZE = 8
CAPACITY = "Discharge capacity [A.h]"
ENERGY = "Discharge energy [W.h]"
VOLTAGE = "Voltage [V]"
CURRENT = "Current [A]"
_OUTPUT_VARIABLES = [CAPACITY, ENERGY, VOLTAGE, CURRENT]
_CUTOFF_EVENT = "Minimum voltage [V]"
_INFEASIBLE = "the voltage starts below the cut-off; the operating point is infeasible"
RETRY_TOLERANCE_FACTOR = 100.0
"""A solve that fails (e.g. IDA_CONV_FAIL near the end of a constant-power discharge) is retried
once with ``rtol`` and ``atol`` this many times tighter: at the defaults IDA's corrector failed in
14 of 154 design-loop discharges (at 300 and 500 W/kg), and every one retried succeeded."""

_cache: collections.OrderedDict[Any, tuple[Any, threading.Lock]] = collections.OrderedDict()
_cache_lock = threading.Lock()


def model_key(config: CellModelConfig, setup: CellSetup) -> tuple[Any, ...]:
    """The model-cache key: everything that needs a rebuild when it changes."""
    return (config, setup.options, setup.fixed, tuple(sorted(setup.inputs)))


def clear_model_cache() -> None:
    """Drops every cached PyBaMM simulation of this process."""
    with _cache_lock:
        _cache.clear()


@functools.lru_cache(maxsize=8)
def _dfn(options: tuple[tuple[str, str], ...]) -> Any:
    """The unparameterised DFN for these options (about 50 ms to create; copied per build)."""
    return import_pybamm().lithium_ion.DFN(dict(options))


def _outputs(config: CellModelConfig) -> list[str]:
    return _OUTPUT_VARIABLES + ([TEMPERATURE] if config.thermal == "lumped" else [])


def build_simulation(config: CellModelConfig, setup: CellSetup) -> Any:
    """Builds (parameterises and discretises) the PyBaMM simulation of a setup."""
    pybamm = import_pybamm()
    n = config.mesh_points
    simulation = pybamm.Simulation(
        _dfn(setup.options).new_copy(),
        parameter_values=build_parameter_values(config, setup),
        var_pts={"x_n": n, "x_s": n, "x_p": n, "r_n": n, "r_p": n},
        solver=pybamm.IDAKLUSolver(rtol=config.rtol, atol=config.atol, output_variables=_outputs(config)),
    )
    simulation.build()
    return simulation


def _cached_simulation(config: CellModelConfig, setup: CellSetup) -> tuple[Any, Any, float]:
    key = model_key(config, setup)
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return (*_cache[key], 0.0)
        start = time.perf_counter()
        entry = (build_simulation(config, setup), threading.Lock())
        _cache[key] = entry
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
        return (*entry, time.perf_counter() - start)


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"[:300]


def simulate_cell(
    properties: CathodeProperties,
    design: CellDesign,
    operating_point: OperatingPoint,
    config: CellModelConfig | None = None,
) -> CellResult:
    """Discharges a cell from the charged state at constant current or power.

    Args:
        properties: measured cathode properties.
        design: cathode thickness, particle radius, N/P, half/full cell, format.
        operating_point: C-rate, or cell-level power [W per kg of the whole cell].
        config: modelling choices (parameter set, cut-offs, mesh, tolerances); ``None``:
            defaults.

    Returns:
        A :class:`CellResult`; ``failed=True`` with a ``reason`` for non-finite inputs
        (``tau = inf``: non-percolating pore phase), zero active area, solver errors (after one
        retry at :data:`RETRY_TOLERANCE_FACTOR` times tighter tolerances), an
        immediate cut-off (infeasible power or current), a solve that never reaches the
        cut-off, or non-finite outputs.

    Raises:
        ValueError: only for an invalid ``config`` (e.g. unknown parameter set).
    """
    config = config or CellModelConfig()
    record = {
        "properties": properties.to_dict(),
        "design": design.to_dict(),
        "operating_point": operating_point.to_dict(),
    }

    def failed(reason: str, **fields: Any) -> CellResult:
        return CellResult(failed=True, reason=reason, inputs=record, **fields)

    bad = properties.non_finite_fields()
    if bad:
        if bad == ("tortuosity_through_plane",) and properties.tortuosity_through_plane > 0:
            return failed("non-percolating pore phase (tortuosity_through_plane = inf)")
        return failed(f"non-finite measured properties: {', '.join(bad)}")

    setup = setup_cell(properties, design, operating_point, config)
    budget = setup.budget
    geometry = {
        "nominal_capacity_ah": setup.nominal_capacity_ah,
        "areal_capacity_mah_cm2": setup.nominal_capacity_ah / budget.electrode_area_m2 / 10.0,
        "electrode_area_m2": budget.electrode_area_m2,
        "anode_thickness_m": setup.stack.anode_thickness_m,
        "cell_mass_kg": budget.cell_mass_kg,
        "cell_volume_l": budget.cell_volume_m3 * 1e3,
        "masses_kg": dict(budget.masses_kg),
    }
    if setup.inputs[AREA_FACTOR] <= 0.0:
        return failed("no electrochemically active area (CBD covers all AM surface)", **geometry)

    tight = dataclasses.replace(
        config, rtol=config.rtol / RETRY_TOLERANCE_FACTOR, atol=config.atol / RETRY_TOLERANCE_FACTOR
    )
    start, build_time = time.perf_counter(), 0.0
    for attempt in (config, tight):
        try:
            simulation, lock, seconds = _cached_simulation(attempt, setup)
        except Exception as error:
            return failed(f"model build failed: {_first_line(error)}", **geometry)
        build_time += seconds
        try:
            with lock:
                solution = simulation.solve([0.0, setup.t_max_s], inputs=setup.inputs)
                capacities = solution[CAPACITY].entries
                capacity = float(capacities[-1])
                energy = float(solution[ENERGY].entries[-1])
                duration = float(solution.t[-1])
                termination = str(solution.termination)
                max_temperature, temperatures = math.nan, None
                if config.thermal == "lumped":
                    temperatures = solution[TEMPERATURE].entries
                    max_temperature = float(max(temperatures))
                curve = DischargeCurve.from_solution(
                    solution.t,
                    solution[VOLTAGE].entries,
                    solution[CURRENT].entries,
                    capacities,
                    temperatures,
                )
            break
        except Exception as error:
            if "non-positive at initial conditions" in str(error):
                return failed(f"cut-off at t = 0: {_INFEASIBLE}", **geometry)
            if attempt is tight:
                return failed(
                    f"solver error (also at {RETRY_TOLERANCE_FACTOR:g}x tighter tolerances): "
                    f"{_first_line(error)}",
                    **geometry,
                )
    geometry["build_time_s"] = build_time
    geometry["solve_time_s"] = time.perf_counter() - start - build_time

    if not all(math.isfinite(v) for v in (capacity, energy, duration)):
        return failed("non-finite solution", termination=termination, **geometry)
    if duration <= 0.0 or capacity <= 1e-9 * setup.nominal_capacity_ah:
        return failed(f"cut-off at t = 0: {_INFEASIBLE}", termination=termination, **geometry)
    if _CUTOFF_EVENT not in termination:
        return failed(
            f"discharge did not reach the lower cut-off voltage ({termination})",
            termination=termination,
            **geometry,
        )

    mass = budget.cell_mass_kg
    mean_power = energy * 3600.0 / duration
    return CellResult(
        failed=False,
        termination=termination,
        capacity_ah=capacity,
        energy_wh=energy,
        mean_voltage_v=energy / capacity,
        duration_s=duration,
        mean_power_w=mean_power,
        power_w_per_kg=mean_power / mass,
        c_rate=capacity * 3600.0 / duration / setup.nominal_capacity_ah,
        specific_energy_wh_kg=energy / mass,
        energy_density_wh_l=energy / (budget.cell_volume_m3 * 1e3),
        electrode_specific_energy_wh_kg=energy / budget.masses_kg["cathode_coating"],
        am_specific_capacity_mah_g=capacity / budget.am_mass_kg,
        max_temperature_k=max_temperature,
        inputs=record,
        curve=curve,
        **geometry,
    )
