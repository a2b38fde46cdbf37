"""Campaigns: every evaluation logged as it completes, resumable after a kill, refusals."""

import dataclasses
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from jaxmicro.cell import CellModelConfig
from jaxmicro.design import (
    Campaign,
    CampaignSettings,
    DesignObjective,
    DesignSettings,
    campaign_dir,
    design_space,
    read_records,
)
from jaxmicro.design.objective import CONFIRM_FIRST_SEED, Evaluation
from jaxmicro.design.table import results_columns

SIZE = 16
SEEDS = 2  # two seeds per label: each objective has a standard error, told to the optimiser
SETTINGS = CampaignSettings(budget=6, batch_size=2, n_initial=4, seed=0)


def _objective(generator):
    return DesignObjective(generator, DesignSettings(volume_size=SIZE, seeds_per_label=SEEDS))


def _evaluations(log):
    return [r for r in read_records(log) if r["type"] == "evaluation"]


@pytest.fixture(scope="module")
def finished(toy, tmp_path_factory):
    out = tmp_path_factory.mktemp("campaign") / "c"
    space = design_space(toy.label_ranges)
    result = Campaign(_objective(toy), space, out, SETTINGS, progress=False).run()
    return out, space, result


def test_campaign_logs_every_evaluation_once_and_reports_the_best(finished):
    out, space, result = finished
    records = read_records(out / "log.jsonl")
    assert records[0]["type"] == "campaign" and records[0]["space"] == space.to_dict()
    evaluations = _evaluations(out / "log.jsonl")
    assert len(evaluations) == SETTINGS.budget == len(result.evaluations)
    assert len({(r["batch"], r["index"]) for r in evaluations}) == SETTINGS.budget
    assert len([r for r in records if r["type"] == "proposal"]) == SETTINGS.budget // SETTINGS.batch_size
    for record in evaluations:
        labels = np.array([record["labels"][k] for k in ("am_wt", "porosity", "adhesion")])
        assert space.bounds[0][0] <= labels[0] <= space.bounds[0][1]
        assert space.bounds[1][0] <= labels[1] <= space.bounds[1][1]
        assert labels[2] == space.fixed["adhesion"]
        assert record["failed"] == (record["objective"] is None)
    ok = [e for e in result.evaluations if not e.failed]
    # The toy generator's volumes percolate at some labels and not at others.
    assert ok and result.n_failed > 0
    state = json.loads((out / "state.json").read_text())
    assert state["pending"] is None
    # Each success's standard error over its seeds went to the optimiser as known noise.
    told = state["optimizer"]["noise_std"]
    assert len(told) == SETTINGS.budget and sum(v > 0 for v in told) == sum(
        np.isfinite(e.objective_standard_error) and e.objective_standard_error > 0 for e in ok)
    # The reported optimum is the recommendation (best posterior mean), a successful evaluation.
    rec = result.recommendation
    assert rec is not None and not result.best.failed
    assert [result.best.labels[k] for k in space.free] == pytest.approx(rec.x)
    assert rec.lower <= rec.mean <= rec.upper


def _confirmations(log):
    return [r for r in read_records(log) if r["type"] == "confirmation"]


