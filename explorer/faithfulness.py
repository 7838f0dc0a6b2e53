"""Which map is right? Deletion and insertion (Petsiuk et al. 2018, the RISE paper's metrics).

Deletion takes away the pixels a map ranks first, a share at a time (each set to the image's mean colour, as
occlusion's square is), and follows the class's probability: a map that found what the score rests on makes it
fall fast, so the area under the curve is small. Insertion starts from the image blurred (its edges gone) and puts
the pixels back in the map's order: the faster the probability comes back, the larger the area. A random order of
the pixels is the yardstick: a map is worth looking at where it beats it.

Both compare maps on one image: they do not prove a map right (a map can point at a shortcut the network really
uses), and they read the network on images unlike any it trained on (half grey, half the picture).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch
from torch import nn

from explorer import attribution, inspect

STEPS = 20  # shares of the pixels: 5% at a time
RANDOM = "Random order"
_BATCH = 32  # images per forward pass: 21 images of 224 px through VGG16 at once need 2.4 GB


@dataclass(frozen=True)
class Curves:
    """Each map's deletion and insertion curve: the class's probability at each share of the pixels in
    ``fractions`` (0 to 1) taken away, or put back."""

    target: int
    fractions: torch.Tensor  # (S + 1,)
    deletion: dict[str, torch.Tensor]  # map -> (S + 1,) probabilities, the random order's included
    insertion: dict[str, torch.Tensor]

    def deletion_area(self, name: str) -> float:
        """The area under ``name``'s deletion curve (0 to 1): smaller, the map found the pixels that matter."""
        return area(self.deletion[name])

    def insertion_area(self, name: str) -> float:
        """The area under ``name``'s insertion curve: larger, the map found the pixels that matter."""
        return area(self.insertion[name])


def area(values: torch.Tensor) -> float:
    """The trapezoid rule's area under ``values`` taken at equal steps from 0 to 1."""
    return float((values[:-1] + values[1:]).sum() / (2 * (len(values) - 1)))


def ranking(importance: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """The pixels of ``importance`` (H, W), flattened, most important first. Ties go in a fixed random order: a map
    flat over a region (occlusion's squares, an upsampled class activation map) would be read from its top-left."""
    shuffle = torch.randperm(importance.numel(), generator=torch.Generator().manual_seed(seed))
    order = torch.argsort(importance.flatten()[shuffle].float(), descending=True, stable=True)
    return shuffle[order]


def masks(order: torch.Tensor, shape: tuple[int, int], steps: int = STEPS) -> torch.Tensor:
    """(S + 1, 1, H, W): 1 where step k has moved the pixel (the first round(k / S) of ``order``), else 0."""
    rank = torch.empty_like(order)
    rank[order] = torch.arange(len(order))  # each pixel's place in the order
    counts = torch.round(torch.linspace(0, len(order), steps + 1)).long()
    return (rank[None] < counts[:, None]).float().view(steps + 1, 1, *shape)


def curve(model: nn.Module, start: torch.Tensor, end: torch.Tensor, order: torch.Tensor, target: int,
          steps: int = STEPS) -> torch.Tensor:
    """The probability of class ``target`` as the pixels in ``order`` change from ``start`` to ``end`` (C, H, W), a
    share at a time: (S + 1,), at 0 the probability for ``start``, at S for ``end``."""
    device = inspect.device_of(model)
    moved = masks(order, tuple(start.shape[-2:]), steps).to(device)
    blends = start.to(device)[None] * (1 - moved) + end.to(device)[None] * moved  # (S + 1, C, H, W)
    with torch.no_grad():
        return torch.cat([torch.softmax(model(part), 1)[:, target].float().cpu() for part in blends.split(_BATCH)])


def compare(model: nn.Module, image: torch.Tensor, target: int, maps: Mapping[str, torch.Tensor],
            steps: int = STEPS, progress: Callable[[int, int], None] | None = None) -> Curves:
    """Deletion and insertion curves of class ``target`` on ``image`` (C, H, W) in [0, 1] for each of ``maps``
    (name -> importance (H, W): higher first; signed maps rank evidence for the class first) and a random order."""
    orders = {name: ranking(importance) for name, importance in maps.items()}
    orders[RANDOM] = torch.randperm(image[0].numel(), generator=torch.Generator().manual_seed(1))
    grey, blurred = attribution.baseline_image(image, "mean"), attribution.baseline_image(image, "blurred")
    deletion, insertion = {}, {}
    for done, (name, order) in enumerate(orders.items()):
        if progress is not None:
            progress(done, len(orders))
        deletion[name] = curve(model, image, grey, order, target, steps)
        insertion[name] = curve(model, blurred, image, order, target, steps)
    if progress is not None:
        progress(len(orders), len(orders))
    return Curves(target, torch.linspace(0, 1, steps + 1), deletion, insertion)
