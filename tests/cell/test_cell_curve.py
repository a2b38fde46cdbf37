"""The discharge curve kept in CellResult, its JSON round trip, the plot and ``jaxmicro cell --plot``."""

import json
import math

import numpy as np
import pytest

from jaxmicro.cell import (
    CathodeProperties,
    CellDesign,
    CellModelConfig,
    CellResult,
    DischargeCurve,
    OperatingPoint,
    simulate_cell,
)
from jaxmicro.cell.result import MAX_CURVE_POINTS
from jaxmicro.cli import main

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def props(porosity=0.30, am=0.63, tau=2.5, radius=5.22e-6):
    return CathodeProperties(
        porosity=porosity,
        am_volume_fraction=am,
        cbd_volume_fraction=1.0 - porosity - am,
        tortuosity_through_plane=tau,
        am_electrolyte_area_per_volume_m=3.0 * am / radius,
    )


@pytest.fixture(scope="module")
def full_cell():
    result = simulate_cell(props(), CellDesign(cathode_thickness_m=70e-6), OperatingPoint(c_rate=1.0))
    assert not result.failed, result.reason
    return result


def test_curve_is_bounded_whole_cell_and_ends_at_the_result(full_cell):
    curve = full_cell.curve
    assert 20 <= len(curve) <= MAX_CURVE_POINTS
    t = np.array(curve.time_s)
    assert t[0] == 0.0 and np.all(np.diff(t) > 0) and t[-1] == full_cell.duration_s
    # The last point is the solve's last point: the same numbers as the scalar fields.
    assert curve.capacity_ah[0] == 0.0 and curve.capacity_ah[-1] == full_cell.capacity_ah
    assert np.all(np.diff(curve.capacity_ah) > 0)
    assert curve.voltage_v[-1] == pytest.approx(2.5, abs=1e-6)  # Chen2020's lower cut-off
    assert 3.9 < curve.voltage_v[0] < 4.3
    # Constant current of the whole cell: 1C of the cell's nominal capacity.
    assert np.allclose(curve.current_a, full_cell.nominal_capacity_ah, rtol=1e-9)
    assert curve.temperature_k == ()  # isothermal
    # Energy from the subsampled curve agrees with PyBaMM's integral.
    v, i = np.array(curve.voltage_v), np.array(curve.current_a)
    energy = np.sum(0.5 * (v[1:] * i[1:] + v[:-1] * i[:-1]) * np.diff(t)) / 3600.0
    assert energy == pytest.approx(full_cell.energy_wh, rel=2e-3)


def test_constant_power_curve_and_thermal_temperatures():
    design = CellDesign(cathode_thickness_m=60e-6, half_cell=True, cell_format="pouch")
    config = CellModelConfig(thermal="lumped")
    result = simulate_cell(props(), design, OperatingPoint(power_w_per_kg=300.0), config)
    assert not result.failed, result.reason
    curve = result.curve
    power = np.array(curve.voltage_v) * np.array(curve.current_a)
    assert np.allclose(power, 300.0 * result.cell_mass_kg, rtol=1e-4)  # solver tolerance
    assert curve.current_a[-1] > curve.current_a[0]  # the current rises as the voltage falls
    assert len(curve.temperature_k) == len(curve)
    assert curve.temperature_k[0] == pytest.approx(298.15)
    assert max(curve.temperature_k) <= result.max_temperature_k
    assert max(curve.temperature_k) == pytest.approx(result.max_temperature_k, abs=0.05)
    assert curve.capacity_ah[-1] == result.capacity_ah


def test_result_round_trips_through_strict_json(full_cell):
    record = json.loads(json.dumps(full_cell.to_dict(), allow_nan=False))
    assert len(record["curve"]["voltage_v"]) == len(full_cell.curve)
    assert record["curve"]["temperature_k"] == []
    assert record["max_temperature_k"] is None  # NaN written as null
    back = CellResult.from_dict(record)
    assert back.curve == full_cell.curve
    assert back.to_dict() == full_cell.to_dict()
    assert math.isnan(back.max_temperature_k)
    assert len(json.dumps(record)) < 20_000  # small enough for one record per evaluation


