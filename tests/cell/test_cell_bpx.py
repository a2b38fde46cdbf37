"""BPX export of a designed cell: the file's contents, and PyBaMM's own DFN on the reloaded file
discharging the same energy as ``simulate_cell``."""

import json
import math
import warnings

import pytest

from jaxmicro.cell import (
    CathodeProperties,
    CellDesign,
    CellModelConfig,
    OperatingPoint,
    bpx_parameters,
    export_bpx,
    simulate_cell,
)
from jaxmicro.cell.parameters import import_pybamm
from jaxmicro.cli import main

# A rough, CBD-covered cathode with small particles: the area factor, the radius scaling and the
# capacity-consistent c_max all differ from Chen2020, so each mapping is exercised.
ROUGH = CathodeProperties(
    porosity=0.30,
    am_volume_fraction=0.60,
    cbd_volume_fraction=0.10,
    tortuosity_through_plane=3.0,
    am_electrolyte_area_per_volume_m=2.5e5,
    cbd_coverage=0.2,
)
DESIGN = CellDesign(cathode_thickness_m=80e-6, particle_radius_m=4e-6)
CONDUCTIVE = CathodeProperties(
    porosity=0.35,
    am_volume_fraction=0.55,
    cbd_volume_fraction=0.10,
    tortuosity_through_plane=2.2,
    am_electrolyte_area_per_volume_m=4.0e5,
    solid_conductivity_s_m=0.5,
)
POUCH = CellDesign(cathode_thickness_m=100e-6, particle_radius_m=6e-6, np_ratio=1.2, cell_format="pouch")


def test_bpx_file_contents(tmp_path):
    path = tmp_path / "cell.json"
    written = export_bpx(ROUGH, DESIGN, path)
    data = json.loads(path.read_text())  # strict JSON: no NaN anywhere
    json.dumps(data, allow_nan=False)
    assert data == written
    assert data["Header"]["BPX"] == "1.0.0" and data["Header"]["Model"] == "DFN"
    assert "80 um" in data["Header"]["Description"]
    result = simulate_cell(ROUGH, DESIGN, OperatingPoint(c_rate=1.0))
    par = data["Parameterisation"]
    cell, pos, neg, sep = par["Cell"], par["Positive electrode"], par["Negative electrode"], par["Separator"]
    assert cell["Electrode area [m2]"] == pytest.approx(result.electrode_area_m2)
    assert cell["Nominal cell capacity [A.h]"] == pytest.approx(result.nominal_capacity_ah)
    assert cell["Volume [m3]"] == pytest.approx(result.cell_volume_l / 1e3)
    assert cell["Number of electrode pairs connected in parallel to make a cell"] == 1
    assert (cell["Lower voltage cut-off [V]"], cell["Upper voltage cut-off [V]"]) == (2.5, 4.2)
    assert pos["Thickness [m]"] == 80e-6 and pos["Porosity"] == 0.30
    assert pos["Transport efficiency"] == pytest.approx(0.30 / 3.0)  # eps / measured tau
    assert pos["Particle radius [m]"] == 4e-6
    # BPX readers take eps_AM = a R / 3: the sphere area keeps the measured AM fraction ...
    assert pos["Surface area per unit volume [m-1]"] * 4e-6 / 3.0 == pytest.approx(0.60)
    # ... and the measured reactive area is in the rate constant (Chen2020's NMC, c_e0 = 1 M).
    chen_k = 3.42e-6 * 63104.0 * math.sqrt(1000.0) / 96485.33212
    sphere_area = 3.0 * 0.60 / 4e-6
    assert pos["Reaction rate constant [mol.m-2.s-1]"] == pytest.approx(
        chen_k * 2.5e5 / sphere_area, rel=1e-6
    )
    assert pos["Reaction rate constant activation energy [J.mol-1]"] == pytest.approx(17800.0, rel=1e-6)
    assert pos["Diffusivity [m2.s-1]"] == pytest.approx(4e-15)  # the set's, not the radius-scaled one
    assert pos["Conductivity [S.m-1]"] == pytest.approx(0.18)
    assert pos["Maximum concentration [mol.m-3]"] == pytest.approx(4700.0 / 0.09728, rel=1e-3)
    assert pos["Minimum stoichiometry"] == pytest.approx(17038.0 / 63104.0)
    assert pos["Maximum stoichiometry"] == 0.9084
    # The anode starts at 1 / (N/P) of its capacity and gives up the cathode's window.
    assert neg["Maximum stoichiometry"] == pytest.approx(1.0 / 1.1)
    assert 0.0 <= neg["Minimum stoichiometry"] < 0.01
    assert neg["Thickness [m]"] == pytest.approx(result.anode_thickness_m)
    assert neg["Transport efficiency"] == pytest.approx(0.25**1.5)  # Chen2020's Bruggeman 1.5
    assert sep["Transport efficiency"] == pytest.approx(sep["Porosity"] ** 1.5)
    ocp = pos["OCP [V]"]
    assert len(ocp["x"]) == len(ocp["y"]) > 100 and 3.0 < min(ocp["y"]) < max(ocp["y"]) < 5.0
    assert set(par["Electrolyte"]) >= {
        "Cation transference number",
        "Diffusivity [m2.s-1]",
        "Conductivity [S.m-1]",
    }
    assert data["State"]["Initial conditions"]["Initial electrolyte concentration [mol.m-3]"] == 1000.0
    assert data["State"]["Thermal environment"]["Heat transfer coefficient [W.m-2.K-1]"] == 10.0
    assert "Initial state-of-charge" not in data["State"]["Initial conditions"]  # charged: BPX's default


