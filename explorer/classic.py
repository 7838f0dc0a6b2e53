"""Classic filters the lecture names beside kernels: Canny's edge detector and morphology.

Canny (1986) chains kernels and decisions: a Gaussian blur, two Sobel kernels, the gradient's length
and direction, non-maximum suppression (an edge pixel must beat its two neighbours across the edge)
and hysteresis (a weak edge pixel survives only when connected to a strong one). A CNN's layers stack
the same ingredients: kernels, then a non-linear step. Morphology takes the minimum (erosion) or the
maximum (dilation) over a window: no weighted sum can do that, but max-pooling with stride 1 is a dilation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np
import scipy.ndimage
import torch
import torch.nn.functional as F

from explorer import conv, kernels

SOBEL_X = kernels.SOBEL_HORIZONTAL_EDGE.T.contiguous()  # the vertical-edge Sobel: dark to bright, left to right
Morphology = Literal["erosion", "dilation", "opening", "closing", "gradient"]
FLAT = 1e-3  # a largest gradient below this (a unit step gives 4) means no edges at all
MORPHOLOGY: tuple[str, ...] = get_args(Morphology)


@dataclass(frozen=True)
class CannyStages:
    """Every stage of Canny's detector on one (H, W) grey image."""

    blurred: torch.Tensor  # (H, W)
    gx: torch.Tensor  # (H, W) Sobel, left to right
    gy: torch.Tensor  # (H, W) Sobel, top to bottom
    magnitude: torch.Tensor  # (H, W) sqrt(gx^2 + gy^2)
    thinned: torch.Tensor  # (H, W) the magnitude where it beats both neighbours across the edge, else 0
    strong: torch.Tensor  # (H, W) bool: thinned >= high
    weak: torch.Tensor  # (H, W) bool: low <= thinned < high
    edges: torch.Tensor  # (H, W) bool: strong, and weak pixels connected to a strong one
    low: float  # the thresholds, in units of the magnitude
    high: float


def gaussian_blur(image: torch.Tensor, sigma: float) -> torch.Tensor:
    """(H, W) blurred by a Gaussian of ``sigma`` pixels (kernel side 2 * ceil(3 sigma) + 1, edges repeated)."""
    side = 2 * math.ceil(3 * sigma) + 1
    return conv.conv2d(image, kernels.gaussian(side, sigma), padding="same", padding_mode="replicate")


