"""Sanity physics of the PyBaMM cell simulation, lithium inventory, failures and the cache."""

import json
import math

import pytest

from jaxmicro.cell import (
    CathodeProperties,
    CellDesign,
    CellModelConfig,
    OperatingPoint,
    build_simulation,
    setup_cell,
    simulate_cell,
)
from jaxmicro.cell.parameters import (
    AREA_FACTOR,
    FARADAY_C_MOL,
    build_parameter_values,
    import_pybamm,
)

NMC811_MOLAR_MASS = 0.09728  # kg/mol, LiNi0.8Mn0.1Co0.1O2
CHEN2020_CHARGED_STO = 17038.0 / 63104.0  # Chen2020 initial positive concentration / maximum


def props(porosity=0.30, am=0.63, tau=2.5, area=None, coverage=0.0, radius=5.22e-6):
    return CathodeProperties(
        porosity=porosity,
        am_volume_fraction=am,
        cbd_volume_fraction=1.0 - porosity - am,
        tortuosity_through_plane=tau,
        am_electrolyte_area_per_volume_m=3.0 * am / radius if area is None else area,
        cbd_coverage=coverage,
    )


def energy(p, design, op):
    result = simulate_cell(p, design, op)
    assert not result.failed, result.reason
    return result.energy_wh


def test_lithium_inventory_is_exact_and_independent_of_the_measured_area():
    pybamm = import_pybamm()
    design = CellDesign(cathode_thickness_m=70e-6, particle_radius_m=4e-6)
    op = OperatingPoint(c_rate=1.0)
    sphere = setup_cell(props(radius=4e-6), design, op)
    rough = setup_cell(props(area=9e5, coverage=0.3, radius=4e-6), design, op)
    # The measured area changes only the exchange-current factor: same model, same inventory.
    assert sphere.fixed == rough.fixed
    # The model is built at Chen2020's 5.22 um; the area factor is relative to its sphere area.
    assert sphere.inputs[AREA_FACTOR] == pytest.approx(5.22 / 4.0)
    assert rough.inputs[AREA_FACTOR] == pytest.approx(9e5 / (3 * 0.63 / 5.22e-6))
    assert {k for k in sphere.inputs if sphere.inputs[k] != rough.inputs[k]} == {AREA_FACTOR}

    fixed = dict(rough.fixed)
    c_max = fixed["Maximum concentration in positive electrode [mol.m-3]"]
    assert c_max == pytest.approx(design.materials.am_density_kg_m3 / NMC811_MOLAR_MASS)
    A = rough.budget.electrode_area_m2
    volume = 70e-6 * A
    expected = 0.63 * c_max * CHEN2020_CHARGED_STO * volume  # eps_AM c_max x_100 V [mol]
    sim = pybamm.Simulation(
        pybamm.lithium_ion.DFN(dict(rough.options)),
        parameter_values=build_parameter_values(CellModelConfig(), rough),
    )
    solution = sim.solve([0.0, 1.0], inputs=rough.inputs)
    inventory = solution["Total lithium in positive electrode [mol]"].entries[0]
    assert inventory == pytest.approx(expected, rel=1e-9)
    # 1C is the reversible lithium between the charged and discharged stoichiometries.
    reversible = 0.63 * c_max * (0.9084 - CHEN2020_CHARGED_STO) * volume * FARADAY_C_MOL / 3600
    assert rough.nominal_capacity_ah == pytest.approx(reversible, rel=1e-12)


def test_measured_area_enters_the_kinetics():
    design = CellDesign(80e-6)
    op = OperatingPoint(c_rate=2.0)
    e_full = energy(props(), design, op)
    e_blocked = energy(props(area=0.1 * 3 * 0.63 / 5.22e-6), design, op)  # 90 % of it under CBD
    e_rough = energy(props(area=3 * 3 * 0.63 / 5.22e-6), design, op)
    assert e_blocked < e_full < e_rough


def test_energy_falls_as_tortuosity_rises_and_reuses_the_built_model():
    design = CellDesign(80e-6)
    op = OperatingPoint(c_rate=2.0)
    results = [simulate_cell(props(tau=tau), design, op) for tau in (1.5, 3.0, 6.0)]
    assert not any(r.failed for r in results)
    energies = [r.energy_wh for r in results]
    assert energies[0] > energies[1] > energies[2]
    assert results[1].build_time_s == 0.0 and results[2].build_time_s == 0.0


def test_energy_falls_as_power_rises_and_power_is_applied_at_cell_level():
    design = CellDesign(80e-6)
    powers = (50, 200, 500)
    results = [simulate_cell(props(), design, OperatingPoint(power_w_per_kg=p)) for p in powers]
    assert not any(r.failed for r in results), [r.reason for r in results]
    assert results[0].energy_wh > results[1].energy_wh > results[2].energy_wh
    for p, r in zip(powers, results, strict=True):
        assert r.power_w_per_kg == pytest.approx(p, rel=1e-3)
        assert r.mean_power_w == pytest.approx(p * r.cell_mass_kg, rel=1e-3)


def test_capacity_scales_with_am_loading_and_thickness():
    op = OperatingPoint(c_rate=0.1)
    cases = [
        (50e-6, props(porosity=0.35, am=0.55)),
        (100e-6, props(porosity=0.35, am=0.55)),
        (50e-6, props(porosity=0.27, am=0.68)),
    ]
    per_loading = []
    for thickness, p in cases:
        r = simulate_cell(p, CellDesign(thickness), op)
        assert not r.failed, r.reason
        loading = p.am_volume_fraction * thickness * r.electrode_area_m2
        per_loading.append(r.capacity_ah / loading)
    assert max(per_loading) / min(per_loading) < 1.03


