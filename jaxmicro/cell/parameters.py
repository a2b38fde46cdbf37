"""Maps measured cathode properties and a cell design onto PyBaMM DFN parameters.

:func:`setup_cell` is the whole parameterisation. It splits the PyBaMM parameters into

* ``fixed``: values PyBaMM cannot take as inputs (thicknesses, particle radius, electrode
  area, voltage window); a model is built once per distinct ``fixed`` and cached, and
* ``inputs``: values passed to each solve (porosity, AM fraction, tortuosity factors, the
  interfacial-area factor, anode AM fraction and lithiation, current or power),

and packs the stack into the cell format to get the electrode area and the mass budget (which
do not depend on the simulation, so the power of a constant-power discharge is known before
the solve). The modelling choices are documented in ``docs/cell.md``:

* Electrolyte transport uses PyBaMM's ``"tortuosity factor"`` option with the measured
  through-plane tortuosity factor (efficiency ``eps / tau``), not Bruggeman. Other domains
  get the tortuosity factor equivalent to the base set's Bruggeman exponent,
  ``tau = eps**(1 - b)``.
* The reactive area is the measured AM-electrolyte area ``a_e`` (AM surface touching pore,
  which already excludes the AM surface under CBD), plus ``1 - cbd_blocking`` of the AM-CBD area
  ``a_e * cov / (1 - cov)``: CBD coverage is counted once. It replaces PyBaMM's sphere area
  ``3 eps_AM / R_m`` by scaling the exchange-current density by ``a_active / (3 eps_AM / R_m)``.
* The particle radius ``R`` is an input, not a rebuild: the model is built with the base set's
  radius ``R_m`` and the solid diffusivity is scaled by ``(R_m / R)**2``. With the reaction
  current per volume fixed by the area factor, that is the same diffusion problem in the
  scaled coordinate ``r R_m / R`` (same time constant ``R^2 / D``, same surface flux per
  particle volume), so the surface concentration equals that of spheres of radius ``R``
  (``tests/cell/test_cell_simulate.py`` compares against a rebuilt model).
* With a measured solid conductivity ``sigma`` (AM + CBD), PyBaMM's electrode conductivity is
  ``sigma`` and its solid tortuosity factor ``1 - eps``, so the solid transport efficiency
  ``(1 - eps) / tau_s`` is 1 and the model sees exactly ``sigma``; without one, the base set's
  conductivity and Bruggeman exponent apply.
* The cathode's maximum lithium concentration is made consistent with its density and molar
  mass (``c_max = rho_AM / M``, 275 mAh/g for NMC811), so that a kg of AM in the mass budget
  stores what the simulation discharges. The base set's exchange-current density is evaluated
  at the same stoichiometry as in the base set.
* The full-cell anode is sized by the N/P ratio of the negative's theoretical capacity to the
  positive's reversible capacity between the charged and discharged stoichiometries.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import os
from typing import Any

from jaxmicro.cell.formats import CellBudget, CellStack, cell_budget
from jaxmicro.cell.inputs import CathodeProperties, CellDesign, OperatingPoint

FARADAY_C_MOL = 96485.33212

# PyBaMM parameter names used as solve-time inputs.
POROSITY = "Positive electrode porosity"
AM_FRACTION = "Positive electrode active material volume fraction"
TAU_ELECTROLYTE = "Positive electrode tortuosity factor (electrolyte)"
TAU_ELECTRODE = "Positive electrode tortuosity factor (electrode)"
AREA_FACTOR = "Positive electrode interfacial area factor"  # added by jaxmicro
DIFFUSIVITY_FACTOR = "Positive particle diffusivity factor"  # added by jaxmicro: (R_m / R)^2
SOLID_CONDUCTIVITY = "Positive electrode conductivity [S.m-1]"
PARTICLE_RADIUS = "Positive particle radius [m]"
DIFFUSIVITY = "Positive particle diffusivity [m2.s-1]"
NEG_AM_FRACTION = "Negative electrode active material volume fraction"
NEG_INITIAL_CONCENTRATION = "Initial concentration in negative electrode [mol.m-3]"
CURRENT = "Current function [A]"
POWER = "Power function [W]"
NOMINAL_CAPACITY = "Nominal cell capacity [A.h]"
C_MAX = "Maximum concentration in positive electrode [mol.m-3]"
J0 = "Positive electrode exchange-current density [A.m-2]"

THERMAL_MODELS = ("isothermal", "lumped")
TEMPERATURE = "Volume-averaged cell temperature [K]"

# Lithium-metal counter electrode of half cells (values from PyBaMM's Xu2019 set).
LITHIUM_METAL_SET = "Xu2019"
LITHIUM_METAL_J0 = "Exchange-current density for lithium metal electrode [A.m-2]"
LITHIUM_METAL_FIXED = {
    "Lithium metal partial molar volume [m3.mol-1]": 1.3e-5,
    "Negative electrode OCP [V]": 0.0,
    "Negative electrode conductivity [S.m-1]": 1.0776e7,
}


def import_pybamm() -> Any:
    """Imports PyBaMM quietly (telemetry off, errors-only logging) and returns the module.

    PyBaMM's import switches JAX to float64 globally (``jax_enable_x64``), which would change
    every later JAX computation in the process (generated noise, solver dtypes) depending on
    whether a cell was simulated first; the flag is put back as it was (our cells use
    PyBaMM's IDAKLU solver, not its JAX solver).

    SUNDIALS (7, in IDAKLU) writes every failed IDAS step to stderr as an ``[ERROR]`` line, also
    when the solve then succeeds at tighter tolerances; the outcome is in the result (a
    ``CellResult.reason`` names the solver error when it fails), so its error log goes to
    ``os.devnull`` unless ``SUNLOGGER_ERROR_FILENAME`` is set (SUNDIALS reads it when a solver
    is made).
    """
    os.environ.setdefault("PYBAMM_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("SUNLOGGER_ERROR_FILENAME", os.devnull)
    import jax

    x64 = jax.config.jax_enable_x64
    import pybamm

    jax.config.update("jax_enable_x64", x64)
    pybamm.set_logging_level("ERROR")
    return pybamm


NMC811_PARAMETER_SETS = ("Chen2020", "OKane2022")
"""PyBaMM parameter sets whose positive electrode is the NMC811 that :class:`CellModelConfig`'s
defaults describe (molar mass 0.09728 kg/mol, stoichiometry window 0.27-0.9084, and the density
of the mass budget): Chen2020 (LG M50, Chen et al., J. Electrochem. Soc. 167 (2020) 080534) and
OKane2022 (the same cell with degradation parameters, O'Kane et al., PCCP 24 (2022) 7909). Any
other set needs those options matched to its cathode: at the defaults Mohtat2020 gives 9 Wh/kg
and Prada2013 (LFP) 25 Wh/kg, silently wrong, so the command line offers only these."""


@dataclasses.dataclass(frozen=True)
class CellModelConfig:
    """Modelling choices shared by a campaign (hashable; part of the model-cache key).

    Attributes:
        parameter_set: PyBaMM parameter set name for everything not measured or designed.
        parameter_overrides: ``(name, value)`` pairs applied on top of the set, e.g.
            ``(("Negative electrode porosity", 0.3),)``.
        am_molar_mass_kg_mol: cathode AM molar mass [kg/mol] (NMC811: 0.09728); the maximum
            lithium concentration becomes ``am_density / am_molar_mass``. ``None`` keeps the
            set's value (then AM mass and capacity are not consistent for Chen2020).
        charged_stoichiometry: cathode stoichiometry at 100% SOC; ``None`` takes the set's
            initial positive concentration over its maximum (Chen2020: 0.27).
        discharged_stoichiometry: cathode stoichiometry at 0% SOC of the full cell (Chen2020:
            0.9084); defines the reversible capacity used for 1C and for N/P.
        cbd_blocking: fraction of the CBD-covered AM surface that is electrochemically
            blocked [-]: the reactive area is the AM-electrolyte area plus ``1 - cbd_blocking``
            of the AM-CBD area (1: only AM touching pore reacts; 0: a fully wetted nano-porous
            CBD lets all of it react).
        full_cell_voltage_window_v: (lower, upper) cut-off voltages of full cells [V];
            ``None`` takes the set's.
        half_cell_voltage_window_v: (lower, upper) cut-offs versus lithium metal [V].
        anode_thickness_step_m: full-cell anode thickness is rounded up to this grid [m] so
            that designs differing only in AM fraction share a built model; the anode AM
            fraction is scaled down by the rounding so the N/P ratio stays exact. 0: no grid.
        thermal: ``"isothermal"`` (298.15 K throughout) or ``"lumped"``: PyBaMM's lumped
            thermal model (Timms et al., J. Electrochem. Soc. 168 (2021) 070503): one cell
            temperature, heated by the DFN's reversible and irreversible heat, cooled through
            the cell format's outer surface; the base set's Arrhenius kinetics then respond.
        heat_transfer_coefficient_w_m2_k: total heat-transfer coefficient of the lumped
            model [W/(m^2 K)]; 10 is Chen2020's value for an LG M50 in still air (natural
            convection, no pack cooling; a cooled pack plate reaches several hundred).
        mesh_points: finite-volume points per electrode, separator and particle.
        rtol, atol: IDAKLU tolerances (PyBaMM defaults; energies agree with rtol=1e-6 to
            about 1e-5 relative at 3 to 5 times less solve time at high rate).
    """

    parameter_set: str = "Chen2020"
    parameter_overrides: tuple[tuple[str, float], ...] = ()
    am_molar_mass_kg_mol: float | None = 0.09728
    charged_stoichiometry: float | None = None
    discharged_stoichiometry: float = 0.9084
    cbd_blocking: float = 1.0
    full_cell_voltage_window_v: tuple[float, float] | None = None
    half_cell_voltage_window_v: tuple[float, float] = (3.0, 4.3)
    anode_thickness_step_m: float = 1e-6
    thermal: str = "isothermal"
    heat_transfer_coefficient_w_m2_k: float = 10.0
    mesh_points: int = 20
    rtol: float = 1e-4
    atol: float = 1e-6

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "parameter_overrides", tuple((str(k), v) for k, v in self.parameter_overrides)
        )
        if not 0.0 <= self.cbd_blocking <= 1.0:
            raise ValueError(f"cbd_blocking must be in [0, 1], got {self.cbd_blocking}")
        x100 = self.charged_stoichiometry
        if x100 is not None and not 0.0 < x100 < self.discharged_stoichiometry:
            raise ValueError("charged_stoichiometry must be in (0, discharged_stoichiometry)")
        if not 0.0 < self.discharged_stoichiometry <= 1.0:
            raise ValueError("discharged_stoichiometry must be in (0, 1]")
        for window in (self.full_cell_voltage_window_v, self.half_cell_voltage_window_v):
            if window is not None and not 0.0 < window[0] < window[1]:
                raise ValueError(f"a voltage window must be (lower, upper), got {window}")
        if self.anode_thickness_step_m < 0.0:
            raise ValueError("anode_thickness_step_m must be >= 0")
        if self.mesh_points < 3:
            raise ValueError("mesh_points must be >= 3")
        if self.thermal not in THERMAL_MODELS:
            raise ValueError(f"thermal must be one of {THERMAL_MODELS}, got {self.thermal!r}")
        h = self.heat_transfer_coefficient_w_m2_k
        if not (math.isfinite(h) and h > 0.0):
            raise ValueError(f"heat_transfer_coefficient_w_m2_k must be a positive number, got {h}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (a campaign's log header records them)."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CellModelConfig:
        """The config :meth:`to_dict` wrote (its lists back to tuples: the config is hashed)."""
        pairs = ("parameter_overrides", "full_cell_voltage_window_v", "half_cell_voltage_window_v")
        fields = {k: tuple(map(tuple, v)) if k == "parameter_overrides" else tuple(v)
                  for k, v in data.items() if k in pairs and v is not None}
        return cls(**(dict(data) | fields))


@functools.lru_cache(maxsize=4)
def _base_values(parameter_set: str, overrides: tuple[tuple[str, float], ...]) -> Any:
    pybamm = import_pybamm()
    try:
        values = pybamm.ParameterValues(parameter_set)
    except Exception as error:
        raise ValueError(f"unknown PyBaMM parameter set {parameter_set!r}: {error}") from None
    values.update(dict(overrides), check_already_exists=False)
    return values


def base_parameter_values(config: CellModelConfig) -> Any:
    """Returns a fresh copy of the config's PyBaMM ``ParameterValues`` (with overrides)."""
    return _base_values(config.parameter_set, config.parameter_overrides).copy()


@dataclasses.dataclass(frozen=True)
class CellSetup:
    """A fully resolved simulation: what to build, what to pass, and the cell budget.

    Attributes:
        options: DFN model options as ``(name, value)`` pairs.
        fixed: non-input PyBaMM parameters as ``(name, value)`` pairs.
        inputs: PyBaMM input parameters for the solve.
        stack: the resolved repeat unit.
        budget: electrode area, masses and volumes of the cell.
        nominal_capacity_ah: cathode reversible capacity, the 1C basis [A.h].
        applied_power_w: the constant power of a power discharge [W] (nan otherwise).
        t_max_s: end of the solve window [s]; reaching it without cut-off is a failure.
    """

    options: tuple[tuple[str, str], ...]
    fixed: tuple[tuple[str, float], ...]
    inputs: dict[str, float] = dataclasses.field(compare=False)
    stack: CellStack
    budget: CellBudget = dataclasses.field(compare=False)
    nominal_capacity_ah: float
    applied_power_w: float
    t_max_s: float


def _float(values: Any, name: str) -> float:
    value = values[name]
    if callable(value):
        raise ValueError(f"parameter {name!r} must be a number in the base parameter set")
    return float(value)


def setup_cell(
    properties: CathodeProperties,
    design: CellDesign,
    operating_point: OperatingPoint,
    config: CellModelConfig | None = None,
) -> CellSetup:
    """Resolves the PyBaMM parameters, the stack and the cell budget of one simulation.

    Args:
        properties: measured cathode properties; every field must be finite.
        design: thickness, particle radius, N/P, half/full cell and format.
        operating_point: C-rate or cell-level power [W/kg].
        config: modelling choices (``None``: defaults).

    Returns:
        The :class:`CellSetup`.

    Raises:
        ValueError: a property is not finite (check ``properties.non_finite_fields()`` first),
            or the base parameter set lacks a needed number.
    """
    config = config or CellModelConfig()
    if properties.non_finite_fields():
        raise ValueError(f"non-finite properties: {properties.non_finite_fields()}")
    base = _base_values(config.parameter_set, config.parameter_overrides)  # read only
    mat = design.materials
    eps, eps_am = properties.porosity, properties.am_volume_fraction
    L_p, R_p = design.cathode_thickness_m, design.particle_radius_m

    c_max_base = _float(base, C_MAX)
    c_max = c_max_base
    if config.am_molar_mass_kg_mol is not None:
        c_max = mat.am_density_kg_m3 / config.am_molar_mass_kg_mol
    x100 = config.charged_stoichiometry
    if x100 is None:
        x100 = _float(base, "Initial concentration in positive electrode [mol.m-3]") / c_max_base
    x0 = config.discharged_stoichiometry
    if not x100 < x0:
        raise ValueError(f"charged stoichiometry {x100:.4f} must be below discharged {x0:.4f}")
    # Reversible cathode lithium per electrode area [mol/m^2].
    q_rev = eps_am * c_max * (x0 - x100) * L_p

    eps_sep = mat.separator_porosity
    R_model = _float(base, PARTICLE_RADIUS)  # built once; the design radius is an input
    fixed: dict[str, float] = {
        "Positive electrode thickness [m]": L_p,
        PARTICLE_RADIUS: R_model,
        C_MAX: c_max,
        "Initial concentration in positive electrode [mol.m-3]": x100 * c_max,
        "Separator thickness [m]": mat.separator_thickness_m,
        "Separator porosity": eps_sep,
        "Separator tortuosity factor (electrolyte)": eps_sep
        ** (1.0 - _float(base, "Separator Bruggeman coefficient (electrolyte)")),
        "Number of electrodes connected in parallel to make a cell": 1.0,
    }
    inputs: dict[str, float] = {
        POROSITY: eps,
        AM_FRACTION: eps_am,
        TAU_ELECTROLYTE: properties.tortuosity_through_plane,
        AREA_FACTOR: reactive_area_per_volume_m(properties, config.cbd_blocking) / (3.0 * eps_am / R_model),
        DIFFUSIVITY_FACTOR: (R_model / R_p) ** 2,
    }
    if properties.solid_conductivity_s_m is None:
        inputs[SOLID_CONDUCTIVITY] = _float(base, SOLID_CONDUCTIVITY)
        b_s = _float(base, "Positive electrode Bruggeman coefficient (electrode)")
        inputs[TAU_ELECTRODE] = (1.0 - eps) ** (1.0 - b_s)
    else:  # the measured effective value, with a solid transport efficiency of exactly 1
        inputs[SOLID_CONDUCTIVITY] = properties.solid_conductivity_s_m
        inputs[TAU_ELECTRODE] = 1.0 - eps

    if design.half_cell:
        window = config.half_cell_voltage_window_v
        fixed.update(LITHIUM_METAL_FIXED)
        anode = (mat.lithium_foil_thickness_m, 0.0, mat.lithium_density_kg_m3)
    else:
        window = config.full_cell_voltage_window_v or (
            _float(base, "Lower voltage cut-off [V]"),
            _float(base, "Upper voltage cut-off [V]"),
        )
        eps_n = _float(base, "Negative electrode porosity")
        eps_n_am = _float(base, NEG_AM_FRACTION)
        c_n_max = _float(base, "Maximum concentration in negative electrode [mol.m-3]")
        L_n_exact = design.np_ratio * q_rev / (eps_n_am * c_n_max)
        step = config.anode_thickness_step_m
        L_n = math.ceil(L_n_exact / step - 1e-9) * step if step > 0 else L_n_exact
        fixed.update(
            {
                "Negative electrode thickness [m]": L_n,
                "Negative electrode tortuosity factor (electrolyte)": eps_n
                ** (1.0 - _float(base, "Negative electrode Bruggeman coefficient (electrolyte)")),
                "Negative electrode tortuosity factor (electrode)": (1.0 - eps_n)
                ** (1.0 - _float(base, "Negative electrode Bruggeman coefficient (electrode)")),
            }
        )
        inputs[NEG_AM_FRACTION] = eps_n_am * L_n_exact / L_n
        inputs[NEG_INITIAL_CONCENTRATION] = c_n_max / design.np_ratio
        anode = (L_n, eps_n, mat.anode_solid_density_kg_m3)
    fixed["Lower voltage cut-off [V]"], fixed["Upper voltage cut-off [V]"] = window

    stack = CellStack(
        cathode_thickness_m=L_p,
        cathode_porosity=eps,
        cathode_am_fraction=eps_am,
        cathode_cbd_fraction=properties.cbd_volume_fraction,
        anode_thickness_m=anode[0],
        anode_porosity=anode[1],
        anode_solid_density_kg_m3=anode[2],
        materials=mat,
    )
    budget = cell_budget(stack, design.cell_format)
    A = budget.electrode_area_m2
    # The 1D model's current collector area is the wound/stacked cathode area.
    fixed["Electrode height [m]"] = 1.0
    fixed["Electrode width [m]"] = A
    if config.thermal == "lumped":  # the whole wound/stacked cell is one lumped body
        fixed["Total heat transfer coefficient [W.m-2.K-1]"] = config.heat_transfer_coefficient_w_m2_k
        fixed["Cell cooling surface area [m2]"] = design.cell_format.surface_area_m2
        fixed["Cell volume [m3]"] = budget.cell_volume_m3

    nominal_ah = q_rev * A * FARADAY_C_MOL / 3600.0
    max_ah = eps_am * c_max * (1.0 - x100) * L_p * A * FARADAY_C_MOL / 3600.0
    inputs[NOMINAL_CAPACITY] = nominal_ah
    if operating_point.mode == "current":
        current = operating_point.c_rate * nominal_ah
        inputs[CURRENT] = current
        power_w = math.nan
        t_max = 1.25 * 3600.0 * max_ah / current
    else:
        power_w = operating_point.power_w_per_kg * budget.cell_mass_kg
        inputs[POWER] = power_w
        t_max = 1.25 * 3600.0 * max_ah * window[1] / power_w

    options = (
        ("transport efficiency", "tortuosity factor"),
        ("calculate discharge energy", "true"),
        ("operating mode", operating_point.mode),
        ("working electrode", "positive" if design.half_cell else "both"),
    )
    if config.thermal == "lumped":
        options += (("thermal", "lumped"),)
    return CellSetup(
        options=options,
        fixed=tuple(sorted(fixed.items())),
        inputs=inputs,
        stack=stack,
        budget=budget,
        nominal_capacity_ah=nominal_ah,
        applied_power_w=power_w,
        t_max_s=t_max,
    )


def reactive_area_per_volume_m(properties: CathodeProperties, cbd_blocking: float) -> float:
    """Electrochemically active AM surface per electrode volume [1/m]: the AM-electrolyte area
    plus ``1 - cbd_blocking`` of the AM-CBD area (``a_e * cov / (1 - cov)``, from the coverage
    of the whole AM surface); coverage is counted once."""
    a_e, cov = properties.am_electrolyte_area_per_volume_m, properties.cbd_coverage
    if cbd_blocking >= 1.0 or cov <= 0.0:
        return a_e
    return a_e * (1.0 + (1.0 - cbd_blocking) * cov / (1.0 - cov))


def build_parameter_values(config: CellModelConfig, setup: CellSetup) -> Any:
    """Returns the PyBaMM ``ParameterValues`` of a setup, inputs marked ``"[input]"``."""
    pybamm = import_pybamm()
    values = base_parameter_values(config)
    fixed = dict(setup.fixed)
    values.update(fixed, check_already_exists=False)
    if dict(setup.options)["working electrode"] == "positive":
        lithium = pybamm.ParameterValues(LITHIUM_METAL_SET)[LITHIUM_METAL_J0]
        values.update({LITHIUM_METAL_J0: lithium}, check_already_exists=False)

    base_j0, base_diffusivity = values[J0], values[DIFFUSIVITY]
    # Evaluate the set's j0 at the same stoichiometry as in the set, scaled by the area factor.
    scale = _float(_base_values(config.parameter_set, config.parameter_overrides), C_MAX)
    scale /= fixed[C_MAX]

    def times_input(base: Any, factor_name: str, *args: Any) -> Any:
        # The set's function (or constant) times a scalar input parameter.
        return (base(*args) if callable(base) else base) * pybamm.Parameter(factor_name)

    # Explicit signatures: PyBaMM calls these with the function parameter's children.
    def j0(c_e: Any, c_s_surf: Any, c_s_max: Any, T: Any) -> Any:
        return times_input(base_j0, AREA_FACTOR, c_e, c_s_surf * scale, c_s_max * scale, T)

    def diffusivity(sto: Any, T: Any) -> Any:
        return times_input(base_diffusivity, DIFFUSIVITY_FACTOR, sto, T)

    values.update({J0: j0, DIFFUSIVITY: diffusivity}, check_already_exists=False)
    values.update({name: "[input]" for name in setup.inputs}, check_already_exists=False)
    return values
