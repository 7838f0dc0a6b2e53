"""Where training runs execute: one small interface (:class:`Backend`), one local implementation.

Used as ``from explorer import backends; backend = backends.create()`` (one per server process:
a page keeps it in ``st.cache_resource``).
"""

from __future__ import annotations

from pathlib import Path

from explorer.backends.base import Backend
from explorer.backends.local import LocalBackend

__all__ = ["Backend", "LocalBackend", "create"]


def create(kind: str = "local", root: Path | None = None, **options) -> Backend:
    """A backend by name; ``options`` go to its constructor (LocalBackend: ``slots``, ``poll_s``, ``spare``)."""
    if kind == "local":
        return LocalBackend(root, **options)
    raise ValueError(f"unknown backend {kind!r}; this app has: local")
