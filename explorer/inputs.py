"""Turn any image into what a model expects, and say what was changed.

A model in the registry takes (C, H, W) floats in [0, 1] at its own size and channel count
(it normalises inside itself). Digit models get MNIST's own recipe: light ink on a dark
background, the drawing cropped, scaled to fit 20x20 and centred by its centre of mass in 28x28
(LeCun et al.'s description of how MNIST was made). Other models get torchvision's recipe:
resize the shorter side, then crop the centre.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from explorer import images
from explorer.models import ModelSpec

DIGIT_BOX = 20  # MNIST digits fit a 20x20 box inside the 28x28 frame
INK = 0.1  # a pixel with at least this much ink belongs to the drawing


@dataclass(frozen=True)
class Prepared:
    """The model's input (C, H, W) in [0, 1] and the conversions made, in words."""

    tensor: torch.Tensor
    notes: tuple[str, ...]


def prepare(spec: ModelSpec, image: torch.Tensor) -> Prepared:
    """``image`` (C, H, W) in [0, 1] as ``spec``'s model input; every change is listed in ``notes``."""
    notes: list[str] = []
    image = _match_channels(image, spec.channels, notes)
    if spec.digit_like:
        image = _as_digit(image, spec.input_size, notes)
    else:
        image = _resize_crop(image, spec.resize or spec.input_size, spec.input_size, notes)
    return Prepared(image.clamp(0, 1).contiguous(), tuple(notes))


def _match_channels(image: torch.Tensor, channels: int, notes: list[str]) -> torch.Tensor:
    if image.shape[0] == channels:
        return image
    if channels == 1:
        notes.append("colour to grey (luma 0.299 R + 0.587 G + 0.114 B)")
        return images.to_grey(image)
    notes.append("grey to colour (the grey value copied to R, G and B)")
    return image.expand(channels, -1, -1)


def _resize_crop(image: torch.Tensor, shorter: int, crop: int, notes: list[str]) -> torch.Tensor:
    """Resize so the shorter side is ``shorter``, then take the central ``crop`` x ``crop``."""
    h, w = image.shape[-2:]
    if (h, w) == (crop, crop):
        return image
    scale = shorter / min(h, w)
    size = (max(crop, round(h * scale)), max(crop, round(w * scale)))
    part = size
    if max(size) > images.LONG * crop:  # a long, thin picture: only what the crop keeps is resized
        image = images.centre_for_crop(image, scale, crop)
        part = (max(crop, round(image.shape[-2] * scale)), max(crop, round(image.shape[-1] * scale)))
    resized = F.interpolate(image[None], size=part, mode="bilinear", antialias=True, align_corners=False)[0]
    top, left = (part[0] - crop) // 2, (part[1] - crop) // 2
    cropped = f" and the centre {crop}x{crop} cropped" if size != (crop, crop) else ""
    notes.append(f"resized from {h}x{w} to {size[0]}x{size[1]}{cropped}")
    return resized[:, top:top + crop, left:left + crop]