def test_a_campaign_confirms_its_optimum_on_fresh_seeds_adding_blocks_while_above_target(finished, toy):
    out, _, result = finished
    confirmations = _confirmations(out / "log.jsonl")
    assert all(r["labels"] == result.best.labels for r in confirmations)
    fresh = result.confirmation
    assert fresh is not None and fresh.labels == result.best.labels
    assert list(fresh.seeds) == confirmations[-1]["seeds"]
    assert min(fresh.seeds) >= CONFIRM_FIRST_SEED > max(max(e.seeds) for e in result.evaluations)
    # Other volumes, the same label: a value of its own, with an error from its seeds.
    assert fresh.objective != result.best.objective and len(fresh.seed_objectives) == len(fresh.seeds)
    # One record per block of 8 fresh seeds, each extending the last (the toy's 16^3 volumes
    # scatter: the first block's error is above the 1 % target, so at least a second is drawn);
    # drawing stops at the first block under target, or at the most seeds.
    objective = _objective(toy)
    sizes = [len(r["seeds"]) for r in confirmations]
    assert len(confirmations) >= 2 and sizes == list(range(8, 8 * len(sizes) + 1, 8))
    assert sizes[-1] <= SETTINGS.confirm_max_seeds == 32
    for before, after in itertools.pairwise(confirmations):
        assert after["seeds"][: len(before["seeds"])] == before["seeds"]
        assert after["seed_objectives"][: len(before["seeds"])] == pytest.approx(before["seed_objectives"])
    target = objective.settings.target_relative_standard_error
    wants_more = [Evaluation.from_dict(r).above_target(target) for r in confirmations]
    assert all(wants_more[:-1]) and (not wants_more[-1] or sizes[-1] + 8 > SETTINGS.confirm_max_seeds)
    with pytest.raises(ValueError, match="confirm_seeds must be 0"):
        CampaignSettings(confirm_seeds=1)
    with pytest.raises(ValueError, match="confirm_max_seeds must be a whole number at least confirm_seeds"):
        CampaignSettings(confirm_seeds=8, confirm_max_seeds=4)


def test_a_confirmation_cut_short_by_a_crash_goes_on_without_logging_a_block_twice(finished, toy, tmp_path):
    out, space, result = finished
    cut = tmp_path / "cut"
    shutil.copytree(out, cut)
    lines = (cut / "log.jsonl").read_text().splitlines()
    first = next(i for i, line in enumerate(lines) if json.loads(line)["type"] == "confirmation")
    (cut / "log.jsonl").write_text("\n".join(lines[: first + 1]) + "\n")  # killed after the first block
    again = Campaign(_objective(toy), space, cut, SETTINGS, resume=True, progress=False).run()
    assert [len(r["seeds"]) for r in _confirmations(cut / "log.jsonl")] == [
        len(r["seeds"]) for r in _confirmations(out / "log.jsonl")]
    assert again.confirmation.seeds == result.confirmation.seeds and len(again.confirmation.seeds) > 8
    assert again.confirmation.objective == pytest.approx(result.confirmation.objective, rel=1e-6)


def test_a_campaign_optimises_the_coat_weight_beside_a_label(toy, tmp_path):
    space = design_space(toy.label_ranges, free=("porosity", "am_loading_mg_cm2"),
                         bounds={"am_loading_mg_cm2": (15.0, 30.0)})
    settings = CampaignSettings(budget=4, batch_size=2, n_initial=2, seed=1)
    result = Campaign(_objective(toy), space, tmp_path / "c", settings, progress=False).run()
    evaluations = _evaluations(tmp_path / "c" / "log.jsonl")
    assert len(evaluations) == 4
    loadings = [r["labels"]["am_loading_mg_cm2"] for r in evaluations]
    assert all(15.0 <= v <= 30.0 for v in loadings) and len(set(loadings)) == 4
    for record in evaluations:
        if not record["failed"]:  # the cell was built at the point's coat weight
            design = record["cell"]["inputs"]["design"]
            eps_am = record["properties"]["am_volume_fraction"]
            expected = record["labels"]["am_loading_mg_cm2"] * 1e-2 / (eps_am * 4700.0)
            assert design["cathode_thickness_m"] == pytest.approx(expected, rel=1e-9)
    columns = results_columns(evaluations)
    assert columns.index("am_loading_mg_cm2") == columns.index("label_adhesion") + 1
    if result.best is not None:
        assert set(result.best.labels) == {"am_wt", "porosity", "adhesion", "am_loading_mg_cm2"}


def test_an_existing_campaign_is_never_overwritten_and_resume_checks_settings(finished, toy):
    out, space, _ = finished
    with pytest.raises(FileExistsError, match="--resume"):
        Campaign(_objective(toy), space, out, SETTINGS, progress=False)
    other = CampaignSettings(budget=8, batch_size=2, n_initial=4, seed=1)
    with pytest.raises(ValueError, match="cannot resume"):
        Campaign(_objective(toy), space, out, other, resume=True, progress=False)
    # The header records the cell model; another one is refused too.
    assert CellModelConfig.from_dict(read_records(out / "log.jsonl")[0]["cell"]) == CellModelConfig()
    lumped = DesignObjective(toy, _objective(toy).settings, CellModelConfig(thermal="lumped"))
    with pytest.raises(ValueError, match="cannot resume .* its cell settings"):
        Campaign(lumped, space, out, SETTINGS, resume=True, progress=False)
    with pytest.raises(FileNotFoundError, match="no campaign to resume"):
        Campaign(_objective(toy), space, out.parent / "nothing", SETTINGS, resume=True, progress=False)


