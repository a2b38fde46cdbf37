"""Cell formats: the 4680 and pouch mass/volume budgets (pure Python, no PyBaMM)."""

import math

import pytest

from jaxmicro.cell import CellStack, CylindricalFormat, PouchFormat, StackMaterials, cell_budget


def stack(cathode_um=80.0, anode_um=70.0, **materials):
    return CellStack(
        cathode_thickness_m=cathode_um * 1e-6,
        cathode_porosity=0.30,
        cathode_am_fraction=0.63,
        cathode_cbd_fraction=0.07,
        anode_thickness_m=anode_um * 1e-6,
        anode_porosity=0.25,
        anode_solid_density_kg_m3=2240.0,
        materials=StackMaterials(**materials),
    )


@pytest.mark.parametrize("cell_format", [CylindricalFormat(), PouchFormat()])
def test_volume_budget_sums_to_the_outer_volume(cell_format):
    budget = cell_budget(stack(), cell_format)
    assert math.fsum(budget.volumes_m3.values()) == pytest.approx(budget.cell_volume_m3, rel=1e-12)
    assert all(v > 0 for v in budget.volumes_m3.values()), budget.volumes_m3


def test_4680_outer_volume_and_can_mass_from_geometry():
    fmt = CylindricalFormat()
    budget = cell_budget(stack(), fmt)
    assert budget.cell_volume_m3 == pytest.approx(math.pi * 0.023**2 * 0.080)  # 132.9 mL
    # Steel can: wall shell plus bottom disc, 0.5 mm thick.
    shell = math.pi * (0.023**2 - 0.0225**2) * 0.080 + math.pi * 0.0225**2 * 0.5e-3
    assert budget.masses_kg["housing"] == pytest.approx(shell * 7900.0 + fmt.cap_mass_kg)


def test_mass_budget_sums_and_matches_layer_by_layer_accounting():
    s = stack()
    budget = cell_budget(s, CylindricalFormat())
    assert sum(budget.masses_kg.values()) == pytest.approx(budget.cell_mass_kg, rel=1e-12)
    A = budget.electrode_area_m2
    # The jelly roll is exactly the electrode area times the stack layers it contains.
    jelly = budget.volumes_m3["jelly_roll"]
    assert A / 2.0 * s.repeat_unit_thickness_m == pytest.approx(jelly, rel=1e-12)
    # Electrolyte fills every pore of the three porous layers.
    m = s.materials
    pores = A * (80e-6 * 0.30 + 70e-6 * 0.25 + m.separator_thickness_m * m.separator_porosity)
    assert budget.masses_kg["electrolyte"] == pytest.approx(pores * m.electrolyte_density_kg_m3)
    assert budget.am_mass_kg == pytest.approx(A * 80e-6 * 0.63 * m.am_density_kg_m3)


def test_4680_default_budget_is_realistic():
    budget = cell_budget(stack(), CylindricalFormat())
    # Teardowns of the Tesla 4680 weigh 355 g; a 4680 jelly roll is about 0.6 to 0.7 m^2
    # of double-sided cathode.
    assert 0.30 < budget.cell_mass_kg < 0.42
    assert 0.55 < budget.electrode_area_m2 < 0.80
    assert 0.12 < budget.masses_kg["housing"] / budget.cell_mass_kg < 0.25


def test_thicker_electrodes_wind_less_area_and_carry_less_inactive_mass_per_coating():
    thin = cell_budget(stack(50.0, 45.0), CylindricalFormat())
    thick = cell_budget(stack(120.0, 105.0), CylindricalFormat())
    assert thick.electrode_area_m2 < thin.electrode_area_m2
    # Foil and separator per kg of cathode coating fall with thickness: the paper's lever.
    def inactive_share(b):
        inactive = b.masses_kg["positive_foil"] + b.masses_kg["negative_foil"]
        return (inactive + b.masses_kg["separator"]) / b.masses_kg["cathode_coating"]

    assert inactive_share(thick) < 0.5 * inactive_share(thin)
    # Housing is fixed, so the heavier jelly roll of thick electrodes raises the cell mass.
    assert thick.masses_kg["housing"] == thin.masses_kg["housing"]


def test_pouch_area_counts_continuous_repeat_units():
    fmt = PouchFormat()
    s = stack()
    budget = cell_budget(s, fmt)
    n_units = fmt.stack_thickness_m / s.repeat_unit_thickness_m
    footprint = fmt.electrode_width_m * fmt.electrode_length_m
    assert budget.electrode_area_m2 == pytest.approx(2 * n_units * footprint)
    assert budget.cell_volume_m3 == pytest.approx(0.3 * 0.1 * 0.01)
