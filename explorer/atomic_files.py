"""Files replaced atomically: written beside their target, fsynced, then renamed over it.

A process killed mid-write (a SIGKILL, a power cut) leaves the previous version readable, never half a
file: the run store (:mod:`explorer.runs`) and its tensors (:mod:`explorer.run_files`) write every file
this way.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable
from pathlib import Path


def atomic_write(target: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(temporary path)`` in ``target``'s folder, fsync, then rename over ``target``."""
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    try:
        write(tmp)
        with open(tmp, "rb") as handle:  # on disk before the rename, so a power cut cannot leave it empty
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def write_json(target: Path, value: dict) -> None:
    atomic_write(target, lambda tmp: tmp.write_text(json.dumps(value, indent=2) + "\n"))


def read_json(source: Path) -> dict:
    return json.loads(source.read_text())
