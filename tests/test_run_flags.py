"""A run's cancel and pause flags: a pause holds the worker until continued, cancelled or out of time."""

import threading
import time

from explorer import run_flags, run_lifecycle, runs

CONFIG = {"model": "lenet5", "data": "shapes", "epochs": 1}


def _held(run_id: str, root, limit_s: float = 30) -> float:
    """Seconds ``hold_while_paused`` held the worker."""
    began = time.monotonic()
    run_flags.hold_while_paused(run_id, root, limit_s, poll_s=0.02)
    return time.monotonic() - began


def test_a_paused_run_is_held_until_continued_cancelled_or_the_limit(tmp_path):
    run = runs.create(CONFIG, root=tmp_path)
    assert run_flags.paused_since(run.id, tmp_path) is None and _held(run.id, tmp_path) < 0.5  # not paused: no wait
    run_flags.request_pause(run.id, True, tmp_path)
    assert time.time() - run_flags.paused_since(run.id, tmp_path) < 5
    threading.Timer(0.5, run_flags.request_pause, (run.id, False, tmp_path)).start()
    assert 0.4 < _held(run.id, tmp_path) < 10  # until "Continue"
    run_flags.request_pause(run.id, True, tmp_path)
    threading.Timer(0.5, run_flags.request_cancel, (run.id, tmp_path)).start()
    assert 0.4 < _held(run.id, tmp_path) < 10  # a cancel ends the pause: the worker then stops
    run_lifecycle.requeue(run.id, "", tmp_path)
    assert run_flags.paused_since(run.id, tmp_path) is None and not run_flags.cancel_requested(run.id, tmp_path)
    run_flags.request_pause(run.id, True, tmp_path)
    assert _held(run.id, tmp_path, limit_s=0.3) < 10  # a student who went away: the queue behind is not held
    assert run_flags.paused_since(run.id, tmp_path) is None  # and the run says it goes on


def test_a_runs_pauses_add_up_to_the_limit_paused_again_and_again(tmp_path):
    """Paused, continued, paused again: the second pause ends when the two have held it the limit in all (else a
    student could hold the class's queue for good)."""
    run = runs.create(CONFIG, root=tmp_path)
    run_flags.request_pause(run.id, True, tmp_path)
    threading.Timer(0.6, run_flags.request_pause, (run.id, False, tmp_path)).start()
    first = _held(run.id, tmp_path, limit_s=1.5)
    assert 0.5 < first < 1.4 and abs(run_flags.paused_total(run.id, tmp_path) - first) < 0.2
    run_flags.request_pause(run.id, True, tmp_path)
    assert 1.5 - first - 0.3 < run_flags.pause_left(run.id, tmp_path, 1.5) <= 1.5 - first + 0.1
    second = _held(run.id, tmp_path, limit_s=1.5)
    assert abs(first + second - 1.5) < 0.4 and run_flags.paused_since(run.id, tmp_path) is None
    assert run_flags.pause_left(run.id, tmp_path, 1.5) == 0.0
