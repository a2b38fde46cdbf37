"""``jaxmicro characterise``: tortuosity factor and microstructure metrics of a volume file."""

from __future__ import annotations

import argparse

from jaxmicro import _cli_common as common


def _numbers(kind):
    def parse(text: str):
        try:
            return tuple(kind(v) for v in text.split(","))
        except ValueError as error:
            raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from error

    return parse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    common.use_help_formatter(parser)
    parser.add_argument("path", help="volume file (.tif/.tiff stack or .npy)")
    parser.add_argument(
        "--grey",
        type=_numbers(int),
        default=None,
        help="grey values of pore,AM,CBD in the file (default: 0,128,255 for TIFF, 0,1,2 for .npy)",
    )
    parser.add_argument("--phase", type=int, default=0, help="conducting phase id (0 pore, 1 AM, 2 CBD)")
    parser.add_argument(
        "--axis",
        type=int,
        choices=(0, 1, 2),
        default=None,
        help="transport axis (default: all three; 0 is through-plane)",
    )
    parser.add_argument(
        "--voxel-size-m",
        type=_numbers(float),
        default=None,
        help="voxel edge length [m], one value or z,y,x (default: the file's calibration, "
        "else 1, i.e. per-voxel units)",
    )
    parser.add_argument("--periodic", action="store_true", help="periodic side faces")
    common.add_json_argument(
        parser, "the results as JSON: also written to FILE, or printed (alone) without one"
    )


def run(args: argparse.Namespace) -> int:
    import functools
    import json
    import sys
    import time

    import numpy as np

    from jaxmicro._files import plain_json, write_json_atomic
    from jaxmicro.characterise import microstructure_metrics, tortuosity
    from jaxmicro.data import read_volume
    from jaxmicro.data.phases import PHASE_NAMES
    from jaxmicro.data.volume_io import read_voxel_size_m

    # With a bare --json the JSON alone goes to stdout; the human-readable lines to stderr.
    say = functools.partial(print, file=sys.stderr) if args.json == "-" else print

    volume = read_volume(args.path, args.grey)
    voxel_size_m = args.voxel_size_m or read_voxel_size_m(args.path) or (1.0,)
    size = voxel_size_m[0] if len(set(voxel_size_m)) == 1 else voxel_size_m
    axes = (0, 1, 2) if args.axis is None else (args.axis,)
    out: dict = {
        "path": str(args.path),
        "shape": list(volume.shape),
        "phase": args.phase,
        "voxel_size_m": list(voxel_size_m) if voxel_size_m != (1.0,) else None,
    }
    name = PHASE_NAMES.get(args.phase, str(args.phase))
    say(f"{args.path}: shape {volume.shape}, conducting phase {args.phase} ({name})")
    out["tortuosity"] = {}
    for axis in axes:
        start = time.perf_counter()
        r = tortuosity(volume, args.phase, axis, periodic=args.periodic, voxel_size=size)
        seconds = time.perf_counter() - start
        row = {
            "tau": float(r.tau),
            "D_rel": float(r.D_rel),
            "eps": float(r.eps),
            "percolates": bool(r.percolates),
            "converged": bool(r.converged),
            "iterations": int(r.iterations),
            "residual": float(r.residual),
            "seconds": seconds,
        }
        out["tortuosity"][str(axis)] = row
        say(
            f"  axis {axis}: tau {row['tau']:.5f}  D_rel {row['D_rel']:.5f}  eps {row['eps']:.5f}  "
            f"({row['iterations']} iterations, {seconds:.2f} s incl. compile"
            f"{'' if row['converged'] else ', NOT converged'})"
        )
    metrics = {k: np.asarray(v).tolist() for k, v in microstructure_metrics(volume, size)._asdict().items()}
    out["metrics"] = metrics
    unit = "1/m" if len(voxel_size_m) > 1 or voxel_size_m[0] != 1.0 else "1/voxel"
    shown = [
        ("volume fractions (pore, AM, CBD)", "volume_fraction", "-"),
        ("specific surface area, face counting", "specific_surface_area", unit),
        ("specific surface area, smoothed", "specific_surface_area_smooth", unit),
        ("interfacial area pore-AM, pore-CBD, AM-CBD", "interfacial_area", unit),
        ("AM surface covered by CBD", "cbd_coverage", "-"),
        ("triple-phase boundary density", "tpb_density", f"{unit}^2"),
    ]
    for label, key, units in shown:
        say(f"  {label} [{units}]: {np.round(metrics[key], 6).tolist()}")
    # Strict JSON: a non-percolating phase's infinite tau is written as null (with
    # "percolates": false), as everywhere else in the package.
    if args.json == "-":
        print(json.dumps(plain_json(out), indent=1, allow_nan=False))
    elif args.json:
        write_json_atomic(args.json, out)
        say(f"  wrote {args.json}")
    return 0