def test_resuming_a_finished_campaign_adds_nothing(finished, toy):
    out, space, result = finished
    before = (out / "log.jsonl").read_bytes()
    again = Campaign(_objective(toy), space, out, SETTINGS, resume=True, progress=False).run()
    assert (out / "log.jsonl").read_bytes() == before
    assert again.best == result.best and again.confirmation == result.confirmation is not None


def test_a_log_written_before_a_campaign_setting_existed_resumes_with_its_default(finished, toy, tmp_path):
    out, space, result = finished
    old = tmp_path / "old"
    shutil.copytree(out, old)
    lines = (old / "log.jsonl").read_text().splitlines()
    header = json.loads(lines[0])
    del header["campaign"]["input_warping"]  # as logged before 2026-12-07
    del header["campaign"]["confirm_seeds"]  # and before 2026-12-08
    del header["campaign"]["confirm_max_seeds"], header["cell"]  # and before stop 58
    (old / "log.jsonl").write_text("\n".join([json.dumps(header), *lines[1:]]) + "\n")
    again = Campaign(_objective(toy), space, old, SETTINGS, resume=True, progress=False).run()
    assert again.best == result.best
    warped = dataclasses.replace(SETTINGS, input_warping=True)
    with pytest.raises(ValueError, match="cannot resume"):
        Campaign(_objective(toy), space, old, warped, resume=True, progress=False)
    assert Campaign(_objective(toy), space, tmp_path / "new", warped, progress=False)._new_optimizer(
    ).settings.input_warping  # fmt: skip


def _design_command(checkpoint, out, *extra):
    return [
        sys.executable, "-m", "jaxmicro.cli", "design", "--checkpoint", str(checkpoint), "--out", str(out),
        "--budget", str(SETTINGS.budget), "--batch-size", str(SETTINGS.batch_size),
        "--n-initial", str(SETTINGS.n_initial), "--volume-size", str(SIZE), "--seeds-per-label", str(SEEDS),
        "--max-seeds-per-label", str(SEEDS),  # fixed seeds, as the Python campaign it is compared with
        "--no-progress", *extra,
    ]  # fmt: skip


def test_a_killed_campaign_resumes_with_nothing_lost_or_repeated(toy_checkpoint, finished, tmp_path):
    out = tmp_path / "study"
    log = campaign_dir(out, 200.0) / "log.jsonl"
    env = os.environ | {"JAX_PLATFORMS": "cpu"}
    process = subprocess.Popen(_design_command(toy_checkpoint, out), env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)  # fmt: skip
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        if log.is_file() and len(_evaluations(log)) >= 3:  # mid-way through the second batch
            break
        time.sleep(0.05)
    assert process.poll() is None, f"the campaign ended before it could be killed: {process.stderr.read()}"
    process.send_signal(signal.SIGKILL)
    process.wait()
    killed = _evaluations(log)
    assert 3 <= len(killed) < SETTINGS.budget

    resumed = subprocess.run(_design_command(toy_checkpoint, out, "--resume"), env=env, capture_output=True,
                             text=True, timeout=600)  # fmt: skip
    assert resumed.returncode in (0, 1), resumed.stderr
    evaluations = _evaluations(log)
    assert evaluations[: len(killed)] == killed  # the log before the kill is intact
    keys = [(r["batch"], r["index"]) for r in evaluations]
    assert len(keys) == len(set(keys)) == SETTINGS.budget
    # The interrupted campaign evaluated exactly what the uninterrupted one did.
    uninterrupted = _evaluations(finished[0] / "log.jsonl")
    by_key = {(r["batch"], r["index"]): r["labels"] for r in uninterrupted}
    for record in evaluations:
        assert record["labels"] == pytest.approx(by_key[(record["batch"], record["index"])])
    # ... and the optimiser's state (noise included) ends where the uninterrupted one's does.
    state = json.loads((campaign_dir(out, 200.0) / "state.json").read_text())["optimizer"]
    reference = json.loads((finished[0] / "state.json").read_text())["optimizer"]
    for key in ("x", "y", "noise_std"):
        assert np.asarray(state[key], float) == pytest.approx(np.asarray(reference[key], float), nan_ok=True)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["campaigns"][0]["n_evaluations"] == SETTINGS.budget
    best = summary["campaigns"][0]["best"]
    free_labels = {k: best["labels"][k] for k in ("am_wt", "porosity")}
    assert best["recommendation"]["labels"] == pytest.approx(free_labels)
    # What drives the optimum: one sensitivity per free label, stored and printed.
    assert [s["name"] for s in summary["campaigns"][0]["sensitivities"]] == ["am_wt", "porosity"]
    assert "per step at the optimum" in resumed.stdout
    for figure in summary["figures"]:
        assert os.path.isfile(figure)
    assert "summary:" in resumed.stdout


