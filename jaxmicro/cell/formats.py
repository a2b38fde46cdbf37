"""Cell formats and the mass/volume budget of a whole cell.

A *stack* is the repeat unit of a wound or stacked cell: positive foil coated on both sides,
separator, negative foil coated on both sides, separator. A *format* packs that repeat unit
into a housing: :class:`CylindricalFormat` (a 4680 can by default) winds it into a spiral,
:class:`PouchFormat` stacks it in a laminated pouch. :func:`cell_budget` returns the electrode
area that faces a counter electrode (the area of the 1D P2D model) and every mass and volume
of the cell, so energies from the simulation can be normalised per kg and per litre of the
whole cell. Every default number is documented with its source or reasoning in
``docs/cell.md``. All functions here are pure Python (no PyBaMM).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from jaxmicro.data.phases import AM_DENSITY_G_CM3, CBD_DENSITY_G_CM3


@dataclasses.dataclass(frozen=True)
class StackMaterials:
    """Thicknesses and densities of the inactive layers of the stack, and solid densities.

    Attributes:
        positive_foil_thickness_m: aluminium foil thickness [m].
        positive_foil_density_kg_m3: aluminium density [kg/m^3].
        negative_foil_thickness_m: copper foil thickness [m].
        negative_foil_density_kg_m3: copper density [kg/m^3].
        separator_thickness_m: separator thickness [m].
        separator_porosity: separator porosity [-].
        separator_density_kg_m3: density of the separator skeleton (polyethylene) [kg/m^3].
        electrolyte_density_kg_m3: liquid electrolyte density [kg/m^3]; it fills every pore.
        am_density_kg_m3: cathode active material (NMC811) density [kg/m^3].
        cbd_density_kg_m3: carbon-binder domain density [kg/m^3].
        anode_solid_density_kg_m3: mean density of the graphite-SiOx anode solids [kg/m^3].
        lithium_density_kg_m3: lithium metal density [kg/m^3] (half-cell counter electrode).
        lithium_foil_thickness_m: lithium metal thickness per side of the copper foil in a
            half cell [m].
    """

    positive_foil_thickness_m: float = 15e-6
    positive_foil_density_kg_m3: float = 2700.0
    negative_foil_thickness_m: float = 8e-6
    negative_foil_density_kg_m3: float = 8960.0
    separator_thickness_m: float = 12e-6
    separator_porosity: float = 0.47
    separator_density_kg_m3: float = 950.0
    electrolyte_density_kg_m3: float = 1200.0
    am_density_kg_m3: float = AM_DENSITY_G_CM3 * 1000.0
    cbd_density_kg_m3: float = CBD_DENSITY_G_CM3 * 1000.0
    anode_solid_density_kg_m3: float = 2240.0
    lithium_density_kg_m3: float = 534.0
    lithium_foil_thickness_m: float = 50e-6

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = float(getattr(self, field.name))
            object.__setattr__(self, field.name, value)
            if not (math.isfinite(value) and value > 0.0):
                raise ValueError(f"StackMaterials.{field.name} must be > 0, got {value}")
        if not self.separator_porosity < 1.0:
            raise ValueError(f"separator_porosity must be in (0, 1), got {self.separator_porosity}")


@dataclasses.dataclass(frozen=True)
class CellStack:
    """The layers of one repeat unit, with the cathode and counter electrode resolved.

    Attributes:
        cathode_thickness_m: cathode coating thickness per side [m].
        cathode_porosity, cathode_am_fraction, cathode_cbd_fraction: cathode volume
            fractions [-].
        anode_thickness_m: counter-electrode thickness per side [m] (graphite coating, or
            lithium foil in a half cell).
        anode_porosity: counter-electrode porosity [-] (0 for lithium metal).
        anode_solid_density_kg_m3: density of the counter-electrode solids [kg/m^3].
        materials: the inactive layers and densities.
    """

    cathode_thickness_m: float
    cathode_porosity: float
    cathode_am_fraction: float
    cathode_cbd_fraction: float
    anode_thickness_m: float
    anode_porosity: float
    anode_solid_density_kg_m3: float
    materials: StackMaterials = dataclasses.field(default_factory=StackMaterials)

    @property
    def repeat_unit_thickness_m(self) -> float:
        """Thickness of foil+2 cathode coatings+separator+foil+2 anode coatings+separator [m]."""
        m = self.materials
        return (
            m.positive_foil_thickness_m
            + 2.0 * self.cathode_thickness_m
            + m.negative_foil_thickness_m
            + 2.0 * self.anode_thickness_m
            + 2.0 * m.separator_thickness_m
        )


@dataclasses.dataclass(frozen=True)
class HousingGeometry:
    """What a format gives a stack: electrode area, housing mass and the volume split.

    Attributes:
        electrode_area_m2: cathode area facing a counter electrode (both sides of the
            cathode foil) [m^2]; the area of the 1D P2D model.
        housing_mass_kg: mass of can/pouch, caps, tabs and mandrel [kg].
        cell_volume_m3: outer volume of the cell [m^3].
        volumes_m3: named parts of ``cell_volume_m3`` (they sum to it exactly) [m^3].
    """

    electrode_area_m2: float
    housing_mass_kg: float
    cell_volume_m3: float
    volumes_m3: dict[str, float]


@dataclasses.dataclass(frozen=True)
class CylindricalFormat:
    """A cylindrical can with a wound jelly roll; defaults describe a tabless 4680 cell.

    The repeat unit of thickness ``t`` is wound as an Archimedean spiral filling the annulus
    between the core and the can wall (less a radial insertion clearance), so its length is
    ``pi (r_out^2 - r_core^2) / t`` and the cathode area (both sides) is twice length times
    coated height.

    Attributes:
        diameter_m: outer can diameter [m].
        height_m: outer can height [m].
        can_wall_thickness_m: wall and bottom thickness of the steel can [m].
        can_density_kg_m3: density of the nickel-plated steel can [kg/m^3].
        cap_mass_kg: top cap assembly (lid, terminal, vent, gasket) plus the tabless current
            collector plates [kg].
        mandrel_mass_kg: winding mandrel [kg] (0: the 4680 core is hollow).
        core_diameter_m: diameter of the hollow core / mandrel [m].
        headspace_m: axial length not occupied by coated electrode: can bottom, cap assembly,
            collector plates and the uncoated foil edges folded into tabs [m].
        winding_clearance_m: radial gap between jelly roll and can wall [m].
    """

    diameter_m: float = 46e-3
    height_m: float = 80e-3
    can_wall_thickness_m: float = 0.5e-3
    can_density_kg_m3: float = 7900.0
    cap_mass_kg: float = 18e-3
    mandrel_mass_kg: float = 0.0
    core_diameter_m: float = 5e-3
    headspace_m: float = 8e-3
    winding_clearance_m: float = 0.2e-3

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = float(getattr(self, field.name))
            object.__setattr__(self, field.name, value)
            if not (math.isfinite(value) and value >= 0.0):
                raise ValueError(f"CylindricalFormat.{field.name} must be >= 0, got {value}")
        if not self.can_wall_thickness_m <= self.headspace_m < self.height_m:
            raise ValueError(
                "CylindricalFormat: headspace_m must be in [can_wall_thickness_m, height_m)"
            )
        if self.winding_outer_radius_m <= self.core_diameter_m / 2.0:
            raise ValueError("CylindricalFormat: the core leaves no room for a jelly roll")

    name = "cylindrical"

    @property
    def electrode_height_m(self) -> float:
        """Coated electrode height along the can axis [m]."""
        return self.height_m - self.headspace_m

    @property
    def winding_outer_radius_m(self) -> float:
        """Outer radius of the jelly roll [m]."""
        return self.diameter_m / 2.0 - self.can_wall_thickness_m - self.winding_clearance_m

    @property
    def surface_area_m2(self) -> float:
        """Outer surface of the can, mantle and both ends [m^2] (the lumped model's cooling area)."""
        return math.pi * self.diameter_m * self.height_m + 0.5 * math.pi * self.diameter_m**2

    def housing(self, repeat_unit_thickness_m: float) -> HousingGeometry:
        """Winds a repeat unit of the given thickness [m] into the can."""
        R = self.diameter_m / 2.0
        R_in = R - self.can_wall_thickness_m
        r_out = self.winding_outer_radius_m
        r_core = self.core_diameter_m / 2.0
        h = self.electrode_height_m
        roll_volume = math.pi * (r_out**2 - r_core**2) * h
        length = roll_volume / (h * repeat_unit_thickness_m)
        wall_volume = math.pi * (R**2 - R_in**2) * self.height_m
        bottom_volume = math.pi * R_in**2 * self.can_wall_thickness_m
        volumes = {
            "can_wall": wall_volume,
            "can_bottom": bottom_volume,
            "headspace": math.pi * R_in**2 * (self.headspace_m - self.can_wall_thickness_m),
            "core": math.pi * r_core**2 * h,
            "winding_clearance": math.pi * (R_in**2 - r_out**2) * h,
            "jelly_roll": roll_volume,
        }
        can_mass = (wall_volume + bottom_volume) * self.can_density_kg_m3
        return HousingGeometry(
            electrode_area_m2=2.0 * length * h,
            housing_mass_kg=can_mass + self.cap_mass_kg + self.mandrel_mass_kg,
            cell_volume_m3=math.pi * R**2 * self.height_m,
            volumes_m3=volumes,
        )

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, **dataclasses.asdict(self)}


