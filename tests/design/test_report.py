"""``jaxmicro report``: a design run's figures and report.md from its files alone, the same optimum
as the run reported; results.csv in each campaign; one-line errors; ``--quiet``."""

import collections
import contextlib
import csv
import io
import json
import math
import shutil

import pytest

from jaxmicro.cli import main
from jaxmicro.design import read_records
from jaxmicro.design.objective import DesignObjective, Evaluation
from jaxmicro.design.recommendation import describe
from jaxmicro.design.report import best_so_far, failure_counts, write_report
from jaxmicro.design.table import RESULTS_NAME

POWERS = (100.0, 400.0)
BUDGET = 6


@pytest.fixture(scope="module")
def study(toy_checkpoint, tmp_path_factory):
    """A finished two-power toy study, run by ``jaxmicro design --quiet``, and what it printed."""
    out = tmp_path_factory.mktemp("report") / "study"
    argv = [
        "design", "--checkpoint", str(toy_checkpoint), "--out", str(out),
        "--power-w-per-kg", ",".join(f"{p:g}" for p in POWERS), "--budget", str(BUDGET),
        "--n-initial", "4", "--batch-size", "2", "--volume-size", "16", "--seeds-per-label", "2",
        "--confirm-max-seeds", "8", "--quiet",  # one block of fresh seeds: tested in test_campaign
    ]  # fmt: skip
    # capsys is function-scoped: a module fixture captures by hand.
    out_text, err_text = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out_text), contextlib.redirect_stderr(err_text):
        code = main(argv)
    return out, argv, code, out_text.getvalue(), err_text.getvalue()


def _campaign_records(folder):
    return [r for r in read_records(folder / "log.jsonl") if r["type"] == "evaluation"]


def test_quiet_design_prints_only_the_result(study, capsys):
    out, argv, code, printed, errors = study
    assert code in (0, 1)
    assert errors == ""  # no progress bars, no notes
    assert sum(" W/kg: " in line for line in printed.splitlines()) == len(POWERS)
    assert f"summary: {out / 'summary.json'}" in printed
    # A rerun's note ("holds this finished study") is a note: --quiet drops it, the result stays.
    assert main(argv) == code
    again = capsys.readouterr()
    assert again.err == "" and again.out == printed
    assert main([*argv[:-1], "--no-progress"]) == code
    assert "holds this finished study" in capsys.readouterr().err


def test_every_campaign_gets_its_results_table(study):
    out = study[0]
    for power in POWERS:
        folder = out / f"power_{power:g}W_per_kg"
        records = _campaign_records(folder)
        with open(folder / RESULTS_NAME, newline="") as handle:
            rows = list(csv.DictReader(handle))
        assert len(rows) == len(records) == BUDGET
        logged = [(r["batch"], r["index"]) for r in records]
        assert [(int(r["batch"]), int(r["index"])) for r in rows] == logged
        assert [r["objective_wh_kg"] == "" for r in rows] == [r["failed"] for r in records]


def test_report_regenerates_the_figures_and_tells_the_runs_optimum(study, monkeypatch, capsys):
    out = study[0]
    summary = json.loads((out / "summary.json").read_text())
    figures = [out / "optimum_path.png", *(out / f"power_{p:g}W_per_kg" / "campaign.png" for p in POWERS)]
    for figure in figures:
        figure.unlink()
    (out / "power_100W_per_kg" / RESULTS_NAME).unlink()

    def no_computing(*args, **kwargs):
        raise AssertionError("the report must not generate volumes or simulate cells")

    monkeypatch.setattr(DesignObjective, "__call__", no_computing)
    monkeypatch.setattr(DesignObjective, "measure", no_computing)
    assert main(["report", str(out)]) == 0
    printed = capsys.readouterr()
    assert printed.err == ""
    assert f"report:  {out / 'report.md'}" in printed.out
    for figure in [*figures, out / "best_so_far.png"]:
        assert figure.is_file() and figure.stat().st_size > 1000, figure
    assert (out / "power_100W_per_kg" / RESULTS_NAME).is_file()
    text = (out / "report.md").read_text()

    sections = text.split("\n## ")[1:]
    assert [s.splitlines()[0] for s in sections] == [f"{p:g} W/kg" for p in POWERS]
    for power, section, row in zip(POWERS, sections, summary["campaigns"], strict=True):
        folder = out / f"power_{power:g}W_per_kg"
        evaluations = [Evaluation.from_dict(r) for r in _campaign_records(folder)]
        assert f"{BUDGET} of {BUDGET} evaluations, {sum(e.failed for e in evaluations)} failed" in section
        best = row["best"]
        if best is None:
            assert "No successful evaluation" in section
            continue
        # The same optimum, posterior mean, interval, region and edge warnings as the run printed.
        labels = ", ".join(f"{k} {v:.4f}" for k, v in best["labels"].items())
        assert f"**Optimum**: {labels}; observed {best['objective']:.4g}" in section
        assert " Wh/kg (95 %); not distinguishable" in section  # the shortfall bound, with its unit
        for line in describe(best["recommendation"], "Wh/kg").splitlines():
            for flag in ("ON THE EDGE:", "OUTSIDE ITS INTERVAL:"):
                line = line.replace(flag, f"**{flag[:-1]}**:")
            assert line in section
        assert f"| porosity (measured) | {best['properties']['porosity']:.4g} |" in section
        assert f"| specific energy [Wh/kg] | {best['cell']['specific_energy_wh_kg']:.4g} |" in section
        assert f"| particle radius [um] | {best['properties']['particle_radius_m'] * 1e6:.4g} |" in section
        if row["sensitivities"]:
            assert "Per step at the optimum: +0.01 am_wt:" in section
        # Best so far: its last row is the best observed objective.
        trace = [line for line in section.splitlines() if line.startswith("| ") and " am_wt " in line]
        observed = max(e.objective for e in evaluations if not e.failed)
        assert trace[-1].split(" | ")[1] == f"{observed:.4g}"
        # Failures by reason, as the log has them.
        counts = collections.Counter(e.reason for e in evaluations if e.failed)
        for reason, count in counts.items():
            assert f"| {reason} | {count} |" in section
        if not counts:
            assert "No failures." in section
    # The toy generator fails somewhere, so the failure table is exercised.
    assert "| failure reason | evaluations |" in text


