"""Running ``jaxmicro design`` again in the same folder, as the README's main job invites."""

from __future__ import annotations

import contextlib
import importlib.util
import json
from pathlib import Path

import pytest

from jaxmicro.cli import main


@pytest.fixture(scope="module")
def toy_checkpoint(tmp_path_factory) -> Path:
    """The design tests' toy generator (tests/design/conftest.py), saved once."""
    spec = importlib.util.spec_from_file_location(
        "_design_conftest", Path(__file__).parent / "design" / "conftest.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    from jaxmicro.generator import save_generator

    return save_generator(module.toy_generator(), tmp_path_factory.mktemp("toy") / "generator")


def _evaluations(log: Path) -> list[dict]:
    records = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    return [r for r in records if r.get("type") == "evaluation"]


def test_a_second_run_reports_the_finished_campaign_without_evaluating_again(
    toy_checkpoint, tmp_path, capsys
):
    out = tmp_path / "design"
    argv = [
        "design", "--checkpoint", str(toy_checkpoint), "--out", str(out), "--budget", "2",
        "--n-initial", "2", "--batch-size", "2", "--volume-size", "16", "--seeds-per-label", "1",
        "--no-progress",
    ]  # fmt: skip
    first_code = main(argv)
    assert first_code in (0, 1)  # 1: every toy evaluation failed
    first_out = capsys.readouterr().out
    log = out / "power_200W_per_kg" / "log.jsonl"
    first = _evaluations(log)
    assert len(first) == 2

    assert main(argv) == first_code
    second = capsys.readouterr()
    assert "holds this finished study" in second.err
    assert _evaluations(log) == first  # nothing evaluated again
    best_line = next(line for line in first_out.splitlines() if "W/kg:" in line)
    assert best_line in second.out  # the same result reported

    # Other options in the same folder: a one-line error naming the way out, nothing written.
    assert main([*argv, "--seed", "1"]) == 2
    assert "new output folder" in capsys.readouterr().err
    assert _evaluations(log) == first


def test_design_optimises_the_coat_weight_within_the_given_bounds(toy_checkpoint, tmp_path, capsys):
    out = tmp_path / "design"
    argv = [
        "design", "--checkpoint", str(toy_checkpoint), "--out", str(out), "--budget", "2",
        "--n-initial", "2", "--batch-size", "2", "--volume-size", "16", "--seeds-per-label", "1",
        "--optimise", "porosity,am_loading_mg_cm2", "--bounds", "am_loading_mg_cm2=18,26", "--quiet",
    ]  # fmt: skip
    assert main(argv) in (0, 1)
    printed = capsys.readouterr().out
    assert "optimising porosity, am_loading_mg_cm2" in printed
    evaluations = _evaluations(out / "power_200W_per_kg" / "log.jsonl")
    loadings = [r["labels"]["am_loading_mg_cm2"] for r in evaluations]
    assert len(loadings) == 2 and all(18.0 <= v <= 26.0 for v in loadings)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--bounds", "am_loading_mg_cm2=18"], "expected NAME=LOW,HIGH"),
        (["--optimise", "porosity,am_loading_mg_cm2,cathode_thickness_um"], "at most one cell variable"),
        (["--optimise", "porosity,am_loading_mg_cm2", "--bounds", "am_loading_mg_cm2=26,18"], "low < high"),
        (["--volume-size", "0"], "shape (0, 0, 0) must be 3 positive multiples"),  # it ran at 64
    ],
)
def test_bad_cell_variable_and_size_options_are_one_line_errors(
    toy_checkpoint, tmp_path, capsys, extra, message
):
    argv = ["design", "--checkpoint", str(toy_checkpoint), "--out", str(tmp_path / "d"), *extra]
    with pytest.raises(SystemExit) if "NAME=" in message else contextlib.nullcontext():  # argparse: exit 2
        assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "d").exists()

