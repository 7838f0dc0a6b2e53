"""One training run in its own process: ``python -m explorer.worker <run folder>``.

Or a spare, started ahead: ``python -m explorer.worker --spare`` imports PyTorch and draws the
built-in set, then waits for one line on its standard input, ``<run folder>\t<GPU index or nothing>``,
and runs that run as above (its output moved to the run's ``worker.log``). A run handed to a spare
shows its first step in about a second, where a fresh worker spends 10 to 20 s on a busy 2-core
machine importing and drawing. End of input (the app gone) ends a waiting spare.

The worker reads the run's ``config.json``, marks the run "running", trains with
:func:`explorer.training.train` and writes everything to the run store as it goes: every progress
record to ``metrics.jsonl``, a snapshot of the first layer every ``snapshot_every`` steps, a
checkpoint at each epoch end. It ends the run "finished" (with a confusion matrix), "diverged",
"cancelled" (the cancel flag, checked at every record: at least once a second) or "failed" with
the error. A pause flag holds it at its next record (``run_flags.hold_while_paused``). A run folder that
holds a checkpoint is continued from it (its optimizer state too).

Being a process of its own, a crash, a CUDA error or an out-of-memory kill takes down this run
only, never the app. Config keys (all optional but ``model``):

    data            "mnist", "fashion-mnist", "cifar10" or "shapes" (default)
    train_images, test_images   use only the first N images of each split
    shapes_size, shapes_channels   the shapes set's image side (28) and channels (1)
    input_size, input_channels     fit the images to another input (default: the data's own)
    model, layers, init         the network, as explorer.architecture.build reads them
    transfer        {"from": "lenet5" | "tinyvgg" | "run:<id>", "train": "head" | "all"}: start from that
                    trained network (see architecture.transfer)
    epochs, batch_size, lr, optimizer ("adamw"|"sgd"), weight_decay, seed, label_smoothing,
    device ("auto"), log_every  as in training.TrainConfig
    augment         True: TrainConfig's default shift/rotation/zoom; False: none
    snapshot_every  steps between snapshots (default: about 20 over the run)
    resume          False: start afresh even if the folder holds a checkpoint
"""

from __future__ import annotations

import dataclasses
import errno
import functools
import math
import os
import signal
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from explorer import (architecture, data, extraction, inputs, models, run_files, run_flags, run_lifecycle,
                      run_metrics, runs, training)

PROBE = 4  # test images whose feature maps every snapshot keeps
READ = 12  # test images whose class probabilities every snapshot keeps: the network's readings, live
MISTAKES = 16  # misclassified test images kept in the result
RECORD_SECONDS = 1.0  # a record (and a cancel check) at least this often


class Stopped(BaseException):
    """SIGTERM arrived: stop where we are (BaseException, so no ``except Exception`` swallows it)."""


class Cancelled(Exception):
    """The run was cancelled while paused: stop before another step."""


@dataclass(frozen=True, eq=False)
class Job:
    """What a run trains: the network, the data fitted to it, and the loop's settings."""

    model: nn.Module
    train_set: data.DataSet
    test_set: data.DataSet
    config: training.TrainConfig
    snapshot_every: int
    meta: dict  # input_shape, classes, mean, std: what run_files.model_spec needs


# --- from config to job ----------------------------------------------------------------------

@functools.lru_cache(maxsize=8)  # read-only, like data.load's splits: one drawing per process
def _shapes(n: int, size: int, channels: int, seed: int) -> data.DataSet:
    return data.shapes(n, size, channels, seed)


def datasets(config: dict) -> tuple[data.DataSet, data.DataSet]:
    """The training and test splits the config names, cut to ``train_images`` / ``test_images``."""
    name = config.get("data", "shapes")
    n_train, n_test = config.get("train_images"), config.get("test_images")
    if name == "shapes":  # drawn here at the size asked, rather than drawn at 28 and resized
        size, channels = int(config.get("shapes_size", 28)), int(config.get("shapes_channels", 1))
        return _shapes(int(n_train or 12000), size, channels, 0), _shapes(int(n_test or 2000), size, channels, 1)
    train_set, test_set = data.load(name, train=True), data.load(name, train=False)
    return (train_set.subset(int(n_train)) if n_train else train_set,
            test_set.subset(int(n_test)) if n_test else test_set)


def fit(split: data.DataSet, shape: tuple[int, int, int]) -> data.DataSet:
    """The split at the network's (C, H, W): channels converted, resized and centre-cropped if needed."""
    if tuple(split.images.shape[1:]) == tuple(shape):
        return split
    spec = models.ModelSpec("fit", "", shape[1], shape[0], split.classes, (0.0,), (1.0,), "none", "")
    return data.DataSet(split.name, inputs.fit_batch(split.images, spec), split.labels, split.classes)


