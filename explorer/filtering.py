"""The Kernel Lab's compute path: one kernel over an image, then optional ReLU and pooling.

Kept apart from the page so the whole path is tested and benchmarked without a browser.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch

from explorer import conv, images, labels


Border = Literal["valid", "zeros", "reflect", "replicate", "circular"]
ColourMode = Literal["grey", "sum", "per-channel"]
BORDERS: tuple[str, ...] = ("valid", "zeros", "reflect", "replicate", "circular")
COLOUR_MODES: tuple[str, ...] = ("grey", "sum", "per-channel")


@dataclass(frozen=True)
class FilterSettings:
    """How the kernel is applied. ``border`` "valid" means no padding; the others pad "same"."""

    border: Border = "zeros"
    stride: int = 1
    dilation: int = 1
    colour: ColourMode = "grey"
    flip: bool = False
    relu: bool = False
    pool: str = "none"  # "none" or a kind of explorer.conv.POOL_KINDS
    pool_size: int = 2


@dataclass(frozen=True)
class FilterResult:
    """Feature maps after each stage and the arithmetic a page shows beside them."""

    input: torch.Tensor  # (C, H, W) what the kernel saw (grey when colour == "grey")
    conv: torch.Tensor  # (M, H', W'), M = 1 or C for per-channel
    output: torch.Tensor  # (M, H'', W'') after ReLU and pooling
    sizes: tuple[conv.SizeReport, conv.SizeReport]  # rows, columns
    padding: tuple[int, int, int, int]
    params: int  # of the equivalent nn.Conv2d(C, M, kernel) with bias


def working_input(image: torch.Tensor, settings: FilterSettings) -> torch.Tensor:
    """The image the kernel slides over: grey, or the colour image for the RGB modes."""
    return images.to_grey(image) if settings.colour == "grey" else image


def apply_filter(image: torch.Tensor, kernel: torch.Tensor, settings: FilterSettings) -> FilterResult:
    """Run kernel -> (ReLU) -> (pool) on a (C, H, W) image in [0, 1]."""
    x = working_input(image, settings)
    padding = "valid" if settings.border == "valid" else "same"
    mode = "zeros" if settings.border == "valid" else settings.border
    options = dict(padding=padding, padding_mode=mode, stride=settings.stride,
                   dilation=settings.dilation, flip=settings.flip)
    if settings.colour == "per-channel":
        maps = conv.conv2d_per_channel(x, kernel, **options)  # (C, H', W')
        params = conv.param_count(1, 1, tuple(kernel.shape)) * x.shape[0]
    else:
        maps = conv.conv2d(x, kernel, **options)[None]  # (1, H', W')
        params = conv.param_count(x.shape[0], 1, tuple(kernel.shape))
    out = maps.clamp_min(0) if settings.relu else maps
    if settings.pool != "none":
        out = conv.pool2d(out, settings.pool, settings.pool_size)
    pads, sizes = _sizes(tuple(x.shape[-2:]), tuple(kernel.shape), settings)
    return FilterResult(x, maps, out, sizes, pads, params)


def _sizes(size_hw: tuple[int, int], kernel_hw: tuple[int, int], settings: FilterSettings
           ) -> tuple[tuple[int, int, int, int], tuple[conv.SizeReport, conv.SizeReport]]:
    """The padding (left, right, top, bottom) and the output size per axis, without running the kernel."""
    pads = conv.resolve_padding("valid" if settings.border == "valid" else "same", kernel_hw, settings.dilation)
    sizes = tuple(
        conv.size_report(n, k, p, settings.stride, settings.dilation)
        # an even kernel pads one side more: P is the mean of the two sides
        for n, k, p in zip(size_hw, kernel_hw, ((pads[2] + pads[3]) / 2, (pads[0] + pads[1]) / 2))
    )
    return pads, sizes


def output_block(result: FilterResult, kernel_hw: tuple[int, int], settings: FilterSettings,
                 top: int, left: int, side: int = 12) -> tuple[int, int, int, int]:
    """The kernel's outputs (rows a..b-1, columns c..d-1 of ``result.conv``) whose windows are centred in
    the input block of ``side`` x ``side`` pixels at (``top``, ``left``): (a, b, c, d), maybe empty.

    Output ``o`` is centred on input pixel ``o * stride - pad + dilation * (k - 1) / 2``.
    """
    pads = (result.padding[2], result.padding[0])  # top, left
    bounds = []
    for start, k, pad, n in zip((top, left), kernel_hw, pads, result.conv.shape[-2:]):
        offset = settings.dilation * (k - 1) / 2 - pad
        first = max(math.ceil((start - offset) / settings.stride), 0)
        last = min(math.ceil((start + side - offset) / settings.stride), n)
        bounds += [first, max(last, first)]
    return tuple(bounds)


def window_sums(result: FilterResult, kernel: torch.Tensor, settings: FilterSettings, block: tuple[int, int, int, int],
                channel: int = 0, most: int = 5) -> list[list[str]] | None:
    """Each output of ``block`` (rows a..b-1, columns c..d-1 of map ``channel``) as its sum written out, one kernel
    row a line: "0.24·1 + 0.55·0 + ... = 1.24", as a hover shows it beside the number. None where a sum has too
    many terms to read (a kernel past ``most`` x ``most``: a 7x7 one's hover ran past the figure) or runs over R, G
    and B together (the "sum" mode). Weights are written to 3 significant digits (a Gabor's -0.430817 widened it)."""
    if settings.colour == "sum" or max(kernel.shape) > most:
        return None
    mode = "zeros" if settings.border == "valid" else settings.border
    padded = conv.pad(result.input[channel if settings.colour == "per-channel" else 0][None], result.padding, mode)[0]
    weights = (kernel.flip(0, 1) if settings.flip else kernel).tolist()
    kh, kw = kernel.shape
    s, d = settings.stride, settings.dilation
    a, b, c0, c1 = block
    sums = []
    for r in range(a, b):
        row = []
        for c in range(c0, c1):
            window = padded[r * s:r * s + d * (kh - 1) + 1:d, c * s:c * s + d * (kw - 1) + 1:d].tolist()
            lines = [" + ".join(f"{x:.2f}·{_weight(w)}" for x, w in zip(xs, ws)) for xs, ws in zip(window, weights)]
            total = sum(x * w for xs, ws in zip(window, weights) for x, w in zip(xs, ws))
            row.append(" +<br>".join(lines) + f" = {total:.3f}")
        sums.append(row)
    return sums


def _weight(w: float) -> str:
    return f"({w:.3g})" if w < 0 else f"{w:.3g}"


def _size_line(axis: str, n: int, k: int, sides: tuple[int, int], report: conv.SizeReport,
               settings: FilterSettings) -> str:
    """One axis's output size formula filled in; ``sides``: the padding before and after the input on it."""
    p = sum(sides)  # 2P
    line = (
        f"**{axis}:** $\\frac{{{n} + {p} - {settings.dilation}\\cdot({k}-1) - 1}}{{{settings.stride}}} + 1"
        f" = {report.formula:g}$"
    )
    if sides[0] != sides[1]:  # "same" padding around an even kernel: one side gets one more
        line += f" (2P is both sides' padding together: {sides[0]} + {sides[1]}, as an even kernel has no centre)"
    if report.actual < 1:
        return f"{line} — less than one: not a single window fits in the padded input."
    if report.exact:
        return line
    return (f"{line} — not an integer: PyTorch takes the floor, **{report.actual}**, and "
            f"{report.left_out(axis.lower())} never covered by a window.")


def size_lines(size_hw: tuple[int, int], kernel_hw: tuple[int, int], settings: FilterSettings) -> list[str]:
    """The output size formula filled in for each axis, then pooling's: shown also when the settings fail."""
    pads, sizes = _sizes(size_hw, kernel_hw, settings)  # pads: left, right, top, bottom
    lines = [
        "Output size $= \\frac{W + 2P - D(F-1) - 1}{S} + 1$ (with $D = 1$: $\\frac{W - F + 2P}{S} + 1$), "
        "rounded down when the division leaves a remainder:",
        "- " + _size_line("Rows", size_hw[0], kernel_hw[0], pads[2:], sizes[0], settings),
        "- " + _size_line("Columns", size_hw[1], kernel_hw[1], pads[:2], sizes[1], settings),
    ]
    if settings.pool != "none":
        window, mapped = settings.pool_size, (sizes[0].actual, sizes[1].actual)
        pooled = (f"{tuple(n // window for n in mapped)}" if min(mapped) >= window
                  else "nothing: the window is larger than the map")
        lines.append(f"- after {settings.pool} pooling {window}x{window} (stride {window}): {mapped} → {pooled}")
    return lines


def explain(result: FilterResult, kernel: torch.Tensor, settings: FilterSettings) -> list[str]:
    """The lecture's formulas with this view's numbers (Markdown with inline LaTeX)."""
    (h, w), (kh, kw) = result.input.shape[-2:], kernel.shape
    c_in = result.input.shape[0]
    lines = size_lines((h, w), (kh, kw), settings)
    if settings.colour == "per-channel":
        lines.append(
            f"Parameters: one {kh}x{kw} kernel + 1 bias per channel: $({kh}\\cdot{kw} + 1)\\cdot{c_in} = {result.params}$"
            " (a depthwise convolution)."
        )
    else:
        lines.append(
            f"Parameters of this conv layer: $(F_h F_w C_{{in}} + 1)\\,C_{{out}} = ({kh}\\cdot{kw}\\cdot{c_in} + 1)"
            f"\\cdot 1 = {result.params}$ — one bias per output map, not per pixel."
        )
    out_h, out_w = result.conv.shape[-2:]
    unshared = conv.locally_connected_param_count((out_h, out_w), c_in, 1, (kh, kw))
    lines.append(
        f"Without weight sharing (a locally connected layer) every one of the {out_h}x{out_w} positions would "
        f"need its own kernel: ${out_h}\\cdot{out_w}\\cdot{kh}\\cdot{kw}\\cdot{c_in} = "
        f"{labels.tex_int(unshared)}$ weights."
    )
    inputs = h * w * c_in
    lines.append(
        f"A fully connected layer instead would flatten the {inputs:,} input values into one list, "
        f"losing which pixel is next to which, and give each of its neurons a weight per value: "
        f"${labels.tex_int(inputs)}\\cdot 1{{,}}000 = {labels.tex_int(conv.dense_param_count(inputs, 1000))}$ weights "
        "for 1,000 neurons (the lecture's 256x256 RGB image: 196.6 million)."
    )
    lines.append(f"Feature map values range from {float(result.output.min()):.3f} to {float(result.output.max()):.3f}.")
    return lines


def count_lines(side: int, channels: int, kernel: int, stride: int, padding: int, filters: int,
                height: int = 0) -> list[str]:
    """The lecture's parameter counts for a layer of any size, filled in (Markdown with inline LaTeX). ``side`` is
    the input's width W, ``height`` its height H (0: square, H = W)."""
    height = height or side
    counts = conv.layer_counts(side, channels, kernel, stride, padding, filters, height=height)
    tex = labels.tex_int
    if height == side:
        values = f"W\\cdot W\\cdot C = {side}\\cdot{side}\\cdot{channels}"
        places = [("Output side", "W", side, counts.size)]
    else:
        values = f"H\\cdot W\\cdot C = {height}\\cdot{side}\\cdot{channels}"
        places = [("Output height", "H", height, counts.rows), ("Output width", "W", side, counts.size)]
    lines = [f"- The input holds ${values} = {tex(counts.inputs)}$ values."]
    for what, letter, n, size in places:
        floor = "" if size.exact else f", not a whole number: PyTorch takes the floor, {size.actual}"
        value = f"{size.formula:.4f}".rstrip("0").rstrip(".")  # exact for a stride of 2..16 that is a power of 2
        lines.append(f"- {what}: $\\frac{{{letter} - F + 2P}}{{S}} + 1 = \\frac{{{n} - {kernel} + {2 * padding}}}"
                     f"{{{stride}}} + 1 = {value}${floor}.")
    rows, cols = counts.rows.actual, counts.size.actual
    stacked, wide = 2 * kernel * kernel * channels * channels, (2 * kernel - 1) ** 2 * channels * channels
    lines += [
        f"- The output: $K\\times H'\\times W' = {filters}\\times{rows}\\times{cols}$, {filters} "
        f"map{'s' * (filters != 1)} of {rows}x{cols} positions.",
        f"- Shared weights (a conv layer): $(F\\cdot F\\cdot C + 1)\\cdot K = "
        f"({kernel}\\cdot{kernel}\\cdot{channels} + 1)\\cdot{filters} = {tex(counts.shared)}$, one bias per map.",
        f"- Without sharing (locally connected): $H'\\cdot W'\\cdot K\\cdot F\\cdot F\\cdot C = "
        f"{rows}\\cdot{cols}\\cdot{filters}\\cdot{kernel}\\cdot{kernel}\\cdot{channels} = {tex(counts.unshared)}$, "
        f"{counts.unshared / counts.shared:,.0f} times as many.",
        f"- Fully connected to 1,000 neurons: ${tex(counts.inputs)}\\cdot 1{{,}}000 = {tex(counts.dense)}$ weights, "
        "one for each input value and neuron.",
    ]
    if kernel < 2:  # two 1x1 layers see 1x1 with twice the weights: nothing to say for stacking
        return lines
    return lines + [
        f"- Two {kernel}x{kernel} layers stacked (C = {channels} map{'s' * (channels != 1)} in and out, stride 1) see "
        f"{2 * kernel - 1}x{2 * kernel - 1}, as one {2 * kernel - 1}x{2 * kernel - 1} layer does, with "
        f"$2\\cdot F\\cdot F\\cdot C\\cdot C = {tex(stacked)}$ weights against "
        f"$(2F-1)^2\\cdot C\\cdot C = {tex(wide)}$ (biases aside), and a ReLU between them.",
    ]
