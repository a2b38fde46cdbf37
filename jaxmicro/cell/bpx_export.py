"""Exports a designed cell as a BPX parameter file (Battery Parameter eXchange, schema 1.0).

:func:`export_bpx` writes the DFN parameters that :func:`~jaxmicro.cell.simulate_cell` uses
for a design as a BPX JSON file, so the cell can be loaded by any BPX reader, e.g.
``pybamm.ParameterValues.create_from_bpx(path)``. The file is written by hand (no ``bpx``
package needed); ``tests/cell/test_cell_bpx.py`` validates it with ``bpx`` and reloads it in
PyBaMM. What BPX can and cannot express is listed in ``docs/cell.md``; in short:

* Open-circuit potentials, stoichiometry-dependent diffusivities and the electrolyte's
  concentration-dependent diffusivity and conductivity are written as interpolation tables,
  evaluated from the model's own PyBaMM functions at the reference temperature; temperature
  dependence becomes an Arrhenius activation energy measured between ``T_ref`` and
  ``T_ref + 10 K`` (exact for Arrhenius forms, as in Chen2020).
* BPX's exchange-current density is ``F k sqrt(c_e/c_e0 * x (1 - x))`` per unit area of spheres
  (``a = 3 eps_AM / R``, from which BPX readers derive the AM volume fraction). The measured
  reactive area is folded into ``k`` (``k`` times ``a_reactive / (3 eps_AM / R)``), exactly as
  the simulation scales the exchange current, so the AM volume fraction stays the measured one.
* Transport: the measured tortuosity factor becomes the transport efficiency ``eps / tau``; the
  solid conductivity is written as the effective value the model uses.
* A lithium-metal half cell has no BPX form and is refused; so is a parameter that the base set
  defines as a function of position.
"""

from __future__ import annotations

import math
import os
import warnings
from typing import Any

import numpy as np

from jaxmicro.cell.inputs import CathodeProperties, CellDesign, OperatingPoint
from jaxmicro.cell.parameters import (
    AM_FRACTION,
    AREA_FACTOR,
    C_MAX,
    DIFFUSIVITY_FACTOR,
    FARADAY_C_MOL,
    NEG_AM_FRACTION,
    NEG_INITIAL_CONCENTRATION,
    NOMINAL_CAPACITY,
    PARTICLE_RADIUS,
    POROSITY,
    TAU_ELECTRODE,
    TAU_ELECTROLYTE,
    CellModelConfig,
    build_parameter_values,
    import_pybamm,
    setup_cell,
)

BPX_VERSION = "1.0.0"
"""The BPX schema version written (``Header.BPX``)."""

STOICHIOMETRY_POINTS = 401
"""Points of the open-circuit-potential and particle-diffusivity tables (0 to 1)."""

ELECTROLYTE_POINTS = 161
"""Points of the electrolyte diffusivity and conductivity tables (0 to 4 ``c_e0``)."""

GAS_CONSTANT = 8.314462618
TEMPERATURE = "Temperature [K]"
ELECTROLYTE_CONCENTRATION = "Electrolyte concentration [mol.m-3]"
_ARRHENIUS_STEP_K = 10.0
_J0_SHAPE_TOLERANCE = 0.01


class _Evaluator:
    """Evaluates the model's PyBaMM parameters (functions or numbers) at given arguments."""

    def __init__(self, values: Any, inputs: dict[str, float]) -> None:
        self.pybamm = import_pybamm()
        self.values = values
        self.inputs = inputs

    def __call__(
        self, name: str, arguments: dict[str, Any], inputs: dict[str, float] | None = None
    ) -> np.ndarray:
        """``name``'s value at ``arguments`` (PyBaMM's argument names, in its order; numbers or
        1-D arrays), as an array as long as the longest argument."""
        pybamm = self.pybamm
        children = {}
        size = 1
        for key, value in arguments.items():
            array = np.atleast_1d(np.asarray(value, dtype=float))
            size = max(size, array.size)
            children[key] = pybamm.Vector(array) if array.size > 1 else pybamm.Scalar(float(array[0]))
        symbol = pybamm.FunctionParameter(name, children)
        out = self.values.process_symbol(symbol).evaluate(inputs=self.inputs | (inputs or {}))
        return np.broadcast_to(np.asarray(out, dtype=float).ravel(), (size,)).copy()

    def number(self, name: str) -> float:
        """A parameter that must be a number (an input, or a constant of the set)."""
        if name in self.inputs:
            return float(self.inputs[name])
        value = self.values[name]
        if callable(value):
            raise ValueError(f"BPX needs {name!r} as a number; the parameter set defines a function")
        return float(value)


