"""What a run leaves in its folder: snapshots, the checkpoint, the result, and the run as a model or a zip.

Tensors are safetensors files, written atomically like every file of the run store
(:mod:`explorer.runs`); the optimizer state is the one file read with ``torch.load``, always with
``weights_only=True``. A finished (or interrupted) run becomes a model of the app here: ``run:<id>``.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Sequence
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from explorer import architecture, labels, model_card, models, shapes, training
from explorer.atomic_files import atomic_write, read_json, write_json
from explorer.run_metrics import read as metrics_of
from explorer.runs import ACTIVE, RESUMABLE, Run, RunNotFound, get, path


def _count(n: int, thing: str) -> str:
    return f"{n} {labels.plural(n, thing)}"


def with_defaults(config: dict) -> dict:
    """``config`` with what a run trains with where it leaves a setting out: the trainer's optimizer, learning rate,
    batch, epochs and seed, augmentation on, no scrambling, no hand-set filters or transfer."""
    trainer = training.TrainConfig()
    return {"optimizer": trainer.optimizer, "lr": trainer.lr, "batch_size": trainer.batch_size,
            "epochs": trainer.epochs, "seed": trainer.seed, "augment": True, "scramble": False, "init": {},
            "transfer": {}, **config}


def describe(config: dict) -> str:
    """A run's settings in one line, with the trainer's defaults for what the config leaves out."""
    config = with_defaults(config)
    parts = [labels.run_stem(config)
             + (f" ({config['train_images']:,} training images)" if config.get("train_images") else ""),
             f"{labels.optimizer(config['optimizer'])}, learning rate {config['lr']:g}",
             f"batch {config['batch_size']}", _count(config["epochs"], "epoch"), f"seed {config['seed']}",
             "augmented" if config["augment"] else "no augmentation"]
    if config.get("model") == "custom":
        parts.append(_count(len(config.get("layers") or []), "layer") + " of your own")
    if config.get("scramble"):
        parts.append("pixels scrambled")
    source = config.get("transfer") or {}
    if source.get("from"):
        parts.append(f"from {transfer_source(source['from'])}, training "
                     + labels.TRANSFER.get(source.get("train", "head"), "?"))
    init = config.get("init") or {}
    if init.get("kernels"):
        parts.append(f"first filters {', '.join(init['kernels'])}" + (", frozen" if init.get("frozen") else ""))
    return " · ".join(parts)


def transfer_source(name: str, root: Path | None = None) -> str:
    """The network a transfer starts from, as people read it: "LeNet-5 trained on MNIST (shipped)",
    "the run 'LeNet-5 on MNIST 2'" (a deleted run by its id)."""
    if name.startswith("run:"):
        try:
            return f"the run '{labels.plain_name(get(name[4:], root).name)}'"
        except RunNotFound:
            return f"the run {name[4:]} (deleted)"
        except ValueError:
            return f"the run {name[4:]} (damaged)"
    if name in architecture.REGISTRY_MODELS:
        return f"{labels.network(name)} trained on {labels.data(models.spec(name).data)} (shipped)"
    return name


# --- snapshots, checkpoint, result -----------------------------------------------------------

def _save_tensors(target: Path, arrays: dict[str, torch.Tensor], metadata: dict | None = None) -> None:
    tensors = {k: v.detach().cpu().contiguous() for k, v in arrays.items()}
    atomic_write(target, lambda tmp: save_file(tensors, tmp, metadata=metadata))


def save_snapshot(run_id: str, step: int, arrays: dict[str, torch.Tensor], root: Path | None = None,
                  classes: Sequence[str] = ()) -> None:
    """Store small arrays (filters, feature maps) under ``snapshots/<step>.safetensors``, with the names of the
    ``classes`` its readings are probabilities of (before the first epoch ends no checkpoint names them)."""
    folder = path(run_id, root) / "snapshots"
    folder.mkdir(exist_ok=True)
    _save_tensors(folder / f"{step}.safetensors", arrays, {"classes": json.dumps(list(classes))} if classes else None)


def snapshot_classes(run_id: str, step: int, root: Path | None = None) -> tuple[str, ...]:
    """The class names a snapshot was saved with; () for one saved without, or gone since it was read (a resume
    drops the snapshots after its checkpoint while a page may be showing one)."""
    try:
        with safe_open(path(run_id, root) / "snapshots" / f"{step}.safetensors", "pt") as handle:
            return shapes.current_names(json.loads((handle.metadata() or {}).get("classes", "[]")))
    except (SafetensorError, OSError, ValueError):
        return ()


def snapshot_steps(run_id: str, root: Path | None = None) -> list[int]:
    """The steps with a snapshot, ascending."""
    folder = path(run_id, root) / "snapshots"
    if not folder.is_dir():
        return []
    return sorted(int(p.stem) for p in folder.glob("*.safetensors") if p.stem.isdigit())


def load_snapshot(run_id: str, step: int, root: Path | None = None) -> dict[str, torch.Tensor]:
    """The snapshot saved at ``step``; ValueError where its file is damaged (cut off, not safetensors, or without
    the first layer's filters every snapshot holds)."""
    try:
        arrays = load_file(path(run_id, root) / "snapshots" / f"{step}.safetensors")
    except (SafetensorError, OSError) as exc:
        raise ValueError(f"the snapshot of step {step} is damaged ({exc})") from None
    if "filters" not in arrays:
        raise ValueError(f"the snapshot of step {step} is damaged (it holds no filters)")
    return arrays


def filter_ranges(run_id: str, root: Path | None = None) -> tuple[float, float]:
    """The largest first-layer weight over all of a run's snapshots, and the largest change of one from the first
    snapshot: one colour scale for every step, so what the scrubber shows changing is what changed."""
    steps = snapshot_steps(run_id, root)
    if not steps:
        return 0.0, 0.0
    first = load_snapshot(run_id, steps[0], root)["filters"].float()
    largest, change = float(first.abs().max()), 0.0
    for step in steps[1:]:
        filters = load_snapshot(run_id, step, root)["filters"].float()
        largest, change = max(largest, float(filters.abs().max())), max(change, float((filters - first).abs().max()))
    return largest, change


def drop_snapshots_after(run_id: str, step: int, root: Path | None = None) -> None:
    """Remove snapshots later than ``step`` (a resumed run redoes those steps)."""
    for later in [s for s in snapshot_steps(run_id, root) if s > step]:
        (path(run_id, root) / "snapshots" / f"{later}.safetensors").unlink(missing_ok=True)


def save_checkpoint(run_id: str, model: nn.Module, optimizer: torch.optim.Optimizer | None, step: int,
                    epoch: float, root: Path | None = None, **meta) -> None:
    """Weights, then optimizer state, then ``checkpoint.json`` (step, epoch and ``meta``), each atomic.

    Weights and optimizer file both carry the step: if a crash falls between their two renames,
    :func:`load_checkpoint` sees they disagree and returns the weights without the optimizer state.
    """
    folder = path(run_id, root)
    stamp = {"step": int(step), "epoch": float(epoch)}
    _save_tensors(folder / "checkpoint.safetensors", model.state_dict(), {k: str(v) for k, v in stamp.items()})
    if optimizer is not None:
        state = {"step": int(step), "optimizer": optimizer.state_dict()}
        atomic_write(folder / "optimizer.pt", lambda tmp: torch.save(state, tmp))
    write_json(folder / "checkpoint.json", {**stamp, **meta})


def has_checkpoint(run_id: str, root: Path | None = None) -> bool:
    return (path(run_id, root) / "checkpoint.safetensors").exists()


def weights_stamp(run_id: str, root: Path | None = None) -> str:
    """The checkpoint's size and time of change ("" when it is missing): a network built from it is cached under
    this, so a file replaced or damaged on disk is read again, not served from memory."""
    try:
        info = (path(run_id, root) / "checkpoint.safetensors").stat()
    except OSError:
        return ""
    return f"{info.st_size}-{info.st_mtime_ns}"


def load_checkpoint(run_id: str, root: Path | None = None) -> tuple[dict[str, torch.Tensor], dict | None, dict]:
    """(model state dict, optimizer state dict or None, meta with ``step`` and ``epoch``), on the CPU."""
    folder = path(run_id, root)
    weights = folder / "checkpoint.safetensors"
    if not weights.exists():
        raise FileNotFoundError(f"run {run_id} has no checkpoint yet")
    with safe_open(weights, "pt") as handle:
        stamp = handle.metadata() or {}
    meta = read_json(folder / "checkpoint.json") if (folder / "checkpoint.json").exists() else {}
    meta = {**meta, "step": int(stamp.get("step", meta.get("step", 0))),
            "epoch": float(stamp.get("epoch", meta.get("epoch", 0.0)))}
    optimizer = None
    if (folder / "optimizer.pt").exists():
        saved = torch.load(folder / "optimizer.pt", map_location="cpu", weights_only=True)
        optimizer = saved["optimizer"] if saved.get("step") == meta["step"] else None
    return load_file(weights), optimizer, meta


# the lecture's epochs for top activations over training (Zeiler & Fergus: 1, 2, 5, 10, 20, 30, 40, 64), within
# this app's 50, and 0: the weights before any training. A run also keeps its last epoch.
KEPT_EPOCHS = (0, 1, 2, 5, 10, 20, 30, 40, 50)


def keeps_epoch(epoch: int, last: int) -> bool:
    """Whether a run of ``last`` epochs keeps its weights at the end of ``epoch``."""
    return epoch in KEPT_EPOCHS or epoch == last


def _epoch_file(run_id: str, epoch: int, root: Path | None = None) -> Path:
    return path(run_id, root) / "epochs" / f"{int(epoch)}.safetensors"


def save_epoch(run_id: str, epoch: int, model: nn.Module, root: Path | None = None) -> None:
    """The weights at the end of ``epoch`` (0: before training), under ``epochs/<epoch>.safetensors``."""
    target = _epoch_file(run_id, epoch, root)
    target.parent.mkdir(exist_ok=True)
    _save_tensors(target, model.state_dict())


def saved_epochs(run_id: str, root: Path | None = None) -> list[int]:
    """The epochs whose weights the run kept, ascending (none for runs trained before epochs were kept)."""
    folder = path(run_id, root) / "epochs"
    return sorted(int(f.stem) for f in folder.glob("*.safetensors") if f.stem.isdigit()) if folder.is_dir() else []


def save_result(run_id: str, arrays: dict[str, torch.Tensor], root: Path | None = None) -> None:
    _save_tensors(path(run_id, root) / "result.safetensors", arrays)


def load_result(run_id: str, root: Path | None = None) -> dict[str, torch.Tensor] | None:
    """A finished run's ``confusion`` (K, K), ``misclassified`` (M,) and ``misclassified_predicted`` (M,)."""
    target = path(run_id, root) / "result.safetensors"
    return load_file(target) if target.exists() else None


def log_tail(run_id: str, lines: int = 12, root: Path | None = None) -> str:
    """The last lines of the worker's log (what a crash printed)."""
    target = path(run_id, root) / "worker.log"
    if not target.exists():
        return ""
    with open(target, "rb") as handle:
        handle.seek(max(0, target.stat().st_size - 8192))
        return "\n".join(handle.read().decode(errors="replace").splitlines()[-lines:])


# --- a finished run as a model ---------------------------------------------------------------

def model_spec(run_id: str, root: Path | None = None) -> models.ModelSpec:
    """The run's network as a registry-style entry: ``run:<id>``, its input shape, classes and statistics."""
    run = get(run_id, root)
    target = run.path / "checkpoint.json"
    if not target.exists():
        raise FileNotFoundError(f"run {run_id} has no trained weights yet")
    try:
        meta = read_json(target)
        channels, size, _ = meta["input_shape"]
        return models.ModelSpec(
            name=f"run:{run_id}", title=labels.plain_name(run.name), input_size=size, channels=channels,
            classes=shapes.current_names(meta["classes"]), mean=tuple(meta["mean"]), std=tuple(meta["std"]),
            weights="run",
            about=f"Trained in the training lab: {labels.md_text(run.name)} ({run.status}, step {meta['step']}).",
            digit_like=run.config.get("data") == "mnist", data=run.config.get("data", ""))
    except (KeyError, TypeError, ValueError) as exc:  # written by hand or by another version of the app
        raise ValueError(f"run {run_id}'s checkpoint.json does not describe its network") from exc


def build_model(run_id: str, root: Path | None = None, epoch: int | None = None) -> nn.Module:
    """The run's network with its last checkpoint's weights (or those kept at ``epoch``), on the CPU, in eval mode."""
    spec = model_spec(run_id, root)
    model = architecture.build(get(run_id, root).config, spec.input_shape, len(spec.classes))
    if epoch is None:
        weights, _, _ = load_checkpoint(run_id, root)
    else:
        kept = _epoch_file(run_id, epoch, root)
        if not kept.exists():
            raise FileNotFoundError(f"run {run_id} kept no weights at epoch {epoch}")
        weights = load_file(kept)
    model.load_state_dict(weights)
    return model.eval()


def export(run_id: str, root: Path | None = None) -> bytes:
    """A zip of the run: ``model.safetensors`` (weights), ``model.py`` (the network in plain PyTorch),
    ``README.md`` (what goes in and out, how to load it), ``config.json``, ``metrics.jsonl`` (and as
    ``metrics.csv``) and the rest that
    describes it (status, checkpoint card, result), with the weights kept along the way under
    ``epochs/<epoch>.safetensors`` (0: before training) and the snapshots under ``snapshots/<step>.safetensors``;
    a run that may go on (stopped, or training) also carries its optimizer's state, ``optimizer.pt``.
    The status leaves out who started the run. :mod:`explorer.run_import` brings such a zip back in."""
    folder = path(run_id, root)
    run = get(run_id, root)  # RunNotFound early
    members = {"model.safetensors": "checkpoint.safetensors", "config.json": "config.json",
               "metrics.jsonl": "metrics.jsonl", "checkpoint.json": "checkpoint.json",
               "result.safetensors": "result.safetensors"}
    if run.status in (*ACTIVE, *RESUMABLE):  # a run that may go on: its optimizer's state, to resume where it was
        members["optimizer.pt"] = "optimizer.pt"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in _described(run, root).items():
            archive.writestr(f"{run_id}/{name}", text)
        for arcname, name in members.items():
            if (folder / name).exists():
                archive.write(folder / name, f"{run_id}/{arcname}")
        for epoch in saved_epochs(run_id, root):
            archive.write(_epoch_file(run_id, epoch, root), f"{run_id}/epochs/{epoch}.safetensors")
        for step in snapshot_steps(run_id, root):  # the filters over training: a run brought back shows them
            archive.write(folder / "snapshots" / f"{step}.safetensors", f"{run_id}/snapshots/{step}.safetensors")
    return buffer.getvalue()


CSV_COLUMNS = ("phase", "step", "steps", "epoch", "loss", "accuracy", "test_loss", "test_accuracy", "lr", "elapsed",
               "images_per_s")


def curves_csv(records: Sequence[dict]) -> str:
    """A run's metrics as CSV, one row a record (:data:`CSV_COLUMNS`; a value a record lacks left empty): the curves
    for a spreadsheet, as TensorBoard exports a scalar."""
    text = io.StringIO()
    writer = csv.DictWriter(text, CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: ("" if record.get(k) is None else record[k]) for k in CSV_COLUMNS} for record in records)
    return text.getvalue()


