"""Where a training run stands on the Train page: its status line (queued, starting, its progress, time left,
paused, how it ended) and the buttons that change it (cancel, pause, continue); the server's one backend."""

from __future__ import annotations

import os

import streamlit as st

from explorer import backends, labels, run_files, run_flags, run_metrics, runs, training
from explorer.ui import layout, visitor


def store_problem() -> str | None:
    """Why this server cannot train, in a line for its visitors (its run store is not writable); None when it can."""
    if runs.writable():
        return None
    return ("Training is off on this server: it may not write its run store, where runs keep their weights and "
            f"curves (a read-only folder, or a full disk). Whoever runs it can point {runs.ROOT_ENV} at a writable "
            "folder, or make room.")


def backend() -> backends.Backend:
    """One backend per server process (it schedules the shared queue), with a worker started ahead so that a run
    shows its first step at once (``EXPLORER_SPARE_WORKER=0`` saves that idle process's memory).

    It belongs to the run store it was made for: where ``$EXPLORER_RUNS`` has moved since (tests point it at a
    folder of their own), that one is closed and a backend made for the store in use, else a Start would queue its
    run in the old folder and show nothing."""
    made = _backend()
    if made.root != runs.root():
        made.close(kill_workers=True)
        _backend.clear()
        made = _backend()
    return made


@st.cache_resource
def _backend() -> backends.Backend:
    return backends.create("local", spare=os.environ.get("EXPLORER_SPARE_WORKER", "1") != "0")


def _time_left(seconds: float, trained: bool) -> str:
    if trained:  # the last step is done: the worker tests the model and saves it (seconds on a big test set)
        return ", training done: testing on the test set and saving"
    return f", about {seconds:.0f} s left" if seconds >= 1 else ", under a second left"


def _soonest_left(line: list[runs.Run]) -> float | None:
    """The time left of the training run that ends first (when a place frees), from its own pace, at the latest
    if it is paused (the rest of its pause counted); None if none has logged a step yet."""
    lefts = []
    for other in line:
        records = run_metrics.read(other.id) if other.status == "running" else []
        if (last := next((r for r in reversed(records) if "steps" in r), None)) is not None:
            # a pause holds the queue until it is continued or its run's pausing time is spent
            held = run_flags.pause_left(other.id) if run_flags.paused_since(other.id) is not None else 0.0
            lefts.append(held + training.seconds_left(last["step"], last["steps"], last["elapsed"],
                                                      training.recent_start(records)))
    return min(lefts, default=None)


def line(run: runs.Run, records: list[dict]) -> None:
    """Where the run stands: status, progress bar, throughput and time left."""
    last = next((r for r in reversed(records) if "steps" in r), None)
    if run.status == "queued" and run.pid is not None:  # claimed: its worker is importing PyTorch
        st.info("Starting: a worker process of its own is loading PyTorch (some seconds on a small server).")
        return
    if run.status == "queued":
        queue = backend().queue()
        queued = [r.id for r in queue]
        ahead = queued.index(run.id) if run.id in queued else 0
        left = _soonest_left(queue)  # a second student's click had waited 109 s with no word of how long
        paused = any(shown(r) == "paused" for r in queue)
        st.info(("Queued: next in line on this server" if ahead == 0 else
                 f"Queued: {ahead} {labels.plural(ahead, 'run')} ahead of it on this server")
                + ("." if left is None else f"; the run training now is paused, and ends in {left / 60:.0f} min at the "
                   f"latest (a pause goes on by itself after {run_flags.PAUSE_LIMIT_S / 60:.0f} minutes)." if paused else
                   f"; the run training now has about {left:.0f} s left."))
        return
    if last is None and run.active:
        st.info(f"{run.status.capitalize()} on {run.device or 'a device not chosen yet'}: preparing the data and the "
                "network; the first figures follow.")
        return
    if last is not None:  # none when the run ended before its first step (its data set missing...)
        fraction = last["step"] / max(last["steps"], 1)
        left = training.seconds_left(last["step"], last["steps"], last["elapsed"], training.recent_start(records))
        paused = paused_words(run)
        st.progress(min(fraction, 1.0), text=f"{paused or run.status}: epoch {last['epoch']:.1f}, step "
                    f"{last['step']:,} of {last['steps']:,} on {last.get('device', run.device)}, "
                    f"{last['images_per_s']:,.0f} images/s"
                    + (_time_left(left, last["step"] >= last["steps"]) if run.active and not paused else ""))
    if run.status == "finished" and last is not None:
        total = training.training_seconds(records)  # over every stretch, where the run resumed
        resumed = f" ({last['elapsed']:.0f} s since it resumed)" if total > last["elapsed"] + 0.5 else ""
        st.success(f"Finished after {total:.0f} s of training{resumed}" + (f": {run.reason}." if run.reason else "."))
    if run.status in ("failed", "diverged", "interrupted", "cancelled"):
        (st.error if run.status in ("failed", "diverged") else st.warning)(
            _ended_words(run))
    if run.status == "failed" and visitor.may_change(run.owner):  # not every classmate's to read
        layout.server_details(run_files.log_tail(run.id))  # what the worker printed: paths, a traceback


