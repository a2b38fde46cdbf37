"""The lumped thermal option: a 4680 heats more at higher power, and bad settings are refused."""

import math

import pytest

from jaxmicro.cell import CathodeProperties, CellDesign, CellModelConfig, OperatingPoint, simulate_cell
from jaxmicro.cell.formats import CylindricalFormat, PouchFormat

CATHODE = CathodeProperties(
    porosity=0.30,
    am_volume_fraction=0.63,
    cbd_volume_fraction=0.07,
    tortuosity_through_plane=2.5,
    am_electrolyte_area_per_volume_m=3.6e5,
    solid_conductivity_s_m=0.2,
)


def test_a_4680_heats_more_at_higher_power_and_isothermal_reports_no_temperature():
    lumped = CellModelConfig(thermal="lumped")
    design = CellDesign(80e-6)
    rises = []
    for power in (100.0, 500.0):
        result = simulate_cell(CATHODE, design, OperatingPoint(power_w_per_kg=power), lumped)
        assert not result.failed, result.reason
        rises.append(result.max_temperature_k - 298.15)
    # Still air (10 W/m^2 K): the 4680 barely cools during a discharge; heat grows ~ I^2.
    assert 0.5 < rises[0] < rises[1] < 80.0
    assert rises[1] > 3 * rises[0]
    isothermal = simulate_cell(CATHODE, design, OperatingPoint(power_w_per_kg=500.0))
    assert math.isnan(isothermal.max_temperature_k)
    assert isothermal.to_dict()["max_temperature_k"] is None


def test_cooling_areas_of_the_formats():
    mantle_and_ends = math.pi * 0.046 * 0.08 + 0.5 * math.pi * 0.046**2
    assert CylindricalFormat().surface_area_m2 == pytest.approx(mantle_and_ends)
    assert PouchFormat().surface_area_m2 == pytest.approx(2 * (0.3 * 0.1 + 0.3 * 0.01 + 0.1 * 0.01))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"thermal": "3d"}, "thermal must be one of"),
        ({"heat_transfer_coefficient_w_m2_k": 0.0}, "heat_transfer"),
    ],
)
def test_bad_thermal_settings_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        CellModelConfig(**kwargs)


def test_a_cell_config_survives_json_with_its_thermal_model_and_tuples():
    """A campaign's log header records its cell model (so a reader rebuilds the objective)."""
    import json

    config = CellModelConfig(thermal="lumped", heat_transfer_coefficient_w_m2_k=250.0,
                             parameter_overrides=(("Negative electrode porosity", 0.3),),
                             full_cell_voltage_window_v=(2.7, 4.1))
    back = CellModelConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert back == config and hash(back) == hash(config)
    assert CellModelConfig.from_dict(CellModelConfig().to_dict()) == CellModelConfig()
