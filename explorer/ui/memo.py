"""Results kept per server and computed, the first time, under a progress bar.

``st.cache_data`` can only show a spinner: a cached function may not write to a bar made outside
it (its replay could not find the bar). What takes several seconds and can say how far it got
goes through :func:`computed` instead, with a ``report(done, total)`` callback.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
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


def computed(store: str, key: Hashable, compute: Callable[[Report], T], describe: Callable[[int, int], str],
             keep: int = 8) -> T:
    """``compute(report)`` once per server for ``key``, then remembered among the ``keep`` most recent of ``store``.

    While it runs, a progress bar says ``describe(done, total)``; it is removed when done.
    """
    with _LOCK:
        results = _stores().setdefault(store, OrderedDict())
        if key in results:
            results.move_to_end(key)
            return results[key]
    bar = st.progress(0.0, text=describe(0, 0))

    def report(done: int, total: int) -> None:
        bar.progress(min(done / max(total, 1), 1.0), text=describe(done, total))

    try:
        value = compute(report)
    finally:
        bar.empty()
    with _LOCK:
        results[key] = value
        while len(results) > keep:
            results.popitem(last=False)
    return value
