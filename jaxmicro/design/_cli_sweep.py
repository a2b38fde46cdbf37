"""``jaxmicro sweep``: evaluate a grid or a list of labels, sharded over all local devices."""

from __future__ import annotations

import argparse
import sys

from jaxmicro import _cli_common as common


def _counts(text: str) -> int | list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an integer or comma-separated integers, got {text!r}"
        ) from None
    return values[0] if len(values) == 1 else values


def add_arguments(parser: argparse.ArgumentParser) -> None:
    common.use_help_formatter(parser)
    labels = parser.add_argument_group("labels")
    source = labels.add_mutually_exclusive_group()
    source.add_argument(
        "--grid",
        type=_counts,
        default=None,
        help="grid points per free label, K or K1,K2 (default 5; bounds included)",
    )
    source.add_argument(
        "--labels-csv",
        dest="labels_csv",
        default=None,
        help="CSV file with a header of label names (am_wt,porosity,adhesion); "
        "missing columns take the fixed values",
    )
    common.add_hidden_alias(source, "--labels", dest="labels_csv")
    labels.add_argument(
        "--vary",
        "--optimise",
        dest="vary",
        type=common.names,
        default="am_wt,porosity",
        help="free labels of the grid, comma-separated",
    )
    common.add_fixed_label_arguments(labels)
    what = parser.add_argument_group("what to evaluate")
    what.add_argument(
        "--power-w-per-kg",
        type=float,
        default=common.DEFAULT_POWER_W_PER_KG,
        help="cell-level discharge power [W/kg]",
    )
    common.add_hidden_alias(what, "--power", dest="power_w_per_kg", type=float)
    what.add_argument(
        "--properties-only", action="store_true", help="generate and characterise only; no cell simulation"
    )
    common.add_cell_arguments(what)
    what.add_argument("--seeds-per-label", type=int, default=2, help="generated volumes per label")
    what.add_argument("--volume-size", type=int, default=64, help="generated volume edge [voxels]")
    run = parser.add_argument_group("run")
    run.add_argument(
        "--out",
        default="runs/sweep/sweep.jsonl",
        help="results, one JSON line per label; a rerun resumes",
    )
    run.add_argument(
        "--chunk-size",
        type=int,
        default=8,
        help="labels per sharded computation, rounded up to a multiple of the devices",
    )
    run.add_argument("--devices", type=int, default=None, help="use the first N devices (default: all)")
    common.add_run_arguments(run)
    multi = parser.add_argument_group("several hosts (jax.distributed; run the same command on every host)")
    multi.add_argument(
        "--distributed",
        action="store_true",
        help="call jax.distributed.initialize() (auto-detects Slurm, Open MPI, TPU pods)",
    )
    multi.add_argument(
        "--coordinator", default=None, help="address:port of process 0 (implies --distributed)"
    )
    multi.add_argument("--num-processes", type=int, default=None, help="number of processes")
    multi.add_argument("--process-id", type=int, default=None, help="this process's id, 0 .. N-1")


def read_labels_csv(path: str, fixed: dict[str, float]):
    """Labels ``(n, 3)`` from a CSV with a header row of label names.

    Args:
        path: the CSV file (comma-separated, one label per row).
        fixed: values for label columns the file lacks.

    Raises:
        ValueError: unknown or missing columns, non-numeric values, no rows.
    """
    import csv

    import numpy as np

    from jaxmicro.data.labels import LABEL_FIELDS

    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    rows = [r for r in rows if any(c.strip() for c in r)]
    if len(rows) < 2:
        raise ValueError(f"{path}: need a header row of label names and at least one row of labels")
    header = [c.strip() for c in rows[0]]
    if unknown := sorted(set(header) - set(LABEL_FIELDS)):
        raise ValueError(f"{path}: unknown columns {unknown}; label columns are {', '.join(LABEL_FIELDS)}")
    try:
        values = np.array([[float(c) for c in r] for r in rows[1:]], dtype=np.float64)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None
    if values.shape[1] != len(header):
        raise ValueError(f"{path}: every row needs {len(header)} values")
    columns = {name: values[:, i] for i, name in enumerate(header)}
    return np.stack([columns.get(n, np.full(len(values), fixed[n])) for n in LABEL_FIELDS], axis=1)


def _settings_path(out):
    return out.with_name(out.stem + ".settings.json")