def test_half_cells_and_non_finite_properties_are_refused(tmp_path, capsys):
    with pytest.raises(ValueError, match="half cell"):
        bpx_parameters(ROUGH, CellDesign(cathode_thickness_m=80e-6, half_cell=True))
    broken = CathodeProperties(
        porosity=0.3,
        am_volume_fraction=0.6,
        cbd_volume_fraction=0.1,
        tortuosity_through_plane=math.inf,
        am_electrolyte_area_per_volume_m=3e5,
    )
    with pytest.raises(ValueError, match="tortuosity_through_plane"):
        bpx_parameters(broken, DESIGN)
    out = tmp_path / "half.json"
    assert main(["cell", "--half-cell", "--bpx", str(out)]) == 2
    assert "half cell cannot be exported" in capsys.readouterr().err
    assert not out.exists()


def test_cli_bpx(tmp_path, capsys):
    path = tmp_path / "cell.json"
    assert main(["cell", "--thickness-um", "80", "--tau", "3", "--bpx", str(path)]) == 0
    assert f"wrote {path}" in capsys.readouterr().out
    data = json.loads(path.read_text())
    assert data["Parameterisation"]["Positive electrode"]["Transport efficiency"] == pytest.approx(0.30 / 3.0)


def _pybamm_energy(path, c_rate, thermal):
    """A plain PyBaMM DFN constant-current discharge on the reloaded BPX file."""
    pybamm = import_pybamm()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # bpx's pydantic and pyparsing deprecation warnings
        values = pybamm.ParameterValues.create_from_bpx(path)
    values["Current function [A]"] = c_rate * values["Nominal cell capacity [A.h]"]
    options = {"calculate discharge energy": "true"}
    if thermal:
        options["thermal"] = "lumped"
    simulation = pybamm.Simulation(pybamm.lithium_ion.DFN(options), parameter_values=values)
    solution = simulation.solve([0.0, 1.3 * 3600.0 / c_rate])
    assert "Minimum voltage" in solution.termination
    temperature = math.nan
    if thermal:
        temperature = float(solution["Volume-averaged cell temperature [K]"].entries.max())
    return (
        float(solution["Discharge energy [W.h]"].entries[-1]),
        float(solution["Discharge capacity [A.h]"].entries[-1]),
        temperature,
    )


@pytest.mark.parametrize(
    ("properties", "design", "c_rate", "thermal"),
    [(ROUGH, DESIGN, 1.0, False), (CONDUCTIVE, POUCH, 2.0, True)],
    ids=["4680-1C-isothermal", "pouch-2C-lumped"],
)
def test_reloaded_bpx_discharges_the_same_energy_in_pybamm(tmp_path, properties, design, c_rate, thermal):
    pytest.importorskip("bpx", reason="pybamm.ParameterValues.create_from_bpx needs the bpx package")
    config = CellModelConfig(
        thermal="lumped" if thermal else "isothermal", heat_transfer_coefficient_w_m2_k=5.0
    )
    ours = simulate_cell(properties, design, OperatingPoint(c_rate=c_rate), config)
    assert not ours.failed, ours.reason
    path = tmp_path / "cell.json"
    export_bpx(properties, design, path, config)
    energy, capacity, temperature = _pybamm_energy(path, c_rate, thermal)
    # Measured: 2e-5 (isothermal 1C) and 4e-5 (lumped 2C) relative; the issue asks for 1 %.
    assert energy == pytest.approx(ours.energy_wh, rel=1e-3)
    assert capacity == pytest.approx(ours.capacity_ah, rel=1e-3)
    if thermal:
        # The cell heats by about 45 K at 2C; 0.5 K is 1 % of that rise (the 1 %).
        # Measured: under 0.1 K on one CPU, 0.12 K on another (2026-12-04), same wheels.
        assert ours.max_temperature_k > 320.0
        assert temperature == pytest.approx(ours.max_temperature_k, abs=0.5)
