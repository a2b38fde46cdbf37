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
        "--confirm-max-seeds", "8",  # one block of fresh seeds: the confirmation is tested elsewhere
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

    # A summary whose optimum is not the one its log now recommends (made under the former
    # recommendation rule): the optimum's outputs are made again, nothing is evaluated again.
    summary_path = out / "summary.json"
    summary = json.loads(summary_path.read_text())
    recorded = summary["campaigns"][0]["best"]
    assert recorded is not None, "the toy campaign needs a successful label for this check"
    summary["campaigns"][0]["best"] = {**recorded, "labels": {**recorded["labels"], "porosity": 0.0}}
    summary_path.write_text(json.dumps(summary))
    assert main(argv) == first_code
    again = capsys.readouterr()
    assert "holds this finished study" not in again.err and best_line in again.out
    assert _evaluations(log) == first
    assert json.loads(summary_path.read_text())["campaigns"][0]["best"]["labels"] == recorded["labels"]

    # Other options in the same folder: a one-line error naming the way out, nothing written.
    assert main([*argv, "--seed", "1"]) == 2
    assert "new output folder" in capsys.readouterr().err
    assert _evaluations(log) == first


def test_design_optimises_the_coat_weight_within_the_given_bounds(toy_checkpoint, tmp_path, capsys):
    out = tmp_path / "design"
    argv = [
        "design", "--checkpoint", str(toy_checkpoint), "--out", str(out), "--budget", "2",
        "--n-initial", "2", "--batch-size", "2", "--volume-size", "16", "--seeds-per-label", "1",
        "--confirm-max-seeds", "8",  # one block of fresh seeds: the confirmation is tested elsewhere
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
        (["--confirm-max-seeds", "4"], "--confirm-max-seeds (4) must be at least --confirm-seeds (8)"),
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



def test_design_refines_each_optimum_by_gradient_steps_and_reports_it(toy_checkpoint, tmp_path, capsys):
    """``--refine 3``: after the campaign, up to 3 labels by gradient steps (a 1-D difference
    gradient takes 2 of them), logged beside the campaign and summarised; a rerun reports it
    without evaluating again."""
    out = tmp_path / "design"
    argv = [
        "design", "--checkpoint", str(toy_checkpoint), "--out", str(out), "--budget", "2",
        "--n-initial", "2", "--batch-size", "2", "--volume-size", "16", "--seeds-per-label", "1",
        "--confirm-max-seeds", "8",  # one block of fresh seeds: the confirmation is tested elsewhere
        "--optimise", "am_wt", "--porosity", "0.40", "--power-w-per-kg", "100", "--refine", "3",
        "--no-progress",
    ]  # fmt: skip
    assert main(argv) == 0  # porosity 0.40 percolates on the toy at every am_wt
    printed = capsys.readouterr().out
    folder = out / "power_100W_per_kg"
    refine_log = [json.loads(line) for line in (folder / "refine.jsonl").read_text().splitlines()]
    assert refine_log[0]["type"] == "refine" and refine_log[0]["settings"]["max_evaluations"] == 3
    row = json.loads((out / "summary.json").read_text())["campaigns"][0]
    refined = row["refinement"]
    assert 1 <= refined["n_evaluations"] <= 3 and refined["n_gradients"] >= 1
    assert refined["best"]["objective"] >= row["best"]["objective"]  # never worse than BO's
    assert "gradient refinement:" in printed
    assert main(argv) == 0
    second = capsys.readouterr()
    assert "holds this finished study" in second.err and "gradient refinement:" in second.out
    assert (folder / "refine.jsonl").read_text().count("\n") == len(refine_log)
