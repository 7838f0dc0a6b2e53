"""A run's progress log, ``metrics.jsonl``: one JSON record per line, appended by its worker.

Each record is written by one ``write`` call of whole lines, so a reader never sees half a record but
the last line cut off by a crash, which it skips. A resumed run's records after its checkpoint's step are
superseded by the ones its new worker writes.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable
from pathlib import Path

from explorer.run_fields import is_number
from explorer.runs import path


def append(run_id: str, records: Iterable[dict], root: Path | None = None) -> None:
    """Append records as JSON lines in one ``write``; a line cut off earlier by a crash is closed first.

    Non-finite floats (a diverged loss) are written as null: JSON has no NaN.
    """
    text = "".join(json.dumps(_finite(record)) + "\n" for record in records)
    target = path(run_id, root) / "metrics.jsonl"
    fd = os.open(target, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            text = "\n" + text  # the cut-off line stays unreadable, the new ones stay whole
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def _finite(record: dict) -> dict:
    return {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in record.items()}


def read(run_id: str, root: Path | None = None) -> list[dict]:
    """Every readable record in order; records undone by a resume are dropped.

    A ``{"phase": "resume", "step": s}`` record (written when a worker continues from a
    checkpoint at step ``s``) supersedes the records after step ``s`` written before it.
    """
    try:
        lines = (path(run_id, root) / "metrics.jsonl").read_bytes().splitlines()
    except FileNotFoundError:
        return []
    except OSError:  # not a file, or not readable: a damaged run shows no records rather than no page
        return []
    records: list[dict] = []
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:  # cut off mid-write by a crash, or bytes that are not text
            continue
        if not isinstance(record, dict) or not is_number(record.get("step", 0)):  # not one a worker wrote
            continue
        if record.get("phase") == "resume":
            records = [r for r in records if r.get("step", 0) <= record.get("step", 0)]
        records.append(record)
    return records
