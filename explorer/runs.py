"""The run store: every training run as a folder on disk, written so that nothing is ever lost.

One folder per run, ``<root>/<run id>/``::

    config.json              the config as submitted (never changed)
    status.json              {"status", "reason", "created", "updated", "name", "owner", "pid", "device", ...}
    metrics.jsonl            one progress record per line, appended
    snapshots/<step>.safetensors   first-layer filters and a probe batch's feature maps at that step
    checkpoint.safetensors   the model's weights (its metadata carries step and epoch)
    optimizer.pt             {"step", "optimizer": state dict}, read with torch.load(weights_only=True)
    checkpoint.json          step, epoch and what the network takes and predicts (input shape, classes, mean, std)
    result.safetensors       the finished run's confusion matrix and misclassified test images
    cancel, pause            flag files: the worker stops, or holds, at its next record
    worker.log               the worker's stdout and stderr

Every file is replaced atomically (a temporary file in the same folder, fsync, ``os.replace``:
:mod:`explorer.atomic_files`), so a process killed mid-write leaves the previous version readable.
``metrics.jsonl`` grows by single ``write`` calls of whole lines; the reader skips a line cut off by a
crash. Read-modify-write of ``status.json`` holds an ``flock`` on the run's ``.lock`` file, so the worker
and the app's scheduler never overwrite each other's fields.

The tensors in a run's folder (snapshots, checkpoint, result) are read and written by
:mod:`explorer.run_files`, the cancel and pause flags by :mod:`explorer.run_flags`, the metrics log by
:mod:`explorer.run_metrics`; the types its JSON files' fields hold are :mod:`explorer.run_fields`. The statuses
a backend and its worker write as the run goes on are :mod:`explorer.run_lifecycle`'s.

Statuses: queued, running, finished, failed, cancelled, diverged, interrupted (with a reason).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from explorer import labels
from explorer.atomic_files import read_json, write_json
from explorer.run_fields import CONFIG_TYPES, STATUS_TYPES, sound

ROOT_ENV = "EXPLORER_RUNS"
STATUSES = ("queued", "running", "finished", "failed", "cancelled", "diverged", "interrupted")
ACTIVE = ("queued", "running")  # a worker may still write to the run
FINAL = ("finished", "failed", "cancelled", "diverged", "interrupted")
RESUMABLE = ("interrupted", "failed", "cancelled")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")  # an id is one path component, never "..": safe to join


MOST_MINE = 2  # runs one visitor may have queued or running at once (:func:`create`'s ``limit``): the queue is shared
MOST_WAITING = 20  # runs queued on the server at once, whoever's
MOST_BROUGHT_IN = 10  # runs one visitor may keep brought in from Downloads (:func:`adopt`'s ``limit``): the disk


class QueueFull(RuntimeError):
    """A run refused by :func:`create`'s ``limit``: its owner has :data:`MOST_MINE` runs waiting or training, or the
    server's queue holds :data:`MOST_WAITING`. The message says which, in the page's words."""


class TooManyBroughtIn(RuntimeError):
    """A run refused by :func:`adopt`'s ``limit``: its owner keeps :data:`MOST_BROUGHT_IN` runs brought in."""


class RunNotFound(KeyError):
    """No run of that id in the store."""


@dataclass(frozen=True)
class Run:
    """What the store knows about a run; ``created``/``updated`` are Unix times in seconds."""

    id: str
    path: Path
    config: dict
    status: str
    reason: str
    name: str
    created: float
    updated: float
    device: str
    pid: int | None
    request_id: str | None = None
    queued: float = 0.0  # when it last joined the queue (submitted or resumed): the queue's order
    owner: str = ""  # who started it (the browser's id on the Train page); "" when nobody said

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def final(self) -> bool:
        return self.status in FINAL


# --- where runs live -------------------------------------------------------------------------

def root() -> Path:
    """The store: ``$EXPLORER_RUNS`` if set (a relative path from the server's folder: its workers start in the
    repo's), else ``<repo>/runs`` (git-ignored)."""
    configured = os.environ.get(ROOT_ENV)
    return Path(configured).expanduser().resolve() if configured else Path(__file__).resolve().parent.parent / "runs"