def test_half_cell_capacity_is_am_mass_times_nmc811_specific_capacity():
    # NMC811 theoretical 275.5 mAh/g; from the charged state x = 0.27 a half cell can take
    # lithium up to x = 1 at low rate: 0.73 * 275.5 = 201 mAh/g (NMC811 half cells give
    # about 200 mAh/g at C/10 between 3.0 and 4.3 V).
    specific = FARADAY_C_MOL / 3.6 / (NMC811_MOLAR_MASS * 1e3) * (1.0 - CHEN2020_CHARGED_STO)
    assert 195 < specific < 205
    r = simulate_cell(props(), CellDesign(60e-6, half_cell=True), OperatingPoint(c_rate=0.05))
    assert not r.failed, r.reason
    am_mass_g = 60e-6 * r.electrode_area_m2 * 0.63 * 4700.0 * 1e3
    expected_ah = am_mass_g * specific / 1e3
    assert r.capacity_ah == pytest.approx(expected_ah, rel=0.03)
    assert r.am_specific_capacity_mah_g == pytest.approx(specific, rel=0.03)


def test_default_4680_design_has_a_realistic_specific_energy():
    r = simulate_cell(props(), CellDesign(80e-6), OperatingPoint(c_rate=1 / 3))
    assert not r.failed, r.reason
    assert 200.0 < r.specific_energy_wh_kg < 300.0
    assert 550.0 < r.energy_density_wh_l < 800.0
    assert 3.4 < r.mean_voltage_v < 3.8
    assert r.electrode_specific_energy_wh_kg > 2 * r.specific_energy_wh_kg
    json.dumps(r.to_dict(), allow_nan=False)


def test_thick_cathodes_win_at_low_power_and_lose_at_high_power():
    thin, thick = CellDesign(60e-6), CellDesign(120e-6)
    low, high = OperatingPoint(power_w_per_kg=50), OperatingPoint(power_w_per_kg=500)
    assert energy(props(), thick, low) > energy(props(), thin, low)
    assert energy(props(), thick, high) < energy(props(), thin, high)


def test_pouch_full_cell():
    r = simulate_cell(props(), CellDesign(80e-6, cell_format="pouch"), OperatingPoint(c_rate=0.5))
    assert not r.failed, r.reason
    assert 150.0 < r.specific_energy_wh_kg < 320.0
    assert r.cell_volume_l == pytest.approx(0.3)


@pytest.mark.parametrize(
    ("p", "op", "reason"),
    [
        (props(tau=math.inf), OperatingPoint(c_rate=1.0), "non-percolating"),
        (props(area=math.nan), OperatingPoint(c_rate=1.0), "non-finite"),
        (props(), OperatingPoint(c_rate=100.0), "cut-off at t = 0"),
        (props(), OperatingPoint(power_w_per_kg=1e6), ""),
    ],
)
def test_failures_come_back_marked_failed(p, op, reason):
    r = simulate_cell(p, CellDesign(80e-6), op)
    assert r.failed
    assert reason in r.reason and r.reason
    assert math.isnan(r.energy_wh) and math.isnan(r.specific_energy_wh_kg)
    data = json.loads(json.dumps(r.to_dict(), allow_nan=False))
    assert data["failed"] is True and data["energy_wh"] is None


def test_build_simulation_caches_nothing_and_solves():
    setup = setup_cell(props(), CellDesign(80e-6), OperatingPoint(c_rate=1.0))
    sim = build_simulation(CellModelConfig(), setup)
    solution = sim.solve([0.0, setup.t_max_s], inputs=setup.inputs)
    assert "Minimum voltage" in solution.termination


def _fail_solves_at(monkeypatch, failing_rtols):
    """Makes every solve of a model built with an rtol in ``failing_rtols`` raise as IDA does."""
    from jaxmicro.cell import simulate as module

    cached = module._cached_simulation

    class Failing:
        def __init__(self, simulation):
            self.simulation = simulation

        def solve(self, *args, **kwargs):
            raise RuntimeError("input set 0: IDA_CONV_FAIL: Convergence test failures occurred")

    def patched(config, setup):
        simulation, lock, seconds = cached(config, setup)
        return (Failing(simulation) if config.rtol in failing_rtols else simulation), lock, seconds

    monkeypatch.setattr(module, "_cached_simulation", patched)


def test_a_failed_solve_is_retried_once_at_tighter_tolerances(monkeypatch):
    # At rtol 1e-4 IDA's corrector fails near the end of some constant-power discharges (seen
    # in the design loop); the retry at 100x tighter tolerances must give the tight answer.
    p, design, op = props(), CellDesign(cathode_thickness_m=80e-6), OperatingPoint(power_w_per_kg=500.0)
    tight = simulate_cell(p, design, op, CellModelConfig(rtol=1e-6, atol=1e-8))
    assert not tight.failed, tight.reason
    _fail_solves_at(monkeypatch, {1e-4})
    retried = simulate_cell(p, design, op)
    assert not retried.failed, retried.reason
    assert retried.energy_wh == pytest.approx(tight.energy_wh, rel=1e-9)
    _fail_solves_at(monkeypatch, {1e-4, 1e-6})
    failed = simulate_cell(p, design, op)
    assert failed.failed and "also at 100x tighter tolerances" in failed.reason
    assert "IDA_CONV_FAIL" in failed.reason