def train_config(config: dict, train_size: int) -> tuple[training.TrainConfig, int]:
    """TrainConfig from the config's keys, and the snapshot interval in steps.

    ``augment`` switches TrainConfig's shift/rotation/zoom defaults on or off. Records come
    every gcd(log_every, snapshot_every) steps, so every snapshot step has a record.
    """
    defaults = training.TrainConfig()
    values = {f.name: type(getattr(defaults, f.name))(config[f.name])
              for f in dataclasses.fields(defaults) if config.get(f.name) is not None}
    if not config.get("augment", True):
        values.update(shift=0.0, degrees=0.0, scale=0.0)
    base = dataclasses.replace(defaults, **values)
    if base.batch_size < 1 or base.batch_size > train_size:
        raise ValueError(f"the batch size ({base.batch_size}) must be from 1 to the {train_size} training images")
    steps = training.total_steps(train_size, base.batch_size, base.epochs)
    every = int(config.get("snapshot_every") or max(1, steps // 20))
    return dataclasses.replace(base, log_every=math.gcd(base.log_every, every), log_seconds=RECORD_SECONDS), every


def splits(config: dict) -> tuple[data.DataSet, data.DataSet]:
    """The training and test splits exactly as the run sees them (``result``'s indices point into the test split).

    The network's input is the data's (C, H, W) unless ``input_channels`` / ``input_size`` ask otherwise.
    """
    train_set, test_set = datasets(config)
    channels, size = train_set.images.shape[1], train_set.images.shape[2]
    shape = (int(config.get("input_channels", channels)), int(config.get("input_size", size)),
             int(config.get("input_size", size)))
    return fit(train_set, shape), fit(test_set, shape)


def make_job(config: dict, root: Path | None = None) -> Job:
    """Data, network (``architecture.build``, seeded; a transfer's weights from ``root``'s run store) and
    settings for a run's config."""
    train_set, test_set = splits(config)
    shape = tuple(train_set.images.shape[1:])
    settings, every = train_config(config, len(train_set))
    torch.manual_seed(settings.seed)  # the same seed, the same initial weights
    model = architecture.build(config, shape, len(train_set.classes))
    source = config.get("transfer") or {}
    if source.get("from"):
        architecture.transfer(model, trained_weights(source["from"], root), source.get("train", "head"))
    mean, std = architecture.normalization(config.get("data", "shapes"), shape[0])
    meta = {"input_shape": list(shape), "classes": list(train_set.classes), "mean": list(mean), "std": list(std)}
    return Job(model, train_set, test_set, settings, every, meta)


def trained_weights(name: str, root: Path | None = None) -> dict[str, torch.Tensor]:
    """The weights a transfer starts from: a shipped model's ("lenet5") or a run's last checkpoint ("run:<id>")."""
    if name.startswith("run:"):
        try:
            return run_files.load_checkpoint(name[4:], root)[0]
        except (FileNotFoundError, runs.RunNotFound):
            raise architecture.ArchitectureError(f"the run {name[4:]} to start from is gone or has no weights") from None
    if name in architecture.REGISTRY_MODELS and models.has_pretrained(name):
        try:
            return models.shipped_state(name)
        except models.WeightsUnavailable as exc:  # damaged: said before launch, and by a run that tried
            raise architecture.ArchitectureError(exc.summary) from None
    raise architecture.ArchitectureError(f"there are no trained weights of {name!r} to start from")


# --- what a run keeps --------------------------------------------------------------------------

def first_conv(model: nn.Module) -> str:
    """The qualified name of the first ``nn.Conv2d`` (registration order: forward order here)."""
    return next(name for name, module in model.named_modules() if isinstance(module, nn.Conv2d))


@torch.no_grad()
def snapshot(model: nn.Module, probe: torch.Tensor, read: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """The first conv's ``filters`` (O, I, k, k) and its ``probe_maps`` (P, O, H', W') on ``probe`` (P, C, H, W);
    with ``read`` (R, C, H, W), the network's class probabilities for those images, ``read_probabilities`` (R, K).

    Maps and probabilities come in eval mode (batch norm's running statistics); the model is put back in training
    mode.
    """
    name = first_conv(model)
    device = next(model.parameters()).device
    maps = extraction.extractor(model, [name])(probe.to(device))[name]
    arrays = {"filters": model.get_submodule(name).weight.float(), "probe_maps": maps.float()}
    if read is not None:
        model.eval()
        arrays["read_probabilities"] = torch.softmax(model(read.to(device)).float(), 1)
    model.train()
    return arrays


def result(model: nn.Module, test_set: data.DataSet) -> dict[str, torch.Tensor]:
    """``confusion`` (K, K) int64, rows the true class, columns the predicted one; the first
    ``MISTAKES`` ``misclassified`` test indices and their ``misclassified_predicted`` classes."""
    device = next(model.parameters()).device
    predicted = training.predict(model, test_set.images.to(device)).cpu()
    truth, k = test_set.labels, len(test_set.classes)
    confusion = torch.bincount(truth * k + predicted, minlength=k * k).view(k, k)
    wrong = (predicted != truth).nonzero().flatten()[:MISTAKES]
    return {"confusion": confusion, "misclassified": wrong, "misclassified_predicted": predicted[wrong]}


# --- the run ---------------------------------------------------------------------------------

def _start_point(run_id: str, root: Path, job: Job, device: torch.device) -> tuple[torch.optim.Optimizer, int]:
    """The optimizer and the first step: the checkpoint's if the folder has one, else step 0.

    Records and snapshots past the start point (from an attempt that died) are superseded.
    """
    state, start = None, 0
    if runs.get(run_id, root).config.get("resume", True) is not False and run_files.has_checkpoint(run_id, root):
        weights, state, meta = run_files.load_checkpoint(run_id, root)
        job.model.load_state_dict(weights)
        start = meta["step"]
    job.model.to(device)  # before the optimizer: its state is loaded beside the parameters
    optimizer = training.make_optimizer(job.model, job.config, state)
    if run_metrics.read(run_id, root) or start:
        run_metrics.append(run_id, [{"phase": "resume", "step": start, "time": time.time()}], root)
        run_files.drop_snapshots_after(run_id, start, root)
    return optimizer, start


def _checkpoint(run_id: str, root: Path, job: Job, optimizer: torch.optim.Optimizer,
                record: training.Progress) -> None:
    run_files.save_checkpoint(run_id, job.model, optimizer, record.step, record.epoch, root, **job.meta)


def train_run(run_id: str, root: Path, job: Job, device: torch.device) -> tuple[str, str, dict]:
    """Train, writing records, snapshots and checkpoints; returns (final status, reason, extra fields)."""
    optimizer, start = _start_point(run_id, root, job, device)
    probe = job.test_set.images[:PROBE].float() / 255  # (P, C, H, W) in [0, 1]
    read = job.test_set.images[:READ].float() / 255
    probe_arrays = {"probe_images": probe, "probe_labels": job.test_set.labels[:PROBE],  # copies: no two may
                    "read_images": job.test_set.images[:READ].clone(),  # share memory in one safetensors file
                    "read_labels": job.test_set.labels[:READ].clone()}

    def save_snapshot(step: int) -> None:
        run_files.save_snapshot(run_id, step, {**snapshot(job.model, probe, read), **probe_arrays}, root,
                                classes=job.meta["classes"])

    def hold() -> None:  # between records; a pause is not training time
        run_flags.hold_while_paused(run_id, root)
        if run_flags.cancel_requested(run_id, root):  # cancelled while paused: not one step more
            raise Cancelled()

    if start == 0:  # the initial filters and weights
        save_snapshot(0)
        run_files.save_epoch(run_id, 0, job.model, root)
    last_snapshot = start
    try:
        for record in training.train(job.model, job.train_set, job.test_set, job.config,
                                     optimizer=optimizer, start_step=start, hold=hold):
            run_metrics.append(run_id, [{**dataclasses.asdict(record), "time": time.time()}], root)
            if record.phase == "diverged":
                return "diverged", (f"the loss became {record.loss} at step {record.step}: "
                                    f"try a smaller learning rate (now {job.config.lr:g})"), {}
            if record.phase == "eval":
                _checkpoint(run_id, root, job, optimizer, record)
                if run_files.keeps_epoch(round(record.epoch), job.config.epochs):
                    run_files.save_epoch(run_id, round(record.epoch), job.model, root)
            due = record.step // job.snapshot_every > last_snapshot // job.snapshot_every or record.phase == "done"
            if due and record.step != last_snapshot:
                save_snapshot(record.step)
                last_snapshot = record.step
            if record.phase == "done":
                if record.step == start:  # nothing left to train: the checkpoint is already the end
                    _checkpoint(run_id, root, job, optimizer, record)
                run_files.save_result(run_id, result(job.model, job.test_set), root)
                accuracy = record.test_accuracy
                return "finished", f"test accuracy {accuracy:.1%}" if accuracy is not None else "", \
                    {"test_accuracy": accuracy, "step": record.step}
            if run_flags.cancel_requested(run_id, root):
                return "cancelled", f"cancelled at step {record.step} of {record.steps}", {"step": record.step}
    except Cancelled:
        return "cancelled", f"cancelled at step {record.step} of {record.steps}", {"step": record.step}
    return "failed", "training ended without a final record", {}


def device_name(device: torch.device) -> str:
    """"cpu", or "cuda:0 (NVIDIA H100 80GB HBM3)"."""
    if device.type != "cuda":
        return device.type
    index = device.index if device.index is not None else torch.cuda.current_device()
    return f"cuda:{index} ({torch.cuda.get_device_name(index)})"


def run(folder: Path) -> str:
    """Run the job in ``folder`` to a final status and return it ("" if the run was not ours to take)."""
    folder = Path(folder).resolve()
    root, run_id = folder.parent, folder.name
    config = runs.get(run_id, root).config
    try:
        device = training.resolve_device(str(config.get("device", "auto")))
        name = device_name(device)
    except Exception as exc:  # noqa: BLE001 - "cuda" asked on a machine without one, a bad name
        run_lifecycle.set_status(run_id, "failed", f"the device {config.get('device')!r} cannot be used here ({exc})",
                                 root, only_from=runs.ACTIVE + ("interrupted",))
        return "failed"
    if not run_lifecycle.mark_running(run_id, os.getpid(), name, root):
        print(f"run {run_id} is not startable (ended, or another worker has it)", flush=True)
        return ""
    status, reason, fields = _outcome(run_id, root, config, device)
    print(f"run {run_id}: {status} {reason}", flush=True)
    run_lifecycle.set_status(run_id, status, reason, root, only_from=runs.ACTIVE, **fields)
    return status


def _outcome(run_id: str, root: Path, config: dict, device: torch.device) -> tuple[str, str, dict]:
    """The final (status, reason, fields) of training; every failure becomes a reason, not a crash."""
    try:
        if run_flags.cancel_requested(run_id, root):
            return "cancelled", "cancelled before training began", {}
        return train_run(run_id, root, make_job(config, root), device)
    except Stopped:
        if run_flags.cancel_requested(run_id, root):
            return "cancelled", "cancelled (the worker was stopped)", {}
        return "interrupted", "the worker was stopped (SIGTERM); resume to continue", {}
    except torch.OutOfMemoryError:
        return "failed", _out_of_memory("the GPU", config), {}
    except data.DataUnavailable as exc:
        print(exc, flush=True)  # the server's paths and settings: for whoever runs it, in worker.log
        return "failed", exc.summary.rstrip("."), {}
    except (architecture.ArchitectureError, ValueError) as exc:
        traceback.print_exc()
        return "failed", str(exc), {}
    except Exception as exc:  # noqa: BLE001 - whatever it is, the run records it
        traceback.print_exc()
        if _disk_full(exc):  # safetensors says it in its own words, not as an OSError
            return "failed", ("the server's disk is full: the run could not save its files (once there is room, "
                              "one that saved a checkpoint resumes from it)"), {}
        if isinstance(exc, MemoryError) or "can't allocate memory" in str(exc):  # PyTorch's CPU allocator says so
            return "failed", _out_of_memory("the server", config), {}
        return "failed", f"{type(exc).__name__}: {exc}", {}


def _out_of_memory(what: str, config: dict) -> str:
    return (f"{what} ran out of memory: try a smaller batch size "
            f"(now {config.get('batch_size', training.TrainConfig.batch_size)})")


def _disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` is a full disk's (or quota's) error: an OSError's number, or a library's message for it."""
    return (isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)) or \
        "No space left on device" in str(exc) or "Disk quota exceeded" in str(exc)


def _on_sigterm(signum: int, frame: object) -> None:
    raise Stopped()


def warm_up() -> None:
    """What a spare does before it waits: the default run's shapes drawn (lru-cached, as ``datasets`` asks for
    them) and one step of a small network, which pays the first call's costs. Never touches CUDA: the GPU a
    run gets is set (``CUDA_VISIBLE_DEVICES``) only when it arrives."""
    datasets({"data": "shapes"})
    model = architecture.build({"model": "lenet5"}, (1, 28, 28), len(data.SHAPE_CLASSES))
    model(torch.zeros(8, 1, 28, 28)).sum().backward()


def wait_for_run(line: str) -> Path | None:
    """The run folder a spare was handed (``<folder>\t<gpu>``), the GPU made the only one it sees and its
    output moved to the run's ``worker.log``; None for end of input (nothing to run)."""
    if not line.strip():
        return None
    folder, _, gpu = line.rstrip("\n").partition("\t")
    if gpu:
        os.environ["CUDA_VISIBLE_DEVICES"] = gpu  # read when CUDA starts, which no spare has done yet
    sys.stdout.flush()
    log = os.open(Path(folder) / "worker.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    for stream in (1, 2):
        os.dup2(log, stream)
    os.close(log)
    return Path(folder)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m explorer.worker <run folder> | --spare", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _on_sigterm)
    if argv[0] == "--spare":
        try:
            warm_up()
            folder = wait_for_run(sys.stdin.readline())
        except Stopped:  # stopped while waiting: no run was handed to it
            return 0
        if folder is None:
            return 0
    else:
        folder = Path(argv[0])
    status = run(folder)
    return 1 if status == "failed" else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