def _activation_energy(function: Any, t_ref: float) -> float:
    """Arrhenius activation energy [J/mol] of ``function(T)`` between ``T_ref`` and ``T_ref + 10 K``
    (0 when it does not depend on temperature)."""
    low, high = float(function(t_ref)), float(function(t_ref + _ARRHENIUS_STEP_K))
    if not (low > 0.0 and high > 0.0) or math.isclose(low, high, rel_tol=1e-12):
        return 0.0
    return GAS_CONSTANT * math.log(high / low) / (1.0 / t_ref - 1.0 / (t_ref + _ARRHENIUS_STEP_K))


def _table(x: np.ndarray, y: np.ndarray) -> dict[str, list[float]]:
    keep = np.isfinite(y)
    return {"x": x[keep].tolist(), "y": y[keep].tolist()}


def _constant_or_table(x: np.ndarray, y: np.ndarray) -> float | dict[str, list[float]]:
    if np.all(np.isfinite(y)) and np.allclose(y, y[0], rtol=1e-12, atol=0.0):
        return float(y[0])
    return _table(x, y)


def _electrode(
    evaluate: _Evaluator,
    side: str,
    *,
    thickness: float,
    porosity: float,
    tortuosity_electrolyte: float,
    tortuosity_electrode: float,
    am_fraction: float,
    radius: float,
    model_radius: float,
    c_max: float,
    stoichiometry: tuple[float, float],
    diffusivity_inputs: dict[str, float],
    t_ref: float,
    c_e0: float,
) -> dict[str, Any]:
    """One electrode's BPX section. ``model_radius``: the radius the model is built with (its
    exchange current is per area of spheres of that radius, diffusivity scaled by ``inputs``)."""
    Side = side.capitalize()
    sto = np.linspace(0.0, 1.0, STOICHIOMETRY_POINTS)
    sto_clipped = np.clip(sto, 1e-6, 1.0 - 1e-6)
    sigma = evaluate(f"{Side} electrode conductivity [S.m-1]", {TEMPERATURE: t_ref})[0]
    stoichiometry_name = f"{Side} particle stoichiometry"

    def diffusivity(x: Any, temperature: float) -> np.ndarray:
        return evaluate(
            f"{Side} particle diffusivity [m2.s-1]",
            {stoichiometry_name: x, TEMPERATURE: temperature},
            inputs=diffusivity_inputs,
        )

    def j0(x: Any, c_e: float, temperature: float) -> np.ndarray:
        # Per area of spheres of the model radius; BPX's sphere area is at the design radius.
        return evaluate(
            f"{Side} electrode exchange-current density [A.m-2]",
            {
                ELECTROLYTE_CONCENTRATION: c_e,
                f"{Side} particle surface concentration [mol.m-3]": np.asarray(x) * c_max,
                f"Maximum {side} particle surface concentration [mol.m-3]": c_max,
                TEMPERATURE: temperature,
            },
        ) * (radius / model_radius)

    j0_half = float(j0(0.5, c_e0, t_ref)[0])
    k_norm = j0_half / (FARADAY_C_MOL * 0.5)
    _check_j0_shape(j0, k_norm, c_e0, t_ref, side)
    section: dict[str, Any] = {
        "Thickness [m]": thickness,
        "Porosity": porosity,
        "Transport efficiency": porosity / tortuosity_electrolyte,
        "Conductivity [S.m-1]": float(sigma * (1.0 - porosity) / tortuosity_electrode),
        "Minimum stoichiometry": stoichiometry[0],
        "Maximum stoichiometry": stoichiometry[1],
        "Maximum concentration [mol.m-3]": c_max,
        "Particle radius [m]": radius,
        "Surface area per unit volume [m-1]": 3.0 * am_fraction / radius,
        "Diffusivity [m2.s-1]": _constant_or_table(sto, diffusivity(sto_clipped, t_ref)),
        "Diffusivity activation energy [J.mol-1]": _activation_energy(
            lambda t: diffusivity(0.5, t)[0], t_ref
        ),
        "OCP [V]": _table(sto, evaluate(f"{Side} electrode OCP [V]", {stoichiometry_name: sto_clipped})),
        "Reaction rate constant [mol.m-2.s-1]": k_norm,
        "Reaction rate constant activation energy [J.mol-1]": _activation_energy(
            lambda t: j0(0.5, c_e0, t)[0], t_ref
        ),
    }
    entropic = evaluate(f"{Side} electrode OCP entropic change [V.K-1]", {stoichiometry_name: sto_clipped})
    # Optional in BPX, but PyBaMM's models need it even when isothermal.
    section["Entropic change coefficient [V.K-1]"] = _constant_or_table(sto, entropic)
    return section