def test_old_and_failed_records_load():
    old = CellResult(failed=False, capacity_ah=1.0, energy_wh=3.6).to_dict()
    del old["curve"]
    old["a_field_from_the_future"] = 1
    back = CellResult.from_dict(old)
    assert back.curve == DischargeCurve() and len(back.curve) == 0
    assert back.energy_wh == 3.6
    failed = json.loads(json.dumps(CellResult(failed=True, reason="boom").to_dict()))
    again = CellResult.from_dict(failed)
    assert again.failed and again.reason == "boom" and math.isnan(again.energy_wh)
    with pytest.raises(ValueError, match="failed"):
        CellResult.from_dict({"energy_wh": 1.0})


def test_subsampling_keeps_the_ends_and_the_knee():
    n = 5000
    capacity = np.linspace(0.0, 5.0, n)
    voltage = 4.0 - 0.2 * capacity - 1e-6 * np.exp(3.0 * capacity)  # flat, then a steep knee
    t = capacity * 720.0
    curve = DischargeCurve.from_solution(t, voltage, np.full(n, 5.0), capacity, temperature_k=300 + t / 1e3)
    assert len(curve) <= MAX_CURVE_POINTS
    assert curve.time_s[0] == 0.0 and curve.time_s[-1] == t[-1]
    assert curve.capacity_ah[-1] == capacity[-1] and curve.voltage_v[-1] == voltage[-1]
    assert len(curve.temperature_k) == len(curve)
    # The steep last 5 % of the capacity keeps more points than its share of the capacity.
    late = np.sum(np.array(curve.capacity_ah) > 4.75)
    assert late > 0.15 * len(curve)
    short = DischargeCurve.from_solution([0, 1, 2], [4, 3.9, 3], [1, 1, 1], [0, 0.1, 0.2])
    assert short.time_s == (0.0, 1.0, 2.0) and short.temperature_k == ()
    with pytest.raises(ValueError, match="one value per time point"):
        DischargeCurve(time_s=(0.0, 1.0), voltage_v=(4.0,), current_a=(1.0, 1.0), capacity_ah=(0.0, 1.0))


def test_plot_writes_a_png(full_cell, tmp_path):
    ax = full_cell.plot()
    assert ax.get_xlabel() == "discharged capacity [A.h]"
    assert ax.get_ylabel() == "terminal voltage [V]"
    assert "Wh/kg" in ax.get_title() and "W/kg" in ax.get_title()
    path = tmp_path / "curve.png"
    ax.figure.savefig(path)
    assert path.read_bytes()[:8] == PNG_MAGIC
    with pytest.raises(ValueError, match="failed"):
        CellResult(failed=True, reason="infeasible").plot()
    with pytest.raises(ValueError, match="no discharge curve"):
        CellResult(failed=False, energy_wh=1.0).plot()


def test_cli_plot(tmp_path, capsys):
    png = tmp_path / "curve.png"
    assert main(["cell", "--thickness-um", "70", "--tau", "2.5", "--plot", str(png)]) == 0
    assert png.read_bytes()[:8] == PNG_MAGIC
    assert f"wrote {png}" in capsys.readouterr().out
    # An infeasible power: no curve; one error line, nonzero exit, no file.
    bad = tmp_path / "bad.png"
    code = main(["cell", "--thickness-um", "70", "--power-w-per-kg", "1e5", "--plot", str(bad)])
    captured = capsys.readouterr()
    assert code == 2 and not bad.exists()
    assert "FAILED" in captured.out
    errors = captured.err.strip().splitlines()
    assert len(errors) == 1 and errors[0].startswith("jaxmicro cell: error: --plot: no curve to plot")
