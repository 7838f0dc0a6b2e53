"""This class and not that one: the score Finer-CAM explains (Zhang et al. 2025, "Finer-CAM: Spotting the
Difference Reveals Finer Details for Visual Explanation").

A class activation map of a 3 lights every stroke the network reads as a 3, also those an 8 has too. Finer-CAM
explains instead the class score ``S_t`` less the scores of the classes most alike, those the network scores nearest
to it:

    T = S_t - alpha * sum_c q_c S_c,    q = softmax(S_c over the compared classes c),

so what the classes share cancels and what tells ``t`` apart stays (``alpha`` 0: the class alone). This is
pytorch-grad-cam's ``FinerWeightedTarget``, ``sum_c p_c (S_t - alpha S_c) / (sum_c p_c + 1e-9)`` with ``p`` the
softmax over every class, written without its epsilon: ``p_c / sum_c p_c`` is ``q_c``, and where a network is sure of
its class (compared classes below 1e-8 together) the epsilon had made the map. As there, the weights ``q`` follow
each image read (each masked image of Score-CAM) and the gradient goes through them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

Scorer = Callable[[torch.Tensor], torch.Tensor]  # logits (n, K) -> the score explained (n,)
COMPARED = 3  # pytorch-grad-cam's comparison_categories [1, 2, 3]: the three nearest classes


def nearest_classes(scores: torch.Tensor, target: int, count: int = COMPARED) -> list[int]:
    """The ``count`` classes whose ``scores`` (K,) are nearest to class ``target``'s, nearest first: those the
    network finds most alike, as pytorch-grad-cam's FinerCAM picks them (the order of ``|S_c - S_t|``). Logits or
    log-probabilities give the same classes."""
    distance = (scores.double() - scores[target].double()).abs()
    distance[target] = float("inf")
    order = distance.argsort(stable=True).tolist()
    return order[:min(count, len(order) - 1)]


def weights(scores: torch.Tensor, versus: Sequence[int]) -> torch.Tensor:
    """``q`` (len(versus),): how much each compared class weighs in :func:`scorer`'s score for logits or
    log-probabilities ``scores`` (K,), the likelier more."""
    return torch.softmax(scores[list(versus)].double(), 0).float()


def scorer(classes: int, target: int, versus: Sequence[int] = (), alpha: float = 1.0) -> Scorer:
    """The score explained for class ``target`` of ``classes``: its logit, or with classes ``versus`` to compare,
    Finer-CAM's ``S_t - alpha * sum_c q_c S_c`` (the module's docstring)."""
    versus = list(versus)
    wrong = [c for c in versus if not 0 <= c < classes or c == target]
    if wrong:
        raise ValueError(f"class {target} cannot be compared with {wrong}: the classes compared are others of the "
                         f"model's {classes} (0..{classes - 1})")
    if len(set(versus)) != len(versus):
        raise ValueError(f"the classes compared, {versus}, name one twice")
    if not versus:
        return lambda logits: logits[:, target]

    def score(logits: torch.Tensor) -> torch.Tensor:
        compared = logits[:, versus]
        return logits[:, target] - alpha * (torch.softmax(compared, 1) * compared).sum(1)

    return score
