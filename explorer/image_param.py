"""What an optimised image is made of: its pixels (the lecture's ascent) or its frequencies.

A step along the gradient of the pixels is mostly high-frequency noise: each pixel moves on its own, and the
network's strided layers answer checkerboards. Olah, Mordvintsev & Schubert (2017, "Feature Visualization",
Distill) optimise the image's Fourier coefficients instead, each scaled by 1 / frequency, so that every frequency
moves the image about as much as the others and smooth patterns come first; the colours are optimised in a
decorrelated space (ImageNet's colour covariance, square-rooted) and a sigmoid keeps the pixels in 0..1. Lucid and
Lucent (``param.image(fft=True, decorrelate=True)``, Adam at 0.05) make images this way by default;
:func:`fourier_image` is theirs, written out, and :func:`spectrum_of` its inverse (start from your image).

- :class:`PixelImage`: ``x <- P(x + eta * g / rms(g))``, optionally blurred, rescaled to a norm, clipped to [0, 1].
- :class:`FourierImage`: the spectrum, stepped by Adam with learning rate ``eta``.
"""

from __future__ import annotations

import math

import torch
import torchvision  # noqa: F401  (whole, before a part of it: see explorer/__init__.py)
from torchvision.transforms.v2 import functional as TF

PARAMS = ("pixels", "fourier")
LABELS = {"pixels": "Pixels (the lecture's)", "fourier": "Frequencies (Olah et al. 2017)"}

# Lucid's square root of ImageNet's colour covariance (its SVD), its largest column scaled to 1
_COLOUR_SQRT = torch.tensor([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]])
COLOUR = _COLOUR_SQRT / _COLOUR_SQRT.norm(dim=0).max()
SHRINK = 4.0  # Lucid's "magic" divisor of the spectrum's image: a start far from the sigmoid's flat ends
# the random start's coefficients' spread: Lucid's 0.01 starts from an even grey, where a third to three quarters of
# LeNet-5's and TinyVGG's channels after a ReLU are 0 and have no gradient; 0.3 starts from smooth blobs in 0.2..0.8
START_SD = 0.3


def frequencies(height: int, width: int) -> torch.Tensor:
    """(H, W // 2 + 1): each coefficient of ``torch.fft.rfft2``'s length in cycles per pixel."""
    fy = torch.fft.fftfreq(height)[:, None]
    fx = torch.fft.rfftfreq(width)[None, :]
    return (fy * fy + fx * fx).sqrt()


def spectrum_scale(height: int, width: int, decay: float = 1.0) -> torch.Tensor:
    """(H, W // 2 + 1): ``1 / max(f, 1 / max(H, W)) ** decay``, each coefficient's weight (the constant one's as the
    lowest frequency's)."""
    return 1.0 / frequencies(height, width).clamp_min(1.0 / max(height, width)) ** decay


