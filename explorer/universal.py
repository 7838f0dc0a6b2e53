"""One perturbation that fools a network on many images at once: a universal adversarial perturbation.

Moosavi-Dezfooli et al. (2017) showed that a single image-agnostic pattern, as small per pixel as an
FGSM step, changes most of a network's predictions. It is found here as Shafahi et al. (2020) do:
sign-gradient ascent, over batches of images, on a cross-entropy clipped at ``CLIP`` (an image that is
already fooled stops pulling), the pattern projected back into ``||delta||_inf <= eps`` each step.
The loss is against the network's own predictions, so no labels are needed.

Its effect is measured as the *fooling rate* (the share of held-out images whose prediction changes)
beside random noise of the same size, ``eps`` times a random sign per pixel: the control that shows
the pattern is not just loud.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from explorer import inspect
from explorer.adversarial import check_eps

CLIP = 5.0  # per-image cross-entropy cap: about the loss of a confidently wrong answer (p ~ 0.7%)


@dataclass(frozen=True, eq=False)
class Universal:
    """A universal perturbation and what it does to held-out images."""

    perturbation: torch.Tensor  # (C, H, W), each value in [-eps, eps]
    eps: float
    before: torch.Tensor  # (N,) predictions on the clean images
    after: torch.Tensor  # (N,) predictions with the perturbation added
    noise_after: torch.Tensor  # (N,) predictions with random +-eps noise added

    @property
    def fooling_rate(self) -> float:
        """The share of images whose prediction the perturbation changes."""
        return float((self.after != self.before).float().mean())

    @property
    def noise_fooling_rate(self) -> float:
        """The same for random noise of the same size: the control."""
        return float((self.noise_after != self.before).float().mean())


def perturbation(model: nn.Module, images: torch.Tensor, eps: float, steps: int = 200, batch: int = 64,
                 seed: int = 0, progress: Callable[[int, int], None] | None = None) -> torch.Tensor:
    """The universal perturbation (C, H, W) for ``images`` (N, C, H, W) in [0, 1], each value within ``eps``.

    ``steps`` sign steps of ``eps / 10`` on batches of ``batch`` images drawn with ``seed``;
    ``progress(done, steps)`` follows them.
    """
    eps = check_eps(eps)
    device = inspect.device_of(model)
    images = images.to(device, torch.float32)
    labels = predictions(model, images)
    generator = torch.Generator().manual_seed(seed)
    delta = torch.zeros(images.shape[1:], device=device)
    for step in range(steps):
        pick = torch.randint(len(images), (min(batch, len(images)),), generator=generator).to(device)
        delta.requires_grad_(True)
        loss = F.cross_entropy(model((images[pick] + delta).clamp(0, 1)), labels[pick], reduction="none")
        (grad,) = torch.autograd.grad(loss.clamp(max=CLIP).mean(), delta)
        delta = (delta.detach() + eps / 10 * grad.sign()).clamp(-eps, eps)
        if progress is not None:
            progress(step + 1, steps)
    return delta.cpu()


def evaluate(model: nn.Module, delta: torch.Tensor, images: torch.Tensor, eps: float, seed: int = 0) -> Universal:
    """``delta``'s effect on held-out ``images`` (N, C, H, W) in [0, 1], beside random +-``eps`` noise."""
    device = inspect.device_of(model)
    images = images.to(device, torch.float32)
    noise = eps * (torch.randint(2, delta.shape, generator=torch.Generator().manual_seed(seed)) * 2 - 1)
    return Universal(delta, eps, predictions(model, images).cpu(),
                     predictions(model, (images + delta.to(device)).clamp(0, 1)).cpu(),
                     predictions(model, (images + noise.to(device)).clamp(0, 1)).cpu())


@torch.no_grad()
def predictions(model: nn.Module, images: torch.Tensor, batch: int = 512) -> torch.Tensor:
    """The predicted class of each image (N, C, H, W), in batches, on the images' device."""
    return torch.cat([model(images[start:start + batch]).argmax(1) for start in range(0, len(images), batch)])
