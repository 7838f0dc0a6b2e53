"""Adversarial examples: a change too small to see that flips the prediction.

- FGSM (Goodfellow et al. 2015): ``x_adv = clip(x + eps * sign(grad_x L(theta, x, y)), 0, 1)``, one
  step up the loss ``L`` (cross-entropy) of class ``y``.
- Iterated FGSM (Kurakin et al. 2017, "basic iterative method"): steps of ``alpha * sign(grad)``,
  each projected back into ``||x_adv - x||_inf <= eps`` and onto [0, 1].

``y`` is the class being attacked: the true label when it is known, else the model's own prediction
(a user's drawing has no label). A *targeted* attack (Szegedy et al. 2014 asked for the smallest change
that makes the network read a chosen class) steps *down* the loss of the ``target`` class instead:
``x_adv = clip(x - eps * sign(grad_x L(theta, x, target)), 0, 1)``. Images are the project's (C, H, W) in [0, 1]; eps is in pixel units
(0.3 is the usual MNIST budget, 8/255 the usual ImageNet one).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from explorer import inspect

MAX_EPS = 1.0
SWEEP_VALUES = 2**20  # input values per forward pass of a sweep


@dataclass(frozen=True, eq=False)
class Attack:
    """An adversarial image and what it does to the prediction."""

    image: torch.Tensor  # (C, H, W) in [0, 1]
    perturbation: torch.Tensor  # image - original, each value in [-eps, eps]
    label: int  # the class attacked
    eps: float
    before: int  # the prediction on the original
    before_confidence: float
    after: int  # the prediction on the adversarial image
    after_confidence: float
    label_confidence: float  # the attacked class's probability afterwards
    target: int | None = None  # the class a targeted attack pushes towards
    target_confidence: float = 0.0  # its probability afterwards

    @property
    def flipped(self) -> bool:
        """Whether the attack did what it set out to: read as the target, or (untargeted) no longer as the label."""
        return self.after == self.target if self.target is not None else self.after != self.label

    @property
    def reordered_tie(self) -> bool:
        """An untargeted flip the step did not make (random weights' near tie): the class it attacked rose, and
        another rose past it."""
        return (self.target is None and self.flipped and self.before == self.label
                and self.label_confidence >= self.before_confidence)


def check_eps(eps: float) -> float:
    """``eps`` itself, or ValueError when it is not a number in [0, 1]."""
    if not (isinstance(eps, (int, float)) and math.isfinite(eps) and 0 <= eps <= MAX_EPS):
        raise ValueError(f"eps must be a number between 0 and {MAX_EPS:g} (pixel units), got {eps!r}")
    return float(eps)


def loss_gradient(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """``grad_x L(theta, x, y)`` for a batch (N, C, H, W) and labels (N,): the cross-entropy's slope per pixel."""
    x = images.detach().clone().requires_grad_(True)
    loss = F.cross_entropy(model(x), labels, reduction="sum")  # sum: each image's gradient is its own
    (grad,) = torch.autograd.grad(loss, x)
    return grad


def fgsm(model: nn.Module, image: torch.Tensor, eps: float, label: int | None = None,
         target: int | None = None) -> Attack:
    """One fast-gradient-sign step of size ``eps`` against ``label`` (default: the prediction), or towards ``target``."""
    eps = check_eps(eps)
    x, y = _prepare(model, image, label, target)
    goal, way = _goal(y, target)
    adversarial = (x + way * eps * loss_gradient(model, x, goal).sign()).clamp(0, 1)
    return _attack(model, x, adversarial, int(y), eps, target)


def iterative_fgsm(model: nn.Module, image: torch.Tensor, eps: float, steps: int = 10,
                   alpha: float | None = None, label: int | None = None, target: int | None = None,
                   progress: Callable[[int, int], None] | None = None) -> Attack:
    """Kurakin's iterated FGSM: ``steps`` sign steps of ``alpha`` (default ``2.5 eps / steps``) inside the eps-ball,
    away from ``label`` or towards ``target``; ``progress(done, steps)`` after each step."""
    eps = check_eps(eps)
    if not 1 <= steps <= 1000:
        raise ValueError(f"steps must be between 1 and 1000, got {steps}")
    alpha = 2.5 * eps / steps if alpha is None else alpha
    x, y = _prepare(model, image, label, target)
    goal, way = _goal(y, target)
    adversarial = x.clone()
    for step in range(steps):
        adversarial = adversarial + way * alpha * loss_gradient(model, adversarial, goal).sign()
        adversarial = torch.min(torch.max(adversarial, x - eps), x + eps).clamp(0, 1)
        if progress is not None:
            progress(step + 1, steps)
    return _attack(model, x, adversarial, int(y), eps, target)


def fgsm_sweep(model: nn.Module, image: torch.Tensor, epsilons: torch.Tensor, label: int | None = None,
               progress: Callable[[int, int], None] | None = None, target: int | None = None) -> torch.Tensor:
    """The softmax (E, K) of FGSM images for every eps in ``epsilons`` (E,).

    The sign of the gradient at the original is the same for every eps, so one backward pass serves all.
    The images go through in batches of about ``SWEEP_VALUES`` input values (all of a digit's
    sweep at once, six ImageNet images at a time); ``progress(done, total)`` follows each batch.
    """
    for eps in epsilons.tolist():
        check_eps(eps)
    x, y = _prepare(model, image, label, target)
    goal, way = _goal(y, target)
    sign = way * loss_gradient(model, x, goal).sign()
    parts = []
    with torch.no_grad():
        for part in epsilons.to(x.device).split(max(1, SWEEP_VALUES // x.numel())):
            parts.append(torch.softmax(model((x + part.view(-1, 1, 1, 1) * sign).clamp(0, 1)).float(), 1).cpu())
            if progress is not None:
                progress(sum(len(p) for p in parts), len(epsilons))
    return torch.cat(parts)


def iterative_fgsm_sweep(model: nn.Module, image: torch.Tensor, epsilons: torch.Tensor, steps: int = 10,
                         label: int | None = None, progress: Callable[[int, int], None] | None = None,
                         target: int | None = None) -> torch.Tensor:
    """The softmax (E, K) of :func:`iterative_fgsm` images for every eps in ``epsilons`` (E,).

    Each eps walks its own ``steps`` steps (the gradient's sign changes along the way), so the images of a
    batch (as in :func:`fgsm_sweep`) step together; ``progress(done, total)`` counts images times steps.
    """
    for eps in epsilons.tolist():
        check_eps(eps)
    if not 1 <= steps <= 1000:
        raise ValueError(f"steps must be between 1 and 1000, got {steps}")
    x, y = _prepare(model, image, label, target)
    goal, way = _goal(y, target)
    parts, done = [], 0
    for part in epsilons.to(x.device, x.dtype).split(max(1, SWEEP_VALUES // x.numel())):
        eps = part.view(-1, 1, 1, 1)
        original, goals = x.expand(len(part), -1, -1, -1), goal.expand(len(part))
        adversarial = original.clone()
        for step in range(steps):
            adversarial = adversarial + way * 2.5 * eps / steps * loss_gradient(model, adversarial, goals).sign()
            adversarial = torch.min(torch.max(adversarial, original - eps), original + eps).clamp(0, 1)
            if progress is not None:
                progress(done + len(part) * (step + 1), len(epsilons) * steps)
        done += len(part) * steps
        with torch.no_grad():
            parts.append(torch.softmax(model(adversarial).float(), 1).cpu())
    return torch.cat(parts)


def flipping_eps(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, epsilons: torch.Tensor) -> torch.Tensor:
    """For each image (N, C, H, W) the smallest eps of ``epsilons`` (ascending) at which FGSM changes the
    prediction away from its label; NaN where none does. Images already misread get 0.
    """
    device = inspect.device_of(model)
    images, labels = images.to(device), labels.to(device)
    sign = loss_gradient(model, images, labels).sign()
    found = torch.full((len(images),), math.nan)
    with torch.no_grad():
        for eps in [0.0, *epsilons.tolist()]:
            wrong = (model((images + eps * sign).clamp(0, 1)).argmax(1) != labels).cpu()
            found = torch.where(wrong & found.isnan(), torch.tensor(eps), found)
    return found


def _prepare(model: nn.Module, image: torch.Tensor, label: int | None,
             target: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The image as a batch of one on the model's device and the label to attack (the prediction by default);
    ValueError for a label or target the model does not have."""
    device = inspect.device_of(model)
    x = image[None].detach().to(device, torch.float32)
    with torch.no_grad():
        logits = model(x)
    classes = logits.shape[1]
    for asked in (label, target):
        if asked is not None and not 0 <= asked < classes:
            raise ValueError(f"the model has {classes} classes (0..{classes - 1}); there is no class {asked}")
    return x, torch.tensor([int(logits.argmax()) if label is None else label], device=device)


def _goal(label: torch.Tensor, target: int | None) -> tuple[torch.Tensor, int]:
    """The class whose loss the steps follow and their direction: up the label's, or down the target's."""
    if target is None:
        return label, 1
    return torch.tensor([target], device=label.device), -1


def _attack(model: nn.Module, x: torch.Tensor, adversarial: torch.Tensor, label: int, eps: float,
            target: int | None = None) -> Attack:
    with torch.no_grad():
        probabilities = torch.softmax(model(torch.cat([x, adversarial])).float(), 1).cpu()  # (2, K)
    before, after = int(probabilities[0].argmax()), int(probabilities[1].argmax())
    return Attack(adversarial[0].cpu(), (adversarial - x)[0].cpu(), label, eps, before,
                  float(probabilities[0, before]), after, float(probabilities[1, after]),
                  float(probabilities[1, label]), target,
                  float(probabilities[1, target]) if target is not None else 0.0)
