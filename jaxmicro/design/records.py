"""An append-only JSON-lines record file that survives a killed process.

Each record is one line of JSON, written with a single ``write`` and flushed to disk
(``fsync``) before :func:`append_record` returns, so a record is either wholly on disk or not
at all. A process killed mid-write can leave a truncated last line; :func:`read_records` drops
it (and only it) and :func:`repair_records` cuts it off before new records are appended.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from jaxmicro._files import make_dirs, no_space_guard, plain_json, write_json_atomic

__all__ = ["append_record", "read_records", "repair_records", "write_json_atomic"]


def append_record(path: str | os.PathLike, record: dict[str, Any]) -> None:
    """Appends one record as a JSON line and fsyncs it.

    Args:
        path: the ``.jsonl`` file (created with its folder if missing).
        record: JSON-serialisable mapping; numpy/jax arrays become lists, NaN/inf become null.

    Raises:
        ValueError: ``record`` holds something JSON cannot represent.
        NoSpaceError: the disk is full (a part-written line is cut off by the next
            :func:`repair_records`, so the run resumes cleanly).
    """
    path = Path(path)
    make_dirs(path.parent)
    try:
        line = json.dumps(plain_json(record), allow_nan=False, separators=(",", ":")) + "\n"
    except TypeError as error:
        raise ValueError(f"{path}: the record is not JSON ({error})") from None
    with no_space_guard(path), path.open("a", encoding="utf-8") as handle:
        handle.write(line)
        handle.flush()
        os.fsync(handle.fileno())


def read_records(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Reads every complete record; a truncated final line (a killed writer) is ignored.

    Raises:
        ValueError: if a line other than the last is not valid JSON (the file was edited or
            is not a record file).
    """
    path = Path(path)
    if not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8").split("\n")
    complete, tail = lines[:-1], lines[-1]  # a complete file ends with "\n", so tail == ""
    records = []
    for number, line in enumerate(complete, start=1):
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}:{number}: not a JSON record ({error}); the log is corrupt") from None
    del tail  # an unterminated last line was cut short by a crash
    return records


def repair_records(path: str | os.PathLike) -> int:
    """Cuts a truncated final line off the file so appends start on a fresh line.

    Returns:
        The number of bytes removed (0 when the file was intact or absent).
    """
    path = Path(path)
    if not path.is_file():
        return 0
    data = path.read_bytes()
    keep = data.rfind(b"\n") + 1
    if keep == len(data):
        return 0
    with no_space_guard(path), path.open("r+b") as handle:
        handle.truncate(keep)
        handle.flush()
        os.fsync(handle.fileno())
    return len(data) - keep
