"""The networks this project defines, layer by layer: LeNet-5, TinyVGG and a small ResNet, each one
``nn.Sequential`` of named children, and the layers of its own a registry model may hold: ``Normalize``, its
first layer, and ``Scramble``, which moves the pixels to fixed random places.

The registry that builds them, with their metadata and weights, is :mod:`explorer.models`.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING

import torch
from torch import nn

if TYPE_CHECKING:
    from explorer.models import ModelSpec


# --- the layers of its own ---------------------------------------------------------------------

class Normalize(nn.Module):
    """``(x - mean) / std`` per channel: the model's own first layer, so inputs stay in [0, 1]."""

    def __init__(self, mean: tuple[float, ...], std: tuple[float, ...]):
        super().__init__()
        # not persistent: the statistics belong to the registry entry, not to a weights file
        self.register_buffer("mean", torch.tensor(mean).view(-1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(-1, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, C, H, W)
        return (x - self.mean) / self.std

    def extra_repr(self) -> str:
        def text(t: torch.Tensor) -> str:  # one value bare, one per channel in brackets: "0.1307", "[0.485, ...]"
            values = [f"{v:.4g}" for v in t.flatten().tolist()]
            return values[0] if len(values) == 1 else "[" + ", ".join(values) + "]"

        return f"mean={text(self.mean)}, std={text(self.std)}"


class Scramble(nn.Module):
    """Every image's pixels moved to the same fixed random places (one permutation of the H x W positions, drawn
    from ``seed``, for every channel): what is left of an image once its pixels' order means nothing.

    A fully connected network is indifferent to it (its first layer's weights could be permuted back), a CNN's
    kernels see random neighbours: the lecture's "MLPs flatten the image and lose spatial structure"."""

    def __init__(self, height: int, width: int, seed: int = 0):
        super().__init__()
        self.height, self.width, self.seed = height, width, seed
        order = torch.randperm(height * width, generator=torch.Generator().manual_seed(seed))
        self.register_buffer("order", order)  # in the weights file: the same places whatever draws randperm

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, C, H, W)
        return x.flatten(-2)[..., self.order].unflatten(-1, (self.height, self.width))

    def extra_repr(self) -> str:
        return f"{self.height}, {self.width}, seed={self.seed}"


# --- the project's own networks --------------------------------------------------------------

def lenet5(spec: ModelSpec) -> nn.Sequential:
    """LeNet-5 (LeCun et al. 1998) with ReLU and max-pooling: conv-pool-conv-pool-fc-fc-fc, 61,706 parameters.

    (1, 28, 28) -> conv1 5x5 pad 2 -> (6, 28, 28) -> pool -> (6, 14, 14) -> conv2 5x5 -> (16, 10, 10)
    -> pool -> (16, 5, 5) -> 400 -> 120 -> 84 -> 10.
    """
    return nn.Sequential(OrderedDict(
        normalize=Normalize(spec.mean, spec.std),
        conv1=nn.Conv2d(1, 6, 5, padding=2), relu1=nn.ReLU(), pool1=nn.MaxPool2d(2),
        conv2=nn.Conv2d(6, 16, 5), relu2=nn.ReLU(), pool2=nn.MaxPool2d(2),
        flatten=nn.Flatten(),
        fc3=nn.Linear(16 * 5 * 5, 120), relu3=nn.ReLU(),
        fc4=nn.Linear(120, 84), relu4=nn.ReLU(),
        fc5=nn.Linear(84, len(spec.classes)),
    ))


def tinyvgg(spec: ModelSpec) -> nn.Sequential:
    """TinyVGG, the CNN Explainer network: two blocks of conv-relu-conv-relu-maxpool, 10 filters of 3x3.

    (No names like ``conv1_1``: feature extraction reads a trailing ``_1`` as a repeated call.)

    (3, 64, 64) -> 62 -> 60 -> pool 30 -> 28 -> 26 -> pool 13 -> 10 * 13 * 13 = 1690 -> classes.
    """
    return nn.Sequential(OrderedDict(
        normalize=Normalize(spec.mean, spec.std),
        conv1a=nn.Conv2d(spec.channels, 10, 3), relu1a=nn.ReLU(),
        conv1b=nn.Conv2d(10, 10, 3), relu1b=nn.ReLU(), pool1=nn.MaxPool2d(2),
        conv2a=nn.Conv2d(10, 10, 3), relu2a=nn.ReLU(),
        conv2b=nn.Conv2d(10, 10, 3), relu2b=nn.ReLU(), pool2=nn.MaxPool2d(2),
        flatten=nn.Flatten(),
        fc=nn.Linear(10 * 13 * 13, len(spec.classes)),
    ))


class BasicBlock(nn.Module):
    """A residual block: ``relu(bn(conv(relu(bn(conv(x))))) + shortcut(x))`` (He et al. 2016)."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = nn.Identity() if stride == 1 and c_in == c_out else nn.Sequential(OrderedDict(
            conv=nn.Conv2d(c_in, c_out, 1, stride, bias=False), bn=nn.BatchNorm2d(c_out)))
        self.relu2 = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x)))))
        return self.relu2(out + self.shortcut(x))  # the skip connection


def resnet_small(spec: ModelSpec) -> nn.Sequential:
    """A ResNet for 32x32 images (ResNet-8 shape): a 3x3 stem and three stages of one block each.

    (3, 32, 32) -> 16 x 32 x 32 -> 32 x 16 x 16 -> 64 x 8 x 8 -> global average -> classes.
    """
    return nn.Sequential(OrderedDict(
        normalize=Normalize(spec.mean, spec.std),
        conv1=nn.Conv2d(spec.channels, 16, 3, padding=1, bias=False), bn1=nn.BatchNorm2d(16), relu1=nn.ReLU(),
        stage1=BasicBlock(16, 16), stage2=BasicBlock(16, 32, stride=2), stage3=BasicBlock(32, 64, stride=2),
        avgpool=nn.AdaptiveAvgPool2d(1), flatten=nn.Flatten(),
        fc=nn.Linear(64, len(spec.classes)),
    ))
