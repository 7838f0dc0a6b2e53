"""Linear probes: how well a plain linear classifier reads the classes off each layer's output.

Zeiler & Fergus (2014) trained a linear SVM on each layer's features of their ImageNet network (and a
softmax classifier on layers 5 and 7) and found that deeper layers give better features (Caltech-101, 30
images per class, the SVM: layer 1 44.8%, 2 66.2%, 3 72.3%, 4 76.6%, 5 86.2%, 7 85.5%; softmax: 82.9%, 85.4%). The same experiment on any model here:

- the outputs of the probed layers for a training split and a test split; feature maps larger than
  ``MAX_FEATURES`` values are average-pooled down to it (so each probe reads a comparable amount);
- each feature standardised with the training split's mean and spread;
- multinomial logistic regression (softmax with an L2 penalty) fitted by L-BFGS to the training
  split, scored on the test split.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from explorer import extraction, inspect

MAX_FEATURES = 1024
ZEILER_FERGUS_CALTECH101 = {"layer 1": 44.8, "layer 2": 66.2, "layer 3": 72.3, "layer 4": 76.6,
                            "layer 5": 86.2, "layer 7": 85.5}  # test accuracy (%), from the lecture
_FEATURE_TYPES = {"ReLU", "relu", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "add", "cat"}


@dataclass(frozen=True)
class Probe:
    """One layer's linear probe."""

    layer: str
    features: int  # how many values the classifier reads (after pooling)
    train_accuracy: float
    test_accuracy: float


def probe_layers(layers: list[inspect.Layer], most: int = 12) -> list[str]:
    """The layers worth probing, in forward order: the input (the model's Normalize, or its first layer), every
    activation, pooling and merging output between, evenly thinned, and the output (the class scores):
    ``most`` at the most."""
    first, last = layers[0].name, layers[-1].name
    found = [l.name for l in layers[1:-1] if l.type in _FEATURE_TYPES]
    if len(found) > most - 2:
        found = [found[round(i * (len(found) - 1) / (most - 3))] for i in range(most - 2)]
    return [first, *found, last]


def features(model: nn.Module, layers: list[str], images: torch.Tensor, batch: int = 256,
             progress: Callable[[int, int], None] | None = None) -> dict[str, torch.Tensor]:
    """Each layer's output for ``images`` (N, C, H, W) uint8 at the model's input size, as (N, D) float32,
    D at most ``MAX_FEATURES`` (larger feature maps average-pooled)."""
    graph = extraction.extractor(model, layers)
    device = inspect.device_of(model)
    parts: dict[str, list[torch.Tensor]] = {name: [] for name in layers}
    with torch.no_grad():
        for start in range(0, len(images), batch):
            out = graph(images[start:start + batch].to(device).float() / 255)
            for name in layers:
                parts[name].append(_reduced(out[name].float()).cpu())
            if progress is not None:
                progress(min(start + batch, len(images)), len(images))
    return {name: torch.cat(chunks) for name, chunks in parts.items()}


def _reduced(output: torch.Tensor) -> torch.Tensor:
    """(B, ...) -> (B, D): feature maps with more than ``MAX_FEATURES`` values pooled to a smaller grid."""
    if output.dim() == 4 and output[0].numel() > MAX_FEATURES:
        side = max(1, math.isqrt(MAX_FEATURES // output.shape[1]))
        output = F.adaptive_avg_pool2d(output, side)
    return output.flatten(1)


def fit(train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor, test_y: torch.Tensor, classes: int,
        weight_decay: float = 1e-3, iterations: int = 50) -> tuple[float, float]:
    """Softmax regression on standardised features: (train accuracy, test accuracy), in [0, 1]."""
    mean, spread = train_x.mean(0), train_x.std(0).clamp(min=1e-6)
    train_x, test_x = (train_x - mean) / spread, (test_x - mean) / spread
    generator = torch.Generator().manual_seed(0)
    weight = (torch.randn(train_x.shape[1], classes, generator=generator) * 0.01).requires_grad_(True)
    bias = torch.zeros(classes, requires_grad=True)
    optimizer = torch.optim.LBFGS([weight, bias], max_iter=iterations, line_search_fn="strong_wolfe")

    def loss() -> torch.Tensor:
        optimizer.zero_grad()
        value = F.cross_entropy(train_x @ weight + bias, train_y) + weight_decay * weight.square().sum()
        value.backward()
        return value

    with torch.enable_grad():
        optimizer.step(loss)
    with torch.no_grad():
        return tuple(float(((x @ weight + bias).argmax(1) == y).float().mean())
                     for x, y in ((train_x, train_y), (test_x, test_y)))


def probe(model: nn.Module, layers: list[str], train: tuple[torch.Tensor, torch.Tensor],
          test: tuple[torch.Tensor, torch.Tensor], classes: int,
          progress: Callable[[int, int], None] | None = None) -> list[Probe]:
    """A linear probe on each of ``layers`` (node names), from ``train`` and ``test`` = (images uint8 at the
    model's input size, labels). ``progress(done, total)`` counts stages of about equal time: reading every
    image through the network is the first (done 0 while it lasts), each layer's fit one more."""
    images = torch.cat([train[0], test[0]])
    total = 1 + len(layers)
    outputs = features(model, layers, images)
    n = len(train[0])
    result = []
    for i, name in enumerate(layers):
        if progress is not None:
            progress(1 + i, total)
        values = outputs[name]
        train_accuracy, test_accuracy = fit(values[:n], train[1], values[n:], test[1], classes)
        result.append(Probe(name, values.shape[1], train_accuracy, test_accuracy))
    return result
