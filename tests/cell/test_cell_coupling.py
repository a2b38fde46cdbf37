"""How measured microstructure properties enter the DFN: reactive area (CBD coverage counted
once), the particle radius as an input, and the measured solid conductivity, each against a
plain PyBaMM DFN built in the test."""

import math

import pytest

from jaxmicro.cell import (
    CathodeProperties,
    CellDesign,
    CellModelConfig,
    OperatingPoint,
    setup_cell,
    simulate_cell,
)
from jaxmicro.cell.parameters import (
    AREA_FACTOR,
    DIFFUSIVITY_FACTOR,
    SOLID_CONDUCTIVITY,
    TAU_ELECTRODE,
    import_pybamm,
    reactive_area_per_volume_m,
)

R_MODEL = 5.22e-6  # Chen2020's positive particle radius, the built model's


def cathode(area=3.6e5, coverage=0.0, sigma=None, porosity=0.30, am=0.63, tau=2.5):
    return CathodeProperties(
        porosity=porosity,
        am_volume_fraction=am,
        cbd_volume_fraction=1.0 - porosity - am,
        tortuosity_through_plane=tau,
        am_electrolyte_area_per_volume_m=area,
        cbd_coverage=coverage,
        solid_conductivity_s_m=sigma,
    )


def test_cbd_coverage_is_counted_once_in_the_reactive_area():
    design, op = CellDesign(80e-6), OperatingPoint(c_rate=1.0)
    # The measured pore-AM area already excludes the AM under CBD: with blocked CBD it is the
    # reactive area as it is, whatever the coverage (the old coupling multiplied it by 1 - cov).
    for coverage in (0.0, 0.3, 0.6):
        setup = setup_cell(cathode(coverage=coverage), design, op)
        model_area = setup.inputs[AREA_FACTOR] * 3.0 * 0.63 / R_MODEL
        assert model_area == pytest.approx(3.6e5, rel=1e-12)
    # An unblocked CBD adds its AM-CBD share back: the whole AM surface a_e / (1 - cov) reacts.
    whole = reactive_area_per_volume_m(cathode(coverage=0.6), cbd_blocking=0.0)
    assert whole == pytest.approx(3.6e5 / 0.4, rel=1e-12)
    half = reactive_area_per_volume_m(cathode(coverage=0.6), cbd_blocking=0.5)
    assert half == pytest.approx(3.6e5 * (1 + 0.5 * 0.6 / 0.4), rel=1e-12)


def test_radius_and_conductivity_are_inputs_of_one_built_model():
    op = OperatingPoint(c_rate=1.0)
    a = setup_cell(cathode(sigma=2.0), CellDesign(80e-6, particle_radius_m=4e-6), op)
    b = setup_cell(cathode(sigma=0.05), CellDesign(80e-6, particle_radius_m=9e-6), op)
    assert a.fixed == b.fixed
    assert a.inputs[DIFFUSIVITY_FACTOR] == pytest.approx((R_MODEL / 4e-6) ** 2)
    # No second efficiency factor on a measured conductivity: (1 - eps) / tau_s = 1.
    assert a.inputs[SOLID_CONDUCTIVITY] == 2.0
    assert (1 - 0.30) / a.inputs[TAU_ELECTRODE] == pytest.approx(1.0)
    base = setup_cell(cathode(), CellDesign(80e-6), op)
    assert base.inputs[SOLID_CONDUCTIVITY] == pytest.approx(0.18)  # Chen2020, efficiency (1-eps)^0


@pytest.mark.parametrize("bad", [0.0, -1.0])
def test_a_non_positive_conductivity_is_refused_in_one_line(bad):
    with pytest.raises(ValueError, match="solid_conductivity_s_m must be > 0"):
        cathode(sigma=bad)


def test_a_nan_conductivity_fails_the_simulation_with_its_name():
    result = simulate_cell(cathode(sigma=math.nan), CellDesign(80e-6), OperatingPoint(c_rate=1.0))
    assert result.failed and "solid_conductivity_s_m" in result.reason


def _plain_dfn_energy_wh(setup, radius_m: float, sigma_s_m: float, porosity: float, am: float, tau: float):
    """A plain Chen2020 DFN with the radius, area 3 eps_AM / R and conductivity set directly."""
    pybamm = import_pybamm()
    values = pybamm.ParameterValues("Chen2020")
    fixed = dict(setup.fixed)
    c_scale = 63104.0 / fixed["Maximum concentration in positive electrode [mol.m-3]"]
    j0 = values["Positive electrode exchange-current density [A.m-2]"]
    values.update(
        {
            **fixed,
            "Positive particle radius [m]": radius_m,
            "Positive electrode porosity": porosity,
            "Positive electrode active material volume fraction": am,
            "Positive electrode conductivity [S.m-1]": sigma_s_m,
            "Positive electrode tortuosity factor (electrolyte)": tau,
            "Positive electrode tortuosity factor (electrode)": 1.0 - porosity,
            "Negative electrode active material volume fraction": setup.inputs[
                "Negative electrode active material volume fraction"
            ],
            "Initial concentration in negative electrode [mol.m-3]": setup.inputs[
                "Initial concentration in negative electrode [mol.m-3]"
            ],
            "Current function [A]": setup.inputs["Current function [A]"],
            "Nominal cell capacity [A.h]": setup.inputs["Nominal cell capacity [A.h]"],
            "Positive electrode exchange-current density [A.m-2]": lambda ce, cs, cmax, T: j0(
                ce, cs * c_scale, cmax * c_scale, T
            ),
        },
        check_already_exists=False,
    )
    model = pybamm.lithium_ion.DFN(
        {"transport efficiency": "tortuosity factor", "calculate discharge energy": "true"}
    )
    solution = pybamm.Simulation(model, parameter_values=values).solve([0, setup.t_max_s])
    return float(solution["Discharge energy [W.h]"].entries[-1])


@pytest.mark.parametrize(
    ("radius_m", "sigma_s_m", "c_rate"),
    [(4.0e-6, 0.05, 2.0), (9.0e-6, 3.0, 1.0)],
)
def test_simulate_cell_agrees_with_a_plain_pybamm_dfn(radius_m, sigma_s_m, c_rate):
    porosity, am, tau = 0.30, 0.63, 2.5
    props = cathode(area=3 * am / radius_m, sigma=sigma_s_m, porosity=porosity, am=am, tau=tau)
    design = CellDesign(80e-6, particle_radius_m=radius_m)
    op = OperatingPoint(c_rate=c_rate)
    ours = simulate_cell(props, design, op, CellModelConfig(anode_thickness_step_m=0.0))
    assert not ours.failed, ours.reason
    setup = setup_cell(props, design, op, CellModelConfig(anode_thickness_step_m=0.0))
    plain = _plain_dfn_energy_wh(setup, radius_m, sigma_s_m, porosity, am, tau)
    # Same equations (the radius through the diffusivity factor): agreement far inside 1 %.
    assert ours.energy_wh == pytest.approx(plain, rel=1e-3)
