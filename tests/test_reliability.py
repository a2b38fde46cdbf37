"""Reliability at the edges (issue 22): file modes, one writer per run folder, a full disk,
stale temporaries, and the command line's one-line errors."""

import errno
import os
import signal
import stat
import subprocess
import sys
import textwrap
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from jaxmicro import _files
from jaxmicro._files import (
    LOCK_NAME,
    NoSpaceError,
    RunInUseError,
    atomic_path,
    remove_stale_temporaries,
    replace_dir,
    run_lock,
    staging_dir,
    write_json_atomic,
)
from jaxmicro.cli import main as cli_main
from jaxmicro.design.records import append_record, read_records

HOLD_LOCK = textwrap.dedent(
    """
    import sys
    from jaxmicro._files import run_lock
    with run_lock(sys.argv[1], sys.argv[2]):
        print("locked", flush=True)
        sys.stdin.read()  # until the test closes our stdin or kills us
    """
)


@contextmanager
def lock_held_by_another_process(folder: Path, lock_name: str = LOCK_NAME):
    """Runs a second Python process that holds ``folder``'s run lock; yields it."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(folder), lock_name],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout.readline().strip() == "locked"
        yield process
    finally:
        process.kill()
        process.wait()


@contextmanager
def umask(mask: int):
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


# --- file modes ----------------------------------------------------------------------------


@pytest.mark.parametrize("mask", [0o022, 0o027, 0o002])
def test_everything_written_gets_the_umask_mode(tmp_path, mask):
    with umask(mask):
        write_json_atomic(tmp_path / "state.json", {"a": 1})
        with atomic_path(tmp_path / "figure.png") as tmp:
            tmp.write_bytes(b"png")
        append_record(tmp_path / "log.jsonl", {"i": 0})
        staging = staging_dir(tmp_path / "generator")
        (staging / "x").write_text("x")
        replace_dir(staging, tmp_path / "generator")
        with run_lock(tmp_path / "run"):
            pass
    files = ["state.json", "figure.png", "log.jsonl", "generator/x", f"run/{LOCK_NAME}"]
    for name in files:
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o666 & ~mask, name
    for name in ["generator", "run"]:
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o777 & ~mask, name
    with umask(mask):
        assert _files.umask() == mask  # read from /proc without changing it


# --- one writer per run --------------------------------------------------------------------


def test_a_second_process_is_refused_naming_the_holder_and_the_lock_dies_with_it(tmp_path):
    folder = tmp_path / "run"
    with lock_held_by_another_process(folder) as holder:
        with pytest.raises(RunInUseError, match=rf"in use by another jaxmicro process \(pid {holder.pid}\)"):
            with run_lock(folder):
                pass
        assert (folder / LOCK_NAME).read_text().strip() == str(holder.pid)
        holder.send_signal(signal.SIGKILL)  # no clean-up code runs: the kernel drops the lock
        holder.wait()
        with run_lock(folder):
            assert (folder / LOCK_NAME).read_text().strip() == str(os.getpid())
    with run_lock(folder), run_lock(folder):  # re-entrant in one process
        pass


def test_the_lock_is_released_when_the_block_raises(tmp_path):
    with pytest.raises(KeyError):
        with run_lock(tmp_path):
            raise KeyError("x")
    code = f"from jaxmicro._files import run_lock\nwith run_lock({str(tmp_path)!r}): print('ok')"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout == "ok\n"


def test_a_file_where_the_run_folder_should_be_is_one_line(tmp_path):
    (tmp_path / "out").write_text("not a folder")
    with pytest.raises(NotADirectoryError, match="is a file, not a folder"):
        with run_lock(tmp_path / "out"):
            pass


# --- a full disk ---------------------------------------------------------------------------


def _full_disk(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_full_disk_while_writing_json_is_one_line_and_leaves_no_temporary(tmp_path, monkeypatch):
    write_json_atomic(tmp_path / "state.json", {"old": True})
    monkeypatch.setattr(_files.os, "fsync", _full_disk)
    with pytest.raises(NoSpaceError) as caught:
        write_json_atomic(tmp_path / "state.json", {"new": True})
    assert str(caught.value) == (
        f"no space left on device while writing {tmp_path / 'state.json'}; "
        "free space and run again with --resume"
    )
    assert caught.value.errno == errno.ENOSPC
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]
    assert (tmp_path / "state.json").read_text().strip() == '{\n "old": true\n}'


def test_full_disk_while_appending_a_record_keeps_the_log_resumable(tmp_path, monkeypatch):
    from jaxmicro.design import records

    log = tmp_path / "log.jsonl"
    append_record(log, {"i": 0})
    monkeypatch.setattr(records.os, "fsync", _full_disk)
    with pytest.raises(NoSpaceError, match="log.jsonl; free space and run again with --resume"):
        append_record(log, {"i": 1})
    monkeypatch.undo()
    records.repair_records(log)
    assert read_records(log)[0] == {"i": 0}


def test_a_short_write_is_reported_as_a_full_disk(tmp_path, monkeypatch):
    """numpy's ``tofile`` on a full disk says only "262144 requested and 32512 written"."""
    with pytest.raises(NoSpaceError, match="while writing .*optimum.tif"):
        with _files.no_space_guard(tmp_path / "optimum.tif"):
            raise OSError("262144 requested and 32512 written")
    with pytest.raises(OSError, match="Permission denied"):  # other errors pass unchanged
        with _files.no_space_guard(tmp_path / "x"):
            raise PermissionError(errno.EACCES, "Permission denied")