@dataclasses.dataclass(frozen=True)
class PouchFormat:
    """A stacked pouch cell; defaults describe a generic large EV pouch (300 x 100 x 10 mm).

    The number of repeat units ``(thickness - 2 laminate) / t`` is kept continuous (not
    rounded) so that the budget is a smooth function of the design, as an optimiser needs;
    the cathode area is twice that number times the coated electrode area.

    Attributes:
        length_m, width_m, thickness_m: outer pouch dimensions [m].
        laminate_thickness_m: aluminium-polymer laminate thickness [m] (one wall).
        laminate_density_kg_m3: mean laminate density [kg/m^3].
        seal_width_m: side seal width (each of the two long sides) [m].
        tab_margin_m: length at each end taken by tabs, welds and the end seal [m].
        tabs_mass_kg: both tabs with their sealant [kg].
    """

    length_m: float = 0.300
    width_m: float = 0.100
    thickness_m: float = 10e-3
    laminate_thickness_m: float = 153e-6
    laminate_density_kg_m3: float = 1500.0
    seal_width_m: float = 5e-3
    tab_margin_m: float = 15e-3
    tabs_mass_kg: float = 5e-3

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = float(getattr(self, field.name))
            object.__setattr__(self, field.name, value)
            if not (math.isfinite(value) and value >= 0.0):
                raise ValueError(f"PouchFormat.{field.name} must be >= 0, got {value}")
        if min(self.electrode_width_m, self.electrode_length_m, self.stack_thickness_m) <= 0.0:
            raise ValueError("PouchFormat: seals, tab margins or laminate leave no room for a stack")

    name = "pouch"

    @property
    def electrode_width_m(self) -> float:
        return self.width_m - 2.0 * self.seal_width_m

    @property
    def electrode_length_m(self) -> float:
        return self.length_m - 2.0 * self.tab_margin_m

    @property
    def stack_thickness_m(self) -> float:
        return self.thickness_m - 2.0 * self.laminate_thickness_m

    @property
    def surface_area_m2(self) -> float:
        """Outer surface of the pouch [m^2] (the lumped model's cooling area)."""
        l, w, t = self.length_m, self.width_m, self.thickness_m
        return 2.0 * (l * w + l * t + w * t)

    def housing(self, repeat_unit_thickness_m: float) -> HousingGeometry:
        """Stacks repeat units of the given thickness [m] into the pouch."""
        footprint = self.electrode_width_m * self.electrode_length_m
        n_units = self.stack_thickness_m / repeat_unit_thickness_m
        cell_volume = self.length_m * self.width_m * self.thickness_m
        laminate_volume = 2.0 * self.length_m * self.width_m * self.laminate_thickness_m
        stack_volume = footprint * self.stack_thickness_m
        volumes = {
            "laminate": laminate_volume,
            "seals_and_tabs": cell_volume - laminate_volume - stack_volume,
            "stack": stack_volume,
        }
        return HousingGeometry(
            electrode_area_m2=2.0 * n_units * footprint,
            housing_mass_kg=laminate_volume * self.laminate_density_kg_m3 + self.tabs_mass_kg,
            cell_volume_m3=cell_volume,
            volumes_m3=volumes,
        )

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, **dataclasses.asdict(self)}


