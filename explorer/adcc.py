"""Which class activation map? ADCC (Poppi et al. 2021): three checks of a map that need no ground truth, and their
harmonic mean, for each method on one image.

The map ``L`` (at the image's size, from its least value 0 to its largest 1, as pytorch-grad-cam scales it) fades
the image where it is low: ``x * L`` of the image as the network reads it, after its normalisation, as
pytorch-grad-cam's metrics multiply the normalised input tensor, so a pixel the map leaves out takes the training
set's mean colour.

- Average drop: how much of the class's probability ``y`` is lost on the faded image (``o``), ``max(0, y - o) / y``.
  A map that keeps what the network reads loses little (0 is best).
- Coherency: the map of the faded image should be the map itself: their Pearson correlation, from -1..1 to 0..1,
  as pytorch-grad-cam's ``Coherency`` (1 is best).
- Complexity: the map's mean, pytorch-grad-cam's ``Complexity`` (its L1 norm over the pixels): a map that lights
  everything says nothing (0 is best).
- ADCC: ``3 / (1 / coherency + 1 / (1 - complexity) + 1 / (1 - average drop))``, high only when all three are good.

They rank maps of one image by the same yardstick; like deletion and insertion they do not prove one right.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from explorer import cam

_EPS = 1e-8  # pytorch-grad-cam's, in the correlation's and the harmonic mean's denominators


@dataclass(frozen=True)
class Checked:
    """One method's map checked on one image."""

    method: str
    drop: float  # average drop, 0..1
    coherency: float  # 0..1
    complexity: float  # 0..1
    adcc: float  # 0..1
    before: float  # the class's probability on the image, y
    after: float  # on the image faded by the map, o


def faded(image: torch.Tensor, heat: torch.Tensor, mean: Sequence[float]) -> torch.Tensor:
    """``image`` (C, H, W) in [0, 1] where its normalised form is multiplied by ``heat`` (H, W) in [0, 1]: each pixel
    moved towards the data set's ``mean`` colour as far as the map is low (the normalisation's std cancels)."""
    centre = torch.tensor(mean, dtype=image.dtype, device=image.device).view(-1, 1, 1)
    return centre + (image - centre) * heat.to(image)


def coherency(first: torch.Tensor, second: torch.Tensor) -> float:
    """The Pearson correlation of two maps, from -1..1 to 0..1: pytorch-grad-cam's ``batch_pearson_coherency``
    (sample deviations, ``1e-8`` under them), plus one, over two."""
    a, b = first.flatten().double(), second.flatten().double()
    a, b = a - a.mean(), b - b.mean()
    n = len(a) - 1
    rho = (a * b).sum() / n / ((a.square().sum() / n).sqrt() * (b.square().sum() / n).sqrt() + _EPS)
    return float(rho + 1) / 2


def check(model: nn.Module, image: torch.Tensor, layer: str, target: int | None, method: str,
          mean: Sequence[float]) -> Checked:
    """``method``'s map at ``layer`` of class ``target`` (None: the predicted one) for ``image``, checked."""
    shown = cam.class_map(model, image, layer, target, method)
    heat = cam.spread(shown.heat)
    again = cam.class_map(model, faded(image, heat, mean), layer, shown.target, method)
    before, after = float(shown.probabilities[shown.target]), float(again.probabilities[shown.target])
    drop = max(0.0, before - after) / max(before, _EPS)
    together, complexity = coherency(heat, cam.spread(again.heat)), float(heat.mean())
    adcc = 3 / (1 / (together + _EPS) + 1 / (1 - complexity + _EPS) + 1 / (1 - drop + _EPS))
    return Checked(method, drop, together, complexity, adcc, before, after)


def check_all(model: nn.Module, image: torch.Tensor, layer: str, target: int | None, methods: Sequence[str],
              mean: Sequence[float], progress: Callable[[int, int], None] | None = None) -> list[Checked]:
    """:func:`check` of each of ``methods``, the best ADCC first; ``progress(done, total)`` after each."""
    checked = []
    for done, method in enumerate(methods, 1):
        checked.append(check(model, image, layer, target, method, mean))
        if progress is not None:
            progress(done, len(methods))
    return sorted(checked, key=lambda c: -c.adcc)
