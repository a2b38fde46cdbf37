"""``jaxmicro generate``: generate microstructures at labels with a trained generator."""

from __future__ import annotations

import argparse

from jaxmicro import _cli_common as common


def add_arguments(parser: argparse.ArgumentParser) -> None:
    common.use_help_formatter(parser)
    parser.add_argument(
        "--checkpoint",
        default=None,
        help="generator folder, exported or a training run, a fitted stochastic-geometry "
        "generator's (geometry.json), a simulated dataset (its simulator) or a shipped one by name "
        "(stochastic, gan) (default: the shipped default, stochastic)",
    )
    parser.add_argument(
        "--labels", required=True, type=common.label, help="am_wt,porosity,adhesion, e.g. 0.93,0.36,0.5"
    )
    parser.add_argument("--volume-size", type=int, default=64, help="cubic output edge [voxels]")
    common.add_hidden_alias(parser, "--size", dest="volume_size", type=int)
    parser.add_argument("--seed", type=int, default=0, help="first seed")
    parser.add_argument("--n", type=int, default=1, help="volumes, seeds seed..seed+n-1")
    parser.add_argument("--periodic", action="store_true", help="periodic on all faces")
    parser.add_argument("--extrapolate", action="store_true", help="allow labels outside the trained range")
    common.add_decoding_argument(
        parser,
        "how probabilities become phases: the argmax, or at the labels' phase fractions "
        "[the generator's own]",
    )
    parser.add_argument(
        "--probabilities",
        action="store_true",
        help="also write the soft probabilities (float32 .npy, (z, y, x, 3)) beside each volume",
    )
    parser.add_argument(
        "--out", required=True, help="output .tif/.tiff/.npy; with --n > 1 the seed is added to the name"
    )


def run(args: argparse.Namespace) -> int:
    import time
    from pathlib import Path

    import numpy as np

    from jaxmicro.data.labels import LABEL_FIELDS
    from jaxmicro.data.volume_io import write_volume
    from jaxmicro.generator.generate import generate

    labels = np.array(args.labels)
    if args.n < 1:
        raise ValueError(f"--n must be at least 1, got {args.n}")
    out = Path(args.out)
    if out.suffix.lower() not in (".tif", ".tiff", ".npy"):
        raise ValueError(f"--out must end in .tif, .tiff or .npy, got {out.name!r}")
    shape = (args.volume_size,) * 3
    seeds = list(range(args.seed, args.seed + args.n))
    generator = common.load_generator_of(args)
    start = time.perf_counter()
    if args.probabilities and not generator.traceable:
        raise ValueError(
            "this generator places phases by rank (a stochastic-geometry model: no probabilities); "
            "drop --probabilities"
        )
    result = generate(generator, labels, shape, seeds, periodic=args.periodic,
                      extrapolate=args.extrapolate, decoding=args.decoding)  # fmt: skip
    volumes, voxel_size_m = result.volume, result.voxel_size_m
    probabilities = [None] * len(seeds) if result.probabilities is None else result.probabilities
    seconds = time.perf_counter() - start
    for volume, probs, seed in zip(volumes, probabilities, seeds, strict=True):
        path = out if args.n == 1 else out.with_name(f"{out.stem}_seed{seed}{out.suffix}")
        write_volume(
            path,
            volume,
            voxel_size_m=voxel_size_m,
            labels=dict(zip(LABEL_FIELDS, labels.tolist(), strict=True)),
        )
        if args.probabilities:
            np.save(path.with_name(path.stem + "_probabilities.npy"), probs)
        fractions = ", ".join(
            f"{name} {np.mean(volume == p):.3f}" for p, name in enumerate(("pore", "AM", "CBD"))
        )
        print(f"wrote {path} and {path.name}.json ({fractions}; voxel {voxel_size_m:g} m)")
    print(f"generated {args.n} volume(s) of {args.volume_size}^3 in {seconds:.2f} s (including compilation)")
    return 0
