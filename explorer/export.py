"""A worked example as Markdown and LaTeX tables, for handouts and slides; maps and images as files."""

from __future__ import annotations

import io
import json

import numpy as np
import torch
from PIL import Image

from explorer import images


def number(value: float, decimals: int = 2) -> str:
    """A value as a short decimal: trailing zeros dropped, never "-0"."""
    text = f"{value:.{decimals}f}".rstrip("0").rstrip(".") if decimals else f"{value:.0f}"
    return "0" if text in ("-0", "") else text


def common_fraction(weights: torch.Tensor | None) -> int | None:
    """``n`` when every weight is ``1/n`` (a box blur's 1/9), so the sum can be written as the lecture writes it."""
    if weights is None or weights.numel() < 2:
        return None
    n = round(1 / float(weights.flatten()[0])) if float(weights.flatten()[0]) > 0 else 0
    return n if n >= 2 and torch.allclose(weights.double(), torch.full_like(weights.double(), 1 / n)) else None


def _rows(matrix: torch.Tensor, decimals: int, fraction: int | None = None, latex: bool = False) -> list[list[str]]:
    """The cells as text; ``fraction`` n: each as a multiple of 1/n (a box blur's 1/9s, as the lecture writes them)."""
    grid = matrix.reshape(-1, matrix.shape[-1]) if matrix.dim() > 1 else matrix.reshape(1, -1)
    if fraction is None:
        return [[number(float(v), decimals) for v in row] for row in grid]
    cells = [[number(float(v) * fraction, decimals) for v in row] for row in grid]
    shape = "\\tfrac{{{}}}{{{}}}" if latex else "{}/{}"
    return [[shape.format(cell, fraction) for cell in row] for row in cells]


def _fraction(name: str, matrix: torch.Tensor) -> int | None:
    """A kernel of 1/n's is written in n-ths: 0.11 beside an output of 1.67 did not add up."""
    return common_fraction(matrix) if name.startswith("kernel") else None


def markdown_table(matrix: torch.Tensor, decimals: int = 2, fraction: int | None = None) -> str:
    """A (H, W) matrix as a Markdown table, its rows and columns numbered from 0 as on the page's grids.

    (A Markdown table needs a header row: the column numbers are it, and each row starts with its own.)
    """
    rows = _rows(matrix, decimals, fraction)
    header = "| | " + " | ".join(str(c) for c in range(len(rows[0]))) + " |"
    rule = "|---:|" + "---:|" * len(rows[0])
    return "\n".join([header, rule] + [f"| **{r}** | " + " | ".join(row) + " |" for r, row in enumerate(rows)])


def latex_matrix(matrix: torch.Tensor, decimals: int = 2, fraction: int | None = None) -> str:
    """A (H, W) matrix as a LaTeX ``bmatrix``."""
    body = " \\\\\n".join("  " + " & ".join(row) for row in _rows(matrix, decimals, fraction, latex=True))
    return "\\begin{bmatrix}\n" + body + "\n\\end{bmatrix}"


POOLING_WORDS = {"max": "Max", "avg": "Average", "sum": "Sum", "l2": "L2-norm"}


def example_heading(mode: str, window: tuple[int, int], padding: tuple[int, int, int, int], stride: int,
                    dilation: int = 1, padding_mode: str = "zeros", flip: bool = False, pooling: str = "") -> str:
    """The settings of a worked example in one line, for the top of a handout: ``mode`` as the page names it,
    the kernel's (or pooling ``window``'s) height and width, ``padding`` (left, right, top, bottom)."""
    if pooling:
        return f"{POOLING_WORDS[pooling]} pooling: {window[0]} x {window[1]} window, stride {stride}."
    left, right, top, bottom = padding
    sides = padding[:2] if mode == "1-D signal" else padding  # a signal is padded at its two ends only
    pads = (f"padding {left}" if len(set(sides)) == 1 else f"padding left {left}, right {right}" if len(sides) == 2
            else f"padding left {left}, right {right}, top {top}, bottom {bottom}")
    kernel = f"a kernel of {window[1]} taps" if mode == "1-D signal" else f"{window[0]} x {window[1]} kernel"
    how = "true convolution (the kernel turned 180 degrees)" if flip else "cross-correlation, as PyTorch's conv layers"
    return (f"{'Backward pass of a' if mode == 'backward' else 'A'} {'1-D ' if mode == '1-D signal' else ''}"
            f"convolution, {how}: {kernel}, {pads}{f' ({padding_mode})' if any(padding) else ''}, stride {stride}, "
            f"dilation {dilation}.")


def _places(decimals: int | dict[str, int], name: str) -> int:
    return decimals if isinstance(decimals, int) else decimals.get(name, 2)


def example_markdown(named: dict[str, torch.Tensor], decimals: int | dict[str, int] = 2, heading: str = "") -> str:
    """Several named matrices (input, kernel, output...) as one Markdown document, under ``heading`` (a title and
    the settings); ``decimals``: for all, or by name (the lecture rounds an output to its own)."""
    tables = [f"**{name}**\n\n{markdown_table(m, _places(decimals, name), _fraction(name, m))}"
              for name, m in named.items()]
    return "\n\n".join(([heading] if heading else []) + tables)


def example_latex(named: dict[str, torch.Tensor], decimals: int | dict[str, int] = 2, heading: str = "") -> str:
    """The same as LaTeX: ``name = \\begin{bmatrix}...``, one display per matrix, under ``heading`` as text."""
    return "\n\n".join(([heading] if heading else []) + [
        f"% {name}\n\\[\n{latex_matrix(m, _places(decimals, name), _fraction(name, m))}\n\\]"
        for name, m in named.items()])


def arrays_npz(named: dict[str, torch.Tensor], settings: dict | None = None) -> bytes:
    """Named arrays as one NumPy ``.npz`` file (``numpy.load`` reads it back by name): maps to study elsewhere.
    ``settings``: what made them, kept as ``settings``, a JSON text (``json.loads(str(data["settings"]))``; no
    pickle needed)."""
    arrays = {name: array.detach().cpu().float().numpy() for name, array in named.items()}
    if settings is not None:
        arrays["settings"] = np.array(json.dumps(settings))
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def png_bytes(image: torch.Tensor) -> bytes:
    """A (C, H, W) image in [0, 1] (one channel or three) as a PNG of exactly its pixels: grey or RGB, 8 bits."""
    if image.dim() != 3 or image.shape[0] not in (1, 3):
        raise ValueError(f"a PNG needs a (1 or 3, H, W) image, not {tuple(image.shape)}")
    buffer = io.BytesIO()
    Image.fromarray(images.to_display(image)).save(buffer, format="PNG")
    return buffer.getvalue()
