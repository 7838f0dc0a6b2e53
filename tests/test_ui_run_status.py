"""A run's status on the Train page (explorer.ui.run_status): how far, how fast, how long to go, why it ended."""

import pytest
from streamlit.testing.v1 import AppTest

from explorer.ui import run_status
from tests.apptest import TIMEOUT


def test_the_server_keeps_one_backend_so_one_scheduler_watches_the_queue():
    assert run_status.backend() is run_status.backend()  # each new one would start a scheduler thread of its own


def _status_script():
    from pathlib import Path

    import streamlit as st

    from explorer import runs
    from explorer.ui import run_status

    status = st.query_params["status"]
    reason = {"cancelled": "stopped by its owner", "failed": "MNIST's training images are not on this server"}
    run = runs.Run("r1", Path("."), {}, status, reason.get(status, ""), "r1", 0.0, 0.0, "cpu", 1)
    run_status.line(run, [] if status == "failed" else [{"phase": "train", "step": 25, "steps": 100, "epoch": 0.5,
                                                          "elapsed": 10.0, "images_per_s": 1234.4, "device": "cpu"}])


@pytest.mark.parametrize(("status", "bar", "said"), [
    ("running", "running: epoch 0.5, step 25 of 100 on cpu, 1,234 images/s, about 30 s left", None),
    ("cancelled", "cancelled: epoch 0.5, step 25 of 100 on cpu, 1,234 images/s",
     "This run was cancelled: stopped by its owner."),
])
def test_the_status_line_says_how_far_how_fast_and_how_long_to_go(status, bar, said):
    at = AppTest.from_function(_status_script, default_timeout=TIMEOUT)
    at.query_params["status"] = status
    at.run()
    assert not at.exception
    assert at.get("progress")[0].proto.text == bar
    assert said is None or at.warning[0].value == said


def test_a_reason_that_repeats_the_status_is_not_said_twice():
    from pathlib import Path

    from explorer import runs

    def ended(status: str, reason: str) -> str:
        return run_status._ended_words(runs.Run("r1", Path("."), {}, status, reason, "r1", 0.0, 0.0, "cpu", 1))

    assert ended("cancelled", "cancelled at step 49 of 117") == "This run was cancelled at step 49 of 117."
    assert ended("interrupted", "") == "This run was interrupted: no reason recorded."
    assert ended("diverged", "loss became nan at step 3") == "This run diverged: loss became nan at step 3."


def test_a_run_that_failed_before_its_first_step_says_why_not_that_it_is_preparing():
    at = AppTest.from_function(_status_script, default_timeout=TIMEOUT)
    at.query_params["status"] = "failed"
    at.run()
    assert not at.exception and not at.info and not at.get("progress")
    assert at.error[0].value == "This run failed: MNIST's training images are not on this server."


def test_a_queued_run_hears_how_long_the_run_training_now_has_left(tmp_path, monkeypatch):
    """A second student's click waited 109 s under "Queued: 1 run ahead of it", with no word of how long."""
    import os

    from explorer import run_flags, run_lifecycle, run_metrics, runs

    monkeypatch.setenv("EXPLORER_RUNS", str(tmp_path))
    training = runs.create({"data": "shapes"}, root=tmp_path)
    assert run_lifecycle.mark_running(training.id, os.getpid(), "cpu", tmp_path)
    waiting = runs.create({"data": "shapes", "seed": 1}, root=tmp_path)
    line = [runs.get(training.id, tmp_path), runs.get(waiting.id, tmp_path)]
    assert run_status._soonest_left(line) is None  # no step logged yet: no guess
    run_metrics.append(training.id, [{"phase": "train", "step": 25, "steps": 100, "epoch": 0.5, "elapsed": 10.0,
                                       "images_per_s": 100.0}], tmp_path)
    assert run_status._soonest_left(line) == pytest.approx(30.0)  # 75 steps at 0.4 s
    run_flags.request_pause(training.id, True, tmp_path)  # paused: the wait is at most the rest of its pause, then 30 s
    assert run_status._soonest_left(line) == pytest.approx(run_flags.PAUSE_LIMIT_S + 30.0, abs=2)


def test_the_backend_follows_the_run_store_it_serves(tmp_path, monkeypatch):
    """Made while a test pointed $EXPLORER_RUNS at its own folder, it queued the next test's runs there: a Start
    that started nothing."""
    from explorer import runs

    default = runs.root()
    monkeypatch.setenv("EXPLORER_RUNS", str(tmp_path))
    assert run_status.backend().root == tmp_path
    monkeypatch.undo()
    assert run_status.backend().root == default and run_status.backend() is run_status.backend()


def _failed_run_script(run_id: str):
    from explorer import runs
    from explorer.ui import run_status

    run_status.line(runs.get(run_id), [])


def test_a_failed_runs_worker_log_is_shown_to_its_browser_and_the_teacher_only(tmp_path, monkeypatch):
    """The worker's last lines (server paths, a traceback) had been shown to every classmate watching the run."""
    from explorer import run_lifecycle, runs

    monkeypatch.setenv("EXPLORER_RUNS", str(tmp_path))
    run = runs.create({"data": "shapes"}, root=tmp_path, owner="browser-aaaaaaaaaaaa")
    run_lifecycle.set_status(run.id, "failed", "the worker stopped", tmp_path)
    (run.path / "worker.log").write_text("Traceback: /srv/school/app/explorer/worker.py line 1\n")
    for viewer, shown in [("browser-bbbbbbbbbbbb", False), ("browser-aaaaaaaaaaaa", True)]:
        at = AppTest.from_function(_failed_run_script, args=(run.id,), default_timeout=TIMEOUT)
        at.session_state["visitor_id"] = viewer
        at.run()
        assert not at.exception and at.error[0].value == "This run failed: the worker stopped."
        assert bool(at.expander) == shown and ("/srv/school" in str(at.code[0].value) if shown else not at.code)
