"""Which map is right? Deletion and insertion (Petsiuk et al. 2018, the RISE paper's metrics).

Deletion takes away the pixels a map ranks first, a share at a time (each set to the image's mean colour, as
occlusion's square is), and follows the class's probability: a map that found what the score rests on makes it
fall fast, so the area under the curve is small. Insertion starts from the image blurred (its edges gone) and puts
the pixels back in the map's order: the faster the probability comes back, the larger the area. A random order of
the pixels is the yardstick: a map is worth looking at where it beats it.

Both compare maps on one image: they do not prove a map right (a map can point at a shortcut the network really
uses), and they read the network on images unlike any it trained on (half grey, half the picture). With
``removal="road"`` (Rong et al. 2022, pytorch-grad-cam's ROAD) a pixel taken away is filled from its neighbours
instead (:mod:`explorer.road`): deletion fills the pixels a map ranks first, insertion keeps them and fills the
rest, so no grey outline tells the network where the pixels went.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch
from torch import nn

from explorer import attribution, inspect, road

STEPS = 20  # shares of the pixels: 5% at a time
RANDOM = "Random order"
REMOVALS = ("mean", "road")  # a pixel taken away: the image's mean colour (RISE), or filled from its neighbours
_BATCH = 32  # images per forward pass: 21 images of 224 px through VGG16 at once need 2.4 GB


@dataclass(frozen=True)
class Curves:
    """Each map's deletion and insertion curve: the class's probability at each share of the pixels in
    ``fractions`` (0 to 1) taken away, or put back."""

    target: int
    fractions: torch.Tensor  # (S + 1,)
    deletion: dict[str, torch.Tensor]  # map -> (S + 1,) probabilities, the random order's included
    insertion: dict[str, torch.Tensor]
    removal: str = "mean"  # one of REMOVALS

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
    moved = masks(order, tuple(start.shape[-2:]), steps).to(start.device)
    return probabilities(model, start[None] * (1 - moved) + end.to(start.device)[None] * moved, target)


def road_images(image: torch.Tensor, order: torch.Tensor, steps: int = STEPS, insertion: bool = False) -> torch.Tensor:
    """(S + 1, C, H, W): ``image`` at each step of ROAD's deletion, the pixels first in ``order`` filled from their
    neighbours; or of its insertion, the pixels first in ``order`` kept and the rest filled. Each step's noise is
    seeded by its number, the same for every order."""
    moved = masks(order, tuple(image.shape[-2:]), steps)[:, 0].bool()  # (S + 1, H, W)
    return torch.stack([road.impute(image.cpu(), kept, seed=step)
                        for step, kept in enumerate(moved if insertion else ~moved)])


def probabilities(model: nn.Module, images: torch.Tensor, target: int) -> torch.Tensor:
    """The probability of class ``target`` for each of ``images`` (N, C, H, W), :data:`_BATCH` at a time."""
    device = inspect.device_of(model)
    with torch.no_grad():
        return torch.cat([torch.softmax(model(part.to(device)), 1)[:, target].float().cpu()
                          for part in images.split(_BATCH)])


def compare(model: nn.Module, image: torch.Tensor, target: int, maps: Mapping[str, torch.Tensor],
            steps: int = STEPS, progress: Callable[[int, int], None] | None = None, removal: str = "mean") -> Curves:
    """Deletion and insertion curves of class ``target`` on ``image`` (C, H, W) in [0, 1] for each of ``maps``
    (name -> importance (H, W): higher first; signed maps rank evidence for the class first) and a random order,
    a pixel taken away by ``removal`` (one of :data:`REMOVALS`)."""
    if removal not in REMOVALS:
        raise ValueError(f"removal {removal!r} is none of {', '.join(REMOVALS)}")
    orders = {name: ranking(importance) for name, importance in maps.items()}
    orders[RANDOM] = torch.randperm(image[0].numel(), generator=torch.Generator().manual_seed(1))
    grey, blurred = attribution.baseline_image(image, "mean"), attribution.baseline_image(image, "blurred")
    deletion, insertion = {}, {}
    for done, (name, order) in enumerate(orders.items()):
        if progress is not None:
            progress(done, len(orders))
        if removal == "road":
            deletion[name] = probabilities(model, road_images(image, order, steps), target)
            insertion[name] = probabilities(model, road_images(image, order, steps, insertion=True), target)
        else:
            deletion[name] = curve(model, image, grey, order, target, steps)
            insertion[name] = curve(model, blurred, image, order, target, steps)
    if progress is not None:
        progress(len(orders), len(orders))
    return Curves(target, torch.linspace(0, 1, steps + 1), deletion, insertion, removal)
