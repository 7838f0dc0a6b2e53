"""Adebayo et al. 2018's sanity check ("Sanity checks for saliency maps"): a map made on a network whose weights are
drawn afresh should differ from the trained network's. :func:`randomized` draws them all at once, :func:`cascade`
one layer at a time from the top down, :func:`rank_correlation` says how alike two maps are.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator

import torch
from torch import nn

CASCADED = (nn.Conv2d, nn.Linear)  # the layers the cascade draws afresh, one at a time


def randomized(model: nn.Module, seed: int = 0) -> nn.Module:
    """A copy of ``model`` with every layer's parameters drawn afresh (each layer's own ``reset_parameters``, seeded):
    the same network, nothing learned. Adebayo et al. 2018 ("Sanity checks for saliency maps") compare a method's
    maps on it with the trained network's: a map that barely changes shows the image, not what was learned."""
    fresh = copy.deepcopy(model).eval()
    with _seeded(seed):
        for module in fresh.modules():
            if hasattr(module, "reset_parameters"):
                module.reset_parameters()
    return fresh


def fresh_biases(model: nn.Module) -> bool:
    """Whether :func:`randomized`'s copy of ``model`` has a bias for FullGrad to weigh: each convolution's bias is
    drawn again, each batch norm reset to add nothing. Said without copying the network."""
    return any(isinstance(m, nn.Conv2d) and m.bias is not None for m in model.modules())


@contextlib.contextmanager
def _seeded(seed: int) -> Iterator[None]:
    """Torch's default generator seeded for a block, and put back as it was after it."""
    state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        yield
    finally:
        torch.random.set_rng_state(state)


def cascade_layers(model: nn.Module) -> list[str]:
    """The convolutions and linear layers :func:`cascade` draws afresh, from the top (the output) down."""
    return [name for name, _ in _groups(model)]


def cascade_stops(count: int, stops: int) -> list[int]:
    """Which of ``count`` layers, from the top, the cascade stops after: at most ``stops`` spread evenly, the top
    layer and the lowest always among them."""
    if count <= stops:
        return list(range(count))
    return sorted({round(k * (count - 1) / (stops - 1)) for k in range(stops)})


def cascade(model: nn.Module, stops: int = 8, seed: int = 0) -> Iterator[tuple[str, nn.Module]]:
    """Adebayo et al.'s cascading randomization: a copy of ``model`` whose convolutions and linear layers (each with
    the batch norms after it) take :func:`randomized`'s weights one at a time from the top down, yielded with the
    lowest layer drawn so far after each of :func:`cascade_stops`. The last copy is :func:`randomized`'s network.
    The copy is one object, changed between yields: use it before asking for the next."""
    fresh, drawn = copy.deepcopy(model).eval(), randomized(model, seed)
    groups = _groups(fresh)
    stopping = set(cascade_stops(len(groups), stops))
    for index, (name, members) in enumerate(groups):
        for member in members:
            fresh.get_submodule(member).load_state_dict(drawn.get_submodule(member).state_dict())
        if index in stopping:
            yield name, fresh


def _groups(model: nn.Module) -> list[tuple[str, list[str]]]:
    """The modules :func:`randomized` draws afresh, in groups from the top down: each convolution or linear layer
    with the modules after it up to the next (its batch norm); any before the first join the first group."""
    groups: list[tuple[str, list[str]]] = []
    early: list[str] = []
    for name, module in model.named_modules():
        if not hasattr(module, "reset_parameters"):
            continue
        if isinstance(module, CASCADED):
            groups.append((name, [*early, name]))
            early = []
        elif groups:
            groups[-1][1].append(name)
        else:
            early.append(name)
    return groups[::-1]


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
