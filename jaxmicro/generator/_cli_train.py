"""``jaxmicro train``: train the conditional SliceGAN on a labelled dataset."""

from __future__ import annotations

import argparse

from jaxmicro import _cli_common as common


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, help="labelled dataset folder (jaxmicro simulate --out)")
    parser.add_argument("--out", required=True, help="run folder: checkpoints, losses.csv, generator/")
    parser.add_argument(
        "--config", default="small", help="preset: small (CPU), default (GPU) or tiny [%(default)s]"
    )
    parser.add_argument("--steps", type=int, default=None, help="total generator steps [preset's]")
    parser.add_argument(
        "--checkpoint-every", type=int, default=None, help="steps between checkpoints [preset's]"
    )
    parser.add_argument(
        "--png-every", type=int, default=None, help="steps between slice PNGs, 0: none [preset's]"
    )
    parser.add_argument("--seed", type=int, default=None, help="training seed [preset's]")
    parser.add_argument(
        "--resume", action="store_true", help="continue the run in --out from its newest checkpoint"
    )
    parser.add_argument(
        "--init-from",
        default=None,
        metavar="RUN_OR_GENERATOR",
        help="start a new run from the newest checkpoint of a run folder (fine-tuning), or from "
        "an exported generator such as checkpoints/gan (its weights, fresh critics, step 0: "
        "fine-tuning on other data)",
    )
    parser.add_argument(
        "--stats-weight", type=float, default=None, help="two-point statistics loss weight [preset's]"
    )
    parser.add_argument(
        "--stats-lags",
        default=None,
        help="lags of the two-point statistics loss [voxels], e.g. 1,2,4,8,12,16 (each less than "
        "the slice size) [preset's: 1,2,4,8]",
    )
    parser.add_argument(
        "--lineal-weight", type=float, default=None, help="lineal-path loss weight [preset's]"
    )
    parser.add_argument(
        "--erosion-weight", type=float, default=None, help="ball-erosion (3-D depth) loss weight [preset's]"
    )
    parser.add_argument(
        "--euler-weight",
        type=float,
        default=None,
        help="Euler-characteristic (topology) loss weight [preset's]",
    )
    parser.add_argument(
        "--lattice-weight",
        type=float,
        default=None,
        help="weight of a loss flattening the phase fractions by position on the latent grid "
        "(against layers locked to it, e.g. 100) [preset's]",
    )
    parser.add_argument(
        "--anchor-weight",
        type=float,
        default=None,
        help="weight of a reconstruction term: each training cube drawn back from its own fitted "
        "latent, so the generator's range holds the training volumes (e.g. 10) [preset's]",
    )
    parser.add_argument(
        "--lr-generator",
        type=float,
        default=None,
        help="the generator's Adam step (e.g. 1e-3 for a reconstruction phase) [preset's: 1e-4]",
    )
    parser.add_argument(
        "--anchor-batch",
        type=int,
        default=None,
        help="anchors drawn back per step (e.g. 6 for a reconstruction phase) [preset's: 1]",
    )
    parser.add_argument(
        "--adversarial-weight",
        type=float,
        default=None,
        help="weight of the critics' term; 0 skips the critics: with --anchor-weight, a reconstruction "
        "phase to --init-from [preset's: 1]",
    )
    parser.add_argument(
        "--straight-through-temperature",
        type=float,
        default=None,
        help="T > 0: the auxiliary losses but the Euler loss on the argmax-decoded volumes, "
        "gradient through softmax(log p / T); 0: on the (sharpened) probabilities [preset's]",
    )
    parser.add_argument(
        "--tau-weight", type=float, default=None, help="pore tortuosity loss weight [preset's]"
    )
    parser.add_argument(
        "--aux-temperature",
        type=float,
        default=None,
        help="sharpening temperature of the auxiliary losses, 1: none [preset's]",
    )
    parser.add_argument(
        "--noise-injection",
        action="store_true",
        help="add per-stage noise inputs to the generator (StyleGAN's; a new run, or one from an "
        "exported generator without them, whose weights it keeps)",
    )
    parser.add_argument(
        "--residual-blocks",
        default=None,
        help="extra residual blocks after each hidden stage, e.g. 1,1,0 (a new run, or one from an "
        "exported generator without them, whose output they start by keeping) [none]",
    )
    parser.add_argument(
        "--channels",
        default=None,
        help="generator widths per hidden stage, e.g. 128,64,32 (a new run, or one from a "
        "narrower exported generator, whose output the new channels start by keeping) [preset's]",
    )
    parser.add_argument(
        "--seeds-per-cell",
        type=int,
        default=None,
        help="random seed points per latent voxel whose distance field and marks the later "
        "stages see (a structured noise; a new run from scratch) [none]",
    )
    parser.add_argument(
        "--particles-per-cell",
        type=int,
        default=None,
        help="draw the AM as explicit particles, this many candidates per latent voxel, whose "
        "size, count and flattening the network learns from the labels (a new run from "
        "scratch; 4 for the 16-voxel latent cell) [none: the network draws the AM]",
    )
    parser.add_argument(
        "--cbd-films",
        action="store_true",
        help="with --particles-per-cell: the CBD logit also follows a learnt film-and-neck score "
        "of the gaps to the nearest two particles (a new run, or one from an exported particle "
        "generator without it, whose output it starts by keeping)",
    )
    common.add_decoding_argument(
        parser,
        "how the straight-through losses decode the fake volumes, and how the exported generator "
        "is decoded: the argmax, or at the labels' phase fractions (a new run) [argmax]",
    )
    parser.add_argument(
        "--law-lr-scale",
        type=float,
        default=None,
        help="learning rate of the drawn particles' law relative to the generator's, 0: frozen "
        "(with --particles-per-cell; e.g. 0.1 to fine-tune) [1]",
    )
    parser.add_argument(
        "--ema-decay", type=float, default=None, help="EMA decay of the exported weights, 0: none [preset's]"
    )


