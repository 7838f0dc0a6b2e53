"""Why this prediction, "The smallest change": Szegedy's box-constrained L-BFGS (see :mod:`explorer.minimal`)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

import streamlit as st
import torch

from explorer import adversarial, explain_figures, inspect, labels, minimal
from explorer.ui import charts, layout, memo
from explorer.ui.explanations import SMALL_IMAGE
from explorer.ui.model_input import Network

EVERY_CLASS_VALUES = 30_000  # image values times classes searched at once: a digit's 9 (7,056) or a CIFAR-10
                             # image's (27,648), about 3 to 6 s on two CPU cores; TinyVGG's 7 classes take 25 s
HELP = ("Szegedy et al. (2014) minimise c · ||change|| + loss; here, as most codes write it, c · loss + "
        "||change||² (the same trade-off, c on the other term, the norm squared), by box-constrained L-BFGS (scipy's L-BFGS-B, the "
        f"image kept in [0, 1]), {minimal.ROUNDS} times, halving the search for the smallest c that still makes the "
        "network read the class. On a CPU small networks only: a 224 px network would take minutes there.")


def asked() -> bool:
    """The section's title, what it asks, and whether the visitor asked for the search (the ``small`` setting)."""
    st.subheader("The smallest change that fools it")
    st.markdown("FGSM moves every pixel by up to eps. Szegedy et al. (2014), who named adversarial examples, asked "
                "instead for the smallest change overall, its L2 norm (the square root of the sum of squared pixel "
                "changes), that makes the network read another class, or the one chosen under \"Make it read as\".")
    return layout.toggle(st, "Search for it", key="why_smallest", help=HELP)


def targets(probabilities: torch.Tensor, chosen: int | None, values: int) -> list[int]:
    """The classes to search: the chosen one; else every other class when the search stays short; else the
    strongest other class."""
    predicted = int(probabilities.argmax())
    if chosen is not None:
        return [chosen]
    others = [k for k in range(len(probabilities)) if k != predicted]
    if values * len(others) <= EVERY_CLASS_VALUES:
        return others
    return [int(probabilities.topk(2).indices[1])]


def search_device() -> torch.device:
    """Where the search runs: the server's GPU when it has one (the pages' networks themselves stay on the CPU)."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _on(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """``model``, or a copy of it on ``device`` for one search (the shared one stays where the pages use it)."""
    return model if inspect.device_of(model).type == device.type else copy.deepcopy(model).to(device)


def refusal(image: torch.Tensor, device: torch.device) -> str | None:
    """Why the search is not run here (None: it is): a 224 px network on a CPU, where its few hundred forward and
    backward passes take minutes (ResNet18 about 9 s a round of 8 on two cores, VGG16 several times that)."""
    if image.numel() <= SMALL_IMAGE or device.type != "cpu":
        return None
    return ("No search here: L-BFGS takes hundreds of forward and backward passes, minutes for a 224 px network on "
            "this server's CPU (a server with a GPU runs it). Try LeNet-5, TinyVGG or a network you trained.")


def draw(network: Network, digest: str, image: torch.Tensor, chosen: int | None, probabilities: torch.Tensor,
         name: Callable[[int], str], fgsm: Callable[[], FgsmMatch]) -> None:
    """Search the smallest change towards ``chosen`` (or the classes :func:`targets` picks), once per server, and
    show it beside what the page's FGSM needs for the same (``fgsm()``, a :func:`fgsm_match`, asked only then)."""
    device = search_device()
    if (why := refusal(image, device)) is not None:
        st.info(why)
        return
    before, wanted = int(probabilities.argmax()), targets(probabilities, chosen, image.numel())
    result = memo.computed(
        "why_smallest", (network.key, digest, tuple(wanted)),
        lambda report: minimal.smallest_change(_on(network.model, device), image, wanted, progress=report),
        lambda done, total: memo.counted(f"L-BFGS towards {_classes(wanted, name)}", done, total, "steps"))
    if not bool(result.found.any()):
        st.warning(f"No change found that makes the network read {_classes(wanted, name)} in "
                   f"{minimal.ROUNDS} rounds of {minimal.ITERATIONS} L-BFGS steps.")
        return
    if len(wanted) > 1:
        names = tuple(name(k) for k in range(len(probabilities)))
        charts.show(st, explain_figures.distance_figure(result, names, names[before]),
                    key="why_fig_distances")
    at = result.nearest
    change, target = result.changes[at], int(result.targets[at])
    largest = float(change.abs().max())
    third = layout.PICTURE_PX
    p, q, r = layout.cells(3, third)
    title = explain_figures.named_title("Original", f"{name(before)} ({labels.share(float(probabilities[before]))})", joiner=": ")
    charts.show(p, explain_figures.picture_figure(image, title, width_px=third), key="why_fig_small_original")
    charts.show(q, explain_figures.perturbation_figure(change, largest, width_px=third,
                                                       title=f"Change (±{largest:.2f})"), key="why_fig_small_change")
    q.caption("White: the largest increase, black the largest decrease, grey no change"
              + (" (in each of R, G and B)" if image.shape[0] == 3 else "")
              + f"; scaled to ±{largest:.2f}, not to eps like the FGSM picture above.")
    title = explain_figures.named_title("Reads", f"{name(target)} ({labels.share(float(result.probabilities[at, target]))})",
                                        joiner=": ")
    charts.show(r, explain_figures.picture_figure(result.images[at], title, width_px=third), key="why_fig_small_image")
    st.markdown(reading(result, name, chosen, fgsm()))