def writable(base: Path | None = None) -> bool:
    """Whether the store can be made and written (a read-only checkout without ``$EXPLORER_RUNS`` cannot)."""
    folder = store_root(base)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-"):
            return True
    except OSError:
        return False


def store_root(base: Path | None) -> Path:
    return Path(base) if base is not None else root()


def is_id(text: str) -> bool:
    """Whether ``text`` can be a run's id: one plain name, never holding ``/`` or ``..``."""
    return bool(_ID.match(text)) and ".." not in text


def path(run_id: str, root: Path | None = None) -> Path:
    """The run's folder (ValueError for an id that is not a plain name, e.g. one holding ``/``)."""
    if not is_id(run_id):
        raise ValueError(f"{run_id!r} is not a run id")
    return store_root(root) / run_id


@contextmanager
def locked(folder: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``folder/.lock`` (released by the kernel if the holder dies)."""
    with open(folder / ".lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# --- runs ------------------------------------------------------------------------------------

def create(config: dict, request_id: str | None = None, root: Path | None = None, name: str = "",
           owner: str = "", limit: bool = False) -> Run:
    """A new queued run for ``config``; with a ``request_id`` already seen, that request's run instead.

    The request id makes submitting idempotent: a double-clicked button or a rerun after a
    reconnect finds the first run. The folder is built under a hidden name and renamed into
    place, so no reader ever sees half a run. ``limit``: :class:`QueueFull` where the owner or the
    server has as many runs waiting as they may (checked under the store's lock, so two clicks
    at once cannot both pass).
    """
    def make(base: Path) -> str:
        if limit:
            check_room(base, owner)
        now = time.time()
        return _place(base, config, {
            "status": "queued", "reason": "", "created": now, "updated": now, "queued": now,
            "name": labels.plain_name(name) or _default_name(config, base), "owner": owner, "pid": None, "device": "",
            "request_id": request_id}, {})

    return _made(root, request_id, make)


def adopt(config: dict, status: dict, files: dict[str, bytes], request_id: str, root: Path | None = None,
          limit: bool = False) -> Run:
    """A run made elsewhere (a Download's zip, checked by :mod:`explorer.run_import`) placed in the store under an
    id of its own: ``status`` (an ended one, with its ``owner``) and ``files`` (path in the folder -> bytes). A
    ``request_id`` already seen returns that request's run, as :func:`create` does: a rerun adopts it once.
    ``limit``: :class:`TooManyBroughtIn` where the owner keeps :data:`MOST_BROUGHT_IN` runs brought in (a
    visitor's zips, up to 64 MB each, would otherwise fill the server's disk)."""
    if status.get("status") not in FINAL:
        raise ValueError(f"a run brought in must have ended, not be {status.get('status')!r}")
    if not (config and sound(config, CONFIG_TYPES) and sound(status, STATUS_TYPES, ("created", "updated"))):
        raise ValueError("a run brought in must have the config and status a run has")

    def make(base: Path) -> str:
        owner = status.get("owner", "")
        if limit and owner and sum(run.owner == owner and status_fields(run.id, base).get("brought_in") is True
                                   for run in list_runs(base)) >= MOST_BROUGHT_IN:
            raise TooManyBroughtIn(f"You keep {MOST_BROUGHT_IN} runs brought in, as many as one browser may: "
                                   "delete one of them to bring in another.")
        name = _free_name(labels.plain_name(status.get("name", "")) or _default_name(config, base), base)
        return _place(base, config, {**status, "name": name, "pid": None, "request_id": request_id,
                                     "brought_in": True}, files)

    return _made(root, request_id, make)


def _free_name(name: str, base: Path) -> str:
    """``name``, or where a run here has it, "name (brought in)", numbered past the first: copies of one run had
    stood in every model picker under one name."""
    taken = {run.name for run in list_runs(base)}
    for k in range(1, len(taken) + 2):
        free = name if k == 1 else f"{name} (brought in{'' if k == 2 else f' {k - 1}'})"
        if free not in taken:
            return free
    return name


def _made(root: Path | None, request_id: str | None, make: Callable[[Path], str]) -> Run:
    """The run ``make(store)`` places, under the store's lock; the run ``request_id`` made already, if it did."""
    base = store_root(root)
    base.mkdir(parents=True, exist_ok=True)
    with locked(base):
        existing = _by_request(base, request_id)
        if existing is not None:
            return existing
        run_id = make(base)
    return get(run_id, base)


def _place(base: Path, config: dict, status: dict, files: dict[str, bytes]) -> str:
    """A new run folder, built under a hidden name and renamed into place (no reader sees half a run), and its
    request noted; called under the store's lock. Returns its id."""
    run_id = time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)
    building = base / f".new-{run_id}"
    building.mkdir()
    for name, data in files.items():
        (building / name).parent.mkdir(parents=True, exist_ok=True)
        (building / name).write_bytes(data)
    write_json(building / "config.json", config)
    write_json(building / "status.json", status)
    os.replace(building, base / run_id)
    if status.get("request_id") is not None:
        (base / "requests").mkdir(exist_ok=True)
        write_json(_request_file(base, status["request_id"]), {"run": run_id})
    return run_id


def check_room(base: Path, owner: str) -> None:
    if (problem := room_problem(owner, base)) is not None:
        raise QueueFull(problem)


def room_problem(owner: str, root: Path | None = None) -> str | None:
    """Why ``owner`` may not queue a run now, in words: it has :data:`MOST_MINE` runs waiting or training, or the
    server :data:`MOST_WAITING` queued; None when there is room."""
    active = [run for run in list_runs(root) if run.active]
    if owner and sum(run.owner == owner for run in active) >= MOST_MINE:
        return (f"You have {MOST_MINE} runs waiting or training, as many as one browser may: the queue is the whole "
                "class's. Cancel one, or wait for one to end.")
    if sum(run.status == "queued" for run in active) >= MOST_WAITING:
        return f"The server's queue is full ({MOST_WAITING} runs wait): try again when some have started."
    return None


def _request_file(base: Path, request_id: str) -> Path:
    return base / "requests" / (hashlib.sha256(request_id.encode()).hexdigest()[:32] + ".json")


def _by_request(base: Path, request_id: str | None) -> Run | None:
    if request_id is None or not _request_file(base, request_id).exists():
        return None
    try:
        return get(read_json(_request_file(base, request_id))["run"], base)
    except RunNotFound:  # deleted since: the request may make a new run
        return None


def _default_name(config: dict, base: Path) -> str:
    """A name like "LeNet-5 on Built-in shapes #3", numbered after the highest such: a class's runs stay apart."""
    stem = labels.run_stem(config)
    numbered = re.compile(re.escape(stem) + r" #(\d+)")
    taken = [int(m[1]) for run in list_runs(base) if (m := numbered.fullmatch(run.name))]
    return f"{stem} #{max(taken, default=0) + 1}"


def get(run_id: str, root: Path | None = None) -> Run:
    """The run's config and status (RunNotFound if there is no such run, ValueError if its files are damaged or
    unreadable: :func:`list_runs` passes over such a folder)."""
    folder = path(run_id, root)
    try:
        config, status = read_json(folder / "config.json"), read_json(folder / "status.json")
    except FileNotFoundError:
        raise RunNotFound(run_id) from None
    except OSError as exc:  # a folder its server may not read
        raise ValueError(f"run {run_id}'s files cannot be read ({exc.strerror})") from None
    except ValueError:  # not JSON: edited by hand, or a disk that filled up
        raise ValueError(f"run {run_id}'s config.json or status.json is not JSON: its files are damaged") from None
    if not (isinstance(config, dict) and config and isinstance(status, dict) and status.get("status") in STATUSES
            and sound(status, STATUS_TYPES, ("created", "updated")) and sound(config, CONFIG_TYPES)):
        raise ValueError(f"run {run_id}'s config or status is damaged")
    return Run(run_id, folder, config, status["status"], status.get("reason", ""), status.get("name", ""),
               status["created"], status["updated"], status.get("device", ""), status.get("pid"),
               status.get("request_id"), status.get("queued", status["created"]), status.get("owner", ""))


def has_ended(run_id: str, root: Path | None = None) -> bool:
    """Whether the run has ended, or is gone (deleted, or its files damaged): no worker will write to it again."""
    try:
        return get(run_id, root).final
    except (RunNotFound, ValueError):
        return True


def status_fields(run_id: str, root: Path | None = None) -> dict:
    """Everything in ``status.json``, the extra fields a worker set included (e.g. ``test_accuracy``)."""
    return read_json(path(run_id, root) / "status.json")


def list_runs(root: Path | None = None) -> list[Run]:
    """Every run, newest first (folders with damaged files passed over: :func:`damaged` names them)."""
    found = [run for run in _scanned(root) if isinstance(run, Run)]
    return sorted(found, key=lambda run: (run.created, run.id), reverse=True)


def damaged(root: Path | None = None) -> dict[str, str]:
    """The run folders :func:`list_runs` passes over because their files are damaged or unreadable: id -> why (so
    that the teacher can see and remove them)."""
    return dict(found for found in _scanned(root) if isinstance(found, tuple))


def _scanned(root: Path | None) -> Iterator[Run | tuple[str, str]]:
    """Each run folder of the store (one with a ``status.json``) as its Run, or as (id, why) where its files are
    damaged or unreadable. A folder deleted meanwhile, or one not named as a run, is no run."""
    base = store_root(root)
    for folder in sorted(base.iterdir()) if base.is_dir() else []:
        try:
            if not (is_id(folder.name) and folder.is_dir() and (folder / "status.json").exists()):
                continue
            yield get(folder.name, base)
        except RunNotFound:
            if folder.exists():
                yield folder.name, f"run {folder.name} has no config.json"
        except (ValueError, OSError) as exc:
            yield folder.name, str(exc)


def delete_damaged(run_id: str, root: Path | None = None) -> None:
    """Remove a run folder whose files are damaged (ValueError if they are not: :func:`delete` checks a sound run's
    worker first). With its status unreadable, no worker can be told to stop: none can report into it either."""
    if run_id not in damaged(root):
        raise ValueError(f"run {run_id} is not damaged: delete it as a run")
    trash = path(run_id, root).with_name(f".deleted-{run_id}-{secrets.token_hex(2)}")
    os.replace(path(run_id, root), trash)
    shutil.rmtree(trash, ignore_errors=True)


def update_status(run_id: str, root: Path | None, change: Callable[[dict], dict | None]) -> Run:
    """Read-modify-write ``status.json`` under the run's lock; ``change`` returns None to leave it."""
    folder = path(run_id, root)
    try:
        with locked(folder):
            new = change(read_json(folder / "status.json"))
            if new is not None:
                write_json(folder / "status.json", {**new, "updated": time.time()})
    except FileNotFoundError:  # no such run, or deleted meanwhile
        raise RunNotFound(run_id) from None
    return get(run_id, root)


def rename(run_id: str, name: str, root: Path | None = None) -> Run:
    """Give the run a display name (as :func:`explorer.labels.plain_name` cleans it; nothing left: the name stays)."""
    return update_status(run_id, root, lambda current: {**current, "name": labels.plain_name(name) or current["name"]})


def delete(run_id: str, root: Path | None = None) -> None:
    """Remove the run's folder; refuses (RuntimeError) while its worker is alive: cancel it first."""
    run = get(run_id, root)
    if run.active and run.pid is not None and alive(run.pid):
        raise RuntimeError(f"run {run_id} is still {run.status}: cancel it before deleting it")
    trash = run.path.with_name(f".deleted-{run_id}-{secrets.token_hex(2)}")
    os.replace(run.path, trash)  # gone for readers at once, even if the removal below is cut short
    shutil.rmtree(trash, ignore_errors=True)


def alive(pid: int) -> bool:
    """Whether ``pid`` is a live (not zombie) worker process (a reused pid of another program is not)."""
    if not Path("/proc").is_dir():  # macOS: no command line to check, only whether the pid exists
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X") and b"explorer.worker" in cmdline
