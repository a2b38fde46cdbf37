"""``jaxmicro cell``: simulate one cell design and print the result table or JSON; optionally
plot its discharge curve (``--plot``) and export the cell as a BPX parameter file (``--bpx``)."""

from __future__ import annotations

import argparse

from jaxmicro import _cli_common as common


def add_arguments(parser: argparse.ArgumentParser) -> None:
    common.use_help_formatter(parser)
    micro = parser.add_argument_group("measured cathode microstructure")
    micro.add_argument("--porosity", type=float, default=0.30, help="pore volume fraction [-]")
    micro.add_argument("--am-fraction", type=float, default=0.63, help="AM volume fraction [-]")
    micro.add_argument(
        "--cbd-fraction",
        type=float,
        default=None,
        help="CBD volume fraction [-] (default: 1 - porosity - AM fraction)",
    )
    micro.add_argument(
        "--tau", type=float, default=2.0, help="through-plane pore tortuosity factor [-]"
    )
    micro.add_argument(
        "--area",
        type=float,
        default=None,
        help="AM-electrolyte area per volume [1/m] (default: spheres, 3 * AM fraction / radius)",
    )
    micro.add_argument("--coverage", type=float, default=0.0, help="CBD coverage of AM [-]")
    design = parser.add_argument_group("design")
    common.add_thickness_argument(design, basis_note=False)
    design.add_argument(
        "--radius-um", type=float, default=common.DEFAULT_RADIUS_UM, help="AM particle radius [um]"
    )
    design.add_argument("--np-ratio", type=float, default=1.1, help="N/P capacity ratio [-]")
    design.add_argument(
        "--half-cell", action="store_true", help="lithium-metal counter electrode"
    )
    common.add_cell_format_argument(design)
    model = parser.add_argument_group("model")
    model.add_argument(
        "--parameter-set",
        choices=common.PARAMETER_SETS,
        default=common.PARAMETER_SETS[0],
        help="PyBaMM parameter set for everything not measured or designed (NMC811 cathodes only; "
        "other sets through the Python API, CellModelConfig)",
    )
    model.add_argument(
        "--thermal",
        choices=common.THERMAL_MODELS,
        default=common.THERMAL_MODELS[0],
        help="isothermal at 298.15 K, or PyBaMM's lumped thermal model (maximum temperature reported)",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--c-rate", type=float, default=None, help="constant-current C-rate [1/h] (default 1 C)"
    )
    mode.add_argument(
        "--power-w-per-kg", type=float, default=None, help="cell-level discharge power [W/kg]"
    )
    common.add_json_argument(parser, "the full result as JSON: to FILE, or printed without one")
    parser.add_argument(
        "--plot",
        default=None,
        metavar="FILE",
        help="write the discharge curve (voltage against capacity) as an image, e.g. curve.png",
    )
    parser.add_argument(
        "--bpx",
        default=None,
        metavar="FILE",
        help="write the full cell as a BPX parameter file (JSON) for PyBaMM and other BPX readers",
    )


def run(args: argparse.Namespace) -> int:
    import json

    from jaxmicro._files import atomic_path, plain_json, write_json_atomic
    from jaxmicro.cell import (
        CathodeProperties,
        CellDesign,
        CellModelConfig,
        OperatingPoint,
        export_bpx,
        simulate_cell,
    )
    from jaxmicro.cli import CommandError

    radius = args.radius_um * 1e-6
    cbd = args.cbd_fraction
    if cbd is None:
        cbd = max(0.0, 1.0 - args.porosity - args.am_fraction)
    area = args.area if args.area is not None else 3.0 * args.am_fraction / radius
    properties = CathodeProperties(
        porosity=args.porosity,
        am_volume_fraction=args.am_fraction,
        cbd_volume_fraction=cbd,
        tortuosity_through_plane=args.tau,
        am_electrolyte_area_per_volume_m=area,
        cbd_coverage=args.coverage,
    )
    design = CellDesign(
        cathode_thickness_m=args.thickness_um * 1e-6,
        particle_radius_m=radius,
        np_ratio=args.np_ratio,
        half_cell=args.half_cell,
        cell_format=args.cell_format,
    )
    if args.power_w_per_kg is not None:
        operating_point = OperatingPoint(power_w_per_kg=args.power_w_per_kg)
    else:
        operating_point = OperatingPoint(c_rate=args.c_rate if args.c_rate is not None else 1.0)
    if args.bpx and design.half_cell:
        raise CommandError("--bpx: BPX describes full cells; a lithium-metal half cell cannot be exported")
    config = CellModelConfig(parameter_set=args.parameter_set, thermal=args.thermal)
    result = simulate_cell(properties, design, operating_point, config)
    written = []
    if args.json and args.json != "-":
        write_json_atomic(args.json, result.to_dict())
        written.append(args.json)
    if args.bpx:
        export_bpx(properties, design, args.bpx, config)
        written.append(args.bpx)
    if args.plot and not result.failed:
        ax = result.plot()
        with atomic_path(args.plot) as tmp:
            ax.figure.savefig(tmp, dpi=120)
        written.append(args.plot)
    if args.json == "-":
        print(json.dumps(plain_json(result.to_dict()), indent=2, allow_nan=False))
    else:
        kind = "half cell" if design.half_cell else "full cell"
        print(f"{design.cell_format.name} {kind}, {operating_point}")
        print(result.summary())
        for path in written:
            print(f"wrote {path}")
    if args.plot and result.failed:
        raise CommandError(f"--plot: no curve to plot, the simulation failed: {result.reason}")
    return 1 if result.failed else 0