def test_full_disk_while_writing_the_optimum_tiff_cleans_its_temporary(tmp_path, monkeypatch):
    from jaxmicro.design import study

    def short_write(path, volume, *args, **kwargs):
        path = Path(path)
        (path.parent / f".{path.name}.tmp.tif").write_bytes(b"half")  # what write_volume leaves
        raise OSError("262144 requested and 32512 written")

    class Objective:
        seeds = (0,)

        def measure(self, labels):
            return np.zeros((1, len(labels), 8, 8, 8), np.uint8), None

    class Best:
        def label_array(self):
            return np.array([0.93, 0.36, 0.5])

    monkeypatch.setattr(study, "write_volume", short_write)
    with pytest.raises(NoSpaceError, match="optimum.tif; free space and run again with --resume"):
        study._optimum_figures(Objective(), Best(), tmp_path, 1)
    assert list(tmp_path.iterdir()) == []


def test_full_disk_while_saving_a_figure_keeps_the_old_one(tmp_path, monkeypatch):
    import matplotlib.figure

    from jaxmicro.design import plots

    figure = tmp_path / "campaign.png"
    figure.write_bytes(b"old figure")

    def full(self, path, **kwargs):
        Path(path).write_bytes(b"half")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", full)
    fig = plots._pyplot().figure()
    with pytest.raises(NoSpaceError, match="campaign.png"):
        plots._save(fig, figure)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["campaign.png"]
    assert figure.read_bytes() == b"old figure"


