"""A run brought back from the zip its Download gave (:func:`run_files.export`), from this server or another: every
file checked (:mod:`explorer.run_checks`), then placed in the run store as a run of its own.

A hosted app may lose its disk on a restart; a teacher may train a long run on a GPU at home. Only what the app
reads comes in, each file under a name of the app's choosing (the zip's own paths are never joined to the store);
weights are safetensors and must load into the network, strictly; JSON must be what a run writes.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import time
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from torch import nn

from explorer import labels, run_checks, run_fields, runs
from explorer.run_checks import Refused as ImportRefused

MOST_BYTES = 200 << 20  # the files unpacked, all together: a zip that claims more is refused before it is read
MOST_FILES = 500  # a run of 50 epochs keeps 9 epochs' weights and about 20 snapshots a stretch of training
MOST_SNAPSHOTS = 60  # snapshots checked and kept, spread over the run: each is checked, and the scrubber has steps
# the zip's member (under its one top folder) -> the file in the run's folder
FILES = {"model.safetensors": "checkpoint.safetensors", "config.json": "config.json",
         "checkpoint.json": "checkpoint.json", "status.json": "status.json", "metrics.jsonl": "metrics.jsonl",
         "result.safetensors": "result.safetensors", "optimizer.pt": "optimizer.pt"}
NEEDED = ("config.json", "checkpoint.json", "model.safetensors")
CARD = ("step", "epoch", "input_shape", "classes", "mean", "std")  # checkpoint.json's keys
_KEPT = re.compile(r"(epochs|snapshots)/(0|[1-9]\d{0,8})\.safetensors")  # weights kept along the way, snapshots
__all__ = ["ImportRefused", "Checked", "unpacked", "check", "bring_in"]


@dataclass(frozen=True)
class Checked:
    """A zip's run, checked: what :func:`runs.adopt` places, and what was left out (in words)."""

    config: dict
    status: dict
    files: dict[str, bytes]
    dropped: tuple[str, ...]


def unpacked(archive: bytes) -> dict[str, bytes]:
    """The zip's members that a run keeps (:data:`FILES`, ``epochs/<n>`` and ``snapshots/<n>``), by their names
    under the zip's one top folder; README, model.py and the CSV are written again from these. A member's size is
    what its header says: :mod:`zipfile` reads no byte past it, whatever the compressed data would unpack to."""
    try:
        with zipfile.ZipFile(io.BytesIO(archive)) as zipped:
            members = [m for m in zipped.infolist() if not m.is_dir()]
            _check_members(members)
            inside = {m.filename.split("/", 1)[1]: m for m in members}
            kept = {name: zipped.read(member) for name, member in inside.items()
                    if name in FILES or _KEPT.fullmatch(name)}
    except RuntimeError as exc:  # zipfile's word for a member behind a password
        raise ImportRefused("it is locked with a password: zip the run's folder again without one"
                            if "encrypted" in str(exc) else f"it is not a zip that can be read ({exc})") from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, zlib.error) as exc:
        raise ImportRefused(f"it is not a zip that can be read ({exc})") from None
    if missing := [name for name in NEEDED if name not in kept]:
        raise ImportRefused(f"it has no {', '.join(missing)}: it is not the Download of a run with trained weights")
    return kept


def _check_members(members: list[zipfile.ZipInfo]) -> None:
    """A Download's shape: one top folder, and no more files or bytes than a run keeps."""
    if len({m.filename.split("/")[0] for m in members}) != 1 or any("/" not in m.filename for m in members):
        raise ImportRefused("it is not a run's Download: a Download holds one folder, named after the run")
    if len(members) > MOST_FILES or sum(m.file_size for m in members) > MOST_BYTES:
        raise ImportRefused(f"it unpacks to more than a run keeps ({MOST_FILES} files, {MOST_BYTES >> 20} MB)")


def _json(files: dict[str, bytes], name: str) -> dict:
    try:
        value = json.loads(files[name])
    except (UnicodeDecodeError, ValueError):
        raise ImportRefused(f"{name} is not JSON") from None
    if not isinstance(value, dict):
        raise ImportRefused(f"{name} does not describe a run")
    return value


def _steps(files: dict[str, bytes], folder: str) -> list[int]:
    return sorted(int(name.split("/")[1].split(".")[0]) for name in files if name.startswith(folder + "/"))


def _spread(steps: list[int], most: int) -> list[int]:
    """At most ``most`` of ``steps``, evenly spread, the first and the last among them."""
    if len(steps) <= most:
        return steps
    return sorted({steps[round(i * (len(steps) - 1) / (most - 1))] for i in range(most)})


