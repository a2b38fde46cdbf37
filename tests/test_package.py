"""The flat public API and the command line frame."""

import subprocess
import sys

import jaxmicro
from jaxmicro.cli import COMMANDS, main


def test_every_flat_export_resolves():
    for name in jaxmicro._EXPORTS:
        assert getattr(jaxmicro, name) is not None, name


def test_unknown_attribute_raises_attribute_error():
    try:
        jaxmicro.no_such_thing  # noqa: B018
    except AttributeError as error:
        assert "no_such_thing" in str(error)
    else:
        raise AssertionError("expected AttributeError")


def test_import_does_not_pull_heavy_stages():
    code = "import sys, jaxmicro; print('pybamm' in sys.modules, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_help_lists_every_subcommand(capsys):
    try:
        main(["--help"])
    except SystemExit as exit_:
        assert exit_.code == 0
    text = capsys.readouterr().out
    for name in COMMANDS:
        assert name in text


def test_console_script_is_installed():
    out = subprocess.run(["jaxmicro", "--help"], capture_output=True, text=True, check=True)
    assert "simulate" in out.stdout
