"""``jaxmicro design``: Bayesian-optimisation campaigns over manufacturing labels (the main job)."""

from __future__ import annotations

import argparse
import sys


def _floats(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def _names(text: str) -> list[str]:
    return [v.strip() for v in text.split(",") if v.strip()]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    what = parser.add_argument_group("what to optimise")
    what.add_argument(
        "--powers",
        type=_floats,
        default=[200.0],
        help="cell-level discharge powers [W/kg], comma-separated; one campaign each (default 200)",
    )
    what.add_argument(
        "--objective",
        default="specific_energy",
        choices=("specific_energy", "energy_density", "electrode_specific_energy"),
        help="cell-level specific energy [Wh/kg] (default), energy density [Wh/L], or electrode-level",
    )
    what.add_argument(
        "--optimise",
        type=_names,
        default=["am_wt", "porosity"],
        help="labels to optimise, comma-separated (default am_wt,porosity; adhesion is then fixed)",
    )
    for name in ("am_wt", "porosity", "adhesion"):
        what.add_argument(
            f"--{name.replace('_', '-')}",
            type=float,
            default=None,
            dest=f"fixed_{name}",
            help=f"fixed {name} when it is not optimised (default: middle of the generator's range)",
        )
    cell = parser.add_argument_group("cell")
    cell.add_argument("--cell-format", choices=("4680", "pouch"), default="4680")
    cell.add_argument("--half-cell", action="store_true", help="lithium-metal half cell (default: full cell)")
    cell.add_argument("--thickness-um", type=float, default=80.0, help="cathode coating thickness [um]")
    budget = parser.add_argument_group("campaign")
    budget.add_argument("--budget", type=int, default=10, help="labels evaluated per power (default 10)")
    budget.add_argument("--batch-size", type=int, default=2, help="labels per BO batch (default 2)")
    budget.add_argument("--n-initial", type=int, default=4, help="Sobol initial labels (default 4)")
    budget.add_argument("--seeds-per-label", type=int, default=2, help="generated volumes per label")
    budget.add_argument(
        "--volume-size", type=int, default=None,
        help="generated volume edge [voxels] (default 64 on CPU, 128 on an accelerator)",
    )
    budget.add_argument("--seed", type=int, default=0, help="optimiser seed")
    run = parser.add_argument_group("run")
    run.add_argument("--checkpoint", default=None, help="generator checkpoint (default: the shipped one)")
    run.add_argument("--out", default="runs/design", help="output folder (default runs/design)")
    run.add_argument("--resume", action="store_true", help="continue the campaigns in --out")
    run.add_argument(
        "--device",
        choices=("cpu", "gpu"),
        default=None,
        help="JAX device for generation and characterisation (default: JAX's choice)",
    )
    run.add_argument(
        "--cell-workers",
        type=int,
        default=1,
        help="processes for the cell simulations (default 1: in this process, model cached)",
    )
    run.add_argument("--scheduler", default=None, help="Dask scheduler address for the cell simulations")
    run.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    import jax

    if args.device is not None:
        jax.config.update("jax_platforms", {"cpu": "cpu", "gpu": "cuda"}[args.device])

    from jaxmicro.cell import dask_executor, default_executor
    from jaxmicro.design import CampaignSettings, DesignSettings, design_space, run_study
    from jaxmicro.generator import load_default_generator, load_generator

    generator = load_generator(args.checkpoint) if args.checkpoint else load_default_generator()
    fixed = {
        name: getattr(args, f"fixed_{name}")
        for name in ("am_wt", "porosity", "adhesion")
        if getattr(args, f"fixed_{name}") is not None
    }
    space = design_space(generator.label_ranges, free=args.optimise, fixed=fixed)
    design = DesignSettings(
        objective=args.objective,
        half_cell=args.half_cell,
        cell_format=args.cell_format,
        cathode_thickness_m=args.thickness_um / 1e6,
        volume_size=args.volume_size or (64 if jax.default_backend() == "cpu" else 128),
        seeds_per_label=args.seeds_per_label,
    )
    campaign = CampaignSettings(
        budget=args.budget,
        batch_size=args.batch_size,
        n_initial=min(args.n_initial, args.budget),
        seed=args.seed,
    )
    executor = None
    if args.scheduler:
        executor = dask_executor(args.scheduler)
    elif args.cell_workers > 1:
        executor = default_executor(args.cell_workers)
    try:
        result = run_study(
            generator,
            args.powers,
            space,
            args.out,
            design,
            campaign,
            resume=args.resume,
            executor=executor,
            header={"command": sys.argv},
            progress=not args.no_progress,
        )
    finally:
        if executor is not None:
            executor.shutdown()
    print(f"\n{design.objective_description}, optimising {', '.join(space.free)}; fixed {space.fixed}")
    for power, found in zip(result.powers_w_per_kg, result.campaigns, strict=True):
        best = found.best
        head = f"{power:7g} W/kg: {len(found.evaluations)} evaluations, {found.n_failed} failed"
        if best is None:
            print(f"{head}; no successful evaluation")
            continue
        labels = ", ".join(f"{k} {v:.4f}" for k, v in best.labels.items())
        props = best.properties
        print(
            f"{head}; best {best.objective:.4g} at {labels}\n"
            f"{'':14}porosity {props['porosity']:.3f}, tau {props['tau_through_plane']:.2f}, "
            f"{best.cell.get('specific_energy_wh_kg', float('nan')):.1f} Wh/kg, "
            f"{best.cell.get('energy_density_wh_l', float('nan')):.0f} Wh/L, "
            f"{best.cell.get('power_w_per_kg', float('nan')):.0f} W/kg"
        )
    print(f"\nsummary: {result.summary_path}")
    print("figures: " + ", ".join(str(f) for f in result.figures))
    print("logs:    " + ", ".join(str(c.log_path) for c in result.campaigns))
    return 0 if any(c.best is not None for c in result.campaigns) else 1
