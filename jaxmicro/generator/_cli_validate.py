"""``jaxmicro validate``: generated vs simulated microstructures at the held-out labels."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from jaxmicro import _cli_common as common


def default_rebuild_dir() -> Path:
    """Where ``jaxmicro validate`` without ``--data`` rebuilds a generator's training data:
    ``$XDG_CACHE_HOME/jaxmicro/datasets``, or ``~/.cache/jaxmicro/datasets``."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "jaxmicro" / "datasets"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--checkpoint",
        default=None,
        help="generator folder, a fitted stochastic-geometry generator's (geometry.json), or a "
        "simulated dataset (its simulator: the check's ideal generator), or a shipped one by name "
        "(stochastic, gan) [the shipped default, checkpoints/stochastic]",
    )
    parser.add_argument(
        "--data",
        default=None,
        help="labelled dataset with a 'heldout' split [the generator's own training dataset, "
        "simulated again from the provenance in its generator.json into --rebuild-into]",
    )
    parser.add_argument(
        "--rebuild-into",
        default=None,
        metavar="FOLDER",
        help="without --data: folder of rebuilt training datasets; a later call reuses the "
        f"rebuild [{default_rebuild_dir()}]",
    )
    parser.add_argument(
        "--seeds",
        type=int,
        default=3,
        help="generated volumes per held-out label, and as many control volumes [%(default)s]",
    )
    parser.add_argument(
        "--size",
        type=int,
        default=None,
        help="edge of the compared cubes [voxels]; larger cubes lower the sampling noise "
        "(needs a simulated dataset) [the held-out volumes' shape]",
    )
    parser.add_argument(
        "--reference-seeds",
        type=int,
        default=1,
        help="reference volumes per label: the held-out volume plus simulator volumes "
        "(needs a simulated dataset); the report says how many would bring the control's "
        "error under 1.5 %% [%(default)s]",
    )
    parser.add_argument(
        "--no-control",
        action="store_true",
        help="skip the control (simulator volumes scored like generated ones: the check's floor)",
    )
    parser.add_argument(
        "--baseline",
        choices=("quadratic", "linear", "none"),
        default="quadratic",
        help="interpolation baseline scored beside the generator: a least-squares fit of the "
        "training volumes' metrics over the labels [%(default)s]",
    )
    parser.add_argument(
        "--no-morphology",
        action="store_true",
        help="skip the morphology distances (two-point correlation, chord lengths, pore, "
        "particle and CBD sizes), which take about as long again as the scalar metrics",
    )
    chosen = parser.add_mutually_exclusive_group()
    chosen.add_argument(
        "--labels",
        action="append",
        type=common.label,
        default=None,
        metavar="AM_WT,POROSITY,ADHESION",
        help="validate at this label instead of the held-out ones (repeatable); references are "
        "simulator volumes (needs a simulated dataset)",
    )
    chosen.add_argument(
        "--off-grid",
        type=int,
        default=None,
        metavar="N",
        help="validate at N labels spread over the trained range off its grid (scrambled Sobol, "
        "seed 0) instead of the held-out ones (needs a simulated dataset)",
    )
    common.add_decoding_argument(
        parser,
        "how generated probabilities become phases: the argmax, or at the labels' phase "
        "fractions [the generator's own]",
    )
    parser.add_argument("--json", default=None, help="also write the report as JSON here")
    parser.add_argument(
        "--montage", default=None, help="also write a PNG of generated vs reference slices per label here"
    )


def run(args: argparse.Namespace) -> int:
    import json
    import sys

    import numpy as np

    from jaxmicro.data import load_dataset
    from jaxmicro.generator.stochastic import GeometryModel
    from jaxmicro.generator.validate import off_grid_labels, rebuild_training_dataset, validate_generator

    if args.data is not None and args.rebuild_into is not None:
        raise ValueError("--rebuild-into is for validating without --data; pass one of them")
    generator = common.load_generator_of(args)
    if isinstance(generator, GeometryModel) and args.data is None:
        raise ValueError(
            f"{args.checkpoint or 'the default generator (checkpoints/stochastic)'} is a stochastic-geometry "
            "generator, which records no dataset to rebuild: pass --data DATASET (the one it is checked on: "
            "jaxmicro simulate --out data/wide64 --size 64 --voxel-size-m 0.75e-6 --seed 0)"
        )
    if args.data is None:
        rebuild = rebuild_training_dataset(generator, args.rebuild_into or default_rebuild_dir())
        print(rebuild.describe(), file=sys.stderr)
        dataset = rebuild.dataset
        data = {
            "root": str(dataset.root),
            "rebuilt_from_provenance": True,
            "identical_to_training_data": rebuild.identical,
        }
    else:
        dataset = load_dataset(args.data)
        data = {"root": str(dataset.root)}
    labels = None
    if args.labels:
        labels = np.array(args.labels)
    elif args.off_grid is not None:
        labels = off_grid_labels(generator, args.off_grid)
    report = validate_generator(
        generator,
        dataset,
        seeds=args.seeds,
        size=args.size,
        reference_seeds=args.reference_seeds,
        control=not args.no_control,
        baseline=None if args.baseline == "none" else args.baseline,
        morphology_check=not args.no_morphology,
        labels=labels,
        decoding=args.decoding,
    )
    print(report.table())
    if args.json:
        Path(args.json).write_text(json.dumps({**report.to_json(), "data": data}, indent=1) + "\n")
    if args.montage:
        from jaxmicro.generator.plotting import save_validation_montage

        print(f"slices: {save_validation_montage(args.montage, report)}")
    return 0
