"""``jaxmicro sensitivity``: what drives the objective at one label: its change per step of each
design variable, with the standard error over the generator seeds."""

from __future__ import annotations

import argparse
import math
import sys

from jaxmicro import _cli_common as common

# How the measured properties' changes are printed: short name [unit], factor from SI.
SHOWN = {
    "electrolyte_tau_through_plane": ("tau", 1.0),
    "solid_conductivity_s_m": ("solid S/m", 1.0),
    "am_electrolyte_area_per_volume_m": ("area 1/um", 1e-6),
    "particle_radius_m": ("radius um", 1e6),
    "porosity": ("porosity", 1.0),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    common.use_help_formatter(parser)
    where = parser.add_argument_group("where")
    where.add_argument(
        "--labels",
        type=common.floats,
        default=None,
        metavar="AM_WT,POROSITY,ADHESION",
        help="the label to differentiate at (default: the middle of the generator's trained range)",
    )
    where.add_argument(
        "--vary",
        type=common.names,
        default="am_wt,porosity,adhesion",
        help="design variables to step, comma-separated: labels and at most one of "
        f"{', '.join(common.CELL_VARIABLE_NAMES)} (at --am-loading-mg-cm2 or --thickness-um)",
    )
    where.add_argument(
        "--steps",
        type=common.named_value,
        action="append",
        default=[],
        metavar="NAME=STEP",
        help="step of a variable in its unit (repeatable) [am_wt 0.01, porosity 0.01, adhesion 0.05, "
        "am_loading_mg_cm2 1, cathode_thickness_um 5]",
    )
    where.add_argument(
        "--method",
        choices=common.GRADIENT_METHODS,
        default=common.GRADIENT_METHODS[0],
        help="common-seed central differences of the whole loop (2 labels per variable), or the "
        "chain rule through the microstructure (labels only; a forward-mode pass and 12 cells)",
    )
    what = parser.add_argument_group("what to evaluate")
    what.add_argument(
        "--power-w-per-kg",
        type=float,
        default=common.DEFAULT_POWER_W_PER_KG,
        help="cell-level discharge power [W/kg]",
    )
    common.add_cell_arguments(what)
    what.add_argument("--seeds-per-label", type=int, default=2, help="generated volumes per label")
    what.add_argument("--volume-size", type=int, default=64, help="generated volume edge [voxels]")
    run = parser.add_argument_group("run")
    common.add_json_argument(run, "the result as JSON: to FILE, or printed without one")
    common.add_run_arguments(run)


def run(args: argparse.Namespace) -> int:
    common.select_device(args)
    import json

    import numpy as np

    from jaxmicro._files import plain_json, write_json_atomic
    from jaxmicro.data.labels import LABEL_FIELDS
    from jaxmicro.design import DesignObjective, design_space
    from jaxmicro.design.recommendation import objective_unit
    from jaxmicro.design.sensitivity import most_important, point_and_sensitivities
    from jaxmicro.generator import check_labels

    generator = common.load_generator_of(args)
    ranges = generator.label_ranges
    values = args.labels or [0.5 * (lo + hi) for lo, hi in (ranges[n] for n in LABEL_FIELDS)]
    if len(values) != len(LABEL_FIELDS):
        raise ValueError(f"--labels needs the values of {','.join(LABEL_FIELDS)}, got {values}")
    check_labels(generator, np.array([values]))  # inside the trained range, finite
    labels = dict(zip(LABEL_FIELDS, values, strict=True))
    cell_values = {"am_loading_mg_cm2": args.am_loading_mg_cm2, "cathode_thickness_um": args.thickness_um}
    # A cell variable has no trained range: bounds wide enough that its steps are central.
    bounds = {n: (0.5 * v, 2.0 * v) for n, v in cell_values.items() if n in args.vary}
    space = design_space(
        ranges, free=args.vary, fixed={n: v for n, v in labels.items() if n not in args.vary}, bounds=bounds
    )
    labels |= {n: v for n, v in cell_values.items() if n in args.vary}
    design = common.design_settings(args, power_w_per_kg=args.power_w_per_kg, volume_size=args.volume_size)
    unit = objective_unit(design.objective_description)
    size = f"{design.seeds_per_label} seeds of {args.volume_size}^3"
    if args.method == "chain":
        common.note(args, f"evaluating 1 label ({size}) and its chain-rule gradient")
    else:
        common.note(args, f"evaluating up to {1 + 2 * space.dim} labels ({size})")
    with common.cell_executor(args) as executor:
        objective = DesignObjective(generator, design, executor=executor)
        point, items = point_and_sensitivities(objective, space, labels, dict(args.steps), method=args.method)
    result = {
        "labels": labels,
        "objective": point.objective,
        "objective_standard_error": point.objective_standard_error,
        "objective_description": design.objective_description,
        "reason": point.reason,
        "properties": point.properties,
        "sensitivities": [s.to_dict() for s in items],
        "design": design.to_dict(),
        "command": sys.argv,
    }
    if args.json == "-":
        print(json.dumps(plain_json(result), indent=1))
        return 0 if not point.failed else 1
    if args.json:
        write_json_atomic(args.json, plain_json(result))
    where = ", ".join(f"{k} {v:g}" for k, v in labels.items())
    if point.failed:
        print(f"{design.objective_description} at {where}: failed ({point.reason})")
        return 1
    print(f"{design.objective_description} at {args.power_w_per_kg:g} W/kg, {where}:")
    print(f"  {point.objective:.4g} +- {point.objective_standard_error:.2g} {unit} "
          f"({size}; +- the standard error over seeds)")
    for item in items:
        changes = ", ".join(
            f"{name} {factor * item.properties_per_step[key]:+.2g}"
            for key, (name, factor) in SHOWN.items()
            if math.isfinite(item.properties_per_step[key])
        )
        print(f"  {item.describe(unit)}  ({item.method}; per step: {changes})")
    top = most_important(items)
    if top is not None and len(items) > 1:
        print(f"  matters most here: {top.name}")
    return 0
