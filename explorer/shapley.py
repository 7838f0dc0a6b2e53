"""Shapley values of image regions (Shapley 1953; for explanations, Lundberg & Lee 2017): the image cut into a grid of
squares, the players of a game whose payout is the class score.

A coalition ``S`` of squares is the image with the squares of ``S`` kept and every other square replaced by a
baseline (the same choices as integrated gradients' "From": black, the image blurred, its mean colour, noise); its
value ``v(S)`` is the class score of that image. A square's Shapley value is its contribution ``v(S + i) - v(S)``
averaged over every order in which the squares could be put back:

    phi_i = sum over S without i of |S|! (n - |S| - 1)! / n! * (v(S + i) - v(S))

The values add up to ``v(all) - v(none)``, the class score of the image less the baseline's, exactly: the same sum
integrated gradients and DeepLIFT share out among pixels. With ``n`` squares there are ``2 ** n`` coalitions;
where the page can read them all (``coalitions >= 2 ** n``) the values are exact, else KernelSHAP (Lundberg & Lee)
estimates them from that many coalitions, picked as the ``shap`` package picks them: the smallest and largest
sizes listed in full while they fit, the rest drawn by the Shapley kernel's weights, each with its complement;
fitted by weighted least squares under the constraint that they add up. Captum's
``ShapleyValues`` and ``KernelShap`` with a feature mask ask the same; the tests check the exact values against it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from explorer import attribution, inspect

Progress = Callable[[int, int], None]  # (coalitions read, in all)


@dataclass(frozen=True, eq=False)
class RegionShapley(attribution.Attribution):
    """Each square's Shapley value; ``raw`` (H, W) spreads each over its square's pixels, so it adds up as they do."""

    values: torch.Tensor  # (n,) float64: square i's Shapley value, squares numbered row by row
    regions: torch.Tensor  # (H, W) int64: each pixel's square
    grid: int  # squares per side
    baseline: str  # what stands in for a square left out: one of attribution.BASELINES
    baseline_score: float  # v(none): the class score of the baseline
    coalitions: int  # how many images were read: the distinct coalitions
    exact: bool  # all of them (else KernelSHAP's estimate)
    draws: int  # the coalitions enumerated (exact: 2 ** players) or drawn, the empty and the full one included
    players: int  # the squares that differ from the baseline: the others' values are 0
    listed: int = 0  # KernelSHAP's: the sizes (of up to this many squares, and all but) whose coalitions are all read

    @property
    def square_map(self) -> torch.Tensor:
        """(H, W): each pixel coloured by its square's value (the figure's), not by its share of it."""
        return self.values.float()[self.regions]


def regions(size: tuple[int, int], grid: int) -> torch.Tensor:
    """(H, W) int64: each pixel's square of a ``grid`` x ``grid`` cut, numbered row by row; the squares' sides differ
    by at most a pixel (a 28 px digit in 3: 10, 9 and 9 px)."""
    height, width = size
    if not 1 <= grid <= min(height, width):
        raise ValueError(f"a {height}x{width} image cannot be cut into {grid}x{grid} squares")
    rows = torch.arange(height) * grid // height
    cols = torch.arange(width) * grid // width
    return rows[:, None] * grid + cols[None, :]


def _weights(n: int) -> torch.Tensor:
    """(n,) float64: the Shapley weight |S|! (n - |S| - 1)! / n! of a coalition of size |S| = 0..n-1."""
    return torch.tensor([math.factorial(s) * math.factorial(n - s - 1) / math.factorial(n) for s in range(n)],
                        dtype=torch.float64)


def exact_values(v: torch.Tensor, n: int) -> torch.Tensor:
    """Shapley values (n,) from every coalition's value ``v`` (2 ** n,), coalition ``k`` holding player ``i`` where
    bit ``i`` of ``k`` is set."""
    every = torch.arange(2 ** n)
    sizes = torch.stack([(every >> i) & 1 for i in range(n)]).sum(0)
    weights = _weights(n)
    values = torch.empty(n, dtype=torch.float64)
    for i in range(n):
        without = every[(every >> i) & 1 == 0]
        values[i] = (weights[sizes[without]] * (v[without | (1 << i)] - v[without])).sum()
    return values


def kernel_coalitions(n: int, count: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, int]:
    """``count`` coalitions of ``n`` players (m, n) bool, their weights (m,) float64, and how many sizes were listed
    in full, as the ``shap`` package's KernelExplainer picks them. Sizes pair up (s with n - s) from the smallest;
    a size is listed in full (each coalition weighing its share of the size's kernel weight) while what is left of
    ``count`` holds all its coalitions. The rest is drawn by the kernel over the sizes left, each coalition with its
    complement, a coalition drawn again weighing once more, and the drawn ones share those sizes' weight."""
    sizes, paired = math.ceil((n - 1) / 2), (n - 1) // 2
    weight = torch.tensor([(n - 1) / (s * (n - s)) for s in range(1, sizes + 1)], dtype=torch.float64)
    weight[:paired] *= 2  # a paired size stands for its complement's too
    weight /= weight.sum()
    rows, weights, left, remaining, listed = [], [], count, weight.clone(), 0
    for size in range(1, sizes + 1):
        both = 2 if size <= paired else 1
        subsets = math.comb(n, size) * both
        if left * remaining[size - 1] / subsets < 1 - 1e-8:
            break
        listed, left = listed + 1, left - subsets
        if remaining[size - 1] < 1:
            remaining = remaining / (1 - remaining[size - 1])
        members = torch.combinations(torch.arange(n), size) if size > 1 else torch.arange(n)[:, None]
        block = torch.zeros(len(members), n, dtype=torch.bool).scatter_(1, members, True)
        rows += [block, ~block][:both]
        weights += both * [torch.full((len(block),), float(weight[size - 1]) / subsets, dtype=torch.float64)]
    if listed < sizes and left > 0:
        drawn, drawn_weights = _drawn(n, left, weight, listed, paired, seed)
        rows.append(drawn)
        weights.append(drawn_weights * float(weight[listed:].sum()) / float(drawn_weights.sum()))
    return torch.cat(rows), torch.cat(weights), listed


def _drawn(n: int, count: int, weight: torch.Tensor, listed: int, paired: int,
           seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` coalitions drawn by the kernel over the sizes after the ``listed`` ones, each followed by its
    complement (for a paired size), as the ``shap`` package draws them; a coalition drawn again is not added but
    weighs once more."""
    generator = torch.Generator().manual_seed(seed)
    rest = weight.clone()
    rest[:paired] /= 2  # two coalitions each draw
    rest = rest[listed:] / rest[listed:].sum()
    sizes = torch.multinomial(rest, 4 * count, replacement=True, generator=generator) + listed + 1
    rows, weights, seen = [], [], {}
    for first in range(0, len(sizes), 4096):  # rows as NumPy's: a Python loop over tensors costs 7x as much
        orders = torch.rand(min(4096, len(sizes) - first), n, generator=generator).argsort(1).numpy()
        for size, order in zip(sizes[first:first + 4096].tolist(), orders):
            if count <= 0:
                break
            row = np.zeros(n, dtype=bool)
            row[order[:size]] = True
            key = row.tobytes()
            new = key not in seen
            if new:
                seen[key] = len(rows)
                rows.append(row)
                weights.append(1.0)
                count -= 1
            else:
                weights[seen[key]] += 1.0
            if count > 0 and size <= paired:
                if new:
                    rows.append(~row)
                    weights.append(1.0)
                    count -= 1
                else:
                    weights[seen[key] + 1] += 1.0
    return torch.from_numpy(np.stack(rows)), torch.tensor(weights, dtype=torch.float64)


def kernel_values(z: torch.Tensor, v: torch.Tensor, empty: float, full: float,
                  weights: torch.Tensor | None = None) -> torch.Tensor:
    """KernelSHAP's estimate (n,) from coalitions ``z`` (m, n) and their values ``v`` (m,): least squares of
    ``v - empty`` on ``z``, each row weighing ``weights`` (default: alike, for coalitions drawn by the kernel), the
    values made to add up to ``full - empty`` (the last player's is what the others leave)."""
    z, v = z.double(), v.double()
    total = full - empty
    design = z[:, :-1] - z[:, -1:]
    target = v - empty - z[:, -1] * total
    if weights is not None:
        root = weights.double().sqrt()[:, None]
        design, target = design * root, target * root[:, 0]
    head = torch.linalg.lstsq(design, target[:, None]).solution[:, 0]
    return torch.cat([head, (total - head.sum())[None]])


def region_shapley(model: nn.Module, image: torch.Tensor, target: int | None = None, grid: int = 3,
                   baseline: str = "black", coalitions: int = 1024, batch: int | None = None,
                   progress: Progress | None = None) -> RegionShapley:
    """The Shapley values of ``image``'s (C, H, W) ``grid`` x ``grid`` squares for class ``target`` (default: the
    predicted one), a square left out replaced by ``baseline``: exact where ``coalitions`` reaches ``2 ** n``, else
    KernelSHAP from ``coalitions`` draws; ``progress(read, in all)`` after each batch of images.

    A square equal to the baseline changes nothing whether kept or not: it is no player (its value is 0, as the
    ``shap`` package leaves such features out), so ``n`` counts the others. A coalition drawn twice is read once.
    """
    device = inspect.device_of(model)
    x = image.detach().to(device)
    cut = regions(tuple(x.shape[-2:]), grid)
    start = attribution.baseline_image(x, baseline)
    squares = grid * grid
    players = player_squares(x, start, cut)
    n = len(players)
    with torch.no_grad():
        logits = model(x[None]).float()
    target = attribution.chosen_class(logits, target)
    exact, weights, listed = 2 ** n <= coalitions, None, 0
    if exact:
        z = ((torch.arange(2 ** n)[:, None] >> torch.arange(n)) & 1).bool()
    else:  # the empty and the full coalition first: the constraint's ends
        picked, weights, listed = kernel_coalitions(n, coalitions - 2)
        z = torch.cat([torch.zeros(1, n, dtype=torch.bool), torch.ones(1, n, dtype=torch.bool), picked])
    distinct, back = (torch.unique(z.to(torch.uint8), dim=0, return_inverse=True) if n else  # no player: one image
                      (z.to(torch.uint8), torch.zeros(len(z), dtype=torch.long)))
    v = _scores(model, x, start, target, distinct.bool(), players, cut, batch or attribution.per_pass(x, 512),
                progress)[back]
    empty, full = float(v[0]), float(v[-1] if exact else v[1])
    values = torch.zeros(squares, dtype=torch.float64)
    if n:
        values[players] = exact_values(v, n) if exact else kernel_values(z[2:], v[2:], empty, full, weights)
    areas = torch.bincount(cut.flatten(), minlength=squares).double()
    return RegionShapley(attribution.signed_scaled(values.float()[cut]), (values / areas)[cut].float(), target,
                         float(logits[0, target]), torch.softmax(logits[0], 0).cpu(), values, cut, grid, baseline,
                         empty, len(distinct), exact, len(z), n, listed)


def player_squares(image: torch.Tensor, start: torch.Tensor, cut: torch.Tensor) -> torch.Tensor:
    """The squares of ``cut`` where ``image`` differs from ``start`` (its baseline): the game's players."""
    return torch.nonzero(per_square((image != start).any(0).cpu().double(), cut) > 0).flatten()


def _scores(model: nn.Module, x: torch.Tensor, start: torch.Tensor, target: int, z: torch.Tensor,
            players: torch.Tensor, cut: torch.Tensor, size: int, progress: Progress | None) -> torch.Tensor:
    """(m,) float64: the class score of each coalition ``z`` (m, n players): ``x`` where a player's square is kept,
    ``start`` elsewhere, ``size`` images at a time."""
    every = torch.ones(int(cut.max()) + 1, dtype=torch.bool)  # squares that are no player are kept: they equal start
    scores = []
    with torch.no_grad():
        for first in range(0, len(z), size):
            part = every.repeat(len(z[first:first + size]), 1)
            part[:, players] = z[first:first + size]
            kept = part.to(x.device)[:, cut.to(x.device)]  # (B, H, W): each pixel kept where its square is
            scores.append(model(torch.where(kept[:, None], x, start))[:, target].double().cpu())
            if progress is not None:
                progress(min(first + size, len(z)), len(z))
    return torch.cat(scores)


def per_square(values: torch.Tensor, cut: torch.Tensor) -> torch.Tensor:
    """(n,) float64: a map's values (H, W) added up over each square of ``cut`` (an attribution map's share of each
    square, to set beside the squares' Shapley values)."""
    n = int(cut.max()) + 1
    return torch.zeros(n, dtype=torch.float64).index_add_(0, cut.flatten(), values.flatten().double())


def spearman(a: torch.Tensor, b: torch.Tensor) -> float:
    """Spearman's rank correlation of two signed vectors, ties given their average rank, over the places where
    either is not 0 (where both are, they agree whatever the method); 0 where either has no spread."""
    given = (a != 0) | (b != 0)
    ranks = [_average_ranks(x[given].double()) for x in (a, b)]
    if int(given.sum()) < 2 or any(float(r.std()) == 0 for r in ranks):
        return 0.0
    return float(torch.corrcoef(torch.stack(ranks))[0, 1])


def _average_ranks(values: torch.Tensor) -> torch.Tensor:
    """Each value's rank (0 = smallest), equal values sharing the mean of their ranks."""
    distinct, where, counts = values.unique(return_inverse=True, return_counts=True)
    first = torch.cumsum(counts, 0) - counts  # each distinct value's first rank
    return (first + (counts - 1) / 2).double()[where]