def _check_j0_shape(j0: Any, k_norm: float, c_e0: float, t_ref: float, side: str) -> None:
    """Warns when the set's exchange current is not BPX's ``F k sqrt(c_e/c_e0 x (1 - x))``."""
    x = np.linspace(0.05, 0.95, 19)
    worst = 0.0
    for c_e in (0.5 * c_e0, c_e0, 2.0 * c_e0):
        model = j0(x, c_e, t_ref)
        bpx = FARADAY_C_MOL * k_norm * np.sqrt(c_e / c_e0 * x * (1.0 - x))
        worst = max(worst, float(np.max(np.abs(model / bpx - 1.0))))
    if worst > _J0_SHAPE_TOLERANCE:
        warnings.warn(
            f"the {side} exchange-current density differs from BPX's square-root form by up to "
            f"{worst:.1%}; BPX gets the rate constant that matches it at x = 0.5 and c_e = c_e0",
            stacklevel=4,
        )


def bpx_parameters(
    properties: CathodeProperties,
    design: CellDesign,
    config: CellModelConfig | None = None,
) -> dict[str, Any]:
    """The BPX (schema 1.0, ``"DFN"``) parameter dict of a designed full cell.

    Args:
        properties: measured cathode properties (finite).
        design: the full-cell design (thickness, radius, N/P, format).
        config: modelling choices as given to :func:`~jaxmicro.cell.simulate_cell`
            (``None``: defaults).

    Returns:
        A plain-JSON dict with ``Header``, ``Parameterisation`` and ``State``.

    Raises:
        ValueError: a half cell, non-finite properties, or a parameter set whose needed
            parameters are functions of position.
    """
    config = config or CellModelConfig()
    if design.half_cell:
        raise ValueError(
            "BPX describes a cell with two porous intercalation electrodes; a lithium-metal half "
            "cell cannot be exported"
        )
    if properties.non_finite_fields():
        raise ValueError(f"cannot export non-finite properties: {', '.join(properties.non_finite_fields())}")
    setup = setup_cell(properties, design, OperatingPoint(c_rate=1.0), config)
    fixed = dict(setup.fixed)
    evaluate = _Evaluator(build_parameter_values(config, setup), dict(setup.inputs))
    number = evaluate.number
    t_ref = number("Reference temperature [K]")
    c_e0 = number("Initial concentration in electrolyte [mol.m-3]")

    # Positive: the design radius; the model's exchange current is per sphere area at the
    # set's radius (area factor included) and its diffusivity is scaled by (R_m / R)^2.
    L_p, eps_p, eps_am_p = fixed["Positive electrode thickness [m]"], number(POROSITY), number(AM_FRACTION)
    c_max_p = fixed[C_MAX]
    x100 = fixed["Initial concentration in positive electrode [mol.m-3]"] / c_max_p
    x0 = config.discharged_stoichiometry
    positive = _electrode(
        evaluate,
        "positive",
        thickness=L_p,
        porosity=eps_p,
        tortuosity_electrolyte=number(TAU_ELECTROLYTE),
        tortuosity_electrode=number(TAU_ELECTRODE),
        am_fraction=eps_am_p,
        radius=design.particle_radius_m,
        model_radius=fixed[PARTICLE_RADIUS],
        c_max=c_max_p,
        stoichiometry=(x100, x0),
        diffusivity_inputs={DIFFUSIVITY_FACTOR: 1.0},
        t_ref=t_ref,
        c_e0=c_e0,
    )

    L_n, eps_n = fixed["Negative electrode thickness [m]"], number("Negative electrode porosity")
    eps_am_n = number(NEG_AM_FRACTION)
    c_max_n = number("Maximum concentration in negative electrode [mol.m-3]")
    y100 = number(NEG_INITIAL_CONCENTRATION) / c_max_n
    # The lithium the cathode takes up between its charged and discharged stoichiometries.
    y0 = max(0.0, y100 - eps_am_p * c_max_p * (x0 - x100) * L_p / (eps_am_n * c_max_n * L_n))
    R_n = number("Negative particle radius [m]")
    negative = _electrode(
        evaluate,
        "negative",
        thickness=L_n,
        porosity=eps_n,
        tortuosity_electrolyte=fixed["Negative electrode tortuosity factor (electrolyte)"],
        tortuosity_electrode=fixed["Negative electrode tortuosity factor (electrode)"],
        am_fraction=eps_am_n,
        radius=R_n,
        model_radius=R_n,
        c_max=c_max_n,
        stoichiometry=(y0, y100),
        diffusivity_inputs={},
        t_ref=t_ref,
        c_e0=c_e0,
    )

    eps_s = fixed["Separator porosity"]
    separator = {
        "Thickness [m]": fixed["Separator thickness [m]"],
        "Porosity": eps_s,
        "Transport efficiency": eps_s / fixed["Separator tortuosity factor (electrolyte)"],
    }

    c_e = np.linspace(0.0, 4.0 * c_e0, ELECTROLYTE_POINTS)

    def electrolyte_function(name: str, concentration: Any, temperature: float) -> np.ndarray:
        return evaluate(name, {ELECTROLYTE_CONCENTRATION: concentration, TEMPERATURE: temperature})

    electrolyte: dict[str, Any] = {
        "Cation transference number": float(
            electrolyte_function("Cation transference number", c_e0, t_ref)[0]
        )
    }
    for key, name in (
        ("Diffusivity", "Electrolyte diffusivity [m2.s-1]"),
        ("Conductivity", "Electrolyte conductivity [S.m-1]"),
    ):
        unit = "[m2.s-1]" if key == "Diffusivity" else "[S.m-1]"
        electrolyte[f"{key} {unit}"] = _constant_or_table(c_e, electrolyte_function(name, c_e, t_ref))
        electrolyte[f"{key} activation energy [J.mol-1]"] = _activation_energy(
            lambda t, name=name: electrolyte_function(name, c_e0, t)[0], t_ref
        )
    thermodynamic_factor = electrolyte_function("Thermodynamic factor", c_e0, t_ref)[0]
    if not math.isclose(thermodynamic_factor, 1.0):
        warnings.warn(
            f"BPX has no thermodynamic factor (readers take 1); the set's is {thermodynamic_factor:g}",
            stacklevel=2,
        )

    budget = setup.budget
    area = fixed["Electrode width [m]"] * fixed["Electrode height [m]"]
    density, heat_capacity = _lumped_heat_capacity(evaluate, fixed, t_ref)
    window = (fixed["Lower voltage cut-off [V]"], fixed["Upper voltage cut-off [V]"])
    kind = f"{design.cell_format.name} full cell"
    reactive_area = setup.inputs[AREA_FACTOR] * 3.0 * eps_am_p / fixed[PARTICLE_RADIUS]
    description = (
        f"{kind} designed with jaxmicro: cathode {L_p * 1e6:.4g} um thick, porosity {eps_p:.4g}, "
        f"AM fraction {eps_am_p:.4g}, through-plane tortuosity factor "
        f"{properties.tortuosity_through_plane:.4g}, reactive area {reactive_area:.4g} 1/m, "
        f"particle radius {design.particle_radius_m * 1e6:.4g} um, N/P {design.np_ratio:.4g}; "
        f"everything else from PyBaMM's {config.parameter_set} set. Whole cell (not BPX "
        f"parameters): {budget.cell_mass_kg * 1e3:.1f} g, {budget.cell_volume_m3 * 1e6:.1f} mL, "
        f"electrode area {area:.4g} m2."
    )
    return {
        "Header": {
            "BPX": BPX_VERSION,
            "Title": f"jaxmicro {kind}",
            "Description": description,
            "References": "Chang-Hui Chen et al 2020 J. Electrochem. Soc. 167 080534 (base parameter set)"
            if config.parameter_set == "Chen2020"
            else f"PyBaMM parameter set {config.parameter_set}",
            "Model": "DFN",
        },
        "Parameterisation": {
            "Cell": {
                "Electrode area [m2]": area,
                "External surface area [m2]": design.cell_format.surface_area_m2,
                "Volume [m3]": budget.cell_volume_m3,
                "Number of electrode pairs connected in parallel to make a cell": 1,
                "Lower voltage cut-off [V]": window[0],
                "Upper voltage cut-off [V]": window[1],
                "Nominal cell capacity [A.h]": number(NOMINAL_CAPACITY),
                "Reference temperature [K]": t_ref,
                "Density [kg.m-3]": density,
                "Specific heat capacity [J.K-1.kg-1]": heat_capacity,
            },
            "Electrolyte": electrolyte,
            "Negative electrode": negative,
            "Positive electrode": positive,
            "Separator": separator,
            "User-defined": {
                "Open-circuit voltage at 0% SOC [V]": number("Open-circuit voltage at 0% SOC [V]"),
                "Open-circuit voltage at 100% SOC [V]": number("Open-circuit voltage at 100% SOC [V]"),
            },
        },
        "State": {
            "Initial conditions": {
                "Initial temperature [K]": number("Initial temperature [K]"),
                "Initial electrolyte concentration [mol.m-3]": c_e0,
            },
            "Thermal environment": {
                "Ambient temperature [K]": number("Ambient temperature [K]"),
                "Heat transfer coefficient [W.m-2.K-1]": config.heat_transfer_coefficient_w_m2_k,
            },
        },
    }


