"""A run brought back from the zip its Download gave (:func:`run_files.export`), from this server or another: every
file checked against the network its config builds, then placed in the run store as a run of its own.

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

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_tensors
from torch import nn

from explorer import architecture, data, runs, worker
from explorer.layer_table import ArchitectureError

MOST_BYTES = 200 << 20  # the files unpacked, all together: a zip that claims more is refused before it is read
MOST_FILES = 500  # a run of 50 epochs keeps 9 epochs' weights and about 50 snapshots
# the zip's member (under its one top folder) -> the file in the run's folder
FILES = {"model.safetensors": "checkpoint.safetensors", "config.json": "config.json",
         "checkpoint.json": "checkpoint.json", "status.json": "status.json", "metrics.jsonl": "metrics.jsonl",
         "result.safetensors": "result.safetensors"}
NEEDED = ("config.json", "checkpoint.json", "model.safetensors")
_KEPT = re.compile(r"(epochs|snapshots)/(\d{1,9})\.safetensors")  # weights kept along the way, and snapshots
_STATUS_TEXT = {"reason": 300, "device": 100, "name": 200}  # status.json's text fields kept, and their longest


class ImportRefused(ValueError):
    """A zip that is not a run's Download, or a file in it that does not fit the network; the message says which,
    in the page's words."""


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


def _tensors(files: dict[str, bytes], name: str) -> dict[str, torch.Tensor]:
    try:
        return load_tensors(files[name])
    except (SafetensorError, ValueError, OverflowError) as exc:
        raise ImportRefused(f"{name} is not a safetensors file ({exc})") from None


def _input_of(config: dict) -> tuple[tuple[int, int, int], int]:
    """The input shape and class count a run on ``config``'s data set trains with (the shapes set's side and
    channels are the run's settings, as the worker reads them)."""
    name = config.get("data")
    if name not in data.NAMES:
        raise ImportRefused(f"config.json trains on {str(name)[:40]!r}, not one of this app's data sets "
                            f"({', '.join(data.NAMES)})")
    if name != "shapes":
        return ((3, 32, 32) if name == "cifar10" else (1, 28, 28)), 10
    size, channels = config.get("shapes_size", 28), config.get("shapes_channels", 1)
    if not (isinstance(size, int) and 8 <= size <= 128 and channels in (1, 3)):
        raise ImportRefused("config.json's shapes are not a size and colour this app draws")
    return (channels, size, size), len(data.SHAPE_CLASSES)


def network(config: dict, card: dict) -> nn.Module:
    """The network ``config`` builds, checked against ``card`` (checkpoint.json): the input and classes it names
    must be the data set's, its statistics one per channel."""
    shape, classes = _input_of(config)
    try:
        named, mean, std = card["classes"], card["mean"], card["std"]
        if not (list(card["input_shape"]) == list(shape) and isinstance(named, list) and len(named) == classes
                and all(isinstance(c, str) and len(c) <= 100 for c in named) and len(mean) == len(std) == shape[0]
                and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (*mean, *std))):
            raise TypeError
    except (KeyError, TypeError):
        raise ImportRefused("checkpoint.json does not describe the network's input and classes for "
                            "its data set") from None
    try:
        return architecture.build(config, shape, classes)
    except ArchitectureError as exc:
        raise ImportRefused(f"config.json's network cannot be built here ({exc})") from None


def _fits(model: nn.Module, weights: dict[str, torch.Tensor], name: str) -> None:
    try:
        model.load_state_dict(weights)
    except RuntimeError as exc:  # missing or unexpected names, or other shapes
        first = str(exc).split("\n\t")[1] if "\n\t" in str(exc) else str(exc)
        raise ImportRefused(f"{name} does not fit the network config.json builds ({first[:200]})") from None


def _result_fits(result: dict[str, torch.Tensor], classes: int) -> bool:
    """Whether a result is what :func:`worker.result` writes for ``classes`` classes: its mistakes' indices within
    the test set the confusion matrix counts, their predictions among the classes."""
    confusion, wrong, said = (result.get(k) for k in ("confusion", "misclassified", "misclassified_predicted"))
    if any(t is None or t.dtype.is_floating_point for t in (confusion, wrong, said)):
        return False
    return (confusion.shape == (classes, classes) and bool((confusion >= 0).all()) and wrong.ndim == 1
            and said.shape == wrong.shape and len(wrong) <= worker.MISTAKES
            and bool(((wrong >= 0) & (wrong < confusion.sum())).all()) and bool(((said >= 0) & (said < classes)).all()))