def _ended_words(run: runs.Run) -> str:
    """"This run failed: why." / "This run was cancelled at step 49 of 117." (a reason that repeats the status word
    had read "This run cancelled: cancelled at step 49")."""
    verb = {"cancelled": "was cancelled", "interrupted": "was interrupted"}.get(run.status, run.status)
    reason = run.reason or "no reason recorded"
    if reason.startswith(run.status + " "):
        return f"This run {verb} {reason.removeprefix(run.status + ' ')}."
    return f"This run {verb}: {reason}."


def paused_words(run: runs.Run) -> str:
    """"paused (goes on by itself in 9 min)" for a running run that is paused, else ""."""
    since = run_flags.paused_since(run.id) if run.status == "running" else None
    if since is None:
        return ""
    left = run_flags.pause_left(run.id)
    return f"paused (goes on by itself in {left / 60:.0f} min)" if left >= 60 else "paused (goes on in under a minute)"


def shown(run: runs.Run) -> str:
    """The run's status as the lists show it: "paused" for a running run on hold."""
    return "paused" if paused_words(run) else run.status


def controls(run: runs.Run) -> None:
    """Pause or continue a running run, and cancel it after a second click (a slip in front of a class ended the
    demo); its owner's browser only."""
    row = st.container(horizontal=True, gap="small")
    if run.status == "running":
        paused, spent = run_flags.paused_since(run.id) is not None, run_flags.pause_left(run.id) < 1
        row.button("Continue" if paused else "Pause", key=f"tr_pause_{run.id}", on_click=run_flags.request_pause,
                   args=(run.id, not paused), icon=":material/play_arrow:" if paused else ":material/pause:",
                   disabled=spent and not paused,
                   help="Go on training from where it was held." if paused else
                   f"This run's pauses have held it {run_flags.PAUSE_LIMIT_S / 60:.0f} minutes, as long as a run may: "
                   "runs queued behind it wait." if spent else
                   "Hold the training where it is, to look at the filters or zoom into the curves (they redraw "
                   "each second while it trains). A paused run keeps its place: runs queued behind it wait, "
                   f"so its pauses end by themselves after {run_flags.PAUSE_LIMIT_S / 60:.0f} minutes in all.")
    asked = f"tr_cancel_asked_{run.id}"
    if not st.session_state.get(asked):
        row.button("Cancel this run", key=f"tr_cancel_{run.id}", on_click=st.session_state.__setitem__,
                   args=(asked, True))
        return
    row.button("Yes, cancel it", key=f"tr_cancel_yes_{run.id}", type="primary", on_click=_cancel, args=(run.id,))
    row.button("No, keep it", key=f"tr_cancel_no_{run.id}", on_click=st.session_state.__delitem__, args=(asked,))


def _cancel(run_id: str) -> None:
    del st.session_state[f"tr_cancel_asked_{run_id}"]
    backend().cancel(run_id)