def test_cli_reports_a_full_disk_in_one_line(monkeypatch, capsys, tmp_path):
    from jaxmicro.design import _cli

    def full(args):
        raise NoSpaceError(tmp_path / "summary.json")

    monkeypatch.setattr(_cli, "run", full)
    assert cli_main(["design", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"jaxmicro design: error: no space left on device while writing {tmp_path / 'summary.json'}; "
        "free space and run again with --resume\n"
    )


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (KeyError("optimizer"), "KeyError: 'optimizer'"),
        (TypeError("list indices must be integers"), "TypeError: list indices must be integers"),
        (OverflowError("cannot convert float infinity to integer"), "OverflowError: cannot convert"),
        (
            PermissionError(errno.EACCES, "Permission denied", "/x/state.json"),
            "Permission denied: /x/state.json",
        ),
        (IsADirectoryError(errno.EISDIR, "Is a directory", "/x"), "Is a directory: /x"),
        (RunInUseError("runs/design is in use by another jaxmicro process (pid 7)"), "(pid 7)"),
        (ValueError("two\nlines"), "two lines"),
    ],
)
def test_cli_reports_input_errors_in_one_line(monkeypatch, capsys, error, expected):
    from jaxmicro.design import _cli

    def fail(args):
        raise error

    monkeypatch.setattr(_cli, "run", fail)
    assert cli_main(["design"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("jaxmicro design: error: ") and expected in err and err.count("\n") == 1


def test_cli_version(capsys):
    from importlib import metadata

    with pytest.raises(SystemExit) as exit_:
        cli_main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"jaxmicro {metadata.version('jaxmicro')}"


# --- stale temporaries ---------------------------------------------------------------------


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid  # exited and reaped; not reused this quickly


def test_stale_temporaries_of_killed_writers_are_removed_and_live_ones_kept(tmp_path):
    dead = _dead_pid()
    stale = [
        f".generator.{dead}.abcd_123",  # a killed export's staging folder
        ".generator.k2j4h5g6",  # one from before staging folders named their writer
        ".generator.old",
        f".state.json.{dead}.x1y2z3w4.tmp.json",
        ".optimum.tif.tmp.tif",  # write_volume's
    ]
    live = [f".generator.{os.getpid()}.abcdefgh", f".summary.json.{os.getppid()}.abcdefgh.tmp.json"]
    keep = [
        "generator",
        "log.jsonl",
        ".hidden",
        ".notes.txt",
        ".config.settings",
        ".cache.abcdefgh",
        LOCK_NAME,
    ]
    for name in stale + live + keep:
        if "generator" in name or name == ".cache.abcdefgh":  # folders
            (tmp_path / name).mkdir()
            (tmp_path / name / "f").write_text("x")
        else:
            (tmp_path / name).write_text("x")
    assert sorted(p.name for p in remove_stale_temporaries(tmp_path, "generator")) == sorted(stale[:3])
    remove_stale_temporaries(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(live + keep)


def test_cli_version_falls_back_to_the_package_attribute(monkeypatch):
    from importlib import metadata

    import jaxmicro
    from jaxmicro.cli import package_version

    def not_installed(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", not_installed)
    assert package_version() == jaxmicro.__version__


def test_device_gpu_without_a_gpu_is_one_line(tmp_path):
    import jax

    if jax.default_backend() == "gpu":
        pytest.skip("this machine has a GPU: --device gpu works")
    env = os.environ | {"JAXMICRO_COMPILATION_CACHE": "0", "PYBAMM_DISABLE_TELEMETRY": "true"}
    env.pop("JAX_PLATFORMS", None)
    command = [
        sys.executable,
        "-m",
        "jaxmicro.cli",
        "design",
        "--device",
        "gpu",
        "--out",
        str(tmp_path / "d"),
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1].startswith("jaxmicro design: error: --device gpu: JAX finds no GPU")
    assert "Traceback" not in done.stderr


# --- sweep --coordinator: an unreachable coordinator is a one-line error, not a hang ----------


def test_an_unreachable_coordinator_times_out_in_one_line_instead_of_hanging(monkeypatch):
    import socket
    import time

    import jax

    from jaxmicro.design import sharding

    def never(**kwargs):
        raise AssertionError("jax.distributed.initialize waits, then aborts the process (SIGABRT)")

    monkeypatch.setattr(jax.distributed, "initialize", never)
    with socket.socket() as probe:  # a free port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    start = time.monotonic()
    with pytest.raises(TimeoutError, match=rf"no coordinator answered at 127.0.0.1:{port} within 1 s"):
        sharding.initialize_distributed(f"127.0.0.1:{port}", 2, 1, timeout_s=1.0)
    assert time.monotonic() - start < 10
    for address, message in [
        ("node0", "must be HOST:PORT"),
        ("node0:http", "must be HOST:PORT"),
        ("no-such-host.invalid:1234", "does not resolve"),
    ]:
        with pytest.raises(ValueError, match=message):
            sharding.initialize_distributed(address, 2, 1, timeout_s=1.0)
    with pytest.raises(ValueError, match="--process-id must be in 0 .. --num-processes - 1"):
        sharding.initialize_distributed(f"127.0.0.1:{port}", 2, 2)
    # process 0 hosts the coordinator: an address of another machine (TEST-NET-1) is refused
    with pytest.raises(ValueError, match=r"process 0 runs the coordinator, so the address must be this"):
        sharding.initialize_distributed("192.0.2.1:1234", 2, 0)


def test_a_listening_coordinator_lets_initialisation_go_ahead_with_the_timeout(monkeypatch):
    import socket

    import jax

    from jaxmicro.design import sharding

    calls = []
    monkeypatch.setattr(jax.distributed, "initialize", lambda **kwargs: calls.append(kwargs))
    collectives = jax.config.jax_cpu_collectives_implementation
    try:
        with socket.socket() as server:
            server.bind(("127.0.0.1", 0))
            server.listen()
            address = f"127.0.0.1:{server.getsockname()[1]}"
            sharding.initialize_distributed(address, 2, 1, timeout_s=5.0)
    finally:  # initialize_distributed chose gloo for CPU processes: not for the other tests
        jax.config.update("jax_cpu_collectives_implementation", collectives)
    assert calls == [
        {"coordinator_address": address, "num_processes": 2, "process_id": 1, "initialization_timeout": 5}
    ]
