"""Run an optimisation of :mod:`explorer.visualize` on a page: live progress, a Stop button, results kept.

A finished optimisation is kept per server under its settings (it is seeded, so the same settings
give the same images): a shared link shows it at once. While one runs, the page shows a progress
bar and the image as it forms. *Stop* reruns the page, which interrupts the loop at its next
update; the frames made so far are kept in the session and shown as a stopped result.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass

import streamlit as st

from explorer import images, visualize

_PARTIAL = "opt_partial"  # session: {"key": ..., "frames": [...]} of the optimisation under way
_STOPPED = "opt_stopped"  # session: the same, once its Stop was pressed
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


def run(key: tuple, frames: Iterator[visualize.Frame], steps: int, what: str) -> Outcome:
    """The frames of the optimisation ``key``: kept, stopped, or computed now with progress and a Stop button.

    ``frames`` is the generator; it is only started when nothing is kept for ``key``.
    """
    with _LOCK:
        finished = _finished()
        if key in finished:
            finished.move_to_end(key)
            return Outcome(finished[key], steps, False)
    partial = st.session_state.get(_PARTIAL)
    if st.session_state.get("opt_stop") and partial and partial["key"] == key:
        st.session_state[_STOPPED] = partial  # the Stop click that interrupted the loop
    stopped = st.session_state.get(_STOPPED)
    if stopped and stopped["key"] == key:
        if not st.button("Run it to the end", key="opt_resume", icon=":material/play_arrow:"):
            return Outcome(stopped["frames"], steps, True)
        del st.session_state[_STOPPED]
    return _compute(key, frames, steps, what)


def _compute(key: tuple, frames: Iterator[visualize.Frame], steps: int, what: str) -> Outcome:
    stop = st.empty()
    stop.button("Stop", key="opt_stop", icon=":material/stop:", help="Stop here and keep what was made so far.")
    bar, live = st.progress(0.0, text=f"{what}: starting..."), st.empty()
    made: list[visualize.Frame] = []
    st.session_state[_PARTIAL] = {"key": key, "frames": made}  # the same list: a Stop keeps what is in it
    shown = 0.0
    for frame in frames:
        visualize.keep(made, frame)
        if frame.recorded or time.monotonic() - shown > 0.25:  # a slow network still shows progress
            shown = time.monotonic()
            bar.progress(frame.step / steps, text=f"{what}: step {frame.step} of {steps}, value {frame.value:.4g}")
        if frame.recorded:
            live.image(images.to_display(frame.image), caption=f"step {frame.step}", width=200)
    for slot in (stop, bar, live):
        slot.empty()
    st.session_state.pop(_PARTIAL, None)
    with _LOCK:
        finished = _finished()
        finished[key] = made
        while len(finished) > 1 and sum(map(_image_bytes, finished.values())) > _BUDGET:
            finished.popitem(last=False)  # the least recently shown
    return Outcome(made, steps, False)


def _image_bytes(frames: list[visualize.Frame]) -> int:
    return sum(f.image.numel() * f.image.element_size() for f in frames if f.image is not None)
