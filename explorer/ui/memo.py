"""Results kept per server and computed, the first time, under a progress bar.

``st.cache_data`` can only show a spinner: a cached function may not write to a bar made outside
it (its replay could not find the bar). What takes several seconds and can say how far it got
goes through :func:`computed` instead, with a ``report(done, total)`` callback.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import TypeVar

import streamlit as st

T = TypeVar("T")
Report = Callable[[int, int], None]  # (done, total)
_LOCK = threading.Lock()  # the stores are shared by every session's script thread


@st.cache_resource
def _stores() -> dict[str, OrderedDict]:
    """This server's stores by name, each its results by key (the most recently used last)."""
    return {}


def counted(what: str, done: int, total: int, unit: str) -> str:
    """A progress text, "what: done of total unit"; before the work has said its total, just "what..."."""
    return f"{what}: {done:,} of {total:,} {unit}" if total else f"{what}..."


def known(store: str, key: Hashable) -> bool:
    """Whether :func:`computed` has ``key``'s result at hand, or some session is computing it now."""
    with _LOCK:
        return key in _stores().get(store, {}) or (store, key) in _running()


class LazyBar:
    """A progress bar drawn at its first update, so that a result already at hand shows none."""

    def __init__(self) -> None:
        self._bar = None

    def show(self, fraction: float, text: str) -> None:
        if self._bar is None:
            self._bar = st.progress(fraction, text=text)
        else:
            self._bar.progress(fraction, text=text)

    def clear(self) -> None:
        if self._bar is not None:
            self._bar.empty()


@dataclass
class _Running:
    """A result being computed by one session, which the others asking for it wait for."""

    finished: threading.Event = field(default_factory=threading.Event)
    progress: tuple[int, int] = (0, 0)  # the computing session's last report


@st.cache_resource
def _running() -> dict[tuple[str, Hashable], _Running]:
    """This server's computations in progress, by (store, key)."""
    return {}


def computed(store: str, key: Hashable, compute: Callable[[Report], T], describe: Callable[[int, int], str],
             keep: int = 8) -> T:
    """``compute(report)`` once per server for ``key``, then remembered among the ``keep`` most recent of ``store``.

    While it runs, a progress bar says ``describe(done, total)``; it is removed when done. Sessions asking
    for the same result meanwhile (a class opening one link) wait for it under a bar that follows the
    computing one; if that session stops before the end (its visitor moved on), one of them computes it.
    """
    bar = LazyBar()

    def show(done: int, total: int) -> None:
        bar.show(min(done / max(total, 1), 1.0), describe(done, total))

    try:
        while True:
            with _LOCK:
                results = _stores().setdefault(store, OrderedDict())
                if key in results:
                    results.move_to_end(key)
                    return results[key]
                running = _running().get((store, key))
                if running is None:  # none computing it: this session does
                    running = _running()[store, key] = _Running()
                    break
            show(*running.progress)
            while not running.finished.wait(0.25):
                show(*running.progress)

        def report(done: int, total: int) -> None:
            running.progress = (done, total)
            show(done, total)

        show(0, 0)
        try:
            value = compute(report)
            with _LOCK:
                results[key] = value
                while len(results) > keep:
                    results.popitem(last=False)
            return value
        finally:
            with _LOCK:
                del _running()[store, key]
            running.finished.set()
    finally:
        bar.clear()
