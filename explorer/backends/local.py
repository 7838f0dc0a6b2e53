"""Training runs as worker processes on this machine, a few at a time.

Each run is ``python -m explorer.worker <run folder>`` in a session of its own (its own process
group), its output in the run's ``worker.log``: a crash, a CUDA error or the kernel's OOM killer
ends that run, never the app. A daemon thread ticks every ``poll_s`` seconds: it starts queued
runs while fewer than ``slots`` run (one GPU each when there are GPUs), notices workers that died
without a final status ("failed", with the exit code or signal and the log's last lines) and kills
workers that ignore a cancel for ``cancel_grace_s`` seconds. It never touches Streamlit and binds
nothing to the network. Everything it knows is in the run store, so a restarted app finds its
runs again: ``run_lifecycle.recover`` marks those whose worker died meanwhile "interrupted", and workers
still alive are adopted.

With ``spare=True`` (the app's backend) one worker is started ahead, whenever no run is training (so it never
takes a core from one), and waits with PyTorch imported and the built-in set drawn: the next run is handed
to it and shows its first step in about a second, not after the 10 to 20 s a worker takes to start on a
busy 2-core machine.

One backend per run store: two schedulers on one store would each fill their own slots.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from explorer import run_files, run_flags, run_lifecycle, run_metrics, runs
from explorer.runs import Run

REPO = Path(__file__).resolve().parent.parent.parent
SPARE_EVERY_S = 30.0  # at most one spare started in this time: one that dies at once (broken code) is not a loop


@dataclass
class _Worker:
    """A worker process this backend watches; ``process`` is None for one adopted from an earlier app."""

    run_id: str
    pid: int
    process: subprocess.Popen | None
    gpu: int | None
    cancel_at: float | None = None  # time.monotonic() of the cancel request

    def exit_code(self) -> int | None:
        """None while it runs; its exit code after (-N: killed by signal N; 0 for an adopted one)."""
        if self.process is not None:
            return self.process.poll()
        return None if runs.alive(self.pid) else 0


class LocalBackend:
    """Runs on this machine, each in a worker process; at most ``slots`` at once (default: one per GPU, else 1)."""

    def __init__(self, root: Path | None = None, slots: int | None = None, poll_s: float = 0.5,
                 cancel_grace_s: float = 5.0, spare: bool = False):
        self.root = Path(root) if root is not None else runs.root()
        self.root.mkdir(parents=True, exist_ok=True)
        self.gpus = torch.cuda.device_count()  # counts devices without starting CUDA in the app
        self.slots = slots or max(1, self.gpus)
        self.poll_s, self.cancel_grace_s = poll_s, cancel_grace_s
        self._workers: dict[str, _Worker] = {}
        self.spare = spare
        self._spare: subprocess.Popen | None = None  # a worker waiting for a run (see the module's words)
        self._spare_at = -SPARE_EVERY_S  # time.monotonic() of the last spare's start
        self._lock = threading.RLock()  # the page's threads and the scheduler share _workers
        self._stop = threading.Event()
        run_lifecycle.recover(self.root)
        self._adopt()
        self._thread = threading.Thread(target=self._loop, name="explorer-scheduler", daemon=True)
        self._thread.start()

    # --- the Backend interface -------------------------------------------------------------

    def submit(self, config: dict, request_id: str | None = None, owner: str = "", limit: bool = False) -> str:
        run = runs.create(config, request_id, self.root, owner=owner, limit=limit)
        self.tick()
        return run.id

    def status(self, run_id: str) -> Run:
        return runs.get(run_id, self.root)

    def progress(self, run_id: str) -> list[dict]:
        return run_metrics.read(run_id, self.root)

    def cancel(self, run_id: str) -> None:
        """A queued run is cancelled at once; a running one gets the flag, and is killed if it ignores it."""
        with self._lock:
            run = runs.get(run_id, self.root)
            if run.final:
                return
            worker = self._workers.get(run_id)
            if worker is None and (run.pid is None or not runs.alive(run.pid)):  # nobody is running it
                run_lifecycle.set_status(run_id, "cancelled", "cancelled before it started", self.root,
                                         only_from=runs.ACTIVE)
                return
            run_flags.request_cancel(run_id, self.root)
            if worker is not None and worker.cancel_at is None:
                worker.cancel_at = time.monotonic()

    def queue(self) -> list[Run]:
        active = [run for run in runs.list_runs(self.root) if run.active]
        running = sorted((r for r in active if r.status == "running"), key=lambda r: r.queued)
        waiting = sorted((r for r in active if r.status == "queued"), key=lambda r: (r.queued, r.created))
        return running + waiting

    def result(self, run_id: str, wait_s: float = 0.0) -> Run:
        deadline = time.monotonic() + wait_s
        run = runs.get(run_id, self.root)
        while not run.final and time.monotonic() < deadline:
            time.sleep(min(0.1, self.poll_s))
            run = runs.get(run_id, self.root)
        return run

    def resume(self, run_id: str, limit: bool = False) -> str:
        """Queue an interrupted, failed or cancelled run again; its worker continues from the checkpoint. ``limit``:
        as :meth:`submit`'s."""
        with self._lock:
            run = runs.get(run_id, self.root)
            if run.status not in runs.RESUMABLE:
                raise ValueError(f"run {run_id} is {run.status}; only {', '.join(runs.RESUMABLE)} runs can resume")
            saved = run_files.has_checkpoint(run_id, self.root)
            step = run_files.load_checkpoint(run_id, self.root)[2]["step"] if saved else 0
            run_lifecycle.requeue(run_id, f"resuming from step {step}" if step else "starting again", self.root,
                                  limit=limit)
        self.tick()
        return run_id

    # --- scheduling ------------------------------------------------------------------------

    def tick(self) -> None:
        """One round: settle dead workers, enforce cancels, start queued runs in free slots."""
        with self._lock:
            for worker in list(self._workers.values()):
                code = worker.exit_code()
                if code is not None:
                    self._settle(worker, code)
                elif worker.cancel_at is not None and time.monotonic() - worker.cancel_at > self.cancel_grace_s:
                    self._kill(worker)
            free = self.slots - len(self._workers)
            if free > 0:
                for run in self.queue():
                    if free and run.status == "queued" and run.pid is None:
                        free -= self._claim(run.id)
            waiting = self._spare is not None and self._spare.poll() is None
            if self.spare and not self._workers and not waiting and not self._stop.is_set() and \
                    time.monotonic() - self._spare_at >= SPARE_EVERY_S:
                self._spare_at = time.monotonic()
                try:
                    with open(self.root / "spare.log", "ab") as log:  # why a spare died before it had a run
                        self._spare = self._start(["--spare"], log, subprocess.PIPE, {})
                except OSError:  # no process may start here: each run says so when it fails to start
                    self.spare = False

    def _claim(self, run_id: str) -> bool:
        try:
            return run_lifecycle.claim(run_id, lambda: self._spawn(run_id), self.root)
        except runs.RunNotFound:  # deleted while queued
            return False
        except run_lifecycle.LaunchFailed as exc:  # a process limit, no memory, a Python missing or not runnable, a
            # full disk: it would wait in the queue for good, retried (and a traceback logged) every tick
            run_lifecycle.set_status(run_id, "failed",
                                     f"the server could not start a training process for it ({exc})",
                                     self.root, only_from=("queued",))
            return False

    def _loop(self) -> None:
        while not self._stop.wait(self.poll_s):
            try:
                self.tick()
            except Exception:  # noqa: BLE001 - one unreadable run folder must not stop the scheduler
                traceback.print_exc()

    def _spawn(self, run_id: str) -> dict:
        """Start the worker in its own session (process group), output to the run's ``worker.log``;
        returns the status fields ``pid`` and ``gpu`` (the GPU it may use, None without GPUs)."""
        folder = runs.path(run_id, self.root)
        gpu = self._free_gpu()
        process = self._handed(folder, gpu)
        if process is None:
            with open(folder / "worker.log", "ab") as log:
                gpus = {} if gpu is None else {"CUDA_VISIBLE_DEVICES": str(gpu)}
                process = self._start([str(folder)], log, subprocess.DEVNULL, gpus)
        self._workers[run_id] = _Worker(run_id, process.pid, process, gpu)
        return {"pid": process.pid, "gpu": gpu}

    @staticmethod
    def _start(args: list[str], output: Any, stdin: Any, env: dict[str, str]) -> subprocess.Popen:
        """``python -m explorer.worker *args`` in a session of its own (its own process group)."""
        path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
        return subprocess.Popen([sys.executable, "-m", "explorer.worker", *args], cwd=REPO,
                                env={**os.environ, "PYTHONPATH": path, **env}, stdin=stdin, stdout=output,
                                stderr=subprocess.STDOUT, start_new_session=True)

    def _handed(self, folder: Path, gpu: int | None) -> subprocess.Popen | None:
        """The waiting spare, given the run in ``folder``; None when there is none alive to take it."""
        spare, self._spare = self._spare, None
        if spare is None or spare.poll() is not None:
            return None
        try:
            spare.stdin.write(f"{folder}\t{'' if gpu is None else gpu}\n".encode())
            spare.stdin.close()  # one run per worker: the next spare is a new process
        except OSError:  # it died just now
            _kill_group(_Worker("", spare.pid, spare, None))
            return None
        return spare

    def _free_gpu(self) -> int | None:
        used = {w.gpu for w in self._workers.values()}
        return next((g for g in range(self.gpus) if g not in used), None)

    def _settle(self, worker: _Worker, code: int) -> None:
        """A worker ended: if it left its run active, say why ("cancelled" if a cancel was asked)."""
        del self._workers[worker.run_id]
        try:
            run = runs.get(worker.run_id, self.root)
        except runs.RunNotFound:
            return
        if not run.active or run.pid != worker.pid:  # ended as it should, or queued again since
            return
        if run_flags.cancel_requested(worker.run_id, self.root):
            status, reason = "cancelled", "cancelled (the worker was stopped)"
        else:
            status, reason = "failed", _death(worker, code) + _tail(worker.run_id, self.root)
        run_lifecycle.set_status(worker.run_id, status, reason, self.root, only_from=runs.ACTIVE)

    def _kill(self, worker: _Worker) -> None:
        """SIGKILL the worker's whole process group and settle its run."""
        _kill_group(worker)
        self._settle(worker, -signal.SIGKILL)

    def _adopt(self) -> None:
        """Watch the live workers of runs an earlier app started (they outlive it: own sessions)."""
        for run in runs.list_runs(self.root):
            if run.active and run.pid is not None and runs.alive(run.pid):
                gpu = runs.status_fields(run.id, self.root).get("gpu")
                self._workers[run.id] = _Worker(run.id, run.pid, None, gpu)

    def close(self, kill_workers: bool = False) -> None:
        """Stop the scheduler; with ``kill_workers``, also kill every worker it watches (their runs
        become "interrupted", resumable). Workers left alone keep running and are adopted later."""
        self._stop.set()
        self._thread.join(timeout=5)
        with self._lock:
            spare, self._spare = self._spare, None
            if spare is not None:  # waiting for a run that will not come
                _kill_group(_Worker("", spare.pid, spare, None))
        if not kill_workers:
            return
        with self._lock:
            for worker in list(self._workers.values()):
                _kill_group(worker)
                del self._workers[worker.run_id]
                try:
                    run = runs.get(worker.run_id, self.root)
                except runs.RunNotFound:  # deleted while its worker was still watched: nothing to mark
                    continue
                if run.pid == worker.pid:
                    run_lifecycle.set_status(worker.run_id, "interrupted",
                                             "the app stopped its worker; resume to continue",
                                             self.root, only_from=runs.ACTIVE)


def _kill_group(worker: _Worker) -> None:
    """SIGKILL the worker and anything it started (its session's process group), and reap it."""
    try:
        os.killpg(worker.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    if worker.process is not None:
        worker.process.wait(timeout=10)


def _death(worker: _Worker, code: int) -> str:
    if worker.process is None:
        return f"the worker (pid {worker.pid}) stopped without a final status"
    if code < 0:
        return f"the worker was killed by {signal.Signals(-code).name}" + (
            " (often the system running out of memory: a smaller batch size needs less)" if code == -signal.SIGKILL
            else "")
    return f"the worker exited with code {code} without a final status"


def _tail(run_id: str, root: Path) -> str:
    tail = run_files.log_tail(run_id, 6, root)
    return f". Last lines of its log:\n{tail}" if tail.strip() else ""
