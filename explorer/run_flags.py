"""A run's flag files: the page asks its worker to stop (``cancel``) or to hold (``pause``).

The page writes a flag, the worker reads it between progress records (:mod:`explorer.worker`), so the two
never share memory. Both files sit in the run's folder (:mod:`explorer.runs`), which removes them when a
run is queued again. ``paused_total`` keeps the seconds a run's pauses have held it, since each holds the
shared queue.
"""

from __future__ import annotations

import time
from pathlib import Path

from explorer.atomic_files import atomic_write
from explorer.runs import path


# --- cancelling ------------------------------------------------------------------------------

def request_cancel(run_id: str, root: Path | None = None) -> None:
    """Ask the run's worker to stop at its next progress record."""
    atomic_write(path(run_id, root) / "cancel", lambda tmp: tmp.write_text(str(time.time())))


def cancel_requested(run_id: str, root: Path | None = None) -> bool:
    return (path(run_id, root) / "cancel").exists()


# --- pausing ---------------------------------------------------------------------------------

PAUSE_LIMIT_S = 600.0  # a run's pauses in all: each holds the shared queue (paused again and again, it would keep it)


def request_pause(run_id: str, paused: bool, root: Path | None = None) -> None:
    """Ask the run's worker to hold at its next progress record (``paused``), or to go on."""
    flag = path(run_id, root) / "pause"
    if paused:
        atomic_write(flag, lambda tmp: tmp.write_text(str(time.time())))
    else:
        flag.unlink(missing_ok=True)


def paused_since(run_id: str, root: Path | None = None) -> float | None:
    """When a pause was asked (``time.time()``), None when the run is not paused."""
    try:
        return float((path(run_id, root) / "pause").read_text())
    except (FileNotFoundError, ValueError):
        return None


def paused_total(run_id: str, root: Path | None = None) -> float:
    """Seconds the run's pauses have held it so far, the one under way not counted."""
    try:
        return float((path(run_id, root) / "paused_total").read_text())
    except (FileNotFoundError, ValueError):
        return 0.0


def pause_left(run_id: str, root: Path | None = None, limit_s: float = PAUSE_LIMIT_S) -> float:
    """Seconds of pausing the run has left of ``limit_s``, the pause under way counted."""
    since = paused_since(run_id, root)
    return max(limit_s - paused_total(run_id, root) - (time.time() - since if since is not None else 0.0), 0.0)


def hold_while_paused(run_id: str, root: Path | None = None, limit_s: float = PAUSE_LIMIT_S,
                      poll_s: float = 0.2) -> None:
    """In the worker, between records: wait while the run is paused, until it is continued or cancelled, or until
    its pauses have held it ``limit_s`` seconds in all (then it goes on, and the pause is cleared)."""
    since = first = paused_since(run_id, root)
    if since is None:
        return
    try:
        while since is not None and not cancel_requested(run_id, root):
            if pause_left(run_id, root, limit_s) <= 0:
                request_pause(run_id, False, root)
                return
            time.sleep(poll_s)
            since = paused_since(run_id, root)
    finally:
        held = paused_total(run_id, root) + time.time() - first
        atomic_write(path(run_id, root) / "paused_total", lambda tmp: tmp.write_text(str(held)))
