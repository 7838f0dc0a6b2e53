"""Many small pictures as one picture, in numbers: values scaled for colouring, tiles laid out row by row
in a near-square grid with gaps between them, and the grid as a PNG data URL.

The figures drawn from them (feature maps, kernels, images with labels) are :mod:`explorer.mosaic`'s.
"""

from __future__ import annotations

import base64
import io
import math

import numpy as np
import torch
from PIL import Image

GAP = (185, 185, 185)  # grey lines between tiles: they show against white patches and zero weights
BACKGROUND = (255, 255, 255)  # empty slots of a grid: the page itself


def scaled(maps: torch.Tensor, per_map: bool) -> tuple[torch.Tensor, str, tuple[float, float]]:
    """Map values (N, H, W) to [0, 1] for colouring: a diverging scale centred on 0 when there are
    negative values, else 0..max. ``per_map``: each map stretched to its own range (shapes, not sizes).

    Returns the scaled maps, the colour scale's name and the value range of the shared scale.
    """
    maps = maps.float()
    signed = bool((maps < 0).any())
    dims = (1, 2) if per_map else (0, 1, 2)
    if signed:
        top = maps.abs().amax(dim=dims, keepdim=True).clamp_min(1e-12)
        return (maps / top + 1) / 2, "RdBu_r", (-float(top.max()), float(top.max()))
    top = maps.amax(dim=dims, keepdim=True).clamp_min(1e-12)
    return maps / top, "Viridis", (0.0, float(top.max()))


def tile(tiles: np.ndarray, cols: int, gap: int | None = None) -> np.ndarray:
    """(N, h, w, 3) uint8 tiles -> one (rows * (h + g) - g, cols * (w + g) - g, 3) image with gaps g
    (by default :func:`gap_for` the tile size)."""
    n, h, w, _ = tiles.shape
    rows = math.ceil(n / cols)
    gap = gap_for(h, w) if gap is None else gap
    out = np.empty((rows * (h + gap) - gap, cols * (w + gap) - gap, 3), dtype=np.uint8)
    out[:] = GAP
    for i, t in enumerate(tiles):
        r, c = divmod(i, cols)
        out[r * (h + gap):r * (h + gap) + h, c * (w + gap):c * (w + gap) + w] = t
    for i in range(n, rows * cols):  # the last row's empty slots take the page's colour, not a tile's look
        r, c = divmod(i, cols)
        out[max(r * (h + gap) - gap, 0):, max(c * (w + gap) - gap, 0):c * (w + gap) + w] = BACKGROUND
    return out


def gap_for(h: int, w: int) -> int:
    """Pixels between tiles of h x w: one, or more for large tiles."""
    return max(1, min(h, w) // 16)


def columns_for(n: int) -> int:
    """A near-square grid, a little wider than tall, with as few empty slots in its last row as can be
    (10 maps: 5 x 2, not 4 + 4 + 2)."""
    if n <= 3:
        return max(n, 1)
    options = range(math.ceil(math.sqrt(n)), math.ceil(math.sqrt(2 * n)) + 1)
    return min(options, key=lambda c: (c * math.ceil(n / c) - n, abs(c - math.sqrt(1.5 * n))))


def png_source(image: np.ndarray) -> str:
    """A uint8 (H, W, 3) array (or (H, W, 4), with transparency) as a PNG data URL, for ``go.Image(source=...)``."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
