"""``jaxmicro sensitivity``: the objective's change per step of each design variable at a label."""

from __future__ import annotations

import json

import pytest

from jaxmicro.cli import main
from jaxmicro.design.sensitivity import PROPERTY_KEYS


def test_sensitivity_prints_and_writes_each_variables_step(toy_checkpoint, tmp_path, capsys):
    out = tmp_path / "s.json"
    argv = [
        "sensitivity", "--checkpoint", str(toy_checkpoint), "--labels", "0.93,0.36,0.5",
        "--vary", "porosity,am_loading_mg_cm2", "--steps", "porosity=0.02", "--volume-size", "16",
        "--power-w-per-kg", "100", "--json", str(out), "--quiet",
    ]  # fmt: skip
    code = main(argv)
    printed = capsys.readouterr().out
    result = json.loads(out.read_text())
    assert result["labels"] == {"am_wt": 0.93, "porosity": 0.36, "adhesion": 0.5, "am_loading_mg_cm2": 22.0}
    steps = {s["name"]: s for s in result["sensitivities"]}
    assert list(steps) == ["porosity", "am_loading_mg_cm2"]
    assert steps["porosity"]["step"] == 0.02 and steps["am_loading_mg_cm2"]["step"] == 1.0
    assert set(steps["porosity"]["properties_per_step"]) == set(PROPERTY_KEYS)
    if code == 0:  # the toy's volume may not percolate: then the point itself failed (exit 1)
        assert "+0.02 porosity:" in printed and "+1 am_loading_mg_cm2:" in printed
        # A coat weight changes the cell, not the microstructure: no property changes with it.
        assert all(v == 0 for v in steps["am_loading_mg_cm2"]["properties_per_step"].values())
    else:
        assert code == 1 and "failed" in printed


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--labels", "0.93,0.36"], "--labels needs the values of am_wt,porosity,adhesion"),
        (["--labels", "0.99,0.36,0.5"], "am_wt=0.99 is outside its range"),
        (["--vary", "thickness"], "unknown design variable 'thickness'"),
    ],
)
def test_bad_sensitivity_options_are_one_line_errors(toy_checkpoint, capsys, extra, message):
    assert main(["sensitivity", "--checkpoint", str(toy_checkpoint), "--volume-size", "16", *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_sensitivity_by_the_chain_rule_gives_the_same_record(toy_checkpoint, tmp_path, capsys):
    out = tmp_path / "s.json"
    argv = [
        "sensitivity", "--checkpoint", str(toy_checkpoint), "--labels", "0.93,0.40,0.5",
        "--vary", "am_wt,porosity", "--method", "chain", "--volume-size", "16",
        "--power-w-per-kg", "100", "--json", str(out), "--quiet",
    ]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    steps = {s["name"]: s for s in json.loads(out.read_text())["sensitivities"]}
    assert [s["method"] for s in steps.values()] == ["chain", "chain"]
    for item in steps.values():  # a value and its seed standard error over the Jacobian's 8 seeds
        assert item["objective_per_step"] is not None and item["objective_per_step_standard_error"] > 0
    assert "+0.01 porosity:" in printed and "(chain;" in printed
    assert main([*argv[:-3], "--vary", "porosity,am_loading_mg_cm2"]) == 2
    assert "the chain differentiates the labels only" in capsys.readouterr().err
