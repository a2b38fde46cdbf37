"""``jaxmicro bench``: time every stage of the design loop on the current device."""

from __future__ import annotations

import argparse


def _ints(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def _voxel_limit(text: str) -> float:
    """A voxel count for ``--max-voxels``: finite and >= 0 (``2e7`` and ``33554432`` both work)."""
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of voxels, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected a finite number of voxels >= 0, got {text!r}") from None
    return value


def _names(text: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in text.split(",") if v.strip())


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--quick",
        action="store_true",
        help="every stage at small sizes, one repeat (under a minute on 2 CPU cores)",
    )
    parser.add_argument(
        "--out", default="runs/bench/bench.json", help="JSON report (default runs/bench/bench.json)"
    )
    # The generator and design stages time jitted generation, which the traceable SliceGAN has.
    parser.add_argument(
        "--checkpoint",
        default="gan",
        help="traceable generator: a trained checkpoint folder or a shipped one by name (default: gan)",
    )
    parser.add_argument(
        "--device", choices=("cpu", "gpu"), default=None, help="JAX platform (default: JAX's choice)"
    )
    sizes = parser.add_argument_group("sizes (override the full or --quick defaults)")
    sizes.add_argument(
        "--stages",
        type=_names,
        default=None,
        help="comma-separated subset of generator,tortuosity,metrics,cells,bo,design",
    )
    sizes.add_argument("--edges", type=_ints, default=None, help="volume edges [voxels] (default 64,128,256)")
    sizes.add_argument(
        "--batches", type=_ints, default=None, help="generator batch sizes (default 1,2,4,8,16,32)"
    )
    sizes.add_argument(
        "--characterise-batches",
        type=_ints,
        default=None,
        help="tortuosity and metrics batch sizes (default 1,8)",
    )
    sizes.add_argument(
        "--max-voxels",
        type=_voxel_limit,
        default=None,
        help="skip calls above this many voxels, batch * edge^3 (default 2^25 = 33.5M; 0: no limit)",
    )
    sizes.add_argument(
        "--repeats", type=int, default=None, help="steady-state calls per measurement (default 3)"
    )
    sizes.add_argument("--bo-observations", type=_ints, default=None, help="default 20,50,100,200")
    sizes.add_argument(
        "--cell-batches", type=_ints, default=None, help="simulations per timed batch (default 1,8)"
    )
    sizes.add_argument(
        "--design-edge", type=int, default=None, help="design-iteration volume edge (default 128)"
    )
    sizes.add_argument(
        "--design-batch", type=int, default=None, help="labels per design iteration (default 2)"
    )
    sizes.add_argument("--design-seeds", type=int, default=None, help="volumes per label (default 2)")
    tau = parser.add_argument_group("tortuosity")
    tau.add_argument(
        "--conv-crit", type=float, default=None, help="flux criterion of both solvers (default 1e-3)"
    )
    tau.add_argument("--no-taufactor", action="store_true", help="do not time TauFactor")
    tau.add_argument(
        "--taufactor-max-voxels",
        type=_voxel_limit,
        default=None,
        help="largest TauFactor call (default 128^3 on CPU, no limit on GPU; 0: none)",
    )
    tau.add_argument("--torch-threads", type=int, default=None, help="torch CPU threads (default: torch's)")


def config_from_args(args: argparse.Namespace):
    """The :class:`~jaxmicro.bench.BenchConfig` the options describe."""
    import dataclasses

    from jaxmicro.bench import QUICK, BenchConfig

    base = QUICK if args.quick else BenchConfig()
    changes = {
        name: getattr(args, name)
        for name in (
            "stages",
            "edges",
            "batches",
            "characterise_batches",
            "repeats",
            "bo_observations",
            "cell_batches",
            "design_edge",
            "design_batch",
            "design_seeds",
            "conv_crit",
            "torch_threads",
        )
        if getattr(args, name) is not None
    }
    if args.max_voxels is not None:
        changes["max_voxels"] = int(args.max_voxels) if args.max_voxels > 0 else None
    if args.taufactor_max_voxels is not None:
        changes["taufactor_max_voxels"] = int(args.taufactor_max_voxels)
    if args.no_taufactor:
        changes["taufactor"] = False
    return dataclasses.replace(base, **changes)


def run(args: argparse.Namespace) -> int:
    import json
    import sys
    from pathlib import Path

    if args.device is not None:
        import jax

        jax.config.update("jax_platforms", {"cpu": "cpu", "gpu": "cuda"}[args.device])
    config = config_from_args(args)

    from jaxmicro._cli_common import load_generator_of
    from jaxmicro.bench import format_report, report_to_dict, run_bench

    generator = None
    if {"generator", "design"} & set(config.stages):
        generator = load_generator_of(args)
        if not generator.traceable:
            raise ValueError(
                f"--checkpoint {args.checkpoint}: the benchmark times jitted generation, which this "
                "generator (drawn on the host) has not; pass a trained checkpoint or gan"
            )

    def progress(stage: str, row) -> None:
        if stage == "skipped":
            print(f"  skipped {row}", file=sys.stderr, flush=True)
            return
        size = next((f"{getattr(row, k)}" for k in ("edge", "cases", "observations") if hasattr(row, k)), "")
        print(f"  {stage} {size} done", file=sys.stderr, flush=True)

    report = run_bench(
        generator,
        config,
        on_row=progress,
        meta={"command": sys.argv, "checkpoint": args.checkpoint},
    )
    print(format_report(report))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report_to_dict(report), indent=1, allow_nan=False) + "\n")
    print(f"\nwrote {out}")
    return 0
