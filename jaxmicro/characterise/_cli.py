"""``jaxmicro characterise``: tortuosity factor and microstructure metrics of a volume file."""

from __future__ import annotations

import argparse


def _numbers(kind):
    def parse(text: str):
        try:
            return tuple(kind(v) for v in text.split(","))
        except ValueError as error:
            raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from error

    return parse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", help="volume file (.tif/.tiff stack or .npy)")
    parser.add_argument(
        "--grey",
        type=_numbers(int),
        default=None,
        help="grey values of pore,AM,CBD in the file (default: 0,128,255 for TIFF, 0,1,2 for .npy)",
    )
    parser.add_argument("--phase", type=int, default=0, help="conducting phase id (default 0, pore)")
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
        default=(1.0,),
        help="voxel edge length [m], one value or z,y,x (default 1, i.e. per-voxel units)",
    )
    parser.add_argument("--periodic", action="store_true", help="periodic side faces")
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")


def run(args: argparse.Namespace) -> int:
    import time

    import numpy as np

    from jaxmicro._files import write_json_atomic
    from jaxmicro.characterise import microstructure_metrics, tortuosity
    from jaxmicro.data import read_volume
    from jaxmicro.data.phases import PHASE_NAMES

    volume = read_volume(args.path, args.grey)
    size = args.voxel_size_m[0] if len(args.voxel_size_m) == 1 else args.voxel_size_m
    axes = (0, 1, 2) if args.axis is None else (args.axis,)
    out: dict = {"path": str(args.path), "shape": list(volume.shape), "phase": args.phase}
    name = PHASE_NAMES.get(args.phase, str(args.phase))
    print(f"{args.path}: shape {volume.shape}, conducting phase {args.phase} ({name})")
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
        print(
            f"  axis {axis}: tau {row['tau']:.5f}  D_rel {row['D_rel']:.5f}  eps {row['eps']:.5f}  "
            f"({row['iterations']} iterations, {seconds:.2f} s incl. compile"
            f"{'' if row['converged'] else ', NOT converged'})"
        )
    metrics = {k: np.asarray(v).tolist() for k, v in microstructure_metrics(volume, size)._asdict().items()}
    out["metrics"] = metrics
    unit = "1/m" if len(args.voxel_size_m) > 1 or args.voxel_size_m[0] != 1.0 else "1/voxel"
    shown = [
        ("volume fractions (pore, AM, CBD)", "volume_fraction", "-"),
        ("specific surface area, face counting", "specific_surface_area", unit),
        ("specific surface area, smoothed", "specific_surface_area_smooth", unit),
        ("interfacial area pore-AM, pore-CBD, AM-CBD", "interfacial_area", unit),
        ("AM surface covered by CBD", "cbd_coverage", "-"),
        ("triple-phase boundary density", "tpb_density", f"{unit}^2"),
    ]
    for label, key, units in shown:
        print(f"  {label} [{units}]: {np.round(metrics[key], 6).tolist()}")
    if args.json:
        # Strict JSON: a non-percolating phase's infinite tau is written as null (with
        # "percolates": false), as everywhere else in the package.
        write_json_atomic(args.json, out)
        print(f"  wrote {args.json}")
    return 0