@dataclass(frozen=True)
class FgsmMatch:
    """What the attack of the page's sweep needs to do what the search did."""

    method: str  # "FGSM" or "Iterated FGSM (10 steps)"
    eps: float | None  # the sweep's first eps that does it; None when none does
    norm: float  # the L2 norm of the attack's change at that eps (at the sweep's last eps when none does)
    last: float  # the sweep's last eps
    below: tuple[float, float] | None  # the sweep's eps before, which did not, and its L2 norm: the need lies between


def reading(result: minimal.Smallest, name: Callable[[int], str], chosen: int | None, fgsm: FgsmMatch) -> str:
    """The nearest class, the size of the change in both measures, and how it compares with FGSM's."""
    at = result.nearest
    target, norm, change = int(result.targets[at]), float(result.norms[at]), result.changes[at]
    unit = "pixel" if change.shape[0] == 1 else "pixel value"
    if chosen is not None:
        lead = f"To read as **{name(target)}**,"
    elif len(result.targets) == 1:
        lead = f"For the strongest other class, **{name(target)}**,"
    else:
        lead = f"The nearest other class is **{name(target)}**:"
    text = (f"{lead} a change of L2 norm **{norm:.2f}** is enough, {float(result.rms[at]):.3g} per {unit} (root mean "
            f"square), though one {unit} moves {float(change.abs().max()):.2f}. It stops just across the line, so "
            f"{name(target)} wins narrowly ({labels.share(float(result.probabilities[at, target]))}). ")
    if len(result.targets) == 1 and chosen is None:
        text += ("Only this class was searched: every class of an image this large would take half a minute. "
                 "To search another, pick it under \"Make it read as\". ")
    does = f"makes it read {name(chosen)}" if chosen is not None else "changes the prediction"
    if fgsm.eps is None:
        return text + (f"{fgsm.method} never {does} on the chart above, not even at eps {fgsm.last:.3g}, whose change "
                       f"has an L2 norm of {fgsm.norm:.2f}: **{fgsm.norm / norm:.1f} times** this one, and still not "
                       "enough.")
    times, steps = f"**{fgsm.norm / norm:.1f} times**", ""
    if fgsm.below is not None and fgsm.norm > 1.1 * fgsm.below[1]:  # the chart's eps steps are coarse here
        times = f"**{fgsm.below[1] / norm:.1f} to {fgsm.norm / norm:.1f} times**"
        steps = f" (the chart tries eps in steps: the exact eps lies between {fgsm.below[0]:.3g} and {fgsm.eps:.3g})"
    return text + (f"{fgsm.method} first {does} at eps {fgsm.eps:.3g} (the chart above): it moves every {unit} by up "
                   f"to {fgsm.eps:.3g}, an L2 norm of {fgsm.norm:.2f}, {times} as large{steps}. Two ways to measure "
                   "\"small\": the whole change (L2, Szegedy) or the largest single change (L∞, FGSM's eps).")


def fgsm_match(network: Network, image: torch.Tensor, sweep: tuple[torch.Tensor, torch.Tensor], label: int,
               target: int | None, iterated: bool) -> FgsmMatch:
    """Where the page's sweep first does what the search does (reads ``target``, or any class but ``label``), and
    the size of its change there and one eps before."""
    epsilons, probabilities = sweep
    done = probabilities.argmax(1) == target if target is not None else probabilities.argmax(1) != label
    attack = adversarial.iterative_fgsm if iterated else adversarial.fgsm
    method = "Iterated FGSM (10 steps)" if iterated else "FGSM"

    def norm(eps: float) -> float:
        return float(attack(network.model, image, eps, target=target).perturbation.norm())

    last = float(epsilons[-1])
    if not bool(done.any()):
        return FgsmMatch(method, None, norm(last), last, None)
    first = int(done.nonzero()[0, 0])
    eps = float(epsilons[first])
    below = (float(epsilons[first - 1]), norm(float(epsilons[first - 1]))) if first > 0 else None
    return FgsmMatch(method, eps, norm(eps), last, below)


def _classes(wanted: list[int], name: Callable[[int], str]) -> str:
    return name(wanted[0]) if len(wanted) == 1 else f"each of {len(wanted)} classes"
