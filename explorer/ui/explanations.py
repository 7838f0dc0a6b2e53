"""The slow explanations of "Why this prediction", computed once per server with a progress bar: the eps
sweeps of the attack, occlusion and integrated gradients (see :mod:`explorer.attribution`)."""

from __future__ import annotations

import torch

from explorer import adversarial, attribution
from explorer.ui import memo
from explorer.ui.model_input import Network

EPSILONS = torch.linspace(0, 0.3, 61)
ITERATED_EPSILONS = EPSILONS[::6]  # 0, 0.03, ... 0.3


def eps_sweep(network: Network, digest: str, image: torch.Tensor,
              iterated: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """The attack at every eps (every 0.03 when iterated: ten steps each), once per server, with progress."""
    # iterated: a ResNet's sweep of 11 eps takes some 15 s on two CPU cores
    epsilons, sweep = ((ITERATED_EPSILONS, adversarial.iterative_fgsm_sweep) if iterated
                       else (EPSILONS, adversarial.fgsm_sweep))
    return epsilons, memo.computed(
        "why_eps", (network.key, digest, iterated),
        lambda report: sweep(network.model, image, epsilons, progress=report),
        lambda done, total: f"Trying {len(epsilons)} eps{', ten steps each' if iterated else ''}: "
                            f"{done} of {total} {'steps' if iterated else 'attacked images'} done")


def occluded(network: Network, digest: str, image: torch.Tensor, target: int | None,
             window: int) -> attribution.Occlusion:
    """Occlusion by a square of the training data's mean colour, half a square apart, with progress."""
    return memo.computed(
        "why_occ", (network.key, digest, target, window),
        lambda report: attribution.occlusion(network.model, image, target, window, fill=network.spec.mean,
                                             progress=report),
        lambda done, total: f"Covering the image square by square: {done} of {total} covered images read")


def integrated(network: Network, digest: str, image: torch.Tensor, target: int | None,
               steps: int) -> attribution.IntegratedGradients:
    """Integrated gradients from a black image in ``steps`` steps, with progress."""
    return memo.computed(
        "why_ig", (network.key, digest, target, steps),
        lambda report: attribution.integrated_gradients(network.model, image, target, steps, progress=report),
        lambda done, total: f"Integrating the gradients from black to the image: {done} of {total} steps")