def _check_settings(out, settings: dict) -> None:
    """Writes the sweep's settings beside its results, or checks a rerun against them."""
    import json

    import jax

    from jaxmicro.design import write_json_atomic

    path = _settings_path(out)
    if path.is_file():
        logged = json.loads(path.read_text())
        for key in ("design", "checkpoint"):
            if logged.get(key) != json.loads(json.dumps(settings[key])):
                raise ValueError(f"{out} was written with other {key} settings ({path}); use a new --out")
    elif not out.exists() and jax.process_index() == 0:
        write_json_atomic(path, settings)


def run(args: argparse.Namespace) -> int:
    import contextlib
    import math
    import time
    from pathlib import Path

    common.select_device(args)
    import jax

    if args.distributed or args.coordinator:  # before any computation
        if jax.config.jax_cpu_collectives_implementation is None:  # CPU processes gather over gloo
            jax.config.update("jax_cpu_collectives_implementation", "gloo")
        jax.distributed.initialize(
            coordinator_address=args.coordinator, num_processes=args.num_processes, process_id=args.process_id
        )
    import numpy as np

    from jaxmicro.design import DesignObjective, design_space, label_grid, sweep
    from jaxmicro.design.sharding import batch_mesh, padded_size
    from jaxmicro.design.sweep import table_path
    from jaxmicro.generator import DEFAULT_GENERATOR, check_labels

    generator = common.load_generator_of(args)
    if not generator.traceable and jax.process_count() > 1:
        raise ValueError(
            "this generator is drawn on the host (the stochastic default), so processes cannot "
            "share its work; run one process or pass --checkpoint gan (traceable, sharded)"
        )
    fixed = common.fixed_labels(args)
    if args.labels_csv:
        defaults = {n: 0.5 * (lo + hi) for n, (lo, hi) in generator.label_ranges.items()}
        labels = read_labels_csv(args.labels_csv, {**defaults, **fixed})
        described = f"{len(labels)} labels from {args.labels_csv}"
    else:
        space = design_space(generator.label_ranges, free=args.vary, fixed=fixed)
        labels = label_grid(space, args.grid if args.grid is not None else 5)
        described = f"grid of {len(labels)} labels over {', '.join(space.free)} (fixed {dict(space.fixed)})"
    check_labels(generator, labels)  # refuse labels outside the trained range before any work
    design = common.design_settings(args, power_w_per_kg=args.power_w_per_kg, volume_size=args.volume_size)
    mesh = batch_mesh(args.devices)
    if args.chunk_size < 1:
        raise ValueError(f"--chunk-size must be at least 1, got {args.chunk_size}")
    chunk = padded_size(args.chunk_size, mesh.size)
    out = Path(args.out)
    _check_settings(
        out,
        {
            "format": "jaxmicro-sweep",
            "design": design.to_dict(),
            "checkpoint": args.checkpoint or DEFAULT_GENERATOR,
            "properties_only": args.properties_only,
            "command": sys.argv,
        },
    )
    executors = contextlib.nullcontext(None) if args.properties_only else common.cell_executor(args)
    devices = mesh.devices.flat[0]
    common.note(
        args,
        f"{described}; {mesh.size} {devices.platform} device(s), {chunk} labels per chunk"
        f"{', properties only' if args.properties_only else f', {design.objective_description}'}",
    )
    start = time.perf_counter()
    with executors as executor:
        evaluations = sweep(
            DesignObjective(generator, design, executor=executor),
            labels,
            out,
            chunk_size=chunk,
            progress=common.show_progress(args),
            mesh=mesh,
            properties_only=args.properties_only,
        )
    seconds = time.perf_counter() - start
    if jax.process_index() != 0:
        return 0
    print(f"{len(evaluations)} labels in {out} ({seconds:.1f} s this run); table {table_path(out)}")
    porosity = np.array([e.properties["porosity"] for e in evaluations])
    tau = np.array([e.properties["electrolyte_tau_through_plane"] or math.inf for e in evaluations])
    print(
        f"porosity {porosity.min():.3f} to {porosity.max():.3f}; "
        f"tau {tau.min():.2f} to {tau.max():.2f}; {int(np.isinf(tau).sum())} not percolating"
    )
    if args.properties_only:
        return 0
    ok = [e for e in evaluations if not e.failed]
    print(f"{len(evaluations) - len(ok)} failed")
    if not ok:
        return 1
    best = max(ok, key=lambda e: e.objective)
    print(
        f"best {best.objective:.4g} ({design.objective_description}) at "
        + ", ".join(f"{k} {v:.4f}" for k, v in best.labels.items())
    )
    return 0
