"""Options and set-up shared by ``jaxmicro design`` and ``jaxmicro sweep``, and the command line's
shared vocabulary (option names, units, defaults, ``--help`` format) used by ``cell``,
``characterise`` and ``generate`` too."""

from __future__ import annotations

import argparse
import contextlib
import sys
from typing import Any

LABEL_NAMES = ("am_wt", "porosity", "adhesion")
CELL_VARIABLE_NAMES = ("am_loading_mg_cm2", "cathode_thickness_um")
"""``jaxmicro.design.space.CELL_VARIABLES``: cell design variables a campaign can optimise."""

# The command line's shared vocabulary: one option name and unit per quantity across
# subcommands. Kept here as plain values so that `jaxmicro --help` imports no jax or pybamm;
# tests/test_cli_vocabulary.py checks each against the library constant it mirrors.
OBJECTIVE_NAMES = ("specific_energy", "energy_density", "electrode_specific_energy")
"""``jaxmicro.design.objective.OBJECTIVES``' keys."""
CELL_FORMATS = ("4680", "pouch")
"""Cell formats by name (``jaxmicro.cell.inputs``)."""
PARAMETER_SETS = ("Chen2020", "OKane2022")
"""``jaxmicro.cell.parameters.NMC811_PARAMETER_SETS``."""
THERMAL_MODELS = ("isothermal", "lumped")
"""``jaxmicro.cell.parameters.THERMAL_MODELS``."""
GRADIENT_METHODS = ("differences", "chain")
"""``jaxmicro.design.sensitivity.METHODS``: how a sensitivity or a refinement's gradient is taken."""
DEFAULT_POWER_W_PER_KG = 200.0
"""Cell-level discharge power of the README's main job [W/kg]."""
BASES = ("loading", "thickness")
"""``jaxmicro.design.objective.BASES``: what stays fixed as the labels change."""
DEFAULT_LOADING_MG_CM2 = 22.0
"""``DesignSettings.am_loading_mg_cm2`` [mg/cm^2]."""
DEFAULT_THICKNESS_UM = 80.0
"""``DesignSettings.cathode_thickness_m`` in micrometres."""
DEFAULT_RADIUS_UM = 5.22
"""``CellDesign.particle_radius_m`` in micrometres."""


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default in ``--help``, except unset (None) and off (False) ones."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or action.default is False or "%(default)" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


def use_help_formatter(parser: argparse.ArgumentParser) -> None:
    """Makes ``parser``'s ``--help`` show the defaults (:class:`HelpFormatter`)."""
    parser.formatter_class = HelpFormatter


def add_hidden_alias(group: argparse._ArgumentGroup, old: str, dest: str, **kwargs: Any) -> None:
    """An old option spelling that still works but is not shown in ``--help``."""
    group.add_argument(old, dest=dest, default=argparse.SUPPRESS, help=argparse.SUPPRESS, **kwargs)


def names(text: str) -> list[str]:
    """Comma-separated names -> list (argparse type)."""
    return [v.strip() for v in text.split(",") if v.strip()]


def floats(text: str) -> list[float]:
    """Comma-separated numbers -> list (argparse type)."""
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def label(text: str) -> list[float]:
    """``AM_WT,POROSITY,ADHESION`` -> its three numbers (argparse type)."""
    values = floats(text)
    if len(values) != 3:
        raise argparse.ArgumentTypeError(f"expected AM_WT,POROSITY,ADHESION (e.g. 0.93,0.36,0.5): {text!r}")
    return values


def _named_numbers(text: str, count: int, form: str) -> tuple[str, list[float]]:
    """``NAME=N1,...`` with exactly ``count`` numbers -> ``(name, numbers)``; else an argparse
    error quoting ``form`` (the expected spelling, with an example)."""
    name, _, values = text.partition("=")
    numbers = floats(values) if values else []
    if not name.strip() or len(numbers) != count:
        raise argparse.ArgumentTypeError(f"expected {form}, got {text!r}")
    return name.strip(), numbers