def test_report_of_one_campaign_folder(study, capsys):
    folder = study[0] / f"power_{POWERS[0]:g}W_per_kg"
    report = write_report(folder)
    assert report.path == folder / "report.md" and len(report.campaigns) == 1
    assert (folder / "best_so_far.png").is_file()
    campaign = report.campaigns[0]
    assert campaign.power_w_per_kg == POWERS[0] and not campaign.running
    assert len(campaign.best_so_far) == BUDGET
    assert "## 100 W/kg" in report.path.read_text()
    assert main(["report", "--quiet", str(folder)]) == 0
    assert capsys.readouterr().out.splitlines() == [f"report:  {folder / 'report.md'}"]


def test_report_of_a_study_on_its_first_pass(study, tmp_path):
    """No summary.json yet, the second campaign only just started (its header logged, no state)."""
    shutil.copytree(study[0], tmp_path / "run")
    run = tmp_path / "run"
    (run / "summary.json").unlink()
    second = run / f"power_{POWERS[1]:g}W_per_kg"
    for name in ("state.json", "campaign.png", "results.csv"):
        (second / name).unlink()
    header = (second / "log.jsonl").read_text().splitlines(keepends=True)[0]
    (second / "log.jsonl").write_text(header)
    report = write_report(run)
    assert [c.power_w_per_kg for c in report.campaigns] == list(POWERS)
    assert [c.running for c in report.campaigns] == [False, True]
    assert (run / "optimum_path.png").is_file() and not (second / "campaign.png").exists()
    with open(second / RESULTS_NAME, newline="") as handle:
        assert list(csv.DictReader(handle)) == []
    text = report.path.read_text()
    assert f"0 of {BUDGET} evaluations (not finished), 0 failed." in text
    assert "**Optimum**" in text.split(f"## {POWERS[1]:g} W/kg")[0]
    # Evaluations logged without the state that told them: a one-line error.
    (run / f"power_{POWERS[0]:g}W_per_kg" / "state.json").unlink()
    with pytest.raises(ValueError, match="has evaluations but no state.json"):
        write_report(run)


def test_best_so_far_and_failure_counts():
    nan = math.nan
    assert best_so_far([]) == []
    trace = best_so_far([nan, 3.0, 2.0, nan, 5.0, 4.0])
    assert math.isnan(trace[0]) and trace[1:] == [3.0, 3.0, 3.0, 5.0, 5.0]

    def evaluation(failed, reason=""):
        return Evaluation({"am_wt": 0.9}, (0,), nan if failed else 1.0, failed, reason, {}, {}, {})

    found = failure_counts([evaluation(True, "b"), evaluation(False), evaluation(True, "a"),
                            evaluation(True, "b"), evaluation(True)])
    assert found == {"b": 2, "a": 1, "(no reason logged)": 1} and next(iter(found)) == "b"


def _write(name: str, text: str):
    """A maker of a run folder candidate: ``name`` holding ``text`` in the test's folder."""

    def make(folder):
        (folder / name).write_text(text)
        return folder

    return make


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "missing", "no such folder"),
        (lambda p: _write("file.txt", "x")(p) / "file.txt", "is a file; give a design run folder"),
        (lambda p: p, "is not a jaxmicro design run: it has no summary.json"),
        (_write("summary.json", "{"), "summary.json: not valid JSON"),
        (_write("summary.json", "[]"), "is not a jaxmicro design summary"),
        (_write("log.jsonl", '{"type": "sweep"}\n'), "does not start with a campaign"),
    ],
)
def test_a_folder_that_is_not_a_run_is_one_line(tmp_path, capsys, make, message):
    target = make(tmp_path)
    assert main(["report", str(target)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("jaxmicro report: error: ") and message in err and err.count("\n") == 1
    assert not (tmp_path / "report.md").exists()


def test_a_study_missing_a_campaign_is_one_line(study, tmp_path, capsys):
    summary = json.loads((study[0] / "summary.json").read_text())
    (tmp_path / "summary.json").write_text(json.dumps(summary))
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"power_{POWERS[0]:g}W_per_kg: this study's campaign is missing" in err
    assert err.count("\n") == 1
