"""Backpropagation through a convolution, one output cell at a time.

The forward pass makes output cell ``l`` from its window: ``y[l] = sum_k x[window(l)_k] * w[k] + b``.
Going back, cell ``l`` hands its upstream gradient ``dy[l]`` to everything that made it:
``dy[l] * w`` is added onto its window of the input, ``dy[l] * x[window(l)]`` onto the kernel's
gradient and ``dy[l]`` onto the bias's. The kernel is shared by every window, so its gradient adds up
over all positions. Summed over all cells, ``dx`` is PyTorch's ``conv_transpose2d(dy, w)`` (the
lecture's ``A_w^T dy``): ``dy``, its entries spread a stride apart and ringed with zeros, correlated
with the kernel turned 180 degrees (the lecture's ``dy * flip(w)``); ``dw`` is the input correlated with ``dy``.
The tests check all of it against autograd.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from explorer import conv, export, kernels
from explorer.trace import Trace, input_gradient


@dataclass(frozen=True)
class Backward:
    """The gradients once output cells ``0..step`` have handed theirs back.

    ``input_grad`` lies on the padded input (the window's grid); ``weight_grad`` is for the kernel as
    applied (turned back by 180 degrees, it is the gradient of the kernel as typed under true convolution).
    """

    upstream: torch.Tensor  # (H', W') dL/dy
    step: int
    input_grad: torch.Tensor  # (Hp, Wp)
    weight_grad: torch.Tensor  # (kh, kw)
    bias_grad: float


def upstream_grid(text: str, output_hw: tuple[int, int]) -> torch.Tensor:
    """The upstream gradient ``dL/dy`` a user typed (rows on lines); an empty text means all ones.

    All ones is the gradient of the loss ``L = sum of the outputs``. Raises ``ValueError`` in words
    when the grid is not one number per output cell.
    """
    if not text.strip():
        return torch.ones(output_hw, dtype=torch.float64)
    grid = kernels.parse_text(text, "upstream gradient").double()
    if tuple(grid.shape) != tuple(output_hw):
        h, w = output_hw
        raise ValueError(f"the upstream gradient needs one number per output cell: {h} rows of {w}, "
                         f"not {grid.shape[0]} of {grid.shape[1]} (empty means all ones)")
    return grid


def _check(trace: Trace, upstream: torch.Tensor) -> None:
    if trace.weights is None:
        raise ValueError("a pooling trace has no kernel: its gradient is trace.pool_routing's")
    if tuple(upstream.shape) != tuple(trace.output.shape):
        raise ValueError(f"the upstream gradient is {tuple(upstream.shape)}, the output {tuple(trace.output.shape)}")


def backward_until(trace: Trace, upstream: torch.Tensor, step: int) -> Backward:
    """What output cells ``0..step`` (row-major, as the forward trace fills them) have handed back."""
    _check(trace, upstream)
    handed = upstream.double().flatten().clone()
    handed[step + 1:] = 0  # the cells still to come have handed nothing back yet
    kernel = trace.weights.flatten().expand(trace.steps, -1)  # each window's taps receive dy * w
    input_grad = input_gradient(trace, kernel, handed)
    weight_grad = (handed[:, None] * trace.values).sum(0).reshape(trace.window_hw)
    return Backward(upstream, step, input_grad, weight_grad, float(handed.sum()))


def inline(grid: torch.Tensor) -> str:
    """A small grid on one line, rows split by semicolons: ``[6 2 3; 9 5 1]``."""
    return "[" + "; ".join(" ".join(export.number(v) for v in row) for row in grid.tolist()) + "]"


def step_text(trace: Trace, back: Backward) -> str:
    """What cell ``back.step`` hands back, written out with its numbers."""
    r, c = trace.cell(back.step)
    dy = export.number(float(back.upstream[r, c]))
    return (f"dL/dy({r}, {c}) = {dy}\n"
            f"dx[window] += {dy} · w\n"
            f"dw += {dy} · x[window] = {dy} · {inline(trace.window(back.step))}\n"
            f"db += {dy}  (db so far: {export.number(back.bias_grad)})")


def backward(trace: Trace, upstream: torch.Tensor) -> Backward:
    """Every cell handed back: the whole backward pass."""
    return backward_until(trace, upstream, trace.steps - 1)


def spread_upstream(trace: Trace, upstream: torch.Tensor) -> torch.Tensor:
    """``dy`` with ``stride - 1`` zeros between its entries and the kernel's reach minus one in zeros around:
    the grid the turned kernel slides over to make ``dx`` (see :func:`input_grad_by_flipped_kernel`)."""
    _check(trace, upstream)
    s, d = trace.stride, trace.dilation
    h, w = upstream.shape
    spread = torch.zeros((h - 1) * s + 1, (w - 1) * s + 1, dtype=torch.float64)
    spread[::s, ::s] = upstream.double()
    kh, kw = trace.window_hw
    ring_h, ring_w = d * (kh - 1), d * (kw - 1)
    return F.pad(spread, (ring_w, ring_w, ring_h, ring_h))


def _to_padded_size(grad: torch.Tensor, trace: Trace) -> torch.Tensor:
    """Rows and columns that no window reached (a stride that does not divide evenly) get zeros."""
    hp, wp = trace.padded.shape
    return F.pad(grad, (0, wp - grad.shape[1], 0, hp - grad.shape[0]))


def input_grad_by_flipped_kernel(trace: Trace, upstream: torch.Tensor) -> torch.Tensor:
    """(Hp, Wp) ``dx`` read as a convolution: the spread ``dy`` correlated with ``flip(w)``."""
    spread = spread_upstream(trace, upstream)
    turned = trace.weights.flip(-1, -2)
    grad = F.conv2d(spread[None, None], turned[None, None], dilation=trace.dilation)[0, 0]
    return _to_padded_size(grad, trace)


def input_grad_transposed(trace: Trace, upstream: torch.Tensor) -> torch.Tensor:
    """(Hp, Wp) ``dx`` by PyTorch's transposed convolution, ``conv_transpose2d(dy, w)``."""
    _check(trace, upstream)
    grad = F.conv_transpose2d(upstream.double()[None, None], trace.weights[None, None], stride=trace.stride,
                              dilation=trace.dilation)[0, 0]
    return _to_padded_size(grad, trace)


def weight_grad_by_correlation(trace: Trace, upstream: torch.Tensor) -> torch.Tensor:
    """(kh, kw) ``dw``: the padded input correlated with ``dy``, whose entries sit a stride apart."""
    _check(trace, upstream)
    grad = F.conv2d(trace.padded[None, None], upstream.double()[None, None], dilation=trace.stride,
                    stride=trace.dilation)[0, 0]
    kh, kw = trace.window_hw
    return grad[:kh, :kw]  # windows that the floor of the output size dropped would lie beyond


def autograd(trace: Trace, upstream: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(dx on the padded input, dw) from autograd through ``F.conv2d``: the reference for all of the above."""
    _check(trace, upstream)
    x = trace.padded.clone().requires_grad_(True)
    w = trace.weights.clone().requires_grad_(True)
    y = F.conv2d(x[None, None], w[None, None], stride=trace.stride, dilation=trace.dilation)[0, 0]
    y.backward(upstream.double())
    return x.grad, w.grad


def fold_padding(trace: Trace, padded_grad: torch.Tensor, mode: conv.PaddingMode) -> torch.Tensor:
    """The gradient on the input itself: each padded cell's gradient goes to the pixel it copies
    (reflect, replicate, circular) or nowhere (zeros)."""
    left, right, top, bottom = trace.padding
    hp, wp = trace.padded.shape
    image = torch.zeros(hp - top - bottom, wp - left - right, dtype=torch.float64, requires_grad=True)
    conv.pad(image.unsqueeze(0), trace.padding, mode)[0].backward(padded_grad.double())
    return image.grad


def largest_difference(*pairs: tuple[torch.Tensor, torch.Tensor]) -> float:
    """The largest absolute difference over pairs of equally shaped grids."""
    return max(float((a - b).abs().max()) for a, b in pairs)