def bounds(text: str) -> tuple[str, tuple[float, float]]:
    """``NAME=LOW,HIGH`` -> ``(name, (low, high))`` (argparse type)."""
    name, (low, high) = _named_numbers(text, 2, "NAME=LOW,HIGH (e.g. am_loading_mg_cm2=15,30)")
    return name, (low, high)


def named_value(text: str) -> tuple[str, float]:
    """``NAME=VALUE`` -> ``(name, value)`` (argparse type)."""
    name, (value,) = _named_numbers(text, 1, "NAME=NUMBER (e.g. porosity=0.02)")
    return name, value


def add_json_argument(group: argparse._ActionsContainer, help_text: str) -> None:
    """``--json [FILE]``: JSON to FILE, or printed when given alone (the same spelling in every
    subcommand that has it)."""
    group.add_argument("--json", nargs="?", const="-", default=None, metavar="FILE", help=help_text)


def add_decoding_argument(group: argparse._ActionsContainer, help_text: str) -> None:
    """``--decoding argmax|fractions``: how generated probabilities become phases (the same
    spelling in train, generate and validate); absent: the generator's own."""
    from jaxmicro.generator.config import DECODINGS

    group.add_argument("--decoding", choices=DECODINGS, default=None, help=help_text)


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


def add_cell_format_argument(group: argparse._ArgumentGroup) -> None:
    """``--cell-format`` (old spelling ``--format``)."""
    group.add_argument("--cell-format", choices=CELL_FORMATS, default=CELL_FORMATS[0], help="cell format")
    add_hidden_alias(group, "--format", dest="cell_format", choices=CELL_FORMATS)


def add_thickness_argument(group: argparse._ArgumentGroup, basis_note: bool = True) -> None:
    """``--thickness-um``: cathode coating thickness per side [um], the same default everywhere."""
    group.add_argument(
        "--thickness-um",
        type=float,
        default=DEFAULT_THICKNESS_UM,
        help="cathode coating thickness per side [um]" + (" (--basis thickness)" if basis_note else ""),
    )


def add_cell_arguments(group: argparse._ArgumentGroup) -> None:
    """Objective and cell design: ``--objective``, ``--cell-format``, ``--half-cell``,
    ``--basis``, ``--am-loading-mg-cm2``, ``--thickness-um``."""
    group.add_argument(
        "--objective",
        default=OBJECTIVE_NAMES[0],
        choices=OBJECTIVE_NAMES,
        help="cell-level specific energy [Wh/kg], energy density [Wh/L], or electrode-level [Wh/kg]",
    )
    add_cell_format_argument(group)
    group.add_argument("--half-cell", action="store_true", help="lithium-metal half cell (default: full)")
    group.add_argument(
        "--basis",
        choices=BASES,
        default=BASES[0],
        help="what stays fixed as the labels change: the AM loading or the coating thickness",
    )
    group.add_argument(
        "--am-loading-mg-cm2",
        type=float,
        default=DEFAULT_LOADING_MG_CM2,
        help="AM loading per side [mg/cm^2] (--basis loading)",
    )
    add_thickness_argument(group)


def add_run_arguments(group: argparse._ArgumentGroup) -> None:
    """``--checkpoint``, ``--device``, ``--cell-workers``, ``--scheduler``, ``--no-progress``,
    ``--quiet``."""
    group.add_argument(
        "--checkpoint",
        default=None,
        help="generator: a shipped one by name (stochastic, the default; gan), a trained checkpoint "
        "folder, a fitted stochastic-geometry folder, or a simulated dataset (its simulator, the "
        "ground truth)",
    )
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
        help="processes for the cell simulations (1: in this process, model cached)",
    )
    group.add_argument(
        "--scheduler", default=None, help="Dask scheduler address for the cell simulations (tcp://host:8786)"
    )
    group.add_argument("--no-progress", action="store_true", help="no progress bars")
    group.add_argument(
        "--quiet",
        "-q",
        action="store_true",
        help="no progress bars and no notes: print only the final result lines (and errors)",
    )


