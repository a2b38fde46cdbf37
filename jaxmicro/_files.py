"""Crash-safe file writing shared by the stages (internal).

A crash or kill leaves either the old file or folder or the complete new one, never half:
files are written to a temporary name beside the target, fsynced and renamed; folders are
built in a staging folder beside the target and swapped in (one atomic ``renameat2`` exchange
where the file system supports it). JSON written here is strict (NaN and inf become null), and
numpy/jax arrays become lists.

Also here, for every command that writes a run folder:

* file modes: everything written gets ``0666 & ~umask`` (files) or ``0777 & ~umask``
  (folders), as ``open`` and ``mkdir`` give, not the ``0600``/``0700`` of ``mkstemp``/``mkdtemp``;
* :func:`run_lock`: one writer per run folder (``fcntl.flock`` on a lock file holding the
  writer's process id; the kernel releases it on any exit, SIGKILL included);
* :class:`NoSpaceError`: a full disk reported in one line naming the file, temporaries removed;
* :func:`remove_stale_temporaries`: staging folders and temporary files left by killed writers.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import json
import math
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

LOCK_NAME = ".jaxmicro.lock"
"""The lock file :func:`run_lock` keeps in a run folder (holds the writer's process id)."""

RESUME_HINT = "run again with --resume"


class NoSpaceError(OSError):
    """The file system filled up while writing ``path``; ``str()`` is the one-line message.

    Attributes:
        path: the file or folder being written.
    """

    def __init__(self, path: str | os.PathLike, hint: str = RESUME_HINT) -> None:
        message = f"no space left on device while writing {path}; free space and {hint}"
        super().__init__(errno.ENOSPC, message)
        self.path = Path(path)

    def __str__(self) -> str:
        return str(self.strerror)


class RunInUseError(RuntimeError):
    """Another process holds the run folder's lock (:func:`run_lock`)."""


def umask() -> int:
    """This process's umask, read without changing it where Linux allows (``/proc``)."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)  # pragma: no cover - systems without /proc
    os.umask(mask)  # pragma: no cover
    return mask  # pragma: no cover


def file_mode() -> int:
    """The mode ``open()`` gives a new file: ``0666 & ~umask``."""
    return 0o666 & ~umask()


def dir_mode() -> int:
    """The mode ``mkdir`` gives a new folder: ``0777 & ~umask``."""
    return 0o777 & ~umask()


_SHORT_WRITE = re.compile(r"\d+ requested and \d+ written")  # numpy's tofile on a full disk


def is_no_space(error: BaseException) -> bool:
    """Whether ``error`` (or an exception it was raised from) is a full file system or quota."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and (
            current.errno in (errno.ENOSPC, errno.EDQUOT)
            or (current.errno is None and _SHORT_WRITE.search(str(current)))
        ):
            return True
        current = current.__cause__ or current.__context__
    return False


@contextlib.contextmanager
def no_space_guard(path: str | os.PathLike, hint: str = RESUME_HINT) -> Iterator[None]:
    """Re-raises a full disk inside the block as a one-line :class:`NoSpaceError` naming ``path``."""
    try:
        yield
    except NoSpaceError:
        raise
    except Exception as error:
        if is_no_space(error):
            raise NoSpaceError(path, hint) from error
        raise


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):  # numpy and jax arrays and scalars
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def finite_or_none(value: Any) -> Any:
    """Replaces non-finite floats with None, recursively: JSON has no NaN or inf."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite_or_none(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite_or_none(v) for v in value]
    return value


def plain_json(data: Any) -> Any:
    """``data`` as plain JSON values: arrays -> lists, paths -> str, NaN/inf -> None."""
    return finite_or_none(json.loads(json.dumps(data, default=_json_default)))


def _temporary_prefix(path: Path) -> str:
    """``.<name>.<pid>.``: temporaries name their writer, so stale ones can be told apart."""
    return f".{path.name}.{os.getpid()}."


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, hint: str = RESUME_HINT) -> Iterator[Path]:
    """A temporary path beside ``path`` (same suffix) to write; renamed onto ``path`` after the block.

    The file is fsynced and given :func:`file_mode` before the rename. On any error the
    temporary file is removed, and a full disk becomes a :class:`NoSpaceError` naming ``path``.

    Args:
        path: the final file.
        hint: what the full-disk message tells the user to do after freeing space.

    Yields:
        The temporary path (it does not exist yet).
    """
    path = Path(path)
    with no_space_guard(path, hint):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(
            prefix=_temporary_prefix(path), suffix=f".tmp{path.suffix}", dir=path.parent
        )
        os.close(fd)
        tmp = Path(name)
        try:
            tmp.unlink()  # writers such as matplotlib create the file themselves
            yield tmp
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fchmod(fd, file_mode())
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            raise


def write_text_atomic(path: str | os.PathLike, text: str, hint: str = RESUME_HINT) -> None:
    """Writes ``text`` (UTF-8) to ``path`` by temporary file, fsync and rename (see :func:`atomic_path`)."""
    with atomic_path(path, hint) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json_atomic(path: str | os.PathLike, data: Any, hint: str = RESUME_HINT) -> None:
    """Writes ``plain_json(data)`` to ``path`` (indent 1) by temporary file, fsync and rename."""
    write_text_atomic(path, json.dumps(plain_json(data), indent=1, allow_nan=False), hint)


def make_dirs(path: str | os.PathLike) -> Path:
    """``path.mkdir(parents=True, exist_ok=True)`` with a one-line error when a file is in the way."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(f"{path} is a file, not a folder; choose another output folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise NotADirectoryError(
            f"{path} (or a parent) is a file, not a folder; choose another output folder"
        ) from None
    return path


