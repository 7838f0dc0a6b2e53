"""Adebayo et al. 2018's sanity check ("Sanity checks for saliency maps"): a map made on a network whose weights are
drawn afresh should differ from the trained network's. :func:`randomized` draws them, :func:`rank_correlation` says
how alike two maps are.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


def randomized(model: nn.Module, seed: int = 0) -> nn.Module:
    """A copy of ``model`` with every layer's parameters drawn afresh (each layer's own ``reset_parameters``, seeded):
    the same network, nothing learned. Adebayo et al. 2018 ("Sanity checks for saliency maps") compare a method's
    maps on it with the trained network's: a map that barely changes shows the image, not what was learned."""
    fresh = copy.deepcopy(model).eval()
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        for module in fresh.modules():
            if hasattr(module, "reset_parameters"):
                module.reset_parameters()
    finally:
        torch.random.set_rng_state(generator_state)
    return fresh


def rank_correlation(a: torch.Tensor, b: torch.Tensor) -> float:
    """Spearman's rank correlation of two maps' magnitudes (|a| against |b|), as Adebayo et al. compare them, over
    the pixels either map gives a value: where both are exactly 0 (integrated gradients wherever the image equals
    its baseline, a digit's black background) they agree whatever the weights, and that tie had made the maps of a
    random network look the same as the trained one's (1.00 on every digit). 0 for a map with no variation."""
    given = (a != 0) | (b != 0)
    ranks = [_ranks(x[given].abs().flatten().double()) for x in (a, b)]
    if given.sum() < 2 or any(float(r.std()) == 0 for r in ranks):
        return 0.0
    return float(torch.corrcoef(torch.stack(ranks))[0, 1])


def _ranks(values: torch.Tensor) -> torch.Tensor:
    """Each value's rank from 1, tied values sharing their mean rank (a black background's zeros are one tie)."""
    _, inverse, counts = torch.unique(values, return_inverse=True, return_counts=True)
    last = counts.cumsum(0).double()
    return (last - (counts.double() - 1) / 2)[inverse]
