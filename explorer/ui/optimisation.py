"""Run an optimisation of :mod:`explorer.visualize` on a page: live progress, a Stop button, results kept.

A finished optimisation is kept per server under its settings (it is seeded, so the same settings
give the same images): a shared link shows it at once. While one runs, the page shows a progress
bar and the image as it forms. *Stop* reruns the page, which interrupts the loop at its next
update; the frames made so far and the suspended generator stay in the session, so the page shows
a stopped result and "Run it to the end" continues from that step. Any other rerun with the same
settings continues it at once; other settings start a new one in its place. A session asking for
settings that another session is running (a class opening one link) waits for that one under a bar
that follows it, and runs them itself only if that one stops.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import streamlit as st

from explorer import images, visualize
from explorer.ui import memo

_PARTIAL = "opt_partial"  # session, the one under way: {"key", "frames" so far, "source" generator, "stopped", "lock"}
_BUDGET = 256 * 2**20  # bytes that finished optimisations may keep per server
# a frame's own cost beside its image: the object, its floats, a tensor's header (about 0.6 KB measured; LeNet-5's
# 32 x 32 images counted alone, the store had held 2.3 times its budget)
_FRAME_BYTES = 1024
_LOCK = threading.Lock()  # the store is shared by every session's script thread


@dataclass(frozen=True)
class Outcome:
    """An optimisation's frames and whether it ran to its end."""

    frames: list[visualize.Frame]
    steps: int  # the steps asked for
    stopped: bool

    @property
    def last_step(self) -> int:
        return self.frames[-1].step if self.frames else 0


@st.cache_resource
def _finished() -> OrderedDict:
    """Finished optimisations of this server by their settings (the newest last)."""
    return OrderedDict()


@st.cache_resource
def _underway() -> dict[tuple, dict]:
    """Optimisations running now in some session, by their settings: ``{"step": the step it reached}``."""
    return {}


def run(key: tuple, start: Callable[[], Iterator[visualize.Frame]], steps: int, what: str) -> Outcome:
    """The frames of the optimisation ``key``: kept, stopped, continued or computed now, with progress and Stop.

    ``start()`` makes the frames' generator; it is called only when this session has no optimisation
    of ``key`` under way. One under way (interrupted by Stop or by any other rerun) continues from
    the step it reached: its generator is kept in the session.
    """
    with _LOCK:
        finished = _finished()
        if key in finished:
            finished.move_to_end(key)
            return Outcome(finished[key], steps, False)
    partial = st.session_state.get(_PARTIAL)
    if partial is None or partial["key"] != key:  # a new optimisation replaces the one under way
        made = _made_elsewhere(key, steps, what)
        if made is not None:
            return Outcome(made, steps, False)
        partial = {"key": key, "frames": [], "source": start(), "stopped": False}
        st.session_state[_PARTIAL] = partial
    if st.session_state.get("opt_stop"):
        partial["stopped"] = True  # the Stop click whose rerun interrupted the loop
    if partial["stopped"]:
        resume = st.empty()
        if not resume.button("Run it to the end", key="opt_resume", icon=":material/play_arrow:"):
            return Outcome(partial["frames"], steps, True)
        resume.empty()  # clicked: it stayed on the page, above the finished image
        partial["stopped"] = False
    return _compute(partial, steps, what)


def _made_elsewhere(key: tuple, steps: int, what: str) -> list[visualize.Frame] | None:
    """The frames of ``key`` once another session running it (a class opening one link) finishes, waited for
    under a bar that follows it; None when none runs it, or when it stopped: this session runs it then."""
    bar = memo.LazyBar()
    try:
        while True:
            with _LOCK:
                finished = _finished()
                if key in finished:
                    finished.move_to_end(key)
                    return finished[key]
                running = _underway().get(key)
            if running is None:
                return None
            bar.show(running["step"] / steps, f"{what}: another visitor is making this same view, step "
                     f"{running['step']} of {steps}...")
            time.sleep(0.25)
    finally:
        bar.clear()


def _compute(partial: dict, steps: int, what: str) -> Outcome:
    """Run the generator on, appending to the partial frames; a new optimisation replaces a failed one."""
    mine = {"step": partial["frames"][-1].step if partial["frames"] else 0}
    with _LOCK:
        _underway().setdefault(partial["key"], mine)  # others asking for it wait (unless one already runs it)
    try:
        return _run_on(partial, steps, what, mine)
    finally:
        with _LOCK:
            if _underway().get(partial["key"]) is mine:
                del _underway()[partial["key"]]


def _run_on(partial: dict, steps: int, what: str, mine: dict) -> Outcome:
    """:func:`_compute`'s loop; ``mine["step"]`` follows it for the sessions waiting on it."""
    stop = st.empty()
    stop.button("Stop", key="opt_stop", icon=":material/stop:", help="Stop here and keep what was made so far.")
    bar, live = st.progress(0.0, text=f"{what}: starting..."), st.empty()
    made: list[visualize.Frame] = partial["frames"]  # the same list: an interruption keeps what is in it
    shown = 0.0
    try:
        while (frame := advance(partial)) is not None:
            mine["step"] = frame.step
            if frame.recorded or time.monotonic() - shown > 0.25:  # a slow network still shows progress
                shown = time.monotonic()
                bar.progress(frame.step / steps, text=f"{what}: step {frame.step} of {steps}, value {frame.value:.4g}")
            if frame.recorded:
                live.image(images.to_display(visualize.side_by_side(frame.image)), caption=f"step {frame.step}",
                           width=min(200 * (len(frame.values) or 1), 400),
                           alt=f"{what}: the image at step {frame.step}")  # not its file's name, for a screen reader
    except Exception:  # a bad setting: the next try starts afresh (Streamlit's reruns are BaseExceptions: kept)
        st.session_state.pop(_PARTIAL, None)
        raise
    for slot in (stop, bar, live):
        slot.empty()
    with _LOCK:
        finished = _finished()
        finished[partial["key"]] = made
        while len(finished) > 1 and sum(map(_frame_bytes, finished.values())) > _BUDGET:
            finished.popitem(last=False)  # the least recently shown
    st.session_state.pop(_PARTIAL, None)
    return Outcome(made, steps, False)


def advance(partial: dict) -> visualize.Frame | None:
    """The optimisation's next frame, kept in its frames; None at its end.

    A click reruns the page at once in a new thread while the interrupted run is still inside a step: both
    asked the one generator for its next frame, and Python refused ("generator already executing"), so the
    new run waits here for the old one's step.
    """
    with partial.setdefault("lock", threading.Lock()):  # one lock even for two threads (setdefault is atomic)
        frame = next(partial["source"], None)
        if frame is not None:
            visualize.keep(partial["frames"], frame)
        return frame


def _frame_bytes(frames: list[visualize.Frame]) -> int:
    """What an optimisation's ``frames`` hold in memory: their images, and each frame's own :data:`_FRAME_BYTES`."""
    return sum(_FRAME_BYTES + (f.image.numel() * f.image.element_size() if f.image is not None else 0)
               for f in frames)
