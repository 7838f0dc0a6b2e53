"""Convolution, pooling and their arithmetic, computed by PyTorch and traced for teaching.

Everything here runs the real operation (``torch.nn.functional``); the traces built with
``F.unfold`` expose each output cell's window, element-wise products and sum, so a page can
show the lecture's step-by-step fill without a second, hand-written implementation.

Conventions: images are float tensors (H, W) or (C, H, W); kernels (kh, kw) or (C, kh, kw);
"correlation" (no flip) is what deep-learning libraries call convolution.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F

PaddingMode = Literal["zeros", "reflect", "replicate", "circular"]
PoolKind = Literal["max", "avg", "sum", "l2"]
PADDING_MODES: tuple[str, ...] = ("zeros", "reflect", "replicate", "circular")
POOL_KINDS: tuple[str, ...] = ("max", "avg", "sum", "l2")


def _pair(value: int | tuple[int, int]) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


def same_padding(kernel: int, dilation: int = 1) -> tuple[int, int]:
    """Padding (before, after) that keeps the size at stride 1: total ``D(F-1)``, extra after.

    Matches PyTorch's ``padding="same"``, which puts the odd pixel on the right/bottom.
    """
    total = dilation * (kernel - 1)
    return total // 2, total - total // 2


def resolve_padding(
    padding: str | int, kernel_hw: tuple[int, int], dilation: int = 1
) -> tuple[int, int, int, int]:
    """Padding as ``(left, right, top, bottom)`` pixels, the order ``F.pad`` takes.

    ``padding`` is "valid" (none), "same" (keep the size at stride 1) or a pixel count per side.
    """
    if padding == "valid":
        return (0, 0, 0, 0)
    if padding == "same":
        top, bottom = same_padding(kernel_hw[0], dilation)
        left, right = same_padding(kernel_hw[1], dilation)
        return (left, right, top, bottom)
    if isinstance(padding, int) and not isinstance(padding, bool) and padding >= 0:
        return (padding,) * 4
    raise ValueError(f"padding must be 'valid', 'same' or a non-negative int, not {padding!r}")


def pad(image: torch.Tensor, padding: tuple[int, int, int, int], mode: PaddingMode = "zeros") -> torch.Tensor:
    """Pad a (C, H, W) tensor; "zeros" is constant 0, the others are ``F.pad``'s modes.

    PyTorch refuses reflect padding as wide as the image, and circular padding wider than it; say so in words.
    """
    if mode not in PADDING_MODES:
        raise ValueError(f"padding mode must be one of {PADDING_MODES}, not {mode!r}")
    if not any(padding):
        return image
    if mode == "zeros":
        return F.pad(image, padding, mode="constant", value=0.0)
    height, width = image.shape[-2:]
    if mode == "reflect" and (max(padding[:2]) >= width or max(padding[2:]) >= height):
        raise ValueError(
            f"reflect padding of {max(padding)} px needs an image larger than that "
            f"(this one is {height}x{width}); use replicate or a smaller kernel"
        )
    if mode == "circular" and (max(padding[:2]) > width or max(padding[2:]) > height):
        raise ValueError(
            f"circular padding of {max(padding)} px would wrap around the image more than once "
            f"(this one is {height}x{width}); use replicate, or pad less (a smaller kernel pads less)"
        )
    return F.pad(image.unsqueeze(0), padding, mode=mode).squeeze(0)


def _as_chw(image: torch.Tensor) -> torch.Tensor:
    if image.dim() == 2:
        return image.unsqueeze(0)
    if image.dim() == 3:
        return image
    raise ValueError(f"image must be (H, W) or (C, H, W), got shape {tuple(image.shape)}")


def _weight_for(kernel: torch.Tensor, channels: int, flip: bool) -> torch.Tensor:
    """The (1, C, kh, kw) weight of one output map: the kernel on every channel, or per channel."""
    if kernel.dim() == 2:
        kernel = kernel.expand(channels, *kernel.shape)
    elif kernel.dim() != 3 or kernel.shape[0] != channels:
        raise ValueError(f"kernel {tuple(kernel.shape)} does not fit an image with {channels} channel(s)")
    if flip:
        kernel = kernel.flip(-1, -2)
    return kernel.unsqueeze(0)


def conv2d(
    image: torch.Tensor,
    kernel: torch.Tensor,
    *,
    padding: str | int = "valid",
    padding_mode: PaddingMode = "zeros",
    stride: int = 1,
    dilation: int = 1,
    flip: bool = False,
) -> torch.Tensor:
    """One feature map: ``y[i, j] = sum_c sum_uv x[c, i*S + u*D, j*S + v*D] * w[c, u, v]`` (+ padding).

    ``image`` (H, W) or (C, H, W); ``kernel`` (kh, kw) applied to every channel, or (C, kh, kw).
    ``flip=True`` is true convolution (the kernel rotated by 180 degrees first).
    Returns (H', W') with ``H' = floor((H + 2P - D(kh-1) - 1) / S) + 1``.
    """
    x = _as_chw(image.float())
    weight = _weight_for(kernel.float(), x.shape[0], flip)  # (1, C, kh, kw)
    x = _padded(x, weight.shape[-2:], padding, padding_mode, dilation)
    return F.conv2d(x.unsqueeze(0), weight, stride=stride, dilation=dilation)[0, 0]  # (H', W')


def _padded(x: torch.Tensor, kernel_hw, padding: str | int, mode: PaddingMode, dilation: int) -> torch.Tensor:
    """(C, H, W) padded for the kernel, refused in words if the dilated kernel does not fit."""
    x = pad(x, resolve_padding(padding, tuple(kernel_hw), dilation), mode)
    check_fits(x.shape[-2:], kernel_hw, dilation)
    return x


def conv2d_per_channel(
    image: torch.Tensor,
    kernel: torch.Tensor,
    *,
    padding: str | int = "valid",
    padding_mode: PaddingMode = "zeros",
    stride: int = 1,
    dilation: int = 1,
    flip: bool = False,
) -> torch.Tensor:
    """The same 2-D kernel on each channel separately (a depthwise conv): (C, H', W')."""
    x = _as_chw(image.float())
    channels = x.shape[0]
    weight = kernel.float().flip(-1, -2) if flip else kernel.float()
    weight = weight.expand(channels, 1, *weight.shape[-2:])  # (C, 1, kh, kw)
    x = _padded(x, weight.shape[-2:], padding, padding_mode, dilation)
    return F.conv2d(x.unsqueeze(0), weight, stride=stride, dilation=dilation, groups=channels)[0]


def check_fits(size_hw, kernel_hw, dilation: int) -> None:
    """Refuse, in words, a dilated kernel wider or taller than the (padded) input."""
    span_h, span_w = (dilation * (k - 1) + 1 for k in kernel_hw)
    if span_h > size_hw[0] or span_w > size_hw[1]:
        raise ValueError(
            f"the kernel spans {span_h}x{span_w} px (dilation {dilation}) but the padded input is only "
            f"{size_hw[0]}x{size_hw[1]}: pad more, dilate less or use a smaller kernel"
        )


def check_signal(length: int, kernel_len: int, *, padding: tuple[int, int], padding_mode: PaddingMode,
                 dilation: int) -> None:
    """:func:`pad`'s and :func:`check_fits`'s refusals in a signal's words (values, not px).

    ``padding``: the values added (left, right).
    """
    if padding_mode == "reflect" and max(padding) >= length:
        raise ValueError(f"reflect padding of {max(padding)} needs a signal longer than that (this one has {length} "
                         f"values); use replicate or less padding")
    if padding_mode == "circular" and max(padding) > length:
        raise ValueError(f"circular padding of {max(padding)} would wrap around the signal more than once (this one "
                         f"has {length} value{'s' * (length != 1)}); use replicate or less padding")
    span, room = dilation * (kernel_len - 1) + 1, length + sum(padding)
    if span > room:
        raise ValueError(f"the kernel spans {span} values (dilation {dilation}) but the padded signal has only "
                         f"{room}: pad more, dilate less or use a shorter kernel")


def conv1d(
    signal: torch.Tensor,
    kernel: torch.Tensor,
    *,
    padding: str | int = "valid",
    padding_mode: PaddingMode = "zeros",
    stride: int = 1,
    dilation: int = 1,
    flip: bool = False,
) -> torch.Tensor:
    """1-D convolution of a signal (N,) with a kernel (k,), as a 1-row 2-D one: (N',)."""
    x = signal.float().reshape(1, 1, -1)
    w = kernel.float().reshape(1, -1)
    left, right, _, _ = resolve_padding(padding, (1, w.shape[-1]), dilation)
    check_signal(x.shape[-1], w.shape[-1], padding=(left, right), padding_mode=padding_mode, dilation=dilation)
    if left or right:
        x = pad(x, (left, right, 0, 0), padding_mode)
    check_fits(x.shape[-2:], w.shape, dilation)
    w = w.flip(-1) if flip else w
    return F.conv1d(x, w.unsqueeze(0), stride=stride, dilation=dilation)[0, 0]  # (N',)


def pool2d(image: torch.Tensor, kind: PoolKind, size: int, stride: int | None = None) -> torch.Tensor:
    """Pooling of a (H, W) or (C, H, W) map: max, average, sum or L2 (sqrt of the sum of squares)."""
    x = _as_chw(image.float()).unsqueeze(0)
    stride = stride or size
    if size > min(x.shape[-2:]):
        raise ValueError(f"a {size}x{size} pooling window does not fit a {x.shape[-2]}x{x.shape[-1]} map")
    if kind == "max":
        out = F.max_pool2d(x, size, stride)
    elif kind == "avg":
        out = F.avg_pool2d(x, size, stride)
    elif kind == "sum":
        out = F.avg_pool2d(x, size, stride, divisor_override=1)
    elif kind == "l2":
        out = F.lp_pool2d(x, 2.0, size, stride)
    else:
        raise ValueError(f"pooling kind must be one of {POOL_KINDS}, not {kind!r}")
    return out[0] if image.dim() == 3 else out[0, 0]


# ---------------------------------------------------------------- arithmetic (SEEDS section 3)


def output_size(n: int, kernel: int, padding: float = 0, stride: int = 1, dilation: int = 1) -> float:
    """The formula's value ``(n + 2P - D(F-1) - 1) / S + 1``; non-integer when the window does not tile.

    For D = 1 this is the lecture's ``(W - F + 2P) / S + 1``. PyTorch returns its floor.
    """
    return (n + 2 * padding - dilation * (kernel - 1) - 1) / stride + 1


@dataclass(frozen=True)
class SizeReport:
    """What the formula says and what PyTorch does with it."""

    formula: float
    actual: int
    exact: bool
    dropped: int  # input rows/columns (after padding) the last window never reaches

    def left_out(self, axis: str, grid: str = "padded input") -> str:
        """What the floor leaves out, in words: "the last 2 rows of the padded input are" (``axis`` plural)."""
        if self.dropped == 1:
            return f"the last {axis.removesuffix('s')} of the {grid} is"
        return f"the last {self.dropped} {axis} of the {grid} are"


def size_report(n: int, kernel: int, padding: float = 0, stride: int = 1, dilation: int = 1) -> SizeReport:
    """Output size, flagged when it is not an integer: PyTorch floors it and drops the border."""
    formula = output_size(n, kernel, padding, stride, dilation)
    actual = math.floor(formula)
    used = (actual - 1) * stride + dilation * (kernel - 1) + 1 if actual > 0 else 0
    return SizeReport(formula, actual, formula == actual, max(int(n + 2 * padding) - used, 0))


def param_count(c_in: int, c_out: int, kernel: int | tuple[int, int], bias: bool = True) -> int:
    """Parameters of a shared-weight conv layer: ``(F_h * F_w * C_in + 1) * C_out``."""
    kh, kw = _pair(kernel)
    return (kh * kw * c_in + int(bias)) * c_out


def locally_connected_param_count(
    out_hw: tuple[int, int], c_in: int, c_out: int, kernel: int | tuple[int, int], bias: bool = False
) -> int:
    """Parameters when no weight is shared: one kernel per output position, ``H' W' C_out F_h F_w C_in``."""
    kh, kw = _pair(kernel)
    positions = out_hw[0] * out_hw[1]
    return positions * c_out * (kh * kw * c_in + int(bias))


def dense_param_count(n_in: int, n_out: int, bias: bool = False) -> int:
    """Weights of a fully connected layer from ``n_in`` inputs to ``n_out`` neurons."""
    return n_in * n_out + (n_out if bias else 0)


@dataclass(frozen=True)
class LayerCounts:
    """What a conv layer of ``filters`` kernels over an input costs, shared or not, against a dense layer."""

    size: SizeReport  # the output's side (its width)
    rows: SizeReport  # its height: the same as ``size`` for a square input
    inputs: int  # H W C: the input's values
    shared: int  # (F F C + 1) K: one kernel per map, with its bias
    unshared: int  # H' W' K F F C: a kernel per position (a locally connected layer, no bias)
    dense: int  # H W C N: a fully connected layer to ``neurons`` neurons


def layer_counts(side: int, channels: int, kernel: int, stride: int = 1, padding: int = 0, filters: int = 1,
                 neurons: int = 1000, height: int | None = None) -> LayerCounts:
    """The lecture's counts for one layer (SEEDS 3): 30x30x3, 7x7, 5 filters -> 740 shared, 423,360 unshared.
    ``side`` is the input's width, ``height`` its height (default: square; a 1920x1080 frame has 6,220,800 values)."""
    height = side if height is None else height
    size, rows = size_report(side, kernel, padding, stride), size_report(height, kernel, padding, stride)
    if min(size.actual, rows.actual) < 1:
        shape = f"{side}x{side}" if height == side else f"{side}x{height} (W x H)"
        raise ValueError(f"a {kernel}x{kernel} kernel does not fit a {shape} input with padding {padding}")
    return LayerCounts(size, rows, height * side * channels, param_count(channels, filters, kernel),
                       locally_connected_param_count((rows.actual, size.actual), channels, filters, kernel),
                       dense_param_count(height * side * channels, neurons))