def show_progress(args: argparse.Namespace) -> bool:
    """Whether to show progress bars: neither ``--no-progress`` nor ``--quiet``."""
    return not (getattr(args, "no_progress", False) or getattr(args, "quiet", False))


def note(args: argparse.Namespace, message: str) -> None:
    """Prints a note on what the command is doing to stderr, unless ``--quiet``."""
    if not getattr(args, "quiet", False):
        print(message, file=sys.stderr)


def select_device(args: argparse.Namespace) -> None:
    """Applies ``--device`` before JAX starts a backend."""
    if args.device is not None:
        import jax

        jax.config.update("jax_platforms", {"cpu": "cpu", "gpu": "cuda"}[args.device])


def load_generator_of(args: argparse.Namespace) -> Any:
    """The ``--checkpoint`` generator: a shipped one by name (``stochastic``, ``gan``), a
    trained one (a folder with ``generator.json`` or a training run), a fitted
    stochastic-geometry one (a folder with ``geometry.json``) or the simulator that made a
    dataset (a dataset folder); without ``--checkpoint``, the shipped default."""
    from pathlib import Path

    from jaxmicro.data.dataset import MANIFEST_JSON
    from jaxmicro.generator import (
        SHIPPED_GENERATORS,
        load_default_generator,
        load_generator,
        load_shipped_generator,
    )
    from jaxmicro.generator.stochastic import GEOMETRY_FILE, load_geometry_model, load_simulator_model

    if not args.checkpoint:
        return load_default_generator()
    if args.checkpoint in SHIPPED_GENERATORS and not Path(args.checkpoint).exists():
        return load_shipped_generator(args.checkpoint)
    if (Path(args.checkpoint) / GEOMETRY_FILE).exists():
        return load_geometry_model(args.checkpoint)
    if (Path(args.checkpoint) / MANIFEST_JSON).exists():
        return load_simulator_model(args.checkpoint)
    return load_generator(args.checkpoint)


def fixed_labels(args: argparse.Namespace) -> dict[str, float]:
    """The ``--am-wt/--porosity/--adhesion`` values given."""
    values = {name: getattr(args, f"fixed_{name}") for name in LABEL_NAMES}
    return {name: value for name, value in values.items() if value is not None}


# 8: on the default (stochastic) generator a label below porosity 0.25 can draw a poorly connected
# 64^3 volume (a label's two draws 39-151 Wh/kg apart); with 2 seeds the 200 W/kg campaign's
# optimum (porosity 0.214) read 163 Wh/kg on its own evaluation, with up to 8 it settled at
# porosity 0.286 (the simulator's own campaign: 0.296; docs/generator.md "Stop 54").
DEFAULT_MAX_SEEDS_PER_LABEL = 8


def max_seeds_of(args: argparse.Namespace) -> int | None:
    """``--max-seeds-per-label``; where a command offers it and it is not given,
    :data:`DEFAULT_MAX_SEEDS_PER_LABEL` if ``--seeds-per-label`` leaves room for adaptive seeds
    (2 up to one below it), else ``None`` (a command without it: ``None``)."""
    given = getattr(args, "max_seeds_per_label", None)
    if given is None and hasattr(args, "max_seeds_per_label"):
        if 2 <= args.seeds_per_label < DEFAULT_MAX_SEEDS_PER_LABEL:
            return DEFAULT_MAX_SEEDS_PER_LABEL
    return given


def design_settings(args: argparse.Namespace, power_w_per_kg: float, volume_size: int) -> Any:
    """The :class:`~jaxmicro.design.DesignSettings` of the options."""
    from jaxmicro.design import DesignSettings

    return DesignSettings(
        objective=args.objective,
        power_w_per_kg=power_w_per_kg,
        half_cell=args.half_cell,
        cell_format=args.cell_format,
        basis=args.basis,
        am_loading_mg_cm2=args.am_loading_mg_cm2,
        cathode_thickness_m=args.thickness_um / 1e6,
        volume_size=volume_size,
        seeds_per_label=args.seeds_per_label,
        max_seeds_per_label=max_seeds_of(args),
        target_relative_standard_error=getattr(args, "target_relative_error", 0.01),
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
