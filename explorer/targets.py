"""The score of a class that a class activation map explains, as pytorch-grad-cam's model targets.

- its **logit** ``S_t``, the score before the softmax (``ClassifierOutputTarget``, everyone's default);
- its **probability** ``p_t``, the softmax (``ClassifierOutputSoftmaxTarget``): what raises ``t`` and what lowers the
  other classes, since ``dp_t = p_t (dS_t - sum_j p_j dS_j)``;
- **ReST** ``S_t + log p_t`` (``ClassifierOutputReST``, Cai 2025, "CAMs as Shapley value-based explainers"): the
  logit and the log-probability together;
- **Finer-CAM**'s contrast (Zhang et al. 2025, "Finer-CAM: Spotting the Difference Reveals Finer Details for Visual
  Explanation"). A map of a 3 lights every stroke the network reads as a 3, also those an 8 has too; Finer-CAM
  explains the logit less those of the classes the network scores nearest to it:

      T = S_t - alpha * sum_c q_c S_c,    q = softmax(S_c over the compared classes c),

  so what the classes share cancels and what tells ``t`` apart stays (``alpha`` 0: the class alone). This is
  pytorch-grad-cam's ``FinerWeightedTarget``, ``sum_c p_c (S_t - alpha S_c) / (sum_c p_c + 1e-9)`` with ``p`` the
  softmax over every class, written without its epsilon: ``p_c / sum_c p_c`` is ``q_c``. The epsilon changes the
  map by about ``1e-9 / sum_c p_c`` of its peak, as a network grows sure of its class: 1.5e-3 on LeNet-5's sample
  3 (its nearest classes 7.7e-6 together); below 1e-8 together it makes the map. As there, the weights ``q`` follow
  each image read (each masked image of Score-CAM) and the gradient goes through them. Ablation-CAM's falls are over
  the score's size (:mod:`explorer.cam`), where pytorch-grad-cam's turn round for a score below zero, as a
  contrast's often is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

Scorer = Callable[[torch.Tensor], torch.Tensor]  # logits (n, K) -> the score explained (n,)
OUTPUTS = {"logit": "score", "probability": "probability", "rest": "ReST"}  # what of the class, in words
COMPARED = 3  # pytorch-grad-cam's comparison_categories [1, 2, 3]: the three nearest classes


@dataclass(frozen=True)
class Score:
    """What of class ``t`` a map explains: an ``output`` of :data:`OUTPUTS`, or with classes ``versus`` compared,
    Finer-CAM's contrast of the logits (the module's docstring)."""

    output: str = "logit"
    versus: tuple[int, ...] = ()
    alpha: float = 1.0


LOGIT = Score()


def nearest_classes(scores: torch.Tensor, target: int, count: int = COMPARED) -> list[int]:
    """The ``count`` classes whose ``scores`` (K,) are nearest to class ``target``'s, nearest first: those the
    network finds most alike, as pytorch-grad-cam's FinerCAM picks them (the order of ``|S_c - S_t|``). Logits or
    log-probabilities give the same classes."""
    distance = (scores.double() - scores[target].double()).abs()
    distance[target] = float("inf")
    order = distance.argsort(stable=True).tolist()
    return order[:min(count, len(order) - 1)]


def weights(scores: torch.Tensor, versus: Sequence[int]) -> torch.Tensor:
    """``q`` (len(versus),): how much each compared class weighs in Finer-CAM's score for logits or
    log-probabilities ``scores`` (K,), the likelier more."""
    return torch.softmax(scores[list(versus)].double(), 0).float()


def scorer(classes: int, target: int, of: Score = LOGIT) -> Scorer:
    """The score explained of class ``target`` of ``classes``, as ``of`` says."""
    if of.output not in OUTPUTS:
        raise ValueError(f"{of.output!r} is not one of the scores a map explains ({', '.join(OUTPUTS)})")
    versus = list(of.versus)
    wrong = [c for c in versus if not 0 <= c < classes or c == target]
    if wrong:
        raise ValueError(f"class {target} cannot be compared with {wrong}: the classes compared are others of the "
                         f"model's {classes} (0..{classes - 1})")
    if len(set(versus)) != len(versus):
        raise ValueError(f"the classes compared, {versus}, name one twice")
    if versus and of.output != "logit":
        raise ValueError(f"Finer-CAM compares the classes' logits, not their {OUTPUTS[of.output]}")
    if versus:
        def contrast(logits: torch.Tensor) -> torch.Tensor:
            compared = logits[:, versus]
            return logits[:, target] - of.alpha * (torch.softmax(compared, 1) * compared).sum(1)

        return contrast
    if of.output == "probability":
        return lambda logits: torch.softmax(logits, 1)[:, target]
    if of.output == "rest":
        return lambda logits: logits[:, target] + torch.log_softmax(logits, 1)[:, target]
    return lambda logits: logits[:, target]
