"""Crash-safe file writing shared by the stages (internal).

A crash or kill leaves either the old file or folder or the complete new one, never half:
files are written to a temporary name beside the target, fsynced and renamed; folders are
built in a staging folder beside the target and swapped in. JSON written here is strict
(NaN and inf become null), and numpy/jax arrays become lists.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any


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


def write_json_atomic(path: str | os.PathLike, data: Any) -> None:
    """Writes ``plain_json(data)`` to ``path`` (indent 1) by temporary file, fsync and rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(plain_json(data), indent=1, allow_nan=False)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def staging_dir(path: Path) -> Path:
    """A new empty folder beside ``path`` (same filesystem, so it can be renamed onto it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))


def replace_dir(staging: Path, path: Path) -> None:
    """Moves the complete ``staging`` folder to ``path``, replacing an existing one."""
    if path.exists():
        retired = path.with_name(f".{path.name}.old")
        shutil.rmtree(retired, ignore_errors=True)
        os.replace(path, retired)
        os.replace(staging, path)
        shutil.rmtree(retired, ignore_errors=True)
    else:
        os.replace(staging, path)