def _as_digit(image: torch.Tensor, size: int, notes: list[str]) -> torch.Tensor:
    """MNIST's recipe on a grey image (1, H, W): light ink, cropped, fit in 20x20, centred by mass."""
    if image.mean() > 0.5:  # dark ink on light paper (a drawing, a scan): MNIST is light on dark
        image = 1 - image
        notes.append("inverted to light ink on a dark background, as in MNIST")
    image = _black_background(image, notes)
    ink = image[0] >= INK
    if not ink.any():
        return _resize_crop(image, size, size, notes)
    rows, cols = ink.any(1).nonzero().flatten(), ink.any(0).nonzero().flatten()
    crop = image[:, rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    h, w = crop.shape[-2:]
    scale = DIGIT_BOX / max(h, w)
    fitted = F.interpolate(crop[None], size=(max(1, round(h * scale)), max(1, round(w * scale))),
                           mode="bilinear", antialias=True, align_corners=False)[0]
    canvas = _centre_by_mass(fitted, size)
    notes.append(f"the {h}x{w} box around the ink scaled to fit {DIGIT_BOX}x{DIGIT_BOX} and centred by its centre of "
                 f"mass in {size}x{size}, as MNIST's digits were")
    return canvas


def _black_background(image: torch.Tensor, notes: list[str]) -> torch.Tensor:
    """Make the paper black and the brightest ink white, as MNIST's are. A photo of paper, inverted, is dark grey,
    all of it above :data:`INK`, so the whole photo was taken for the digit and kept as a grey box.

    The paper is what an opening leaves (a window wider than a stroke: the strokes go, the paper's uneven light
    stays), found on a copy of at most 64 px; its grain is the residue's median plus five robust deviations.
    """
    edge = torch.cat([image[..., 0, :], image[..., -1, :], image[..., :, 0], image[..., :, -1]], -1)
    if edge.median() < 1 / 255:  # black round it (a drawing on white, an MNIST digit, a T-shirt): no paper to remove
        return image
    h, w = image.shape[-2:]
    scale = min(1.0, 64 / max(h, w))
    small = F.interpolate(image[None], size=(max(1, round(h * scale)), max(1, round(w * scale))), mode="area")
    k = max(3, (min(small.shape[-2:]) // 8) | 1)
    opened = F.max_pool2d(-F.max_pool2d(-small, k, 1, k // 2), k, 1, k // 2)  # erosion, then dilation
    paper = F.interpolate(opened, size=(h, w), mode="bilinear", align_corners=False)[0].clamp(0, 1)
    residue = (image - paper).clamp_min(0)
    middle = residue.median()
    grain = middle + 5 * 1.4826 * (residue - middle).abs().median()  # 3 left a speck in a thousand: the box grew
    brightest = residue.max()
    if brightest - grain < INK:  # nothing stands out of the paper
        return image
    low, high = paper.min().item(), paper.max().item()
    shade = f"{low:.2f}" if high - low < 0.01 else f"{low:.2f} to {high:.2f}"
    notes.append(f"the paper's grey ({shade}) made black and the ink stretched to white, as in MNIST")
    return ((residue - grain) / (brightest - grain)).clamp(0, 1)


def _centre_by_mass(patch: torch.Tensor, size: int) -> torch.Tensor:
    """Paste ``patch`` (1, h, w) into a (1, size, size) frame so its centre of mass is the frame's centre."""
    h, w = patch.shape[-2:]
    mass = patch[0].sum().clamp_min(1e-8)
    cy = (patch[0].sum(1) * torch.arange(h)).sum() / mass
    cx = (patch[0].sum(0) * torch.arange(w)).sum() / mass
    top = int(round(size / 2 - 0.5 - cy.item()))
    left = int(round(size / 2 - 0.5 - cx.item()))
    top, left = min(max(top, 0), size - h), min(max(left, 0), size - w)  # keep the whole drawing in frame
    canvas = torch.zeros(1, size, size, dtype=patch.dtype)
    canvas[:, top:top + h, left:left + w] = patch
    return canvas


def reference_batch(spec: ModelSpec, n: int = 16, seed: int = 0) -> tuple[torch.Tensor, str]:
    """``n`` typical inputs of a model (N, C, H, W) in [0, 1] and where they come from.

    Digit models get MNIST test digits when the files are here, else the built-in shapes drawn
    like digits; ImageNet models get the sample photos; the others the built-in shapes at their size.
    """
    from explorer import data  # only loaded when a page asks

    if spec.digit_like:
        try:
            digits = data.load("mnist", train=False, download=False)
            return digits.images[:n].float() / 255, f"{n} MNIST test digits"
        except data.DataUnavailable:
            pass
    if spec.weights == "torchvision":
        photos = [s.key for s in images.samples() if s.kind == "photo"][:n]
        batch = torch.stack([prepare(spec, images.load_sample(key)).tensor for key in photos])
        return batch, f"the {len(photos)} sample photos"
    shapes = data.shapes(n, size=spec.input_size, channels=spec.channels, seed=seed)
    return shapes.images.float() / 255, f"{n} images of the built-in shapes set"


def fit_batch(images_u8: torch.Tensor, spec: ModelSpec, batch: int = 1000) -> torch.Tensor:
    """A data set's uint8 images (N, C, H, W) converted to ``spec``'s channels and square size.

    Channels as :func:`prepare` does them; the size by resizing the shorter side and cropping the
    centre (no digit re-centring: data-set digits already are). Done in slices to bound memory.
    """
    out = []
    for start in range(0, len(images_u8), batch):
        x = images_u8[start:start + batch].float() / 255
        if x.shape[1] != spec.channels:
            x = x.expand(-1, spec.channels, -1, -1) if spec.channels == 3 else \
                (x * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
        if x.shape[-2:] != (spec.input_size, spec.input_size):
            x = torch.stack([_resize_crop(img, spec.resize or spec.input_size, spec.input_size, []) for img in x])
        out.append((x.clamp(0, 1) * 255).round().to(torch.uint8))
    return torch.cat(out)
