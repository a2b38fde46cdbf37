"""Inputs of a cell simulation: measured cathode properties, cell design and operating point.

All three are frozen, hashable dataclasses validated on construction. Physically impossible
*finite* values (porosity outside (0, 1), a negative thickness) raise a one-line ``ValueError``.
Non-finite *measured* values (``nan``, or ``inf`` tortuosity of a non-percolating pore phase)
are accepted, because a characterisation campaign produces them legitimately; the simulation
then returns a result marked failed with the reason instead of raising.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from jaxmicro.cell.formats import CellFormat, CylindricalFormat, PouchFormat, StackMaterials

_FRACTION_SUM_TOL = 1e-3


def _finite(x: float) -> bool:
    return math.isfinite(x)


@dataclasses.dataclass(frozen=True)
class CathodeProperties:
    """Measured properties of a 3-phase cathode microstructure (pore, AM, CBD).

    Attributes:
        porosity: pore (electrolyte) volume fraction [-], in (0, 1).
        am_volume_fraction: active-material volume fraction [-], in (0, 1).
        cbd_volume_fraction: carbon-binder volume fraction [-], in [0, 1). The three fractions
            must sum to 1 within 1e-3.
        tortuosity_through_plane: tortuosity factor of the pore phase along axis 0 (through
            the thickness) [-], >= 1; ``inf`` marks a non-percolating pore phase (the
            simulation then fails with that reason). Effective electrolyte transport is
            ``porosity / tortuosity`` times the bulk value.
        am_electrolyte_area_per_volume_m: AM surface touching electrolyte (the pore-AM
            interface, which excludes the AM surface under CBD) per electrode volume [1/m]
            (m^2 per m^3), typically 1e5 to 1e7. This is the reactive area; the CBD-covered
            surface is added only as far as ``CellModelConfig.cbd_blocking < 1`` says.
        cbd_coverage: fraction of the whole AM surface covered by CBD [-], in [0, 1).
        solid_conductivity_s_m: measured effective through-plane electronic conductivity of
            the solid (AM + CBD) [S/m], > 0; the cell model takes it as is. ``None``: the base
            parameter set's conductivity and Bruggeman exponent.
    """

    porosity: float
    am_volume_fraction: float
    cbd_volume_fraction: float
    tortuosity_through_plane: float
    am_electrolyte_area_per_volume_m: float
    cbd_coverage: float = 0.0
    solid_conductivity_s_m: float | None = None

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if value is not None or field.name != "solid_conductivity_s_m":
                object.__setattr__(self, field.name, float(value))
        eps, am, cbd = self.porosity, self.am_volume_fraction, self.cbd_volume_fraction
        if _finite(eps) and not 0.0 < eps < 1.0:
            raise ValueError(f"porosity must be in (0, 1), got {eps}")
        if _finite(am) and not 0.0 < am < 1.0:
            raise ValueError(f"am_volume_fraction must be in (0, 1), got {am}")
        if _finite(cbd) and not 0.0 <= cbd < 1.0:
            raise ValueError(f"cbd_volume_fraction must be in [0, 1), got {cbd}")
        total = eps + am + cbd
        if _finite(total) and abs(total - 1.0) > _FRACTION_SUM_TOL:
            raise ValueError(
                f"porosity + am_volume_fraction + cbd_volume_fraction must be 1, got {total:.4f};"
                " pass the three phase fractions of the same volume"
            )
        tau = self.tortuosity_through_plane
        if not math.isnan(tau) and tau < 1.0:
            raise ValueError(f"tortuosity_through_plane must be >= 1 (or inf), got {tau}")
        area = self.am_electrolyte_area_per_volume_m
        if _finite(area) and not 1e3 <= area <= 1e9:
            raise ValueError(
                f"am_electrolyte_area_per_volume_m must be in [1e3, 1e9] 1/m, got {area};"
                " pass m^2 per m^3 (1/um values are 1e6 times smaller)"
            )
        cov = self.cbd_coverage
        if _finite(cov) and not 0.0 <= cov < 1.0:
            raise ValueError(f"cbd_coverage must be in [0, 1), got {cov}")
        sigma = self.solid_conductivity_s_m
        if sigma is not None and _finite(sigma) and not sigma > 0.0:
            raise ValueError(
                f"solid_conductivity_s_m must be > 0 S/m (or None for the base set's), got {sigma}"
            )

    def non_finite_fields(self) -> tuple[str, ...]:
        """Returns the names of fields that are ``nan`` or ``inf`` (``None`` is not measured)."""
        return tuple(
            f.name
            for f in dataclasses.fields(self)
            if getattr(self, f.name) is not None and not _finite(getattr(self, f.name))
        )

    def to_dict(self) -> dict[str, float | None]:
        return {
            k: (v if v is not None and _finite(v) else None) for k, v in dataclasses.asdict(self).items()
        }


def _as_format(cell_format: CellFormat | str) -> CellFormat:
    if isinstance(cell_format, CylindricalFormat | PouchFormat):
        return cell_format
    if cell_format == "4680":
        return CylindricalFormat()
    if cell_format == "pouch":
        return PouchFormat()
    raise ValueError(f"cell_format must be '4680', 'pouch' or a format object, got {cell_format!r}")


@dataclasses.dataclass(frozen=True)
class CellDesign:
    """Design choices that are not measured: geometry, balancing and cell format.

    Attributes:
        cathode_thickness_m: cathode coating thickness per side of the foil [m], in (0, 1e-3].
        particle_radius_m: AM particle radius [m], in (0, 1e-4]. Sets the solid-diffusion
            length; the reactive area comes from the measured area (see ``docs/cell.md``).
        np_ratio: negative/positive capacity ratio of the full cell [-], in (1, 5]. Ignored
            for half cells.
        half_cell: True for a lithium-metal counter electrode, False for a graphite full cell.
        cell_format: ``"4680"`` (default), ``"pouch"`` or a :class:`CylindricalFormat` /
            :class:`PouchFormat` with overridden numbers.
        materials: foil, separator, electrolyte and solid densities of the stack.
    """

    cathode_thickness_m: float
    particle_radius_m: float = 5.22e-6
    np_ratio: float = 1.1
    half_cell: bool = False
    cell_format: CellFormat | str = "4680"
    materials: StackMaterials = dataclasses.field(default_factory=StackMaterials)

    def __post_init__(self) -> None:
        for name in ("cathode_thickness_m", "particle_radius_m", "np_ratio"):
            value = float(getattr(self, name))
            object.__setattr__(self, name, value)
            if not _finite(value):
                raise ValueError(f"{name} must be finite, got {value}")
        L = self.cathode_thickness_m
        if not 0.0 < L <= 1e-3:
            raise ValueError(
                f"cathode_thickness_m must be in (0, 1e-3] m, got {L}; pass metres (80 um = 80e-6)"
            )
        R = self.particle_radius_m
        if not 0.0 < R <= 1e-4:
            raise ValueError(
                f"particle_radius_m must be in (0, 1e-4] m, got {R}; pass metres (5 um = 5e-6)"
            )
        if not 1.0 < self.np_ratio <= 5.0:
            raise ValueError(f"np_ratio must be in (1, 5], got {self.np_ratio}")
        object.__setattr__(self, "half_cell", bool(self.half_cell))
        object.__setattr__(self, "cell_format", _as_format(self.cell_format))
        if not isinstance(self.materials, StackMaterials):
            raise ValueError("materials must be a StackMaterials")

    def to_dict(self) -> dict[str, Any]:
        return {
            "cathode_thickness_m": self.cathode_thickness_m,
            "particle_radius_m": self.particle_radius_m,
            "np_ratio": self.np_ratio,
            "half_cell": self.half_cell,
            "cell_format": self.cell_format.to_dict(),
            "materials": dataclasses.asdict(self.materials),
        }


@dataclasses.dataclass(frozen=True)
class OperatingPoint:
    """A constant-current or constant-power discharge from the charged state.

    Give exactly one of:

    Attributes:
        c_rate: discharge current in multiples of the cathode's reversible capacity [1/h].
        power_w_per_kg: discharge power per kg of the whole cell [W/kg].
    """

    c_rate: float | None = None
    power_w_per_kg: float | None = None

    def __post_init__(self) -> None:
        given = [n for n in ("c_rate", "power_w_per_kg") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of c_rate or power_w_per_kg")
        name = given[0]
        value = float(getattr(self, name))
        object.__setattr__(self, name, value)
        if not (_finite(value) and value > 0.0):
            raise ValueError(f"{name} must be a positive finite number, got {value}")

    @property
    def mode(self) -> str:
        """``"current"`` or ``"power"``."""
        return "current" if self.c_rate is not None else "power"

    def to_dict(self) -> dict[str, float | None]:
        return {"c_rate": self.c_rate, "power_w_per_kg": self.power_w_per_kg}
