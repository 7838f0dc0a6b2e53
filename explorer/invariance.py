"""Is the network translation, rotation or scale invariant? Transform the input and watch.

The lecture asks it of AlexNet (Zeiler & Fergus 2014, figure 5): shift, rotate or scale an image
over a range and follow (a) the probability of the class the network gave the original and (b) how
much each layer's representation still resembles the original's. Here (b) is the Pearson correlation
of a layer's whole output for the transformed image with its output for the original, position by
position: a convolution's maps move with a shifted image (equivariance), so early layers decorrelate
fast, while deeper, pooled layers change less; the prediction is invariant only as far as it stays.

Transforms are torchvision's ``affine`` (bilinear), about the image centre, with the uncovered
border filled with the colour of the image's own border (so a digit's background stays black and a
photo gets no black frame by surprise).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torchvision  # noqa: F401  (whole, before a part of it: see explorer/__init__.py)
from torch import nn
from torchvision.transforms.v2 import InterpolationMode
from torchvision.transforms.v2 import functional as TF

from explorer import extraction, inspect

KINDS = ("shift_x", "shift_y", "rotate", "scale")
LABELS = {"shift_x": "shift right (pixels)", "shift_y": "shift down (pixels)", "rotate": "rotate clockwise (°)",
          "scale": "scale (factor)"}
SUFFIX = {"shift_x": " px", "shift_y": " px", "rotate": "°", "scale": "x"}  # after a value in a thumbnail's label
IDENTITY = {"shift_x": 0.0, "shift_y": 0.0, "rotate": 0.0, "scale": 1.0}
CHUNK_VALUES = 2**20  # input values per forward pass: 6 ImageNet-size versions, 1,300 digits
_SHOWN = {"Conv2d", "Linear", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "add", "cat"}


@dataclass(frozen=True, eq=False)
class Sweep:
    """A transformation swept over ``values``: the images, the prediction, each layer's correlation."""

    kind: str
    values: torch.Tensor  # (V,)
    images: torch.Tensor  # (V, C, H, W) the transformed inputs
    probabilities: torch.Tensor  # (V, K) the softmax for each
    reference_class: int  # the prediction for the untransformed image
    layers: tuple[str, ...]
    correlation: torch.Tensor  # (L, V): layer l's output vs the original's, Pearson's r

    @property
    def confidence(self) -> torch.Tensor:
        """(V,) the probability of the original's predicted class."""
        return self.probabilities[:, self.reference_class]

    @property
    def predictions(self) -> torch.Tensor:
        """(V,) the predicted class of each transformed image."""
        return self.probabilities.argmax(1)

    @property
    def favourite(self) -> tuple[int, float]:
        """The class with the highest probability averaged over the versions, and that average: near chance
        (1 / K) for a network that reads every version as the same near-tie."""
        average = self.probabilities.mean(0)
        return int(average.argmax()), float(average.max())