def _snapshot_fits(model: nn.Module, arrays: dict[str, torch.Tensor], shape: tuple[int, ...]) -> bool:
    """Whether a snapshot holds what :func:`worker.snapshot` makes of this network: the same arrays in the same
    shapes, on probe and read images of the network's input (at most as many as a worker keeps)."""
    probe, read = arrays.get("probe_images"), arrays.get("read_images")
    if probe is None or read is None or probe.ndim != 4 or read.ndim != 4 or tuple(probe.shape[1:]) != shape \
            or tuple(read.shape[1:]) != shape or not 0 < len(probe) <= worker.PROBE or len(read) > worker.READ:
        return False
    with torch.no_grad():
        made = worker.snapshot(model, probe.float(), read.float() / 255)
    model.eval()
    return all(k in arrays and arrays[k].shape == v.shape for k, v in made.items())


def check(files: dict[str, bytes], owner: str) -> Checked:
    """The zip's files (:func:`unpacked`) checked: the config builds a network here, the weights load into it, a
    snapshot, a result or a metrics line that does not fit is left out (named in ``dropped``)."""
    config, card = _json(files, "config.json"), _json(files, "checkpoint.json")
    model = network(config, card)
    kept, dropped = {FILES[n]: files[n] for n in ("config.json", "checkpoint.json")}, []
    for name in (*sorted(n for n in files if n.startswith("epochs/")), "model.safetensors"):  # the last one stays
        _fits(model, _tensors(files, name), name)
        kept[FILES.get(name, name)] = files[name]
    model.eval()
    shape, classes = tuple(card["input_shape"]), len(card["classes"])
    for name in sorted(n for n in files if n.startswith("snapshots/")):
        try:
            fits = _snapshot_fits(model, _tensors(files, name), shape)
        except (ImportRefused, RuntimeError):
            fits = False
        if fits:
            kept[name] = files[name]
        else:
            dropped.append(f"the snapshot of step {name.split('/')[1].split('.')[0]}")
    if "result.safetensors" in files:
        try:
            fits = _result_fits(_tensors(files, "result.safetensors"), classes)
        except ImportRefused:
            fits = False
        if fits:
            kept["result.safetensors"] = files["result.safetensors"]
        else:
            dropped.append("the confusion matrix and example mistakes")
    if "metrics.jsonl" in files:
        lines, bad = _metrics(files["metrics.jsonl"])
        kept["metrics.jsonl"] = lines
        if bad:
            dropped.append(f"{bad} unreadable {'line' if bad == 1 else 'lines'} of the curves")
    status = _status(_json(files, "status.json") if "status.json" in files else {}, owner)
    return Checked(config, status, kept, tuple(dropped))


def _metrics(text: bytes) -> tuple[bytes, int]:
    """The lines of ``metrics.jsonl`` that are JSON objects, and how many were not."""
    good, bad = [], 0
    for line in text.splitlines():
        try:
            if isinstance(json.loads(line), dict):
                good.append(line)
                continue
        except (UnicodeDecodeError, ValueError):
            pass
        bad += line.strip() != b""
    return b"".join(line + b"\n" for line in good), bad


def _status(given: dict, owner: str) -> dict:
    """A status for the run brought in: its own where it ended, else interrupted (a Download taken while it
    trained); its text fields cut to size, its figures only where they are numbers; ``owner``: who brought it."""
    now = time.time()
    ended = given.get("status") if given.get("status") in runs.FINAL else "interrupted"
    status = {key: str(given[key])[:most] for key, most in _STATUS_TEXT.items() if isinstance(given.get(key), str)}
    created = given.get("created")
    accuracy, step = given.get("test_accuracy"), given.get("step")
    came = "brought in from a download" + ("" if ended == given.get("status") else " taken while it trained")
    return {**status, "status": ended, "reason": "; ".join(filter(None, (status.get("reason"), came))),
            "created": created if isinstance(created, (int, float)) and 0 < created <= now else now,
            "updated": now, "queued": now, "owner": owner, "device": status.get("device", ""),
            **({"test_accuracy": float(accuracy)} if isinstance(accuracy, (int, float)) and 0 <= accuracy <= 1
               else {}),
            **({"step": step} if isinstance(step, int) and step >= 0 else {})}


def bring_in(archive: bytes, owner: str, root: Path | None = None) -> tuple[runs.Run, tuple[str, ...]]:
    """The run in ``archive`` (a Download's zip) placed in the store as ``owner``'s, and what was left out of it.
    The same zip brought in again by the same owner is the same run (a rerun of the page does not copy it)."""
    checked = check(unpacked(archive), owner)
    request = "import:" + hashlib.sha256(archive).hexdigest() + ":" + owner
    return runs.adopt(checked.config, checked.status, checked.files, request, root), checked.dropped
