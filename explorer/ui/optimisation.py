"""Run an optimisation of :mod:`explorer.visualize` on a page: live progress, a Stop button, results kept.

A finished optimisation is kept per server under its settings (it is seeded, so the same settings
give the same images): a shared link shows it at once. While one runs, the page shows a progress
bar and the image as it forms. *Stop* reruns the page, which interrupts the loop at its next
update; the frames made so far and the suspended generator stay in the session, so the page shows
a stopped result and "Run it to the end" continues from that step. Any other rerun with the same
settings continues it at once; other settings start a new one in its place.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import streamlit as st

from explorer import images, visualize

_PARTIAL = "opt_partial"  # session: {"key", "frames" so far, "source" generator, "stopped"} of the one under way
_BUDGET = 256 * 2**20  # bytes of images that finished optimisations may keep per server
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
        partial = {"key": key, "frames": [], "source": start(), "stopped": False}
        st.session_state[_PARTIAL] = partial
    if st.session_state.get("opt_stop"):
        partial["stopped"] = True  # the Stop click whose rerun interrupted the loop
    if partial["stopped"]:
        if not st.button("Run it to the end", key="opt_resume", icon=":material/play_arrow:"):
            return Outcome(partial["frames"], steps, True)
        partial["stopped"] = False
    return _compute(partial, steps, what)


def _compute(partial: dict, steps: int, what: str) -> Outcome:
    """Run the generator on, appending to the partial frames; a new optimisation replaces a failed one."""
    stop = st.empty()
    stop.button("Stop", key="opt_stop", icon=":material/stop:", help="Stop here and keep what was made so far.")
    bar, live = st.progress(0.0, text=f"{what}: starting..."), st.empty()
    made: list[visualize.Frame] = partial["frames"]  # the same list: an interruption keeps what is in it
    shown = 0.0
    try:
        for frame in partial["source"]:
            visualize.keep(made, frame)
            if frame.recorded or time.monotonic() - shown > 0.25:  # a slow network still shows progress
                shown = time.monotonic()
                bar.progress(frame.step / steps, text=f"{what}: step {frame.step} of {steps}, value {frame.value:.4g}")
            if frame.recorded:
                live.image(images.to_display(frame.image), caption=f"step {frame.step}", width=200)
    except Exception:  # a bad setting: the next try starts afresh (Streamlit's reruns are BaseExceptions: kept)
        st.session_state.pop(_PARTIAL, None)
        raise
    for slot in (stop, bar, live):
        slot.empty()
    with _LOCK:
        finished = _finished()
        finished[partial["key"]] = made
        while len(finished) > 1 and sum(map(_image_bytes, finished.values())) > _BUDGET:
            finished.popitem(last=False)  # the least recently shown
    st.session_state.pop(_PARTIAL, None)
    return Outcome(made, steps, False)


def _image_bytes(frames: list[visualize.Frame]) -> int:
    return sum(f.image.numel() * f.image.element_size() for f in frames if f.image is not None)
