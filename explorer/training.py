"""The training core: a loop written as a generator of small progress records.

The whole data set sits on the device as one uint8 tensor; batches are sliced from a shuffled
index, converted to float and augmented with batched tensor ops (no DataLoader). On CUDA the
loop runs in bf16 autocast with channels_last; with ``TrainConfig.graphs`` every step is replayed
from one captured CUDA graph (:mod:`explorer.step_graph`). Seeded runs on the CPU are reproducible.
The loop knows nothing about display: a page, a script or a test consumes the records.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from explorer import step_graph

if TYPE_CHECKING:
    from explorer.data import DataSet


@dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters of one run (one-cycle AdamW or SGD, cross-entropy)."""

    epochs: int = 5
    batch_size: int = 128
    lr: float = 3e-3  # the peak of the one-cycle schedule
    weight_decay: float = 5e-4
    label_smoothing: float = 0.0
    shift: float = 0.1  # random translation, as a fraction of the image side (0 = none)
    degrees: float = 10.0  # random rotation, at most this many degrees either way
    scale: float = 0.1  # random zoom, 1 +- this
    seed: int = 0
    device: str = "auto"
    log_every: int = 50  # steps between training records
    optimizer: str = "adamw"  # "adamw", or "sgd" (momentum 0.9, Nesterov)
    log_seconds: float = 0.0  # also a training record once this many seconds passed since the last (0 = off)
    cycle_momentum: bool = True  # the one-cycle schedule also cycles momentum (Adam's beta1) 0.95 -> 0.85 -> 0.95
    graphs: bool = False  # replay each step from one captured CUDA graph (AdamW, no augmentation, fixed momentum)

    def checked(self) -> TrainConfig:
        """Itself, or ValueError naming what a captured step cannot do."""
        if self.graphs and self.optimizer != "adamw":
            raise ValueError("graphs: only AdamW is captured")
        if self.graphs and (self.shift or self.degrees or self.scale):
            raise ValueError("graphs: no augmentation (its random draws would be replayed unchanged)")
        if self.graphs and self.cycle_momentum:
            raise ValueError("graphs: set cycle_momentum=False (a captured AdamW step keeps its betas)")
        return self


@dataclass(frozen=True)
class Progress:
    """One record of a run. ``phase``: "train", "eval" (an epoch ended), "done" or "diverged"."""

    phase: str
    step: int
    steps: int
    epoch: float
    loss: float
    accuracy: float  # on the training batches since the last record
    elapsed: float  # seconds
    images_per_s: float
    test_accuracy: float | None = None
    lr: float = 0.0
    device: str = field(default="cpu")
    test_loss: float | None = None  # the test set's mean cross-entropy ("eval" and "done" records)


def resolve_device(device: str = "auto") -> torch.device:
    """``"auto"``: CUDA when present, else the CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def augment(x: torch.Tensor, config: TrainConfig, generator: torch.Generator) -> torch.Tensor:
    """Random affine (shift, rotation, zoom) of a float batch (N, C, H, W), one draw per image."""
    if not (config.shift or config.degrees or config.scale):
        return x
    n = x.shape[0]

    def uniform(size: int = n) -> torch.Tensor:  # in [-1, 1]
        return torch.rand(size, generator=generator, device=x.device) * 2 - 1

    angle = uniform() * math.radians(config.degrees)
    zoom = 1 + uniform() * config.scale
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    shift = uniform(2 * n).view(n, 2) * 2 * config.shift  # grid units: the image spans [-1, 1]
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)  # (N, H, W, 2)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def _as_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, C, H, W) -> float in [0, 1], the project's image convention."""
    return images.float().div_(255)


