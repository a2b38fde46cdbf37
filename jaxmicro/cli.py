"""The ``jaxmicro`` command line.

Each subcommand lives beside its stage in a light ``_cli.py`` module (argparse only at import
time; jax, pybamm and torch are imported inside the command), so ``jaxmicro --help`` is fast.
A stage module defines ``add_arguments(parser)`` and ``run(args) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

# name -> (module, one-line help). Order is the order shown by `jaxmicro --help`.
COMMANDS: dict[str, tuple[str, str]] = {
    "design": ("jaxmicro.design._cli", "optimise manufacturing labels for cell performance (the main job)"),
    "simulate": ("jaxmicro.data._cli", "write a labelled dataset with the manufacturing simulator"),
    "train": ("jaxmicro.generator._cli_train", "train the conditional SliceGAN generator on a dataset"),
    "generate": ("jaxmicro.generator._cli_generate", "generate microstructures at labels with a generator"),
    "validate": ("jaxmicro.generator._cli_validate", "compare generated with held-out simulated volumes"),
    "cell": ("jaxmicro.cell._cli", "simulate one cell design (PyBaMM DFN, 4680 or pouch)"),
    "characterise": ("jaxmicro.characterise._cli", "tortuosity and microstructure metrics of a volume"),
    "sweep": ("jaxmicro.design._cli_sweep", "evaluate a grid or list of labels, sharded over all devices"),
    "bench": ("jaxmicro.bench._cli", "time every stage of the design loop on the current device"),
}


UNCACHED_COMMANDS = frozenset({"bench"})
"""Commands run without the persistent compilation cache (``bench`` measures compilation)."""


class CommandError(Exception):
    """An error a command reports to the user as one line, without a traceback."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jaxmicro",
        description="Design Li-ion electrodes from manufacturing parameters, in JAX.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        module = importlib.import_module(module_name)
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(sub)
        sub.set_defaults(_module=module)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("PYBAMM_DISABLE_TELEMETRY", "true")
    # Only in a fresh process (the console script): the setting must come before jax starts,
    # and a caller that already imported jax keeps its own malloc settings.
    if os.environ.get("JAXMICRO_RETAIN_FREED_MEMORY", "1") != "0" and "jax" not in sys.modules:
        from jaxmicro.host_memory import retain_freed_memory

        retain_freed_memory()
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    if args.command not in UNCACHED_COMMANDS:
        from jaxmicro.compilation_cache import enable_compilation_cache

        enable_compilation_cache()
    try:
        return int(args._module.run(args) or 0)
    except (CommandError, ValueError, FileNotFoundError, FileExistsError) as error:
        print(f"jaxmicro {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"jaxmicro {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
