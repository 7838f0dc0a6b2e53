"""Which channels of a layer carry a class: integrated gradients at the layer (Captum's
``LayerIntegratedGradients``).

The layer's maps go on a straight path from the baseline image's maps ``a'`` to the image's ``a``; the rest of the
network reads each point (what does not pass through the layer, a residual branch around it, reads the image
itself, as in Captum). Each unit gets ``(a - a') * mean dS/da`` along the path, and a channel the sum over its
positions: the channels' shares add up to the score's change from ``a'`` to ``a`` (for a network that is one chain
of layers, ``S(x) - S(x')``), up to the sum's error, as integrated gradients on the pixels do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from explorer import attribution, cam, extraction, inspect


@dataclass(frozen=True, eq=False)
class ChannelShares:
    """Integrated gradients at ``layer``: each unit's (``raw``, the layer's shape without the batch) and each
    channel's (``shares``, (C,)) part of the class score's change."""

    raw: torch.Tensor
    shares: torch.Tensor
    target: int
    score: float  # S(x)
    start_score: float  # the score with the layer's maps of the baseline: the shares add up to ``score - start_score``
    layer: str
    steps: int
    baseline: str
    rule: str

    def ranked(self) -> list[int]:
        """The channels by their share, largest first."""
        return self.shares.argsort(descending=True, stable=True).tolist()


def channel_shares(model: nn.Module, image: torch.Tensor, layer: str, target: int | None = None, steps: int = 32,
                   baseline: str = "black", rule: str = "riemann", batch: int | None = None,
                   progress: Callable[[int, int], None] | None = None) -> ChannelShares:
    """Integrated gradients of class ``target`` (default: the predicted class) at ``layer`` from the maps of
    ``baseline`` (:func:`attribution.baseline_image`) to those of ``image`` (C, H, W) in [0, 1], ``steps`` points
    summed by ``rule`` (:func:`attribution.path_points`), ``batch`` at a time with ``progress(done, points)``."""
    names = extraction.node_names(model)
    if layer not in names or layer == names[-1]:
        raise ValueError(f"{layer!r} is not a layer of this model before its output")
    x = image[None].detach().to(inspect.device_of(model))
    start = attribution.baseline_image(x[0], baseline)[None]
    with torch.no_grad():
        out = extraction.extractor(model, [layer, names[-1]])(torch.cat([x, start]))
    maps, start_maps = out[layer][:1], out[layer][1:]
    target = attribution.chosen_class(out[names[-1]][:1], target)
    rest = cam.run_on(model, layer, x)
    alphas, weights = (t.to(maps.dtype).to(maps.device) for t in attribution.path_points(steps, rule))
    shape = (-1,) + (1,) * (maps.dim() - 1)
    total, done, size = torch.zeros_like(maps), 0, batch or attribution.per_pass(x, 16)
    for chunk, weight in zip(alphas.split(size), weights.split(size)):
        path = (start_maps + chunk.view(shape) * (maps - start_maps)).requires_grad_(True)
        (grad,) = torch.autograd.grad(rest(path)[:, target].sum(), path)
        total += (grad * weight.view(shape)).sum(0, keepdim=True)
        done += len(chunk)
        if progress is not None:
            progress(done, len(alphas))
    raw = ((maps - start_maps) * total)[0].detach()
    with torch.no_grad():
        ends = rest(torch.cat([maps, start_maps]))[:, target].float()
    return ChannelShares(raw.cpu(), raw.flatten(1).sum(1).cpu() if raw.dim() > 1 else raw.cpu(), target,
                         float(ends[0]), float(ends[1]), layer, steps, baseline, rule)