@torch.no_grad()
def scores(model: nn.Module, images: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """Class scores (N, K) for uint8 images (N, C, H, W) already on the model's device, in eval mode."""
    was_training = model.training
    model.eval()
    out = [_forward(model, _as_float(images[i:i + batch_size])) for i in range(0, len(images), batch_size)]
    model.train(was_training)
    return torch.cat(out)


def predict(model: nn.Module, images: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """Predicted class of every image (N,) for uint8 images (N, C, H, W) already on the model's device."""
    return scores(model, images, batch_size).argmax(1)


def evaluate(model: nn.Module, data: DataSet, device: str | torch.device = "auto") -> float:
    """Accuracy of ``model`` on ``data`` (moves model and data to ``device``)."""
    return test_metrics(model, data, device)[0]


def test_metrics(model: nn.Module, data: DataSet, device: str | torch.device = "auto",
                 label_smoothing: float = 0.0) -> tuple[float, float]:
    """Accuracy and mean cross-entropy of ``model`` on ``data``, with the training loss's ``label_smoothing`` (the two
    losses on one scale)."""
    dev = resolve_device(str(device)) if isinstance(device, str) else device
    model.to(dev)
    logits, labels = scores(model, data.images.to(dev)), data.labels.to(dev)
    loss = F.cross_entropy(logits, labels, label_smoothing=label_smoothing)
    return (logits.argmax(1) == labels).float().mean().item(), loss.item()


def _forward(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    if x.is_cuda:  # no cast cache: each weight is cast once per forward anyway, and a graph capture forbids it
        with torch.autocast("cuda", dtype=torch.bfloat16, cache_enabled=False):
            return model(x.contiguous(memory_format=torch.channels_last)).float()
    return model(x)


def make_optimizer(model: nn.Module, config: TrainConfig, state: dict | None = None) -> torch.optim.Optimizer:
    """AdamW (decoupled weight decay), or SGD with Nesterov momentum 0.9 (L2 weight decay).

    On CUDA, AdamW is the fused kernel: one launch updates every parameter, where the default
    launches several per step, and a short run on a small network is bound by launches. With
    ``config.graphs`` it is also capturable (its step count lives on the device).

    ``state``: an optimizer state dict to continue from. Only its per-parameter state (moments, momentum, step
    counts) is read, under this optimizer's own groups: the config's hyperparameters and this device's flags hold
    whatever the file says. Move the model to its device first: ``load_state_dict`` puts the state beside the
    parameters.
    """
    on_cuda = _on_cuda(model)
    capturable = on_cuda and config.graphs and config.optimizer == "adamw"
    groups = _groups(model, config.lr)
    if config.optimizer == "adamw":
        optimizer = torch.optim.AdamW(groups, lr=config.lr, weight_decay=config.weight_decay,
                                      fused=on_cuda or None, capturable=capturable)
    elif config.optimizer == "sgd":
        optimizer = torch.optim.SGD(groups, lr=config.lr, momentum=0.9, nesterov=True,
                                    weight_decay=config.weight_decay)
    else:
        raise ValueError(f"unknown optimizer {config.optimizer!r}; choose adamw or sgd")
    if state is not None:
        groups = optimizer.state_dict()["param_groups"]
        if [len(g["params"]) for g in state.get("param_groups", [])] != [len(g["params"]) for g in groups]:
            raise ValueError("the saved optimizer state does not fit this network's parameter groups")
        optimizer.load_state_dict({"state": state["state"], "param_groups": groups})
    return optimizer


def ordered_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The parameters in the order an optimizer's state dict numbers them (group by group, :func:`_groups`)."""
    return [parameter for group in _groups(model, 1.0) for parameter in group["params"]]


def _groups(model: nn.Module, lr: float) -> list[dict]:
    """One parameter group per learning-rate scale (a parameter's ``lr_scale``, set when fine-tuning transferred
    layers; 1 otherwise), the group's ``lr_scale`` kept for the schedule; a parameter whose ``decay`` is False (a
    layer with hand-set filters kept fixed) goes in a group without weight decay."""
    kinds: dict[tuple[float, bool], list[nn.Parameter]] = {}
    for parameter in model.parameters():
        kinds.setdefault((getattr(parameter, "lr_scale", 1.0), getattr(parameter, "decay", True)), []).append(parameter)
    return [{"params": params, "lr": lr * scale, "lr_scale": scale, **({} if decay else {"weight_decay": 0.0})}
            for (scale, decay), params in kinds.items()]


def _on_cuda(model: nn.Module) -> bool:
    parameters = list(model.parameters())
    return bool(parameters) and all(p.is_cuda for p in parameters)


def _one_cycle(optimizer: torch.optim.Optimizer, config: TrainConfig, steps: int,
               start_step: int) -> torch.optim.lr_scheduler.LRScheduler:
    """The one-cycle schedule (Smith 2018) over ``steps``, advanced to ``start_step`` (a resumed run)."""
    peaks = [config.lr * group.get("lr_scale", 1.0) for group in optimizer.param_groups]
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, peaks, total_steps=max(steps, 1),
                                                   cycle_momentum=config.cycle_momentum)
    with warnings.catch_warnings():  # stepping the schedule without the optimizer is the point here
        warnings.simplefilter("ignore")
        for _ in range(start_step):
            schedule.step()
    return schedule


class _Window:
    """Training loss and accuracy summed since the last record.

    The sums are device tensors updated in place: no sync per step, and a captured step adds to
    them on every replay. ``n`` is counted by the caller, outside any capture.
    """

    def __init__(self, device: torch.device) -> None:
        self.loss = torch.zeros((), device=device)
        self.right = torch.zeros((), dtype=torch.int64, device=device)
        self.n = 0
        self.last = (float("nan"), 0.0)  # the latest (loss, accuracy), repeated by eval records

    def add(self, loss: torch.Tensor, logits: torch.Tensor, y: torch.Tensor) -> None:
        self.loss.add_(loss.detach() * len(y))
        self.right.add_((logits.argmax(1) == y).sum())

    def close(self) -> None:
        self.last = (self.loss.item() / self.n, self.right.item() / self.n)
        self.loss.zero_()
        self.right.zero_()
        self.n = 0


def _step(model: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor,
          config: TrainConfig, window: _Window) -> torch.Tensor:
    """One optimiser step on a float batch x (N, C, H, W), y (N,), counted in ``window``; returns the loss."""
    logits = _forward(model, x)
    loss = F.cross_entropy(logits, y, label_smoothing=config.label_smoothing)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    window.add(loss, logits, y)
    return loss


def total_steps(images: int, batch_size: int, epochs: int) -> int:
    """A run's optimizer steps: whole batches per epoch (the last partial batch is dropped), times the epochs."""
    return images // batch_size * epochs


def seconds_left(step: int, steps: int, elapsed: float, since: tuple[int, float] = (0, 0.0)) -> float:
    """The training time a run still needs for ``steps - step`` steps at its pace since ``since``, an earlier
    ``(step, elapsed)`` (by default its start): ``elapsed`` seconds of training at ``step``.

    A run that slowed down (a second run on the machine) is timed by its recent pace, not the average since the
    start, which said "3 s left" for 13.
    """
    first, then = since if since[0] < step else (0, 0.0)
    return (elapsed - then) / max(step - first, 1) * max(steps - step, 0)


def seconds_through(records: list[dict]) -> list[float | None]:
    """Each record's seconds of training since the run began (None for a record without ``elapsed``): a worker
    that resumes counts ``elapsed`` from 0 again (after a ``resume`` record), so the stretches before add up."""
    out, before, stretch = [], 0.0, 0.0
    for record in records:
        if record.get("phase") == "resume":
            before, stretch = before + stretch, 0.0
        if isinstance(record.get("elapsed"), (int, float)):
            stretch = record["elapsed"]
            out.append(before + stretch)
        else:
            out.append(None)
    return out


def training_seconds(records: list[dict]) -> float:
    """A run's seconds of training from its metrics records (each resumed stretch's last ``elapsed`` added up)."""
    return max((s for s in seconds_through(records) if s is not None), default=0.0)


def recent_start(records: list[dict], share: float = 0.5) -> tuple[int, float]:
    """The ``(step, elapsed)`` that begins the last ``share`` of a run's training time, from its metrics records
    (those with a ``step``): the start of the pace :func:`seconds_left` uses."""
    resumed = max((i for i, r in enumerate(records) if r.get("phase") == "resume"), default=-1)
    timed = [r for r in records[resumed + 1:] if "steps" in r]  # elapsed counts from 0 again after a resume
    if not timed:
        return 0, 0.0
    start = timed[-1]["elapsed"] * (1 - share)
    first = next(r for r in timed if r["elapsed"] >= start)
    return first["step"], first["elapsed"]


def train(model: nn.Module, train_set: DataSet, test_set: DataSet | None = None,
          config: TrainConfig = TrainConfig(), *, optimizer: torch.optim.Optimizer | None = None,
          start_step: int = 0, hold: Callable[[], None] | None = None) -> Iterator[Progress]:
    """Train ``model`` in place; yields a record every ``log_every`` steps (and ``log_seconds``), at each
    epoch end and at the end.

    Stops early with a "diverged" record when the loss stops being finite.
    ``optimizer``: one made by :func:`make_optimizer` (the caller keeps it, to save its state).
    Resuming: pass the checkpoint's optimizer and ``start_step``; the schedule continues from there.
    The batches after a resume come from a generator seeded with ``seed + start_step``:
    reproducible, but not the very batches an unbroken run would have drawn.
    ``hold``: called after each record but the last; it may block (a paused run), and the time it takes is not
    counted as training time (``elapsed``, images per second).
    """
    config.checked()
    device = resolve_device(config.device)
    generator = torch.Generator(device=device).manual_seed(config.seed + start_step)
    model.to(device).train()
    if device.type == "cuda":
        model.to(memory_format=torch.channels_last)
    images, labels = train_set.images.to(device), train_set.labels.to(device)
    per_epoch = len(images) // config.batch_size  # the last partial batch is dropped
    steps = total_steps(len(images), config.batch_size, config.epochs)
    step = min(start_step, steps)
    optimizer = make_optimizer(model, config) if optimizer is None else optimizer
    schedule = _one_cycle(optimizer, config, steps, step)
    start = last_record = time.perf_counter()
    seen, window = 0, _Window(device)

    def eager(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return _step(model, optimizer, augment(_as_float(x), config, generator), y, config, window)

    one_step = eager
    if config.graphs:
        one_step = step_graph.GraphedStep(eager, optimizer, (config.batch_size, *images.shape[1:]), device)

    def record(phase: str, test: tuple[float, float] | None = None) -> Progress:
        nonlocal last_record
        last_record = time.perf_counter()
        elapsed = last_record - start
        accuracy, loss = test if test is not None else (None, None)
        return Progress(phase, step, steps, step / max(per_epoch, 1), *window.last, elapsed,
                        seen / max(elapsed, 1e-9), accuracy, schedule.get_last_lr()[0], device.type, loss)

    def held() -> None:
        nonlocal start, last_record
        if hold is not None:
            began = time.perf_counter()
            hold()
            paused = time.perf_counter() - began
            start, last_record = start + paused, last_record + paused

    test = None
    first_epoch, first_batch = divmod(step, max(per_epoch, 1))
    for epoch in range(first_epoch, config.epochs):
        order = torch.randperm(len(images), generator=generator, device=device)
        for b in range(first_batch if epoch == first_epoch else 0, per_epoch):
            idx = order[b * config.batch_size:(b + 1) * config.batch_size]
            loss = one_step(images[idx], labels[idx])
            schedule.step()
            step, seen = step + 1, seen + len(idx)
            window.n += len(idx)
            due = step % config.log_every == 0 or b == per_epoch - 1 or \
                bool(config.log_seconds and time.perf_counter() - last_record >= config.log_seconds)
            if due:
                window.close()
                if not math.isfinite(loss.item()):
                    yield record("diverged")
                    return
                yield record("train")
                held()
        test = test_metrics(model, test_set, device, config.label_smoothing) if test_set is not None else None
        model.train()
        yield record("eval", test)
        held()
    yield record("done", test)