_PRIVATE = ("owner", "pid", "request_id")  # the browser's id that may change the run, the server's process


def _described(run: Run, root: Path | None) -> dict[str, str]:
    """The zip's written files: ``status.json`` without :data:`_PRIVATE`, and with a checkpoint, ``README.md`` and
    ``model.py`` (where the network can be written out in plain PyTorch)."""
    status = {k: v for k, v in read_json(run.path / "status.json").items() if k not in _PRIVATE}
    written = {"status.json": json.dumps(status, indent=2)}
    if records := metrics_of(run.id, root):  # as metrics.jsonl: only a run that logged some
        written["metrics.csv"] = curves_csv(records)
    if not (run.path / "checkpoint.json").exists():
        return written
    try:
        spec = model_spec(run.id, root)
        network = architecture.build(run.config, spec.input_shape, len(spec.classes))
    except ValueError:  # a checkpoint card the app cannot read: the files still go
        return written
    try:
        written["model.py"] = model_card.plain_source(network, run.name)
    except ValueError:  # a layer with no plain PyTorch form: the README says so
        pass
    accuracy = status.get("test_accuracy")
    written["README.md"] = model_card.readme(run.name, run.id, describe(run.config), network, spec,
                                             accuracy if isinstance(accuracy, float) else None,
                                             "model.py" in written)
    return written