def check(files: dict[str, bytes], owner: str) -> Checked:
    """The zip's files (:func:`unpacked`) checked: the config is the Train page's, it builds a network here, the
    weights load into it; a snapshot, the result or a metrics line that does not fit is left out (``dropped``)."""
    config = run_checks.settings(_json(files, "config.json"))
    card = _json(files, "checkpoint.json")
    model = run_checks.network(config, card)
    shape, classes = run_checks.input_of(config)
    # the keys a worker writes, the classes under their present names
    kept = {"checkpoint.json": json.dumps({**{k: card[k] for k in CARD}, "classes": list(classes)}).encode()}
    dropped: list[str] = []
    for step in _steps(files, "epochs"):
        run_checks.weights(model, files[f"epochs/{step}.safetensors"], f"epochs/{step}.safetensors")
        kept[f"epochs/{step}.safetensors"] = files[f"epochs/{step}.safetensors"]
    run_checks.weights(model, files["model.safetensors"], "model.safetensors")  # last: the snapshots' network
    kept["checkpoint.safetensors"] = files["model.safetensors"]
    dropped += _snapshots(files, kept, model, shape, classes)
    if "result.safetensors" in files:
        try:
            fits = run_checks.result_fits(run_checks.tensors(files["result.safetensors"], "result.safetensors"),
                                          len(classes), run_checks.test_images(config))
        except ImportRefused:
            fits = False
        if fits:
            kept["result.safetensors"] = files["result.safetensors"]
        else:
            dropped.append("the confusion matrix and example mistakes (not of its test images)")
    if "metrics.jsonl" in files:
        kept["metrics.jsonl"], bad = _metrics(files["metrics.jsonl"])
        if bad:
            dropped.append(f"{bad} unreadable {labels.plural(bad, 'line')} of the curves")
    given = _json(files, "status.json") if "status.json" in files else {}
    if _ended(given) in runs.RESUMABLE:  # its optimizer's moments, to go on as it would have
        step = int(run_checks.metadata(files["model.safetensors"]).get("step", card["step"]))
        optimizer = run_checks.optimizer_state(model, config, files.get("optimizer.pt", b""), step)
        if optimizer is not None:
            kept["optimizer.pt"] = optimizer
        elif "optimizer.pt" in files:
            dropped.append("the optimizer's state (not what this network's optimizer keeps at its last step)")
    return Checked(config, _status(given, owner, "optimizer.pt" in kept), kept, tuple(dropped))


def _snapshots(files: dict[str, bytes], kept: dict[str, bytes], model: nn.Module, shape: tuple[int, int, int],
               classes: tuple[str, ...]) -> list[str]:
    """Put the snapshots that hold what a worker's snapshot of this network holds in ``kept`` (at most
    :data:`MOST_SNAPSHOTS`); what was left out, in words."""
    steps, dropped, expected = _steps(files, "snapshots"), [], None
    if not steps:  # a Download made before they travelled with it
        return ["the filters over training (this Download holds no snapshots)"]
    chosen = _spread(steps, MOST_SNAPSHOTS)
    if len(chosen) < len(steps):
        dropped.append(f"{len(steps) - len(chosen)} of its {len(steps)} snapshots (it keeps {MOST_SNAPSHOTS}, spread "
                       "over the run)")
    for step in chosen:
        raw = files[f"snapshots/{step}.safetensors"]
        try:
            arrays = run_checks.tensors(raw, "a snapshot")
            if expected is None:  # one forward pass of the network: every snapshot of one run holds the same
                probes, reads = (len(arrays[k]) if k in arrays else 0 for k in ("probe_images", "read_images"))
                expected = run_checks.snapshot_shapes(model, shape, min(max(probes, 1), 4), min(reads, 12))
            fits = run_checks.snapshot_fits(arrays, raw, expected, classes)
        except (ImportRefused, RuntimeError, ValueError):
            fits = False
        if fits:
            kept[f"snapshots/{step}.safetensors"] = raw
        else:
            dropped.append(f"the snapshot of step {step} (not what a snapshot of this network holds)")
    return dropped


def _metrics(text: bytes) -> tuple[bytes, int]:
    """The lines of ``metrics.jsonl`` that are a worker's records (with only their keys), and how many were not."""
    good, bad = [], 0
    for line in text.splitlines():
        try:
            kept = run_checks.record(json.loads(line))
        except (UnicodeDecodeError, ValueError):
            kept = None
        if kept is not None:
            good.append(json.dumps(kept))
        else:
            bad += line.strip() != b""
    return "".join(line + "\n" for line in good).encode(), bad


def _ended(given: dict) -> str:
    """The status a run brought in has: its own where it ended, else interrupted (a Download taken while it
    trained)."""
    return given.get("status") if given.get("status") in runs.FINAL else "interrupted"


def _status(given: dict, owner: str, optimizer: bool) -> dict:
    """A status for the run brought in (:func:`_ended`); its words as plain text, its figures only where they are
    numbers; ``owner``: who brought it; ``optimizer``: whether its optimizer's state came with it."""
    now = time.time()
    ended = _ended(given)
    said = {key: labels.plain_name(given[key], most) for key, most in (("reason", 300), ("device", 100))
            if isinstance(given.get(key), str)}
    came = "brought in from a download" + ("" if ended == given.get("status") else " taken while it trained")
    if ended in runs.RESUMABLE:
        came += ": it resumes " + ("where it stopped" if optimizer else "with a fresh optimizer")
    created, accuracy, step = given.get("created"), given.get("test_accuracy"), given.get("step")
    return {"status": ended, "reason": "; ".join(filter(None, (said.get("reason"), came))),
            "name": given.get("name") if isinstance(given.get("name"), str) else "",
            "created": created if run_fields.is_number(created) and 0 < created <= now else now,
            "updated": now, "queued": now, "owner": owner, "device": said.get("device", ""),
            **({"test_accuracy": float(accuracy)} if run_fields.is_number(accuracy) and 0 <= accuracy <= 1 else {}),
            **({"step": step} if run_fields.is_whole(step) and step >= 0 else {})}


def bring_in(archive: bytes, owner: str, root: Path | None = None, limit: bool = False
             ) -> tuple[runs.Run, tuple[str, ...]]:
    """The run in ``archive`` (a Download's zip) placed in the store as ``owner``'s, and what was left out of it.
    The same zip brought in again by the same owner is the same run (a rerun of the page does not copy it).
    ``limit``: :class:`runs.TooManyBroughtIn` where ``owner`` keeps as many runs brought in as one may."""
    checked = check(unpacked(archive), owner)
    request = "import:" + hashlib.sha256(archive).hexdigest() + ":" + owner
    return runs.adopt(checked.config, checked.status, checked.files, request, root, limit), checked.dropped
