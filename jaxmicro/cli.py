"""The ``jaxmicro`` command line.

Each subcommand lives beside its stage in a light ``_cli.py`` module (argparse only at import
time; jax, pybamm and torch are imported inside the command), so ``jaxmicro --help`` is fast.
A stage module defines ``add_arguments(parser)`` and ``run(args) -> int``.

Errors a user can fix (bad options, bad or damaged files, a busy run folder, a full disk) are
printed as one line, ``jaxmicro COMMAND: error: ...``, with exit status 2; set
``JAXMICRO_TRACEBACK=1`` to see the traceback instead.
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
    "sensitivity": (
        "jaxmicro.design._cli_sensitivity",
        "the objective's change per step of each design variable at one label",
    ),
    "report": ("jaxmicro.design.report", "regenerate a design run's figures and write its report.md"),
    "bench": ("jaxmicro.bench._cli", "time every stage of the design loop on the current device"),
}


UNCACHED_COMMANDS = frozenset({"bench"})
"""Commands run without the persistent compilation cache (``bench`` measures compilation)."""


class CommandError(Exception):
    """An error a command reports to the user as one line, without a traceback."""


def package_version() -> str:
    """The installed jaxmicro version (package metadata; ``jaxmicro.__version__`` otherwise)."""
    from importlib import metadata

    try:
        return metadata.version("jaxmicro")
    except metadata.PackageNotFoundError:
        import jaxmicro

        return str(getattr(jaxmicro, "__version__", "unknown"))


def error_line(error: BaseException) -> str:
    """One line describing ``error`` for the user: its message, with its type where the message
    alone says little (``KeyError: 'x'``), and without line breaks."""
    from jaxmicro._files import NoSpaceError, RunInUseError

    if isinstance(error, NoSpaceError | RunInUseError | CommandError):
        text = str(error)
    elif isinstance(error, OSError) and error.filename is not None and error.strerror:
        text = f"{error.strerror}: {error.filename}"
        if error.filename2 is not None:
            text += f" -> {error.filename2}"
    elif isinstance(error, ValueError | OSError) and str(error):
        text = str(error)  # our own messages name the input
    else:
        text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    return " ".join(text.split()) or type(error).__name__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jaxmicro",
        description="Design Li-ion electrodes from manufacturing parameters, in JAX.",
    )
    parser.add_argument("--version", action="version", version=f"jaxmicro {package_version()}")
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
    except KeyboardInterrupt:
        print(f"jaxmicro {args.command}: interrupted", file=sys.stderr)
        return 130
    except _USER_ERRORS as error:
        if os.environ.get("JAXMICRO_TRACEBACK", "0") not in ("", "0"):
            raise
        message = error_line(error)
        if (
            getattr(args, "device", None) == "gpu"
            and isinstance(error, AssertionError | RuntimeError)
            and _no_gpu()
        ):
            message = f"--device gpu: JAX finds no GPU on this machine ({message}); use --device cpu"
        print(f"jaxmicro {args.command}: error: {message}", file=sys.stderr)
        return 2


def _no_gpu() -> bool:
    """Whether JAX has no GPU backend (``--device gpu`` then fails deep inside JAX)."""
    try:
        import jax

        return not jax.devices("gpu")
    except Exception:  # RuntimeError: unknown backend, or it failed to initialise
        return True


_USER_ERRORS = (
    CommandError,
    ValueError,  # also JSON decoding and unicode errors
    OSError,  # missing, unreadable or unwritable files and folders, a full disk
    KeyError,  # a field missing from an edited JSON file
    TypeError,  # a field of the wrong type in an edited JSON file
    IndexError,
    OverflowError,
    ArithmeticError,
    RuntimeError,  # a busy run folder (RunInUseError), a backend that is not there
    AssertionError,  # raised inside JAX for a platform that is not present
    MemoryError,
)
"""Exceptions reported as one line: the command's inputs caused them, not a bug of jaxmicro
(``JAXMICRO_TRACEBACK=1`` shows their traceback)."""


if __name__ == "__main__":
    sys.exit(main())
