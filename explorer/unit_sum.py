"""One output value of a convolution layer, computed as the lecture writes it: for every input map the window under
the kernel times the kernel's slice for that map, summed, then all input maps added up with the bias.

This is what a real layer does with many input maps (CNN Explainer shows it on its TinyVGG): the Step by step page
works on one map, this on the network's own activations, and the total is checked against the layer's output.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class UnitSum:
    """How ``output[map, row, col]`` of a convolution comes about."""

    channels: list[int]  # the input maps the kernel reads (a grouped convolution reads its group's only)
    windows: torch.Tensor  # (C, kh, kw) each input map under the window (padding included)
    kernels: torch.Tensor  # (C, kh, kw) the kernel's slice for each input map
    partials: torch.Tensor  # (C,) the sum of the products on each input map
    bias: float
    rows: list[int]  # the input rows and columns of the taps (negative or past the edge: padding)
    cols: list[int]

    @property
    def total(self) -> float:
        return float(self.partials.sum()) + self.bias

    @property
    def products(self) -> torch.Tensor:
        """(C, kh, kw) each tap's input times its weight."""
        return self.windows * self.kernels


def conv_unit(conv: nn.Conv2d, x: torch.Tensor, out_map: int, row: int, col: int) -> UnitSum:
    """``conv``'s output value at (``out_map``, ``row``, ``col``) for its input ``x`` (C, H, W), term by term.

    Raises ValueError (in words) for a map or position the output does not have.
    """
    weight = conv.weight.detach().double()
    x = x.detach().double()
    maps, per_group = conv.out_channels, conv.in_channels // conv.groups
    (kh, kw), (sh, sw), (dh, dw) = conv.kernel_size, conv.stride, conv.dilation
    (ph, pw) = conv.padding if isinstance(conv.padding, tuple) else _same_padding(conv)
    height = (x.shape[1] + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    width = (x.shape[2] + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    if not (0 <= out_map < maps and 0 <= row < height and 0 <= col < width):
        raise ValueError(f"this layer's output has maps 0..{maps - 1}, rows 0..{height - 1} and columns "
                         f"0..{width - 1}; there is no ({out_map}, {row}, {col})")
    mode = "constant" if conv.padding_mode == "zeros" else conv.padding_mode
    padded = F.pad(x[None], (pw, pw, ph, ph), mode=mode)[0]
    top, left = row * sh, col * sw
    window = padded[:, top:top + dh * (kh - 1) + 1:dh, left:left + dw * (kw - 1) + 1:dw]
    group = out_map // (maps // conv.groups)
    channels = list(range(group * per_group, (group + 1) * per_group))
    windows, kernels = window[channels], weight[out_map]
    bias = float(conv.bias[out_map].detach()) if conv.bias is not None else 0.0
    return UnitSum(channels, windows, kernels, (windows * kernels).sum((1, 2)), bias,
                   [top - ph + dh * i for i in range(kh)], [left - pw + dw * j for j in range(kw)])


def _same_padding(conv: nn.Conv2d) -> tuple[int, int]:
    """padding="same" (odd dilated kernels) or "valid" as numbers."""
    if conv.padding == "valid":
        return 0, 0
    return tuple(d * (k - 1) // 2 for k, d in zip(conv.kernel_size, conv.dilation))