def fourier_image(spectrum: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """The image ([N,] C, H, W) in (0, 1) of ``spectrum`` ([N,] C, H, W // 2 + 1, complex): the scaled coefficients'
    inverse transform over 4, its colours mixed by :data:`COLOUR` (three channels only), through a sigmoid."""
    height, width = size
    scale = spectrum_scale(height, width).to(spectrum.device)
    image = torch.fft.irfftn(spectrum * scale, s=(height, width), norm="ortho") / SHRINK
    if image.shape[-3] == 3:
        image = torch.einsum("...chw,dc->...dhw", image, COLOUR.to(image.device))
    return torch.sigmoid(image)


def spectrum_of(image: torch.Tensor) -> torch.Tensor:
    """The spectrum whose :func:`fourier_image` is ``image`` (C, H, W) in [0, 1] (kept within 0.001 of its ends,
    where the sigmoid's inverse is finite)."""
    height, width = image.shape[-2:]
    logits = torch.logit(image.double().clamp(1e-3, 1 - 1e-3))
    if image.shape[0] == 3:
        logits = torch.einsum("dhw,dc->chw", logits, torch.linalg.inv(COLOUR.double()).T.to(image.device))
    spectrum = torch.fft.rfftn(logits * SHRINK, s=(height, width), norm="ortho")
    return (spectrum / spectrum_scale(height, width).double().to(image.device)).to(torch.complex64)


class PixelImage:
    """The pixels themselves, stepped along the gradient divided by its root mean square (``eta`` in pixel units
    whatever the layer's scale), then blurred every ``blur_every`` steps, rescaled to RMS ``norm`` in the network's
    units (``z = (x - mean) / std``), clipped to [0, 1]; ``start`` (N, C, H, W): each image on its own so."""

    def __init__(self, start: torch.Tensor, config, mean: torch.Tensor, std: torch.Tensor):
        self.x, self.config, self.mean, self.std = start.detach(), config, mean, std

    def image(self) -> torch.Tensor:
        """The images (N, C, H, W), with their gradient to come."""
        self.x = self.x.detach().requires_grad_(True)
        return self.x

    def step(self, objective: torch.Tensor, done: int) -> None:
        """Climb ``objective`` of :meth:`image`'s image; ``done``: the steps before this one."""
        (grad,) = torch.autograd.grad(objective, self.x)
        config = self.config
        with torch.no_grad():
            x = self.x + config.step_size * grad / _rms(grad)
            if config.blur_every and (done + 1) % config.blur_every == 0:
                x = blur(x, config.blur_sigma)
            if config.norm:
                z = (x - self.mean) / self.std
                x = self.mean + self.std * z * (config.norm / _rms(z))
            self.x = x.clamp(0, 1)


class FourierImage:
    """The images' spectra (:func:`fourier_image`), stepped by Adam with learning rate ``step_size``; ``count``
    random spectra (smooth blobs, :data:`START_SD`), or ``start``'s own (C, H, W)."""

    def __init__(self, start: torch.Tensor | None, shape: tuple[int, int, int], config, device: torch.device,
                 count: int = 1):
        if start is None:  # image i from seed + i, as pixel noise: the first of several is the one made alone
            coefficients = torch.stack([torch.randn(*shape[:2], shape[2] // 2 + 1, 2, generator=torch.Generator(
                ).manual_seed(config.seed + i)) for i in range(count)]) * START_SD
            spectrum = torch.view_as_complex(coefficients)
        else:
            spectrum = spectrum_of(start.detach().cpu())[None]
        self.size = tuple(shape[1:])
        self.spectrum = spectrum.to(device).requires_grad_(True)
        self.optimiser = torch.optim.Adam([self.spectrum], lr=config.step_size)

    def image(self) -> torch.Tensor:
        return fourier_image(self.spectrum, self.size)

    def step(self, objective: torch.Tensor, done: int) -> None:
        self.optimiser.zero_grad()
        (-objective).backward(inputs=[self.spectrum])  # not the weights' .grad
        self.optimiser.step()


SCALES = tuple(1 + (i - 5) / 50 for i in range(11))  # Lucent's random_scale: 0.9 to 1.1
ANGLES = tuple(range(-10, 11)) + 5 * (0,)  # Lucent's random_rotate, in degrees: upright five times likelier


def warped(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Each image of ``x`` (N, C, H, W) scaled and turned about its centre by a draw from Lucent's standard transforms
    (:data:`SCALES`, :data:`ANGLES`), the same size, grey (0.5) where it uncovers the border as Lucent pads: the
    pattern must excite the unit a little larger, smaller or turned too (Olah et al. 2017's transformation
    robustness). Differentiable."""
    count = x.shape[0]
    scale = torch.tensor(SCALES)[torch.randint(len(SCALES), (count,), generator=generator)]
    angle = torch.tensor(ANGLES, dtype=torch.float32)[torch.randint(len(ANGLES), (count,), generator=generator)]
    cos, sin = torch.cos(torch.deg2rad(angle)) / scale, torch.sin(torch.deg2rad(angle)) / scale
    zero = torch.zeros(count)
    theta = torch.stack([torch.stack([cos, -sin, zero], 1), torch.stack([sin, cos, zero], 1)], 1).to(x)
    grid = torch.nn.functional.affine_grid(theta, list(x.shape), align_corners=False)
    return torch.nn.functional.grid_sample(x - 0.5, grid, align_corners=False) + 0.5


def _rms(x: torch.Tensor) -> torch.Tensor:
    """Each image's root mean square, (N, 1, 1, 1) of (N, C, H, W): one image's step never depends on another's."""
    return x.pow(2).mean(dim=(-3, -2, -1), keepdim=True).sqrt().clamp_min(1e-12)


def blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """A Gaussian blur of ([N,] C, H, W) over about +-2 sigma (odd kernel), no larger than the image."""
    side = min(2 * math.ceil(2 * sigma) + 1, (min(x.shape[-2:]) - 1) // 2 * 2 + 1)
    return TF.gaussian_blur(x, [side, side], [sigma, sigma]) if side > 1 else x
