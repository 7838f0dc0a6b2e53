"""A run's life after it is made: the statuses a backend and its worker write into the store.

The backend claims a queued run for one worker (:func:`claim`), the worker takes it (:func:`mark_running`)
and ends it (:func:`set_status`); a stopped run joins the queue again (:func:`requeue`), and a run whose
worker died while nobody watched is marked "interrupted" (:func:`recover`). Each change is a read-modify-write
of the run's ``status.json`` under its lock (:mod:`explorer.runs`), so two writers never overwrite each
other's fields.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from pathlib import Path

from explorer.runs import (ACTIVE, STATUSES, Run, alive, check_room, get, list_runs, locked, path, store_root,
                           update_status)


class LaunchFailed(RuntimeError):
    """A run's worker could not be started (``__cause__``: the OSError); kept apart from the FileNotFoundError of
    a run folder that is gone, which a missing Python's own would otherwise pass for."""


def set_status(run_id: str, status: str, reason: str = "", root: Path | None = None, *,
               only_from: Iterable[str] | None = None, **fields) -> Run:
    """Set the run's status and reason (plus any extra ``fields``), stamping ``updated``.

    ``only_from``: change nothing unless the current status is one of these, so a scheduler that
    finds a dead worker cannot overwrite the final status the worker wrote just before dying.
    """
    if status not in STATUSES:
        raise ValueError(f"unknown status {status!r}; one of {', '.join(STATUSES)}")

    def change(current: dict) -> dict | None:
        if only_from is not None and current["status"] not in tuple(only_from):
            return None
        return {**current, **fields, "status": status, "reason": reason}

    return update_status(run_id, root, change)


def claim(run_id: str, launch: Callable[[], dict], root: Path | None = None) -> bool:
    """Start a queued run's worker once: ``launch()`` starts it and returns fields for the status
    (``pid`` at least). Under the run's lock, so two schedulers never both launch it.

    False (and no launch) when the run is not queued or a worker has been launched for it already; LaunchFailed when
    ``launch()`` raised an OSError (the run stays queued: the caller says why it ends).
    """
    launched = False

    def change(current: dict) -> dict | None:
        nonlocal launched
        if current["status"] != "queued" or current.get("pid") is not None:
            return None
        launched = True
        try:
            fields = launch()
        except OSError as exc:
            raise LaunchFailed(exc.strerror or str(exc)) from exc
        return {**current, **fields, "claimed": time.time()}

    update_status(run_id, root, change)
    return launched


def mark_running(run_id: str, pid: int, device: str, root: Path | None = None) -> bool:
    """A worker takes the run: "running" with its pid and device, unless another live worker has it
    or it has ended (cancelled before the worker got going, finished). False when refused."""
    taken = False

    def change(current: dict) -> dict | None:
        nonlocal taken
        other = current.get("pid")
        free = other in (None, pid) or not alive(other)
        if current["status"] not in ("queued", "running", "interrupted") or not free:
            return None
        taken = True
        return {**current, "status": "running", "reason": "", "pid": pid, "device": device, "started": time.time()}

    update_status(run_id, root, change)
    return taken


def requeue(run_id: str, reason: str = "", root: Path | None = None, limit: bool = False) -> Run:
    """Put a stopped run back in the queue (to resume it): no pid, no cancel or pause flag. ``limit``:
    :class:`QueueFull` where its owner or the server has as many runs waiting as they may (as :func:`create`)."""
    base = store_root(root)
    with locked(base) if limit else nullcontext():  # two clicks at once cannot both pass
        if limit:
            check_room(base, get(run_id, base).owner)
        return _requeued(run_id, reason, base)


def _requeued(run_id: str, reason: str, root: Path) -> Run:
    (path(run_id, root) / "cancel").unlink(missing_ok=True)
    (path(run_id, root) / "pause").unlink(missing_ok=True)
    return update_status(run_id, root, lambda current: {
        **current, "status": "queued", "reason": reason, "pid": None, "queued": time.time()})


def recover(root: Path | None = None) -> list[str]:
    """Mark runs whose worker died while nobody watched (the app was down) "interrupted".

    These are runs left "running", or "queued" with a worker launched for them, whose pid is
    gone. Call it when a backend starts. Returns their ids.
    """
    recovered = []
    for run in list_runs(root):
        if run.active and run.pid is not None and not alive(run.pid):
            reason = f"the worker (pid {run.pid}) stopped while the app was not watching; resume to continue"
            if set_status(run.id, "interrupted", reason, root, only_from=ACTIVE).status == "interrupted":
                recovered.append(run.id)
    return recovered
