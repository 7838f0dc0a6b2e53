"""The one interface every training backend offers, so the page never knows which one runs its jobs.

A backend takes a run's config (the dict ``explorer.worker`` reads), queues it, runs it
somewhere and reports through the run store (``explorer.runs``): status, progress records,
snapshots, checkpoints and the result all live in the run's folder, whoever wrote them.
``LocalBackend`` runs worker processes on this machine; a Ray backend would run the same worker
on a cluster and implement the same seven methods.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from explorer.runs import Run


@runtime_checkable
class Backend(Protocol):
    """Submit, watch, cancel and resume training runs."""

    def submit(self, config: dict, request_id: str | None = None, owner: str = "", limit: bool = False) -> str:
        """Queue a run for ``owner`` and return its id; the same ``request_id`` again returns the same run.
        ``limit``: ``runs.QueueFull`` where the owner or the server has as many runs waiting as they may."""

    def status(self, run_id: str) -> Run:
        """The run's status, reason, device, name and config."""

    def progress(self, run_id: str) -> list[dict]:
        """The run's progress records so far (``training.Progress`` fields as dicts), in order."""

    def cancel(self, run_id: str) -> None:
        """Stop the run ("cancelled"): at once if queued, within seconds if running."""

    def queue(self) -> list[Run]:
        """Runs waiting or running: the running ones first, then the queue in order."""

    def result(self, run_id: str, wait_s: float = 0.0) -> Run:
        """The run once it has ended, waiting up to ``wait_s`` seconds; as it is now after that."""

    def resume(self, run_id: str, limit: bool = False) -> str:
        """Queue a stopped run again to continue from its last checkpoint; returns its id. ``limit``: as submit's."""
