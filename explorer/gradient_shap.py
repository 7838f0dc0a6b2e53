"""GradientSHAP (Lundberg & Lee 2017; as Expected Gradients, Erion et al. 2021): integrated gradients from many
baselines at once, each path sampled at one random point.

Each of ``samples`` draws picks a baseline ``b`` from a set (the data set's images: what the network sees on
average) and a point ``alpha`` in [0, 1], and takes ``(x - b) * dS/dx`` at ``b + alpha (x - b)``; the map is their
mean. Its values add up, in expectation, to the class score less its mean over the baselines: the explanation
asks what makes this image score differently from a typical one, not from one black image. The draws follow
Captum's ``GradientShap`` (baselines by ``numpy``'s ``choice``, then the points by its ``uniform``; no noise on the
input), so with the same seed the maps are equal (the tests check).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from explorer import attribution, inspect


@dataclass(frozen=True, eq=False)
class GradientShap(attribution.Attribution):
    """GradientSHAP's map (``raw``: (C, H, W)) and the mean score of the baselines it drew, for the sum check."""

    baseline_score: float  # the class score averaged over the draws' baselines
    samples: int  # how many draws
    baselines: int  # how many images the baselines were drawn from
    source: str = ""  # what they were, for the page: its training images ("data"), the four baselines ("four")


def draws(count: int, samples: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Which of ``count`` baselines each of ``samples`` draws takes, and its point on the path in [0, 1]: Captum's
    order and generator (``np.random.seed(seed)`` before Captum draws the same)."""
    generator = np.random.RandomState(seed)
    return generator.choice(count, samples), generator.uniform(0.0, 1.0, samples)


def gradient_shap(model: nn.Module, image: torch.Tensor, baselines: torch.Tensor, target: int | None = None,
                  samples: int = 32, seed: int = 0, batch: int | None = None,
                  progress: Callable[[int, int], None] | None = None) -> GradientShap:
    """GradientSHAP for class ``target`` (default: the predicted class) of ``image`` (C, H, W) in [0, 1], from
    ``baselines`` (N, C, H, W) in [0, 1], ``samples`` draws (:func:`draws`), ``batch`` at a time (default: by the
    image's size) with ``progress(done, samples)`` after each."""
    device = inspect.device_of(model)
    x = image[None].detach().to(device)
    with torch.no_grad():
        logits = model(x).float()
    target = attribution.chosen_class(logits, target)
    chosen, alphas = draws(len(baselines), samples, seed)
    starts = baselines[torch.as_tensor(chosen)].to(device=device, dtype=x.dtype)
    alphas = torch.as_tensor(alphas, dtype=x.dtype, device=device).view(-1, 1, 1, 1)
    total, start_scores = torch.zeros_like(x), []
    size = batch or attribution.per_pass(x, 16)
    for first in range(0, samples, size):
        start, alpha = starts[first:first + size], alphas[first:first + size]
        point = (start + alpha * (x - start)).requires_grad_(True)
        (grad,) = torch.autograd.grad(model(point)[:, target].sum(), point)
        total += ((x - start) * grad).sum(0, keepdim=True)
        with torch.no_grad():
            start_scores.append(model(start)[:, target].float())
        if progress is not None:
            progress(min(first + size, samples), samples)
    raw = (total / samples)[0].detach()
    return GradientShap(attribution.signed_scaled(raw.sum(0)).cpu(), raw.cpu(), target, float(logits[0, target]),
                        torch.softmax(logits[0], 0).cpu(), float(torch.cat(start_scores).mean()), samples,
                        len(baselines))
