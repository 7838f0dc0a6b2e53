"""One output value of a convolution layer, computed as the lecture writes it: for every input map the window under
the kernel times the kernel's slice for that map, summed, then all input maps added up with the bias.

This is what a real layer does with many input maps (CNN Explainer shows it on its TinyVGG): the Step by step page
works on one map, this on the network's own activations, and the total is checked against the layer's output.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from explorer.conv import pad, same_padding


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
    top, bottom, left, right = _sides(conv)
    height = (x.shape[1] + top + bottom - dh * (kh - 1) - 1) // sh + 1
    width = (x.shape[2] + left + right - dw * (kw - 1) - 1) // sw + 1
    if not (0 <= out_map < maps and 0 <= row < height and 0 <= col < width):
        raise ValueError(f"this layer's output has maps 0..{maps - 1}, rows 0..{height - 1} and columns "
                         f"0..{width - 1}; there is no ({out_map}, {row}, {col})")
    padded = pad(x, (left, right, top, bottom), conv.padding_mode)
    first_row, first_col = row * sh, col * sw
    window = padded[:, first_row:first_row + dh * (kh - 1) + 1:dh, first_col:first_col + dw * (kw - 1) + 1:dw]
    group = out_map // (maps // conv.groups)
    channels = list(range(group * per_group, (group + 1) * per_group))
    windows, kernels = window[channels], weight[out_map]
    bias = float(conv.bias[out_map].detach()) if conv.bias is not None else 0.0
    return UnitSum(channels, windows, kernels, (windows * kernels).sum((1, 2)), bias,
                   [first_row - top + dh * i for i in range(kh)], [first_col - left + dw * j for j in range(kw)])


def _sides(conv: nn.Conv2d) -> tuple[int, int, int, int]:
    """The layer's padding as (top, bottom, left, right) pixels; "same" as PyTorch splits it (the odd pixel after)."""
    if conv.padding == "valid":
        return 0, 0, 0, 0
    if conv.padding == "same":
        (kh, kw), (dh, dw) = conv.kernel_size, conv.dilation
        return (*same_padding(kh, dh), *same_padding(kw, dw))
    (ph, pw) = conv.padding
    return ph, ph, pw, pw
