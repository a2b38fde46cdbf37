"""Validation of the cell inputs: clear ValueErrors for impossible finite values."""

import json
import math

import pytest

from jaxmicro.cell import (
    CathodeProperties,
    CellDesign,
    CellModelConfig,
    CylindricalFormat,
    OperatingPoint,
    PouchFormat,
    StackMaterials,
)

GOOD = dict(
    porosity=0.30,
    am_volume_fraction=0.63,
    cbd_volume_fraction=0.07,
    tortuosity_through_plane=2.5,
    am_electrolyte_area_per_volume_m=3.6e5,
    cbd_coverage=0.2,
)


def props(**changes):
    return CathodeProperties(**{**GOOD, **changes})


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"porosity": 0.0, "cbd_volume_fraction": 0.37}, "porosity must be in"),
        ({"porosity": 1.2}, "porosity must be in"),
        ({"porosity": -0.1, "cbd_volume_fraction": 0.47}, "porosity must be in"),
        ({"am_volume_fraction": 1.0}, "am_volume_fraction must be in"),
        ({"cbd_volume_fraction": -0.01, "porosity": 0.38}, "cbd_volume_fraction must be in"),
        ({"porosity": 0.4}, "must be 1"),
        ({"tortuosity_through_plane": 0.8}, "tortuosity_through_plane must be >= 1"),
        ({"am_electrolyte_area_per_volume_m": 0.36}, "pass m\\^2 per m\\^3"),
        ({"cbd_coverage": 1.5}, "cbd_coverage must be in"),
    ],
)
def test_cathode_properties_reject_impossible_values(changes, message):
    with pytest.raises(ValueError, match=message):
        props(**changes)


def test_cathode_properties_accept_non_finite_measurements_and_report_them():
    p = props(tortuosity_through_plane=math.inf, am_electrolyte_area_per_volume_m=math.nan)
    assert p.non_finite_fields() == ("tortuosity_through_plane", "am_electrolyte_area_per_volume_m")
    assert props().non_finite_fields() == ()
    # Strict JSON: non-finite values become null.
    text = json.dumps(p.to_dict(), allow_nan=False)
    assert json.loads(text)["tortuosity_through_plane"] is None


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"cathode_thickness_m": -80e-6}, "cathode_thickness_m must be in"),
        ({"cathode_thickness_m": 0.0}, "cathode_thickness_m must be in"),
        ({"cathode_thickness_m": 80.0}, "pass metres"),
        ({"cathode_thickness_m": math.nan}, "must be finite"),
        ({"particle_radius_m": 5.0}, "particle_radius_m must be in"),
        ({"np_ratio": 0.9}, "np_ratio must be in"),
        ({"cell_format": "18650"}, "cell_format must be"),
    ],
)
def test_cell_design_rejects_impossible_values(changes, message):
    with pytest.raises(ValueError, match=message):
        CellDesign(**{"cathode_thickness_m": 80e-6, **changes})


def test_cell_design_resolves_format_names():
    assert isinstance(CellDesign(80e-6).cell_format, CylindricalFormat)
    assert isinstance(CellDesign(80e-6, cell_format="pouch").cell_format, PouchFormat)
    custom = CylindricalFormat(height_m=0.07)
    assert CellDesign(80e-6, cell_format=custom).cell_format is custom
    json.dumps(CellDesign(80e-6).to_dict(), allow_nan=False)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "exactly one"),
        ({"c_rate": 1.0, "power_w_per_kg": 100.0}, "exactly one"),
        ({"c_rate": -1.0}, "positive finite"),
        ({"power_w_per_kg": 0.0}, "positive finite"),
        ({"power_w_per_kg": math.inf}, "positive finite"),
    ],
)
def test_operating_point_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        OperatingPoint(**kwargs)


def test_operating_point_mode():
    assert OperatingPoint(c_rate=2).mode == "current"
    assert OperatingPoint(power_w_per_kg=300).mode == "power"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: StackMaterials(separator_thickness_m=-1e-6), "separator_thickness_m must be > 0"),
        (lambda: StackMaterials(separator_porosity=1.0), "separator_porosity must be in"),
        (lambda: CylindricalFormat(headspace_m=0.09), "headspace_m must be in"),
        (lambda: CylindricalFormat(core_diameter_m=0.05), "no room"),
        (lambda: PouchFormat(seal_width_m=0.06), "no room"),
        (lambda: CellModelConfig(cbd_blocking=2.0), "cbd_blocking"),
        (lambda: CellModelConfig(charged_stoichiometry=0.95), "charged_stoichiometry"),
        (lambda: CellModelConfig(half_cell_voltage_window_v=(4.3, 3.0)), "voltage window"),
    ],
)
def test_other_validation(make, message):
    with pytest.raises(ValueError, match=message):
        make()