def staging_dir(path: Path) -> Path:
    """A new empty folder beside ``path`` (same filesystem, so it can be renamed onto it).

    Its name is ``.<name>.<pid>.<random>`` and its mode :func:`dir_mode`.
    """
    make_dirs(path.parent)
    staging = Path(tempfile.mkdtemp(prefix=_temporary_prefix(path), dir=path.parent))
    os.chmod(staging, dir_mode())
    return staging


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swaps two paths in one atomic step (Linux ``renameat2``); False where unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):  # pragma: no cover - not glibc
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False  # pragma: no cover - file systems without RENAME_EXCHANGE
    raise OSError(code, os.strerror(code), str(b))


def replace_dir(staging: Path, path: Path) -> None:
    """Moves the complete ``staging`` folder to ``path``, replacing an existing one.

    Where the file system supports it the two folders are exchanged in one atomic step, so a
    reader or a kill sees the old folder or the new one, never neither; elsewhere the old one
    is moved aside first (a kill between the two renames leaves it as ``.<name>.old``).
    """
    if path.exists():
        if _exchange(staging, path):
            shutil.rmtree(staging, ignore_errors=True)  # now the old folder
            return
        retired = path.with_name(f".{path.name}.old")  # pragma: no cover - no RENAME_EXCHANGE
        shutil.rmtree(retired, ignore_errors=True)  # pragma: no cover
        os.replace(path, retired)  # pragma: no cover
        os.replace(staging, path)  # pragma: no cover
        shutil.rmtree(retired, ignore_errors=True)  # pragma: no cover
    else:
        os.replace(staging, path)


# .<name>.<pid>.<random>[.tmp<suffix>]: this module's temporaries, named by their writer.
_OWNED_TEMPORARY = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.[a-z0-9_]{8}(\.tmp(\.\w+)?)?$")
# Written before temporaries named their writer: files .<name>.<random>.tmp and write_volume's
# .<name>.tmp<suffix>; folders .<name>.old and staging folders .<name>.<random> (the latter
# only beside an existing <name>, or for the target asked for, so that a user's hidden folder
# is never taken for one).
_LEGACY_TEMPORARY_FILE = re.compile(r"^\.(?P<name>.+)\.([a-z0-9_]{8}\.tmp|tmp(\.\w+)?)$")
_LEGACY_TEMPORARY_DIR = re.compile(r"^\.(?P<name>.+)\.(?P<random>[a-z0-9_]{8}|old)$")


def _legacy_match(entry: Path, name: str | None) -> re.Match[str] | None:
    if entry.is_dir() and not entry.is_symlink():
        match = _LEGACY_TEMPORARY_DIR.match(entry.name)
        if match and (
            match["random"] == "old" or match["name"] == name or entry.with_name(match["name"]).exists()
        ):
            return match
        return None
    return _LEGACY_TEMPORARY_FILE.match(entry.name)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temporaries(folder: str | os.PathLike, name: str | None = None) -> list[Path]:
    """Removes staging folders and temporary files that killed writers left in ``folder``.

    A temporary that names a live process is kept; ones from before temporaries named their
    writer are removed, so call this while holding the folder's :func:`run_lock`, or for a
    target that only one process writes.

    Args:
        folder: the folder to clean.
        name: only temporaries of this target name (e.g. ``"generator"``); None: all.

    Returns:
        The paths removed.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    for entry in folder.iterdir():
        if not entry.name.startswith(".") or entry.name == LOCK_NAME:
            continue
        owned = _OWNED_TEMPORARY.match(entry.name)
        match = owned or _legacy_match(entry, name)
        if match is None or (name is not None and match["name"] != name):
            continue
        if owned and _alive(int(owned["pid"])):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                entry.unlink()
        removed.append(entry)
    return removed


_held_locks: dict[Path, int] = {}
_held_guard = threading.Lock()


def _read_holder(fd: int) -> str:
    with contextlib.suppress(OSError, ValueError):
        text = os.pread(fd, 64, 0).decode("ascii", "replace").strip()
        if text.isdigit():
            return text
    return "unknown"


@contextlib.contextmanager
def run_lock(folder: str | os.PathLike, lock_name: str = LOCK_NAME) -> Iterator[Path]:
    """Holds the exclusive lock of a run folder for the block: one writer per run.

    The lock is ``fcntl.flock`` on ``folder/lock_name``, which holds the writer's process id;
    the kernel releases it when the process exits in any way. Re-entrant within a process.

    Args:
        folder: the run folder (created if missing).
        lock_name: the lock file's name (one per results file where a folder holds several).

    Yields:
        The lock file's path.

    Raises:
        RunInUseError: another process holds the lock (the message names its process id).
        NotADirectoryError: ``folder`` is a file.
    """
    folder = make_dirs(folder)
    path = (folder / lock_name).absolute()
    with _held_guard:
        if path in _held_locks:
            _held_locks[path] += 1
            reentered = True
        else:
            reentered = False
    if reentered:
        try:
            yield path
        finally:
            with _held_guard:
                _held_locks[path] -= 1
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunInUseError(
                f"{folder} is in use by another jaxmicro process (pid {_read_holder(fd)}); "
                "wait for it to finish, or stop it, or use another output folder"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        with _held_guard:
            _held_locks[path] = 1
        try:
            yield path
        finally:
            with _held_guard:
                del _held_locks[path]
    finally:
        os.close(fd)  # releases the lock