def run(args: argparse.Namespace) -> int:
    import dataclasses
    import sys
    from pathlib import Path

    from jaxmicro.data import load_dataset
    from jaxmicro.generator.checkpoint import read_run_json
    from jaxmicro.generator.config import preset
    from jaxmicro.generator.train import train

    out = Path(args.out)
    if args.resume and (out / "run.json").is_file():
        config, _ = read_run_json(out)
    else:
        config = preset(args.config)
    overrides = {
        "steps": args.steps,
        "checkpoint_every": args.checkpoint_every,
        "png_every": args.png_every,
        "seed": args.seed,
        "stats_weight": args.stats_weight,
        "lineal_weight": args.lineal_weight,
        "erosion_weight": args.erosion_weight,
        "euler_weight": args.euler_weight,
        "lattice_weight": args.lattice_weight,
        "anchor_weight": args.anchor_weight,
        "anchor_batch": args.anchor_batch,
        "lr_generator": args.lr_generator,
        "adversarial_weight": args.adversarial_weight,
        "straight_through_temperature": args.straight_through_temperature,
        "tau_weight": args.tau_weight,
        "aux_temperature": args.aux_temperature,
        "ema_decay": args.ema_decay,
        "law_lr_scale": args.law_lr_scale,
        "stats_lags": _counts(args.stats_lags, "--stats-lags", "1,2,4,8,16") if args.stats_lags else None,
    }
    if args.resume:
        ignored = [k for k, v in overrides.items() if v is not None and k != "steps"]
        network_flags = (
            "noise_injection", "decoding", "residual_blocks", "seeds_per_cell", "particles_per_cell",
            "cbd_films", "channels",
        )
        ignored += [k for k in network_flags if getattr(args, k)]
        if ignored:
            flags = ", ".join("--" + k.replace("_", "-") for k in ignored)
            print(
                f"warning: --resume keeps the run's recipe (its run.json); ignored: {flags}; edit "
                f"train_config in {out / 'run.json'} to change it",
                file=sys.stderr,
            )
        overrides = {"steps": args.steps}
    overrides = {k: v for k, v in overrides.items() if v is not None}
    if not args.resume:
        network = {"noise_injection": True} if args.noise_injection else {}
        network.update({"cbd_films": True} if args.cbd_films else {})
        network.update({"decoding": args.decoding} if args.decoding else {})
        if args.residual_blocks:
            network["residual_blocks"] = _counts(args.residual_blocks, "--residual-blocks", "1,1,0")
        if args.channels:
            network["channels"] = _counts(args.channels, "--channels", "128,64,32")
        for name in ("seeds_per_cell", "particles_per_cell"):
            if getattr(args, name) is not None:
                network[name] = getattr(args, name)
        overrides["generator"] = dataclasses.replace(config.generator, **network)
    config = config.replace(**overrides)
    result = train(load_dataset(args.data), out, config, resume=args.resume, init_from=args.init_from)
    print(
        f"trained to step {result.generator.info['steps']} in {result.seconds:.0f} s; "
        f"generator exported to {out / 'generator'}"
    )
    return 0


def _counts(text: str, flag: str, example: str) -> tuple[int, ...]:
    """``"1,1,0"`` -> ``(1, 1, 0)``; a one-line error naming ``flag`` otherwise."""
    try:
        return tuple(int(v) for v in text.split(","))
    except ValueError:
        raise ValueError(
            f"{flag} takes comma-separated whole numbers, e.g. {example}; got {text!r}"
        ) from None
