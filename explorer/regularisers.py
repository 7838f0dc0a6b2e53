"""What makes an optimised image readable besides its target (Yosinski et al. 2015, Olah et al. 2017): its total
variation (how rough its pixels are), a random jitter at every step, and, for several images made at once, their
likeness (Lucid's diversity term), so that they differ.

The optimisations that use them are :mod:`explorer.visualize`'s.
"""

from __future__ import annotations

import torch
from torch import nn


def total_variation(x: torch.Tensor) -> torch.Tensor:
    """Mean squared difference of vertically plus of horizontally neighbouring pixels of (..., H, W)."""
    return sum((x.diff(dim=d).pow(2).mean() for d in (-2, -1) if x.shape[d] > 1), x.new_zeros(()))


def likeness(features: torch.Tensor) -> torch.Tensor:
    """How alike a batch's features (N, C[, H, W]) are, as Lucid's diversity objective measures it (Olah et al.
    2017): each image's Gram matrix of channels (which channels fire together, wherever), as a unit vector; the
    cosine of every pair of different images, summed, over N. 0 for images whose channels never fire together alike;
    N - 1 for identical ones."""
    count = len(features)
    flat = features.reshape(count, features.shape[1], -1)
    grams = nn.functional.normalize((flat @ flat.transpose(1, 2)).reshape(count, -1), dim=1)
    cosines = grams @ grams.T
    return (cosines.sum() - cosines.diagonal().sum()) / count


def jittered(x: torch.Tensor, pixels: int, generator: torch.Generator) -> torch.Tensor:
    """``x`` rolled by a random (dy, dx) in [-pixels, pixels]: the unit must like the image wherever it sits."""
    if not pixels:
        return x
    dy, dx = torch.randint(-pixels, pixels + 1, (2,), generator=generator).tolist()
    return x.roll((dy, dx), dims=(-2, -1))