HOLD_LOCK = (
    "import sys\nfrom jaxmicro._files import run_lock\n"
    "with run_lock(sys.argv[1], sys.argv[2]):\n    print('locked', flush=True)\n    sys.stdin.read()\n"
)


def _hold_lock(folder, lock_name=".jaxmicro.lock"):
    """A second process holding ``folder``'s run lock (kill it to release)."""
    process = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(folder), lock_name],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert process.stdout.readline().strip() == "locked"
    return process


def test_a_second_writer_is_refused_with_the_holders_pid(toy, toy_checkpoint, tmp_path, capsys):
    from jaxmicro._files import RunInUseError
    from jaxmicro.cli import main as cli_main

    out = tmp_path / "study"
    holder = _hold_lock(out)
    try:
        assert cli_main(_design_command(toy_checkpoint, out)[3:]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"in use by another jaxmicro process (pid {holder.pid})" in err
        assert not campaign_dir(out, 200.0).exists()  # nothing written
    finally:
        holder.kill()
        holder.wait()
    folder = tmp_path / "campaign"
    holder = _hold_lock(folder)
    try:
        campaign = Campaign(_objective(toy), design_space(toy.label_ranges), folder, SETTINGS, progress=False)
        with pytest.raises(RunInUseError, match=f"pid {holder.pid}"):
            campaign.run()
        assert sorted(p.name for p in folder.iterdir()) == [".jaxmicro.lock"]
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.parametrize("failing_write", [4, 7])
def test_a_full_disk_stops_the_campaign_in_one_line_and_it_resumes_to_the_same_result(
    finished, toy, tmp_path, monkeypatch, failing_write
):
    """The disk fills at the n-th fsync (a log record or state.json, whichever it is): the run
    stops with the one-line NoSpaceError, leaves no temporary file, and a resume after freeing
    space evaluates exactly what the uninterrupted campaign did."""
    import errno

    from jaxmicro._files import NoSpaceError

    real_fsync, calls = os.fsync, []

    def filling_fsync(fd):
        calls.append(fd)
        if len(calls) >= failing_write:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(fd)

    out, space = tmp_path / "c", design_space(toy.label_ranges)
    monkeypatch.setattr(os, "fsync", filling_fsync)
    with pytest.raises(
        NoSpaceError, match=r"^no space left on device while writing .*; free space and run again"
    ):
        Campaign(_objective(toy), space, out, SETTINGS, progress=False).run()
    monkeypatch.undo()
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == [".jaxmicro.lock"]
    result = Campaign(_objective(toy), space, out, SETTINGS, resume=True, progress=False).run()
    uninterrupted = {(r["batch"], r["index"]): r["labels"] for r in _evaluations(finished[0] / "log.jsonl")}
    evaluations = _evaluations(out / "log.jsonl")
    assert len(evaluations) == len(result.evaluations) == SETTINGS.budget
    for record in evaluations:
        assert record["labels"] == pytest.approx(uninterrupted[(record["batch"], record["index"])])