CellFormat = CylindricalFormat | PouchFormat


@dataclasses.dataclass(frozen=True)
class CellBudget:
    """Mass and volume budget of a whole cell.

    Attributes:
        electrode_area_m2: cathode area facing a counter electrode [m^2].
        masses_kg: named component masses [kg]: ``cathode_coating`` (AM + CBD),
            ``anode_coating``, ``positive_foil``, ``negative_foil``, ``separator``,
            ``electrolyte`` (every pore of both electrodes and separator) and ``housing``.
        cell_mass_kg: sum of ``masses_kg`` [kg].
        volumes_m3: named parts of the cell volume [m^3].
        cell_volume_m3: outer cell volume [m^3].
        am_mass_kg: cathode active-material mass [kg].
    """

    electrode_area_m2: float
    masses_kg: dict[str, float]
    cell_mass_kg: float
    volumes_m3: dict[str, float]
    cell_volume_m3: float
    am_mass_kg: float

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def cell_budget(stack: CellStack, cell_format: CellFormat) -> CellBudget:
    """Packs a stack into a format and returns the cell's electrode area, masses and volumes.

    Args:
        stack: the repeat unit, with cathode and counter-electrode thicknesses resolved.
        cell_format: a :class:`CylindricalFormat` or :class:`PouchFormat`.

    Returns:
        The :class:`CellBudget`. Coating and electrolyte masses are computed on the
        electrode area ``A``; each foil and each separator sheet has area ``A / 2`` per
        repeat unit (two separator sheets, so separator area ``A``).
    """
    m = stack.materials
    housing = cell_format.housing(stack.repeat_unit_thickness_m)
    A = housing.electrode_area_m2
    V_cat = A * stack.cathode_thickness_m
    V_an = A * stack.anode_thickness_m
    V_sep = A * m.separator_thickness_m
    am_mass = V_cat * stack.cathode_am_fraction * m.am_density_kg_m3
    masses = {
        "cathode_coating": am_mass + V_cat * stack.cathode_cbd_fraction * m.cbd_density_kg_m3,
        "anode_coating": V_an * (1.0 - stack.anode_porosity) * stack.anode_solid_density_kg_m3,
        "positive_foil": 0.5 * A * m.positive_foil_thickness_m * m.positive_foil_density_kg_m3,
        "negative_foil": 0.5 * A * m.negative_foil_thickness_m * m.negative_foil_density_kg_m3,
        "separator": V_sep * (1.0 - m.separator_porosity) * m.separator_density_kg_m3,
        "electrolyte": m.electrolyte_density_kg_m3
        * (
            V_cat * stack.cathode_porosity
            + V_an * stack.anode_porosity
            + V_sep * m.separator_porosity
        ),
        "housing": housing.housing_mass_kg,
    }
    return CellBudget(
        electrode_area_m2=A,
        masses_kg=masses,
        cell_mass_kg=math.fsum(masses.values()),
        volumes_m3=housing.volumes_m3,
        cell_volume_m3=housing.cell_volume_m3,
        am_mass_kg=am_mass,
    )
