"""Downloading one file with progress, checked against the sha256 prefix its name carries (torch.hub's rule)."""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

_HASH = re.compile(r"-([a-f0-9]{6,})\.")  # torch.hub's convention: the file name carries a sha256 prefix
Progress = Callable[[int, int], None]  # (bytes done, bytes in all; 0 when unknown)


class DownloadError(RuntimeError):
    """The file could not be fetched (offline, refused, cut off) or arrived corrupted."""


class FolderUnwritable(DownloadError):
    """The file could not be kept: its folder cannot be made or written (a read-only disk, no home folder)."""


_LOCKS_LOCK = threading.Lock()
_LOCKS: dict[Path, threading.Lock] = {}  # one per file being fetched by this process
_DONE: dict[Path, tuple[int, int]] = {}  # the progress of the download under way of each file, for its waiters


def _lock_for(target: Path) -> threading.Lock:
    with _LOCKS_LOCK:
        return _LOCKS.setdefault(target, threading.Lock())


def download(url: str, directory: Path, progress: Progress | None = None, chunk: int = 1 << 20,
             timeout: float = 20.0) -> Path:
    """Stream ``url`` into ``directory``; check the sha256 prefix its file name carries (torch.hub's rule).

    The file appears under its final name only when complete and verified. Asked for a file that
    another thread is fetching (a class pressing Download at once), a call waits for that download
    and returns its file, reporting that download's progress meanwhile; a file already there is returned as it is.
    """
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FolderUnwritable(f"{directory} cannot be made ({exc})") from exc
    target = directory / url.rsplit("/", 1)[1]
    lock = _lock_for(target)
    while not lock.acquire(timeout=0.1):
        if progress and (done := _DONE.get(target)):
            progress(*done)
    try:
        if target.exists():
            return target
        return _fetch(url, target, progress, chunk, timeout)
    finally:
        _DONE.pop(target, None)
        lock.release()


def _fetch(url: str, target: Path, progress: Progress | None, chunk: int, timeout: float) -> Path:
    # a name of its own: another process fetching the same file into this folder writes beside it, not into it
    partial = target.with_name(f"{target.name}.{secrets.token_hex(4)}.partial")
    digest = hashlib.sha256()
    try:
        out = partial.open("wb")
    except OSError as exc:
        raise FolderUnwritable(f"{target.parent} cannot be written ({exc})") from exc
    try:
        with out, urllib.request.urlopen(url, timeout=timeout) as response:
            total, done = int(response.headers.get("Content-Length") or 0), 0
            while block := response.read(chunk):
                out.write(block)
                digest.update(block)
                done += len(block)
                _DONE[target] = (done, total)
                if progress:
                    progress(done, total)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        partial.unlink(missing_ok=True)
        raise DownloadError(f"{url}: {getattr(exc, 'reason', exc)}") from exc
    expected = _HASH.search(target.name)
    if expected and not digest.hexdigest().startswith(expected.group(1)):
        partial.unlink(missing_ok=True)
        raise DownloadError(f"{target.name} arrived corrupted (its sha256 does not match)")
    partial.replace(target)
    return target
