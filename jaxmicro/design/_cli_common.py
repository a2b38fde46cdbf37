"""Options and set-up shared by ``jaxmicro design`` and ``jaxmicro sweep``."""

from __future__ import annotations

import argparse
import contextlib
from typing import Any

LABEL_NAMES = ("am_wt", "porosity", "adhesion")


def names(text: str) -> list[str]:
    """Comma-separated names -> list (argparse type)."""
    return [v.strip() for v in text.split(",") if v.strip()]


def add_fixed_label_arguments(group: argparse._ArgumentGroup) -> None:
    """``--am-wt``, ``--porosity``, ``--adhesion``: values of the labels that are not varied."""
    for name in LABEL_NAMES:
        group.add_argument(
            f"--{name.replace('_', '-')}",
            type=float,
            default=None,
            dest=f"fixed_{name}",
            help=f"fixed {name} when it is not varied (default: middle of the generator's range)",
        )


def add_cell_arguments(group: argparse._ArgumentGroup) -> None:
    """Objective and cell design: ``--objective``, ``--cell-format``, ``--half-cell``, ``--thickness-um``."""
    group.add_argument(
        "--objective",
        default="specific_energy",
        choices=("specific_energy", "energy_density", "electrode_specific_energy"),
        help="cell-level specific energy [Wh/kg] (default), energy density [Wh/L], or electrode-level",
    )
    group.add_argument("--cell-format", choices=("4680", "pouch"), default="4680")
    group.add_argument("--half-cell", action="store_true", help="lithium-metal half cell (default: full)")
    group.add_argument("--thickness-um", type=float, default=80.0, help="cathode coating thickness [um]")


def add_run_arguments(group: argparse._ArgumentGroup) -> None:
    """``--checkpoint``, ``--device``, ``--cell-workers``, ``--scheduler``, ``--no-progress``."""
    group.add_argument("--checkpoint", default=None, help="generator checkpoint (default: the shipped one)")
    group.add_argument(
        "--device",
        choices=("cpu", "gpu"),
        default=None,
        help="JAX device for generation and characterisation (default: JAX's choice)",
    )
    group.add_argument(
        "--cell-workers",
        type=int,
        default=1,
        help="processes for the cell simulations (default 1: in this process, model cached)",
    )
    group.add_argument("--scheduler", default=None, help="Dask scheduler address for the cell simulations")
    group.add_argument("--no-progress", action="store_true", help="no progress bars")


def select_device(args: argparse.Namespace) -> None:
    """Applies ``--device`` before JAX starts a backend."""
    if args.device is not None:
        import jax

        jax.config.update("jax_platforms", {"cpu": "cpu", "gpu": "cuda"}[args.device])


def load_generator_of(args: argparse.Namespace) -> Any:
    """The ``--checkpoint`` generator, or the shipped one."""
    from jaxmicro.generator import load_default_generator, load_generator

    return load_generator(args.checkpoint) if args.checkpoint else load_default_generator()


def fixed_labels(args: argparse.Namespace) -> dict[str, float]:
    """The ``--am-wt/--porosity/--adhesion`` values given."""
    values = {name: getattr(args, f"fixed_{name}") for name in LABEL_NAMES}
    return {name: value for name, value in values.items() if value is not None}


def design_settings(args: argparse.Namespace, power_w_per_kg: float, volume_size: int) -> Any:
    """The :class:`~jaxmicro.design.DesignSettings` of the options."""
    from jaxmicro.design import DesignSettings

    return DesignSettings(
        objective=args.objective,
        power_w_per_kg=power_w_per_kg,
        half_cell=args.half_cell,
        cell_format=args.cell_format,
        cathode_thickness_m=args.thickness_um / 1e6,
        volume_size=volume_size,
        seeds_per_label=args.seeds_per_label,
    )


def cell_executor(args: argparse.Namespace) -> contextlib.AbstractContextManager[Any]:
    """The cell executor of the options, as a context manager to enter with ``with``.

    It yields a Dask executor for ``--scheduler`` (the client closes on exit), a process pool
    for ``--cell-workers N > 1`` (shut down on exit), else ``None`` (cells in this process).
    """
    from jaxmicro.cell import dask_executor, default_executor

    if args.scheduler:
        return dask_executor(args.scheduler)
    if args.cell_workers > 1:
        return default_executor(args.cell_workers)
    return contextlib.nullcontext(None)
