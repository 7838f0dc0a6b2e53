"""Pixels taken away without a tell-tale colour: ROAD's noisy linear imputation (Rong et al. 2022, "A Consistent and
Efficient Evaluation Strategy for Attribution Methods"; pytorch-grad-cam's ``NoisyLinearImputer``).

Deleting pixels by painting them grey leaves a shape: the network can read *where* pixels were taken from the
outline of the grey, and the class's probability may fall because the image is unlike any it has seen, not because
the evidence went. ROAD fills each removed pixel with the weighted mean of its 8 neighbours (the 4 beside it at 1/6,
the 4 on its diagonals at 1/12), removed neighbours included, so all the removed pixels are solved for at once: a
sparse linear system, one right-hand side per colour channel. A little noise (standard deviation ``noise``) keeps
the filled pixels from being smoother than the rest. An image with every pixel removed has no neighbour to start
from; it becomes its mean colour (with the noise).
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.sparse import csc_matrix
from scipy.sparse.linalg import spsolve

NEIGHBOURS = ((0, 1, 1 / 6), (0, -1, 1 / 6), (1, 0, 1 / 6), (-1, 0, 1 / 6),
              (1, 1, 1 / 12), (1, -1, 1 / 12), (-1, 1, 1 / 12), (-1, -1, 1 / 12))  # (dy, dx, weight)
NOISE = 0.01  # ROAD's, in the image's units (here 0..1)


def impute(image: torch.Tensor, kept: torch.Tensor, noise: float = NOISE, seed: int = 0) -> torch.Tensor:
    """``image`` (C, H, W) with every pixel where ``kept`` (H, W) is False filled from its neighbours (the module's
    system), plus Gaussian noise of ``noise`` (seeded by ``seed``) on the filled pixels only."""
    channels, height, width = image.shape
    missing = np.flatnonzero(~kept.cpu().numpy().reshape(-1))
    filled = image.detach().double().cpu().reshape(channels, -1).clone()
    if len(missing) == 0:
        return image.clone()
    if len(missing) == height * width:  # nothing to start from: any flat image solves the system
        filled[:] = filled.mean(1, keepdim=True)
    else:
        filled[:, missing] = torch.from_numpy(_solve(filled.numpy(), missing, height, width))
    generator = torch.Generator().manual_seed(seed)
    filled[:, missing] += noise * torch.randn(channels, len(missing), generator=generator, dtype=torch.float64)
    return filled.reshape(image.shape).to(image.dtype).to(image.device)


def _solve(flat: np.ndarray, missing: np.ndarray, height: int, width: int) -> np.ndarray:
    """The removed pixels' values (C, M): each times the weights of its neighbours inside the image equals the
    weighted sum of those neighbours, known ones moved to the right-hand side."""
    count = len(missing)
    unknown = np.full(height * width, -1)
    unknown[missing] = np.arange(count)
    ys, xs = np.divmod(missing, width)
    rows, cols, values = [np.arange(count)], [np.arange(count)], []
    diagonal, rhs = np.zeros(count), np.zeros((count, flat.shape[0]))
    for dy, dx, weight in NEIGHBOURS:
        ny, nx = ys + dy, xs + dx
        inside = np.flatnonzero((ny >= 0) & (ny < height) & (nx >= 0) & (nx < width))
        neighbour = ny[inside] * width + nx[inside]
        diagonal[inside] += weight
        solved = unknown[neighbour] >= 0
        rows.append(inside[solved])
        cols.append(unknown[neighbour[solved]])
        values.append(np.full(int(solved.sum()), -weight))
        rhs[inside[~solved]] += weight * flat[:, neighbour[~solved]].T
    system = csc_matrix((np.concatenate([diagonal, *values]), (np.concatenate(rows), np.concatenate(cols))),
                        shape=(count, count))
    return np.asarray(spsolve(system, rhs)).reshape(count, -1).T