def sobel(image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(gx, gy): the Sobel derivatives of a (H, W) image, edges repeated so the size is kept."""
    gx = conv.conv2d(image, SOBEL_X, padding="same", padding_mode="replicate")
    gy = conv.conv2d(image, kernels.SOBEL_HORIZONTAL_EDGE, padding="same", padding_mode="replicate")
    return gx, gy


def _neighbour(grid: torch.Tensor, dr: int, dc: int) -> torch.Tensor:
    """grid shifted so that cell (r, c) holds grid[r + dr, c + dc] (0 beyond the border)."""
    padded = F.pad(grid[None, None], (1, 1, 1, 1))[0, 0]
    h, w = grid.shape
    return padded[1 + dr:1 + dr + h, 1 + dc:1 + dc + w]


def thin(magnitude: torch.Tensor, gx: torch.Tensor, gy: torch.Tensor) -> torch.Tensor:
    """Non-maximum suppression: keep the magnitude where it beats both neighbours along the gradient.

    The gradient (pointing from dark to bright; rows grow downwards) is rounded to one of 8 directions.
    Of two equal neighbours, as a symmetric edge's two middle pixels are, the brighter side's is kept,
    so lines stay one pixel wide and follow the bright side of every edge; values within a ten-thousandth
    of the largest count as equal.
    """
    angle = torch.rad2deg(torch.atan2(gy, gx))
    sector = torch.round(angle / 45).long() % 8
    tie = 1e-4 * float(magnitude.max())
    keep = torch.zeros_like(magnitude, dtype=torch.bool)
    for index in range(8):
        dr, dc = round(math.sin(math.radians(45 * index))), round(math.cos(math.radians(45 * index)))
        ahead, behind = _neighbour(magnitude, dr, dc), _neighbour(magnitude, -dr, -dc)
        keep |= (sector == index) & (magnitude > ahead + tie) & (magnitude >= behind - tie)
    return torch.where(keep & (magnitude > 0), magnitude, torch.zeros_like(magnitude))


def hysteresis(thinned: torch.Tensor, low: float, high: float) -> torch.Tensor:
    """(H, W) bool: pixels at least ``high``, and those at least ``low`` connected (8 neighbours) to one."""
    candidate = ((thinned >= low) & (thinned > 0)).numpy()  # a zero is never an edge, even with low = 0
    labels, _ = scipy.ndimage.label(candidate, structure=np.ones((3, 3)))
    anchored = np.unique(labels[(thinned >= high).numpy() & candidate])
    return torch.from_numpy(np.isin(labels, anchored[anchored > 0]))


def canny(image: torch.Tensor, sigma: float = 1.4, low: float = 0.1, high: float = 0.3) -> CannyStages:
    """Canny's detector on a (H, W) image in [0, 1]; ``low`` and ``high`` are fractions of the strongest gradient."""
    if not 0 <= low <= high <= 1:
        raise ValueError(f"the thresholds need 0 <= low <= high <= 1 (fractions of the strongest gradient), "
                         f"not low {low} and high {high}")
    if sigma <= 0:
        raise ValueError(f"the blur's sigma must be above 0, not {sigma}")
    blurred = gaussian_blur(image.float(), sigma)
    gx, gy = sobel(blurred)
    magnitude = torch.hypot(gx, gy)
    thinned = thin(magnitude, gx, gy)
    top = float(magnitude.max())
    if top < FLAT:  # what is left is rounding noise: relative thresholds would turn it into edges
        thinned = torch.zeros_like(thinned)
    low_at, high_at = low * top, high * top
    edges = hysteresis(thinned, low_at, high_at)
    positive = thinned > 0
    strong = (thinned >= high_at) & positive
    weak = (thinned >= low_at) & positive & ~strong
    return CannyStages(blurred, gx, gy, magnitude, thinned, strong, weak, edges, low_at, high_at)


def morphology(image: torch.Tensor, operation: Morphology, size: int = 3) -> torch.Tensor:
    """(C, H, W) grey-level morphology over a ``size`` x ``size`` square (odd ``size``), edges repeated.

    Dilation is the window's maximum (max-pooling with stride 1), erosion its minimum; opening erodes
    then dilates (removes bright specks smaller than the window), closing the reverse (fills dark gaps);
    the gradient (dilation minus erosion) outlines shapes.
    """
    if operation not in MORPHOLOGY:
        raise ValueError(f"the operation is one of {', '.join(MORPHOLOGY)}, not {operation!r}")
    if size < 1 or size % 2 == 0:
        raise ValueError(f"the window needs an odd side (a centre pixel), not {size}")

    def dilate(x: torch.Tensor) -> torch.Tensor:
        ring = size // 2
        return F.max_pool2d(F.pad(x[None], (ring,) * 4, mode="replicate"), size, stride=1)[0]

    def erode(x: torch.Tensor) -> torch.Tensor:
        return -dilate(-x)

    x = image.float()
    return {"erosion": erode, "dilation": dilate, "opening": lambda v: dilate(erode(v)),
            "closing": lambda v: erode(dilate(v)), "gradient": lambda v: dilate(v) - erode(v)}[operation](x)


DECISIONS = ("no edge", "weak, dropped", "weak, kept", "strong")


def decisions(stages: CannyStages) -> torch.Tensor:
    """(H, W) the last stage's decision per pixel, an index into :data:`DECISIONS`."""
    decided = torch.zeros(stages.edges.shape, dtype=torch.long)
    decided[stages.weak & ~stages.edges] = 1
    decided[stages.weak & stages.edges] = 2
    decided[stages.strong] = 3
    return decided


def canny_counts(stages: CannyStages) -> dict[str, int]:
    """Pixels at each decision: strong, weak, weak kept by hysteresis, weak dropped, edges in all."""
    kept = int((stages.weak & stages.edges).sum())
    return {"strong": int(stages.strong.sum()), "weak": int(stages.weak.sum()), "kept": kept,
            "dropped": int(stages.weak.sum()) - kept, "edges": int(stages.edges.sum())}
