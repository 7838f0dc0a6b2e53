"""A class activation map at several layers: one at the end of each stage of the network, and several layers' maps
combined into one as pytorch-grad-cam combines its ``target_layers``.

A stage is a run of layers between two downsamplings (a pooling, a strided convolution); its last layer holds what
the stage made of the image. Early stages have fine maps of small parts (edges, strokes), late ones coarse maps of
large parts: Selvaraju et al. took the last convolution as the best compromise between meaning and spatial detail.

pytorch-grad-cam's several target layers: each layer's map, its negatives cut, at the image's size, from its least
(0) to its largest value (1) (``scale_cam_image``); their mean, scaled again (``aggregate_multi_layers``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from explorer import cam, inspect
from explorer.attribution import Attribution

HALF = 0.5  # a map "lights" the pixels at half its largest value or more


def stage_ends(layers: Sequence[inspect.Layer], most: int = 8) -> list[str]:
    """The last layer of each stage, in the network's order: the layer a downsampling (a pooling or a strided
    convolution that halves the maps) reads, and last the usual layer (:func:`cam.suggested_layer`, the last
    convolution's output; what follows it only pools). At most ``most``, evenly spread, the first and the last kept.

    A convolution without padding shrinks its maps a little (LeNet-5's 14 to 10) but starts no stage."""
    usable = set(cam.usable_layers(list(layers)))
    last = cam.suggested_layer(list(layers))
    sizes = {l.name: tuple(l.out_shape[1:]) for l in layers if l.name in usable}
    ends: list[str] = []
    before = ""  # the last usable layer so far
    for layer in layers:
        if layer.name == last:
            break
        if len(layer.in_shape) == 3 and len(layer.out_shape) == 3 and before and sizes[before] == layer.in_shape[1:] \
                and 2 * layer.out_shape[1] <= layer.in_shape[1] + 1 and before not in ends:
            ends.append(before)
        if layer.name in usable:
            before = layer.name
    ends.append(last)
    if len(ends) <= most:
        return ends
    picks = sorted({round(k * (len(ends) - 1) / (most - 1)) for k in range(most)})
    return [ends[k] for k in picks]


def in_order(layers: Sequence[inspect.Layer], names: Sequence[str]) -> list[str]:
    """``names`` in the network's order, once each (those not among its layers left out)."""
    asked = set(names)
    return [layer.name for layer in layers if layer.name in asked]


def combined(maps: Sequence[Attribution]) -> Attribution:
    """pytorch-grad-cam's map of several target layers: each map's ``heat`` (its layer's map at the image's size,
    negatives already cut) scaled from 0 to 1, the mean, scaled again. ``raw`` is that mean before the last scaling;
    the class, score and probabilities are the first map's (every map must be of one class, at one size)."""
    if not maps:
        raise ValueError("no maps to combine")
    if len({m.target for m in maps}) > 1 or len({tuple(m.heat.shape) for m in maps}) > 1:
        raise ValueError("the maps combined must be of one class, at one size")
    mean = torch.stack([cam.spread(m.heat.clamp_min(0)) for m in maps]).mean(0)
    first = maps[0]
    return Attribution(cam.spread(mean), mean, first.target, first.score, first.probabilities, method=first.method)


def lit_share(heat: torch.Tensor, level: float = HALF) -> float:
    """The share of the image where ``heat`` is at ``level`` of its largest value or more (0 for a map that is
    zero everywhere): how widely a map spreads its evidence."""
    top = float(heat.max())
    return float((heat >= level * top).float().mean()) if top > 0 else 0.0
