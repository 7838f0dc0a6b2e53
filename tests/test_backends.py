"""LocalBackend end to end: real worker processes on the offline shapes set, one slot.

Every worker is killed by the fixtures' ``close(kill_workers=True)``; none outlives the tests.
"""

import os
import shutil
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from explorer import backends, run_files, run_lifecycle, runs
from explorer.backends import Backend, LocalBackend

SMALL = {"model": "lenet5", "data": "shapes", "train_images": 2000, "test_images": 500, "epochs": 2,
         "batch_size": 64, "lr": 3e-3, "seed": 0}
LONG = {**SMALL, "train_images": 640, "test_images": 128, "epochs": 10_000}  # until cancelled; checkpoints often
DIVERGING = {**SMALL, "train_images": 256, "test_images": 64, "lr": 1e6}
WAIT_S = 120  # generous: a worker's start (importing torch) is slow on a busy 2-core machine


def _until(condition: Callable[[], bool], timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _training(backend: LocalBackend, run_id: str) -> bool:
    """The run's worker is past its start and has written a training record."""
    return backend.status(run_id).status == "running" and any(
        r["phase"] == "train" for r in backend.progress(run_id))


@pytest.fixture(scope="module")
def backend(tmp_path_factory):
    local = LocalBackend(tmp_path_factory.mktemp("runs"), slots=1, poll_s=0.1, cancel_grace_s=3.0)
    try:
        yield local
    finally:
        local.close(kill_workers=True)
        for run in runs.list_runs(local.root):  # belt and braces: no worker outlives the tests
            if run.pid is not None and runs.alive(run.pid):
                os.killpg(run.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def two_runs(backend):
    """A learning run and a diverging one, submitted together to one slot (plus a double submit)."""
    learning = backend.submit(SMALL, request_id="click-1", owner="browser-a")
    again = backend.submit(SMALL, request_id="click-1")
    diverging = backend.submit(DIVERGING)
    backend.result(learning, WAIT_S)
    backend.result(diverging, WAIT_S)
    return learning, again, diverging


def test_the_local_backend_is_a_backend(tmp_path):
    local = backends.create("local", tmp_path, poll_s=60)
    try:
        assert isinstance(local, Backend) and local.slots == max(1, torch.cuda.device_count())
    finally:
        local.close()
    with pytest.raises(ValueError):
        backends.create("ray")


def test_a_small_run_learns_end_to_end(backend, two_runs):
    learning = two_runs[0]
    run = backend.status(learning)
    assert run.status == "finished" and run.device == "cpu", run.reason
    final = backend.progress(learning)[-1]
    assert final["phase"] == "done" and final["test_accuracy"] > 0.7  # measured 0.81-0.90 over seeds; chance 0.125
    assert run_files.snapshot_steps(learning, backend.root)[-1] == final["step"]


def test_a_double_submit_makes_one_run(backend, two_runs):
    learning, again, _ = two_runs
    assert again == learning
    assert [r.request_id for r in runs.list_runs(backend.root)].count("click-1") == 1
    assert backend.status(learning).owner == "browser-a" and backend.status(two_runs[2]).owner == ""


def test_one_slot_runs_the_jobs_one_after_the_other(backend, two_runs):
    learning, _, diverging = two_runs
    first, second = runs.status_fields(learning, backend.root), runs.status_fields(diverging, backend.root)
    assert second["started"] >= first["updated"]  # the second started after the first had finished


def test_a_huge_learning_rate_diverges(backend, two_runs):
    run = backend.status(two_runs[2])
    assert run.status == "diverged" and "learning rate" in run.reason
    assert backend.progress(run.id)[-1]["phase"] == "diverged"


def test_cancel_stops_a_running_run_within_seconds_and_a_queued_one_at_once(backend):
    running, waiting = backend.submit(LONG), backend.submit(LONG)
    _until(lambda: _training(backend, running))
    assert [r.id for r in backend.queue()] == [running, waiting]
    backend.cancel(waiting)
    assert backend.status(waiting).status == "cancelled" and backend.status(waiting).pid is None
    start = time.monotonic()
    backend.cancel(running)
    run = backend.result(running, 10)
    assert run.status == "cancelled" and time.monotonic() - start < 5, run.reason  # measured well under 1 s
    _until(lambda: not runs.alive(run.pid), 5)
    assert backend.queue() == []


def test_a_killed_worker_fails_with_a_reason_then_resumes_from_its_checkpoint(backend):
    run_id = backend.submit(LONG)
    _until(lambda: _training(backend, run_id) and run_files.has_checkpoint(run_id, backend.root))
    os.kill(backend.status(run_id).pid, signal.SIGKILL)
    run = backend.result(run_id, 10)
    assert run.status == "failed" and "SIGKILL" in run.reason
    step = run_files.load_checkpoint(run_id, backend.root)[2]["step"]
    assert backend.resume(run_id) == run_id  # the backend keeps serving: a new worker takes it
    _until(lambda: any(r["phase"] == "train" and r["step"] > step for r in backend.progress(run_id)))
    records = backend.progress(run_id)
    resume = next(i for i, r in enumerate(records) if r["phase"] == "resume")
    assert records[resume]["step"] == step and all(r["step"] > step for r in records[resume + 1:])
    backend.cancel(run_id)
    assert backend.result(run_id, 10).status == "cancelled"
    # as if it had ended well: a finished run does not resume
    run_lifecycle.set_status(run_id, "finished", "", backend.root)
    with pytest.raises(ValueError, match="is finished; only interrupted, failed, cancelled runs can resume"):
        backend.resume(run_id)


def test_a_new_backend_marks_runs_of_dead_workers_interrupted(tmp_path):
    run = runs.create(SMALL, root=tmp_path)
    run_lifecycle.set_status(run.id, "running", "", tmp_path, pid=2**22 + 1)  # above Linux's pid_max: never alive
    local = LocalBackend(tmp_path, poll_s=60)
    try:
        assert local.status(run.id).status == "interrupted"
    finally:
        local.close()


def test_a_run_handed_to_the_spare_worker_starts_at_once(tmp_path):
    """A fresh worker spends 10 to 20 s importing and drawing on a busy machine before its first step."""
    local = LocalBackend(tmp_path, poll_s=0.1, spare=True)
    try:
        _until(lambda: local._spare is not None)
        spare = local._spare.pid
        _until(lambda: _warmed(spare))
        submitted = time.monotonic()
        run_id = local.submit(SMALL)
        _until(lambda: _training(local, run_id))
        assert time.monotonic() - submitted < 10  # about a second idle; generous for a busy machine
        assert local.status(run_id).pid == spare
        run = local.result(run_id, WAIT_S)
        assert run.status == "finished", run.reason
        assert "finished" in (runs.path(run_id, tmp_path) / "worker.log").read_text()  # its output went there
        _until(lambda: local._spare is not None and local._spare.pid != spare)  # the next one, once idle
    finally:
        local.close(kill_workers=True)
    assert not runs.alive(spare) and local._spare is None  # closing ends the one waiting, too


def test_a_dead_spare_is_passed_over(tmp_path):
    local = LocalBackend(tmp_path, poll_s=60, spare=True)  # no scheduler round of its own: each step by hand
    try:
        local.tick()
        local._spare.kill()
        local._spare.wait()
        local.tick()
        assert local._spare.poll() is not None  # not started again at once: a spare that dies is not a loop
        run_id = local.submit(DIVERGING)  # its round finds the spare dead: a fresh worker takes the run
        assert local.result(run_id, WAIT_S).status == "diverged"
    finally:
        local.close(kill_workers=True)


@pytest.mark.parametrize("error", [PermissionError(13, "Permission denied", "/srv/venv/bin/python"),
                                   FileNotFoundError(2, "No such file or directory", "/srv/venv/bin/python")])
def test_a_worker_that_cannot_start_fails_its_run_once_and_the_next_round_goes_on(tmp_path, monkeypatch, error):
    """A server that may not start processes (a process limit, no memory, a Python it may not run, or one gone) had
    left the run queued for good, a traceback logged every round, and told the page that a file could not be read;
    a missing Python's FileNotFoundError had passed for a run deleted meanwhile, and nothing was said at all."""
    def refused(*args, **kwargs):
        raise error

    monkeypatch.setattr(LocalBackend, "_start", staticmethod(refused))
    local = LocalBackend(tmp_path, poll_s=60, spare=True)  # each round by hand
    try:
        run_id = local.submit(DIVERGING)  # its round claims it, and cannot start its worker
        run = local.status(run_id)
        assert (run.status, run.reason) == ("failed", "the server could not start a training process for it "
                                                      f"({error.strerror})")
        assert not local.spare and local._spare is None  # no spare either: not tried again each round
        local.tick()
        assert local.status(run_id).status == "failed"
    finally:
        local.close(kill_workers=True)


def test_a_waiting_spare_ends_with_its_input(tmp_path):
    """The app that started it went away (its pipe closed): the spare does not wait for ever."""
    local = LocalBackend(tmp_path, poll_s=60, spare=True)
    local.tick()
    spare = local._spare
    local._spare = None
    spare.stdin.close()
    assert spare.wait(WAIT_S) == 0
    local.close()


def _warmed(pid: int) -> bool:
    """The spare sits waiting on its input (its main thread asleep in a read), past its warm-up; where the
    kernel does not say what a process waits on, after the longest warm-up seen on a busy machine."""
    try:
        waits_on = Path(f"/proc/{pid}/wchan").read_text()
    except OSError:
        waits_on = "0"
    if waits_on in ("", "0"):
        time.sleep(40)
        return True
    return "pipe" in waits_on


@pytest.mark.gpu
def test_a_run_through_the_backend_uses_the_gpu(tmp_path):
    local = LocalBackend(tmp_path, poll_s=0.1)
    try:
        run = local.result(local.submit(SMALL), WAIT_S)
        assert run.status == "finished" and run.device.startswith("cuda:"), run.reason
        assert local.progress(run.id)[-1]["test_accuracy"] > 0.7
    finally:
        local.close(kill_workers=True)


def test_closing_passes_over_a_watched_run_that_was_deleted(tmp_path):
    """The Train page's backend, closed when the run store moved, met a run deleted meanwhile: RunNotFound."""
    local = LocalBackend(tmp_path, poll_s=60)  # no scheduler round of its own: each step by hand
    try:
        run_id = local.submit(SMALL)
        local.tick()  # its worker starts and is watched
        assert run_id in local._workers
        shutil.rmtree(runs.path(run_id, tmp_path))  # gone under it, as a delete of a run still being watched
    finally:
        local.close(kill_workers=True)
    assert not local._workers