def _lumped_heat_capacity(evaluate: _Evaluator, fixed: dict[str, float], t_ref: float) -> tuple[float, float]:
    """Density [kg/m^3] and specific heat capacity [J/(kg K)] whose product is the model's
    thickness-averaged volumetric heat capacity over the repeat unit, current collectors
    included (BPX readers give the collectors zero thickness and every layer these values)."""
    mass = heat = length = 0.0
    for layer in (
        "Negative current collector",
        "Negative electrode",
        "Separator",
        "Positive electrode",
        "Positive current collector",
    ):
        thickness = fixed.get(f"{layer} thickness [m]")
        if thickness is None:
            thickness = evaluate.number(f"{layer} thickness [m]")
        rho = evaluate(f"{layer} density [kg.m-3]", {TEMPERATURE: t_ref})[0]
        cp = evaluate(f"{layer} specific heat capacity [J.kg-1.K-1]", {TEMPERATURE: t_ref})[0]
        mass, heat, length = mass + thickness * rho, heat + thickness * rho * cp, length + thickness
    return mass / length, heat / mass


def export_bpx(
    properties: CathodeProperties,
    design: CellDesign,
    path: str | os.PathLike,
    config: CellModelConfig | None = None,
) -> dict[str, Any]:
    """Writes the BPX parameter file of a designed full cell (see :func:`bpx_parameters`).

    The file is strict JSON, written atomically. Load it in PyBaMM with
    ``pybamm.ParameterValues.create_from_bpx(path)`` (needs the ``bpx`` package).

    Args:
        properties: measured cathode properties.
        design: the full-cell design.
        path: the JSON file to write.
        config: modelling choices as given to :func:`~jaxmicro.cell.simulate_cell`.

    Returns:
        The dict written.
    """
    from jaxmicro._files import write_json_atomic

    parameters = bpx_parameters(properties, design, config)
    write_json_atomic(path, parameters)
    return parameters


__all__ = ["BPX_VERSION", "bpx_parameters", "export_bpx"]
