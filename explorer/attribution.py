"""Which pixels a prediction rests on: saliency maps and Grad-CAM.

- Saliency (Simonyan et al. 2014): ``M(i, j) = max_c |d S_k / d x[c, i, j]|``, the gradient of the
  class score ``S_k`` (before the softmax) with respect to each pixel, its largest magnitude over
  the colour channels. Pixels where a small change moves the score most.
- Grad-CAM (Selvaraju et al. 2017) at a layer with feature maps ``A^m`` (M, h, w):
  ``alpha_m = mean_{i,j} d S_k / d A^m_ij`` and ``L = ReLU(sum_m alpha_m A^m)`` (h, w), upsampled
  bilinearly to the input size. Where, at that layer's resolution, the evidence for class k lies.

Both go through ``torchvision``'s feature extraction and ``torch.autograd.grad`` (no hooks on the
model). The raw values equal Captum's ``Saliency(abs=True)`` and ``LayerGradCam`` (the tests check);
the ``heat`` map shown on the page is scaled to [0, 1] by its maximum.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from explorer import inspect

_ELEMENTWISE = {"ReLU", "relu", "BatchNorm2d", "add", "iadd", "cat", "Dropout"}  # keep a conv's map size


@dataclass(frozen=True, eq=False)
class Attribution:
    """A map over the input of how much each pixel matters for ``target``."""

    heat: torch.Tensor  # (H, W) in [0, 1] at the input's size: what the page overlays
    raw: torch.Tensor  # saliency: the gradient (C, H, W); Grad-CAM: the map at the layer's size (h, w)
    target: int  # the class explained
    score: float  # its score before the softmax
    probabilities: torch.Tensor  # (K,) the model's softmax for the image


def saliency(model: nn.Module, image: torch.Tensor, target: int | None = None) -> Attribution:
    """Simonyan's saliency for class ``target`` (default: the predicted class) of ``image`` (C, H, W) in [0, 1]."""
    x = image[None].detach().clone().to(inspect.device_of(model)).requires_grad_(True)
    logits = model(x)
    target = _target(logits, target)
    (grad,) = torch.autograd.grad(logits[0, target], x)
    heat = grad[0].abs().amax(0)
    return Attribution(_unit_scaled(heat).cpu(), grad[0].cpu(), target, float(logits[0, target].detach()),
                       torch.softmax(logits[0].detach().float(), 0).cpu())


def grad_cam(model: nn.Module, image: torch.Tensor, layer: str, target: int | None = None) -> Attribution:
    """Grad-CAM of class ``target`` (default: the predicted class) at ``layer``, which must have feature maps."""
    names = inspect.node_names(model)
    if layer not in names or layer == names[-1]:
        raise ValueError(f"{layer!r} is not a layer with feature maps of this model")
    output = names[-1]
    graph = inspect.extractor(model, [layer, output])
    x = image[None].detach().to(inspect.device_of(model)).requires_grad_(True)  # the maps' gradients need a graph
    with torch.enable_grad():
        out = graph(x)
        maps, logits = out[layer], out[output]
        if maps.dim() != 4:
            raise ValueError(f"{layer} has no feature maps (its output is {tuple(maps.shape[1:])}): Grad-CAM "
                             "needs a convolution, ReLU or pooling layer; the last convolution is usual")
        target = _target(logits, target)
        (grads,) = torch.autograd.grad(logits[0, target], maps)
    weights = grads.mean((2, 3), keepdim=True)  # alpha_m: (1, M, 1, 1)
    cam = (weights * maps).sum(1, keepdim=True).relu().detach()  # (1, 1, h, w)
    heat = F.interpolate(cam, size=image.shape[-2:], mode="bilinear", align_corners=False)[0, 0]
    return Attribution(_unit_scaled(heat).cpu(), cam[0, 0].cpu(), target, float(logits[0, target].detach()),
                       torch.softmax(logits[0].detach().float(), 0).cpu())


def cam_layers(layers: list[inspect.Layer]) -> list[str]:
    """The layers Grad-CAM can use: those whose output is feature maps (the input's Normalize excluded)."""
    return [l.name for l in layers if len(l.out_shape) == 3 and l.type != "Normalize"]


def suggested_cam_layer(layers: list[inspect.Layer]) -> str:
    """The usual Grad-CAM layer: the last convolution's output after what keeps its map size (BN, ReLU, a
    residual add, an Inception concat), so the last and most semantic maps before the spatial pooling.
    """
    convs = [i for i, l in enumerate(layers) if l.type == "Conv2d"]
    if not convs:
        spatial = cam_layers(layers)
        if not spatial:
            raise ValueError("the model has no layer with feature maps (a network of fully connected layers only)")
        return spatial[-1]
    here = convs[-1]
    size = layers[here].out_shape[1:]
    while here + 1 < len(layers) and layers[here + 1].type in _ELEMENTWISE and layers[here + 1].out_shape[1:] == size:
        here += 1
    return layers[here].name


def overlay(image: torch.Tensor, heat: torch.Tensor, alpha: float = 0.5) -> torch.Tensor:
    """``image`` (C, H, W) in [0, 1] blended with ``heat`` (H, W) in [0, 1] in a jet-like colour map: (3, H, W)."""
    grey = image.mean(0, keepdim=True) if image.shape[0] != 1 else image
    base = grey.expand(3, -1, -1) if image.shape[0] == 1 else image[:3]
    colour = torch.stack([(1.5 - (4 * heat - 3).abs()), (1.5 - (4 * heat - 2).abs()),
                          (1.5 - (4 * heat - 1).abs())]).clamp(0, 1)  # jet: blue -> cyan -> yellow -> red
    weight = alpha * heat.clamp(0, 1).sqrt()  # faint where nothing matters
    return ((1 - weight) * base + weight * colour).clamp(0, 1)


def _target(logits: torch.Tensor, target: int | None) -> int:
    classes = logits.shape[1]
    if target is None:
        return int(logits[0].argmax())
    if not 0 <= target < classes:
        raise ValueError(f"the model has {classes} classes (0..{classes - 1}); there is no class {target}")
    return int(target)


def _unit_scaled(values: torch.Tensor) -> torch.Tensor:
    top = values.max()
    return values / top if top > 0 else torch.zeros_like(values)
