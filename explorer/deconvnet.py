"""A unit's activation projected back onto the pixels: Zeiler & Fergus's deconvnet (2014), beside its two cousins.

Zeiler & Fergus show each channel's top 9 images beside a projection of the strongest unit in each: every other
activation of the layer set to zero, the one left passed back down through the network, "unpooled" to where each
max pool's maxima came from (its switches), rectified at each ReLU, and through each convolution's transposed
filters. All three steps are a backward pass but one: a ReLU's gradient passes where its *input* was above zero,
the deconvnet's rectification where the *signal coming back* is. Springenberg et al. (2015) made the third,
guided backpropagation, which asks both. So the three projections here are one backward pass from the unit, with
each ReLU's rule swapped (a traced copy of the network, as :func:`explorer.attribution.guided` makes):

- ``deconvnet``: ``relu(g)``, Captum's ``Deconvolution``;
- ``guided``: ``relu(g) * (x > 0)``, Captum's ``GuidedBackprop``;
- ``gradient``: ``g * (x > 0)``, the unit's plain gradient (Captum's ``Saliency`` without the magnitude).

Captum's two hook ``nn.ReLU`` modules only, so they miss a network's ``F.relu`` calls (GoogLeNet's); the swap here
rewrites those too, so there the projections are the rules' and Captum's are not.

Zeiler & Fergus start from the activation's value, not 1; that only scales each picture, which is drawn on its
own scale. A unit sees only its receptive field, so a projection is zero outside it (the tests check), and at a
first convolution (nothing between it and the pixels) each of the three is that channel's filter, in place.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import fx, nn

from explorer import attribution, extraction, inspect

RULES = ("deconvnet", "guided", "gradient")
Progress = Callable[[int, int], None]  # (images done, images in all)


class _DeconvReLU(torch.autograd.Function):
    """ReLU forward; backward, the signal coming back rectified, wherever the input was (Zeiler & Fergus)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # noqa: ANN001 - autograd's context
        return x.clamp(min=0)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # noqa: ANN001
        return grad.clamp(min=0)


def _deconv_relu(x: torch.Tensor) -> torch.Tensor:
    return _DeconvReLU.apply(x)


_SWAPS: dict[str, Callable[[torch.Tensor], torch.Tensor] | None] = {
    "deconvnet": _deconv_relu, "guided": attribution.guided_relu, "gradient": None}
_GRAPHS = extraction.PerModel()


def _graph(model: nn.Module, layer: str, rule: str) -> fx.GraphModule:
    """The network up to ``layer`` (returning ``{layer: maps}``) with ``rule``'s ReLUs; made once per model (and
    state)."""
    def make() -> fx.GraphModule:
        graph_module, swap = extraction.extractor(model, [layer]), _SWAPS[rule]
        return (attribution.relus_replaced(graph_module, swap) if swap else graph_module).eval()

    return _GRAPHS.get(model, (layer, rule), make)


def project(model: nn.Module, layer: str, images: torch.Tensor, channel: int, units: torch.Tensor,
            rule: str = "deconvnet", sign: float = 1.0, batch: int = 16,
            progress: Progress | None = None) -> torch.Tensor:
    """Each image's unit of ``layer`` projected onto its pixels: (N, C, H, W) float32 on the CPU.

    ``images``: (N, C, H, W) in [0, 1] (uint8 is divided by 255); ``units``: (N, 2), the (y, x) of the unit of
    ``channel`` to project in each image (the top activations' positions); ``rule``: one of :data:`RULES`;
    ``sign``: -1 projects what drives the unit down (a channel's lowest images). ``batch`` images go back at once.
    """
    if rule not in RULES:
        raise ValueError(f"rule {rule!r} is none of {', '.join(RULES)}")
    if len(units) != len(images):
        raise ValueError(f"{len(images)} images but {len(units)} units")
    graph, device = _graph(model, layer, rule), inspect.device_of(model)
    parts = []
    for start in range(0, len(images), batch):
        x = images[start:start + batch].to(device)
        x = (x.float() / 255 if x.dtype == torch.uint8 else x.float()).requires_grad_(True)
        maps = graph(x)[layer]  # (B, C', H', W')
        if maps.dim() != 4:
            raise ValueError(f"{layer} has no feature maps to pick a unit from")
        seed = torch.zeros_like(maps)
        ys, xs = units[start:start + batch].to(device).unbind(1)
        seed[torch.arange(len(x), device=device), channel, ys, xs] = sign
        (grad,) = torch.autograd.grad(maps, x, seed)
        parts.append(grad.detach().float().cpu())
        if progress is not None:
            progress(start + len(x), len(images))
    return torch.cat(parts) if parts else torch.zeros(0, *images.shape[1:])


def picture(projection: torch.Tensor) -> torch.Tensor:
    """A projection (C, h, w) as an image in [0, 1]: zero at mid-grey, its largest magnitude at black or white, as
    Zeiler & Fergus draw theirs (one scale for the colour channels, so a colour stays a colour)."""
    top = projection.abs().max()
    return (projection / (2 * top) + 0.5).clamp(0, 1) if top > 0 else torch.full_like(projection, 0.5)