def swept_values(kind: str, first: float, last: float, count: int, side: int) -> torch.Tensor:
    """``count`` values from ``first`` to ``last``, the original (no change) among them where the range holds it:
    each side of it gets versions in proportion to its length, evenly spaced there (so a symmetric range has the
    original in the middle, and a range such as 0.25x..3x, which no even spacing crosses at 1x, still holds it).

    Shifts come in percent of the image side (``side`` pixels) and become whole pixels, each kept once: a side with
    fewer pixels than its half gives the rest to the other side, and a range of fewer pixels gives fewer versions.
    """
    identity = IDENTITY[kind]
    if kind.startswith("shift"):
        low, high = round(first / 100 * side), round(last / 100 * side)
        if not low < 0 < high:
            return (torch.linspace(first, last, count) / 100 * side).round().unique() + 0.0  # -0.0 read "-0 px"
        left = min(-low, max(count // 2, count - 1 - high))
        right = min(high, count - 1 - left)
        return torch.tensor([-round(-low * i / left) for i in range(left, 0, -1)] + [0.0]
                            + [round(high * i / right) for i in range(1, right + 1)])
    if first == last:  # the slider's two thumbs on one spot: one version, not ``count`` copies of it
        return torch.tensor([float(first)])
    if not first < identity < last:
        return torch.linspace(first, last, count)
    # each side's share in proportion to its length, one at least: -10..170 degrees had spent half on the 10
    left = min(max(round((count - 1) * (identity - first) / (last - first)), 1), count - 2)
    return torch.cat([torch.linspace(first, identity, left + 1)[:-1], torch.linspace(identity, last, count - left)])


def most_versions(kind: str, first: float, last: float, side: int, most: int = 61) -> int:
    """The largest odd count of versions that :func:`swept_values` gives all different, at most ``most``: a shift of
    ``first``..``last`` percent of ``side`` pixels holds one version per whole pixel (a Versions slider past that
    changed nothing). A range of fewer than 3 whole pixels holds just those, and a range on one spot one version."""
    if first == last:
        return 1
    if not kind.startswith("shift"):
        return most
    pixels = round(last / 100 * side) - round(first / 100 * side) + 1
    return pixels if pixels < 3 else min(most, pixels if pixels % 2 else pixels - 1)


def strip_title(shown: int, count: int) -> str:
    """The title over ``shown`` of ``count`` versions: at most 41 characters, which a phone's 390 px screen holds (a
    chart's title does not wrap, and "Some of the 17 versions: the change → the class read" was cut off)."""
    which = f"The {count} versions" if shown == count else f"{shown} of the {count} versions"
    return f"{which}: change → class read"


def shown_versions(count: int, original: int | None = None, most: int = 9) -> list[int]:
    """Which of ``count`` versions a strip of at most ``most`` shows: always the first, the ``original`` (default: the
    middle one of an odd count) and the last. With the original in the middle, evenly spaced where a step reaches it,
    else spread alike on both sides of it (rounded evenly across all of them, 13 versions showed -90, -60, -45, -30,
    0 degrees); elsewhere, evenly spaced with the nearest one moved onto the original."""
    if count <= most:
        return list(range(count))
    half = (count - 1) // 2
    if original is None and count % 2:
        original = half
    if original != half or count % 2 == 0:  # whole-pixel shifts can leave the original off the middle
        picks = sorted({round((count - 1) * i / (most - 1)) for i in range(most)})
        if original is not None and original not in picks:
            nearest = min(picks[1:-1], key=lambda i: abs(i - original))
            picks = sorted({*picks, original} - {nearest})
        return picks
    for each_side in range((most - 1) // 2, 1, -1):
        if half % each_side == 0:
            return list(range(0, count, half // each_side))
    offsets = sorted({round(half * i / ((most - 1) // 2)) for i in range((most - 1) // 2 + 1)})
    return sorted({half - o for o in offsets} | {half + o for o in offsets})


def nearest_original(result: Sweep) -> int:
    """The index of the version nearest the untransformed image (shift 0, turn 0, scale 1)."""
    return int((result.values - IDENTITY[result.kind]).abs().argmin())


def kept_span(result: Sweep) -> tuple[int, int] | None:
    """Indices (first, last) of the unbroken run of versions that keep the original's reading.

    The run is grown from the version nearest the untransformed image; None when that one is read otherwise.
    """
    kept = (result.predictions == result.reference_class).tolist()
    first = last = nearest_original(result)
    if not kept[first]:
        return None
    while first > 0 and kept[first - 1]:
        first -= 1
    while last < len(kept) - 1 and kept[last + 1]:
        last += 1
    return first, last


def transform(image: torch.Tensor, kind: str, value: float) -> torch.Tensor:
    """``image`` (C, H, W) shifted (pixels), rotated (degrees, clockwise) or scaled (factor) about its centre."""
    if kind not in KINDS:
        raise ValueError(f"unknown transformation {kind!r}; choose one of {', '.join(KINDS)}")
    if kind == "scale" and not value > 0:
        raise ValueError(f"a scale factor must be positive, got {value}")
    translate = [round(value), 0] if kind == "shift_x" else [0, round(value)] if kind == "shift_y" else [0, 0]
    return TF.affine(image, angle=value if kind == "rotate" else 0.0, translate=translate,
                     scale=value if kind == "scale" else 1.0, shear=[0.0, 0.0],
                     interpolation=InterpolationMode.BILINEAR, fill=border_colour(image)).clamp(0, 1)


def border_colour(image: torch.Tensor) -> list[float]:
    """The mean colour of the outermost ring of pixels, per channel."""
    ring = torch.cat([image[:, 0], image[:, -1], image[:, 1:-1, 0], image[:, 1:-1, -1]], dim=1)
    return ring.float().mean(1).tolist()


def compared_layers(layers: list[inspect.Layer]) -> list[str]:
    """The layers worth a row in the comparison: weight layers, pools, additions and concatenations."""
    return [l.name for l in layers if l.type in _SHOWN]


def sweep(model: nn.Module, image: torch.Tensor, kind: str, values: torch.Tensor,
          layers: list[str], progress: Callable[[int, int], None] | None = None) -> Sweep:
    """Every value of the transformation through the network, compared with the original.

    ``image`` is the model's input (C, H, W) in [0, 1]; ``layers`` are node names. The versions go
    through in chunks of about ``CHUNK_VALUES`` input values, and only the original's outputs are
    kept whole: VGG16's layers hold about 60 MB per 224x224 image. ``progress(done, total)`` is
    called after each chunk with the versions done so far.
    """
    names = extraction.node_names(model)
    unknown = set(layers) - set(names)
    if unknown:
        raise ValueError(f"the model has no layer {', '.join(sorted(unknown))}")
    output = names[-1]
    graph = extraction.extractor(model, list(dict.fromkeys([*layers, output])))
    device = inspect.device_of(model)
    versions = torch.stack([transform(image, kind, float(v)) for v in values.tolist()])
    chunk = max(1, CHUNK_VALUES // image.numel())
    with torch.no_grad():
        reference = graph(image[None].to(device))
        results = []
        for part in versions.split(chunk):
            results.append(_compare(graph(part.to(device)), reference, layers, output))
            if progress is not None:
                progress(sum(len(p) for p, _ in results), len(versions))
    probabilities = torch.cat([p for p, _ in results])
    correlation = torch.cat([r for _, r in results], 1) if layers else torch.empty(0, len(values))
    return Sweep(kind, values.float(), versions, probabilities, int(reference[output].argmax()), tuple(layers),
                 correlation)


def _compare(out: dict, reference: dict, layers: list[str], output: str) -> tuple[torch.Tensor, torch.Tensor]:
    """One chunk's softmax (B, K) and each layer's Pearson r with the original's output (L, B), on the CPU."""
    probabilities = torch.softmax(out[output].float(), 1).cpu()
    if not layers:
        return probabilities, torch.empty(0, len(probabilities))
    rows = [_pearson(torch.cat([reference[n], out[n]]).flatten(1).float()) for n in layers]
    return probabilities, torch.stack(rows).cpu()


def _pearson(rows: torch.Tensor) -> torch.Tensor:
    """Pearson's r of rows[1:] with rows[0]; a constant row (all zeros after a ReLU) gives 0, or 1 if both are."""
    centred = rows - rows.mean(1, keepdim=True)
    norms = centred.norm(dim=1)
    # constant up to float32's rounding of its mean (0.1 over 1,000 values leaves a spread of 1e-7 of it): flat
    flat = norms <= 1e-5 * rows.norm(dim=1) + 1e-12
    r = ((centred[1:] @ centred[0]) / (norms[1:] * norms[0]).clamp_min(1e-12)).clamp(-1, 1)
    r = torch.where(flat[1:] | flat[0], torch.zeros_like(r), r)
    return torch.where(flat[1:] & flat[0], torch.ones_like(r), r)
