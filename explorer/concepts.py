"""Deep Feature Factorization (Collins et al. 2018), as pytorch-grad-cam's ``DeepFeatureFactorization``: a layer's
maps split into a few concepts, parts of the image the network sees alike, each with where it lies and the classes
it points to.

The maps ``A`` (M channels x P positions), each channel less its least value (the factorization needs them
non-negative), are factorised by scikit-learn's ``NMF`` from pytorch-grad-cam's random start (seed 0):
``A ~ W H``, ``W`` (M x k) each concept's channels and ``H`` (k x P) how much of it each position holds. Each
concept's channels (``W`` with the least values added back, as pytorch-grad-cam does), held at every position of the
layer and run through the rest of the network, give the classes it points to: for a ResNet's last layer, its
average pool and ``fc`` of the concept, what pytorch-grad-cam's ``computation_on_concepts`` runs.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from explorer import cam, extraction, inspect

MOST = 8  # concepts: each has a colour of :data:`COLOURS` and a picture of its own
COLOURS = (("red", (228, 26, 28)), ("blue", (55, 126, 184)), ("green", (77, 175, 74)), ("purple", (152, 78, 163)),
           ("orange", (255, 127, 0)), ("yellow", (255, 255, 51)), ("brown", (166, 86, 40)), ("pink", (247, 129, 191)))
IMAGE_WEIGHT = 0.3  # pytorch-grad-cam's show_factorization_on_image: the image under the concepts' colours


@dataclass(frozen=True)
class Concepts:
    """A layer's maps factorised into concepts."""

    where: torch.Tensor  # (k, h, w): H, how much of each concept each position of the layer holds
    heat: torch.Tensor  # (k, H, W): each at the image's size, from its least (0) to its largest value (1)
    channels: torch.Tensor  # (k, M): each concept in the layer's channels, the least values added back
    probabilities: torch.Tensor  # (k, classes): the rest of the network on each concept alone, softmaxed
    error: float  # ||A - W H|| / ||A|| of the maps less their least values: how nearly k concepts rebuild them


def factorize(model: nn.Module, image: torch.Tensor, layer: str, count: int = 5) -> Concepts:
    """``count`` concepts of ``layer``'s maps for ``image`` (C, H, W), by non-negative matrix factorization."""
    if not 1 <= count <= MOST:
        raise ValueError(f"{count} concepts: from 1 to {MOST} can be told apart by colour")
    names = extraction.node_names(model)
    if layer not in names or layer == names[-1]:
        raise ValueError(f"{layer!r} is not a layer with feature maps of this model")
    x = image[None].to(inspect.device_of(model))
    with torch.no_grad():
        maps = extraction.extractor(model, [layer])(x)[layer]
    if maps.dim() != 4:
        raise ValueError(f"{layer} has no feature maps (its output is {tuple(maps.shape[1:])}): concepts need a "
                         "convolution, ReLU or pooling layer")
    size = maps.shape[-2:]
    if count > size.numel():
        raise ValueError(f"{count} concepts need as many positions, and {layer}'s maps have {size.numel()}")
    flat = np.nan_to_num(maps[0].flatten(1).cpu().numpy())  # (M, P), float32 as pytorch-grad-cam hands it over
    least = flat.min(axis=1, keepdims=True)
    channels, where = _nmf(flat - least, count)
    kept = np.linalg.norm(flat - least)
    error = float(np.linalg.norm(flat - least - channels @ where) / kept) if kept > 0 else 0.0
    vectors = torch.from_numpy(channels + least).T.to(maps)  # (k, M)
    with torch.no_grad():
        logits = cam.run_on(model, layer, x)(vectors[:, :, None, None].expand(-1, -1, *size).contiguous())
    where_t = torch.from_numpy(where).reshape(count, *size).float()
    heat = torch.stack([cam.spread(one) for one in cam.on_input(model, layer, where_t, tuple(image.shape[-2:]))])
    return Concepts(where_t, heat.cpu(), vectors.cpu(), torch.softmax(logits.float(), 1).cpu(), error)


def _nmf(values: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """``values`` (M, P), none below zero, as ``W @ H``: (M, count) and (count, P), pytorch-grad-cam's
    ``NMF(n_components=count, init="random", random_state=0)``; its 200 steps, converged or not."""
    from sklearn.decomposition import NMF  # here, not above: the GPU machine's checks run without it
    from sklearn.exceptions import ConvergenceWarning

    if not values.any():  # nothing to factorise: every channel the same everywhere
        return np.zeros((len(values), count), values.dtype), np.zeros((count, values.shape[1]), values.dtype)
    factorization = NMF(n_components=count, init="random", random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        channels = factorization.fit_transform(values)
    return channels, factorization.components_


def painted(image: torch.Tensor, concepts: Concepts) -> torch.Tensor:
    """``image`` (C, H, W) in [0, 1] with each pixel in the colour of the concept that holds most of it, as bright as
    it holds it, over the image at :data:`IMAGE_WEIGHT`: (3, H, W), pytorch-grad-cam's
    ``show_factorization_on_image``."""
    heat = concepts.heat
    winner = heat.argmax(0)
    colours = torch.tensor([rgb for _, rgb in COLOURS[:len(heat)]], dtype=torch.float32) / 255  # (k, 3)
    strength = heat.gather(0, winner[None])[0]  # (H, W): the winning concept's share there
    paint = colours[winner].permute(2, 0, 1) * strength  # (3, H, W)
    base = image.float().cpu().expand(3, -1, -1) if image.shape[0] == 1 else image.float().cpu()
    return IMAGE_WEIGHT * base + (1 - IMAGE_WEIGHT) * paint


def top_classes(concepts: Concepts, count: int = 2) -> list[list[tuple[int, float]]]:
    """Each concept's ``count`` likeliest classes, with their probabilities, likeliest first."""
    best = concepts.probabilities.topk(min(count, concepts.probabilities.shape[1]), dim=1)
    return [[(int(k), float(p)) for p, k in zip(values, indices)] for values, indices in zip(*best)]
