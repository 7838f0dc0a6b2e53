"""The explanations of "Why this prediction" that the page itself does not draw: the slow ones, computed once per
server with a progress bar (the eps sweeps of the attack, occlusion and integrated gradients; see
:mod:`explorer.attribution`) and their notes (the class activation map's are :mod:`explorer.ui.cam_controls`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import streamlit as st
import torch

from explorer import adversarial, attribution, inspect, labels
from explorer.ui import cam_controls, layout, memo, state
from explorer.ui.model_input import Network

EPSILONS = torch.linspace(0, 0.3, 61)
ITERATED_EPSILONS = EPSILONS[::6]  # 0, 0.03, ... 0.3: an ImageNet network's iterated sweep takes some 15 s
SMALL_ITERATED_EPSILONS = EPSILONS[::2]  # 0, 0.01, ... 0.3: LeNet-5's iterated sweep 0.2 s, TinyVGG's 1.6 s
SMALL_IMAGE = 3 * 64 * 64  # values: LeNet-5, TinyVGG and the trained runs


def probabilities(network: Network, digest: str, image: torch.Tensor) -> torch.Tensor:
    """The model's softmax for the image (K,): the class lists show each class's share."""
    return torch.softmax(logits(network, digest, image), 0)


def logits(network: Network, digest: str, image: torch.Tensor) -> torch.Tensor:
    """The model's scores for the image before the softmax (K,), once per server: unlike the probabilities, never 0
    (a score 100 below the top one is 0 in a float's softmax)."""
    def read(report: memo.Report) -> torch.Tensor:
        with torch.no_grad():
            scores = network.model(image[None].to(inspect.device_of(network.model)))
        return scores[0].float().cpu()

    return memo.computed("why_logits", (network.key, digest), read, lambda done, total: "Reading the image...",
                         keep=32)


def ranked(probabilities: torch.Tensor, leave_out: int | None = None) -> list[int]:
    """The classes most likely first (but ``leave_out``): the runner-up, the class an attack reaches most easily,
    at the top of a list of 1,000."""
    return [k for k in probabilities.argsort(descending=True, stable=True).tolist() if k != leave_out]


def eps_sweep(network: Network, digest: str, image: torch.Tensor, iterated: bool,
              target: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The attack (towards ``target`` if given) at every eps, once per server, with progress: every 0.005; the
    iterated attack (ten steps each) every 0.01, or every 0.03 on an ImageNet network (times on two CPU cores)."""
    if iterated:
        epsilons = SMALL_ITERATED_EPSILONS if image.numel() <= SMALL_IMAGE else ITERATED_EPSILONS
    else:
        epsilons = EPSILONS
    sweep = adversarial.iterative_fgsm_sweep if iterated else adversarial.fgsm_sweep
    return epsilons, memo.computed(
        "why_eps", (network.key, digest, iterated, target),
        lambda report: sweep(network.model, image, epsilons, progress=report, target=target),
        lambda done, total: memo.counted(f"Trying {len(epsilons)} eps{', ten steps each' if iterated else ''}",
                                         done, total, "steps done" if iterated else "attacked images done"))


def attack_reading(result: adversarial.Attack, name: Callable[[int], str], iterated: bool = False) -> str:
    """What the attack did to the prediction, in one sentence, with the fewest decimals that show the change;
    ``iterated``: it was already the iterated attack (so only a larger eps is left to try)."""
    if result.target is not None:
        if result.flipped:
            return (f"It now reads **{name(result.target)} ({labels.share(result.target_confidence)})**; "
                    f"{name(result.label)} keeps {labels.share(result.label_confidence)}.")
        return (f"Not yet: {name(result.target)} gets {labels.share(result.target_confidence)}, and the network "
                f"reads **{name(result.after)} ({labels.share(result.after_confidence)})**. Try a larger eps"
                + ("." if iterated else " or the iterated attack."))
    if result.flipped:
        before, after, kept = labels.percents(result.before_confidence, result.after_confidence,
                                              result.label_confidence)
        if result.reordered_tie:
            return (f"The prediction changes, but not by the attack: {name(result.label)} went from {before} up to "
                    f"{kept}, and **{name(result.after)}** rose past it to **{after}**. Scores this close reorder "
                    "at any nudge.")
        return (f"The prediction **flips**: {name(result.before)} ({before}) becomes **{name(result.after)} "
                f"({after})**; {name(result.label)} keeps {kept}.")
    before, after = labels.percent_pair(result.before_confidence, result.after_confidence)
    if before == after:  # ">99.9% to >99.9%" told nothing
        return f"The prediction **holds**: {name(result.before)} keeps **{after}**."
    return f"The prediction **holds**: {name(result.before)} goes from {before} to **{after}**."


def visible_change(result: adversarial.Attack, side: int, trained: bool) -> str:
    """Why a small network's adversarial image does not look the same (the lecture's demo asks that it does): a
    sentence where a trained network's reading flipped on an image of at most 64 px, by over 2/255 a pixel; else ""
    (a random network's near tie, or a reading that held, has no flip to explain)."""
    if side > 64 or result.eps <= 2 / 255 or not trained or not result.flipped or result.reordered_tie:
        return ""
    return (f" A {side} x {side} image has few pixels to spread a change over, so a flip takes one you can see; on a "
            "224 x 224 photo (the ImageNet networks, with trained weights) an eps of 1/255 usually flips the reading unseen. "
            "*The smallest change* below looks for the least that is enough here.")


def undecided_note(probabilities: torch.Tensor, hint: str) -> str:
    """Why the maps and the attack of a network with random weights teach little, with its figures (whatever its
    top class gets: a random ResNet18 can give one class 4%, forty times chance, for no reason it learned)."""
    digits = 2 if len(probabilities) > 100 else 1  # ImageNet's chance is 0.10%
    top, chance = float(probabilities.max()), 1 / len(probabilities)
    return (f"With random weights the network has not decided anything: its top class gets {top:.{digits}%}, "
            f"chance is {chance:.{digits}%}. The maps below show where its gradients happen to flow, and the attack "
            f"can only reorder a near tie. {hint}")


NOISE_TITLES = {"smoothgrad": "SmoothGrad", "smoothgrad_sq": "SmoothGrad²", "vargrad": "VarGrad"}
GRADIENT_TITLES = {"saliency": "Saliency", "guided": "Guided backprop", **NOISE_TITLES,
                   **{f"guided_{kind}": f"Guided {title}" for kind, title in NOISE_TITLES.items()}}


@dataclass(frozen=True)
class Smoothing:
    """How the gradient map is made: SmoothGrad's noisy copies, their noise (sd; no copies: the plain gradient) and
    what is taken over them (a kind of :data:`attribution.NOISE_KINDS`), through guided ReLUs or not."""

    copies: int = 0
    noise: float = 0.0
    guided: bool = False
    kind: str = "smoothgrad"

    @property
    def method(self) -> str:
        """A key of :data:`GRADIENT_TITLES`, and the map's name in the download."""
        made = self.kind if self.copies else "saliency"
        return f"guided_{made}" if self.guided and self.copies else "guided" if self.guided else made

    @property
    def title(self) -> str:
        return GRADIENT_TITLES[self.method]


def gradient_of(model: torch.nn.Module, image: torch.Tensor, target: int | None, smooth: Smoothing,
              report: memo.Report | None = None) -> attribution.Attribution:
    """The gradient map ``smooth`` asks for, its method named."""
    model = attribution.guided(model) if smooth.guided else model
    made = (attribution.smooth_grad(model, image, target, samples=smooth.copies, sigma=smooth.noise, progress=report,
                                    kind=smooth.kind) if smooth.copies else attribution.saliency(model, image, target))
    return dataclasses.replace(made, method=smooth.method)


SMOOTH_COPIES = (10, 25, 50, 100)


def smoothing_settings() -> list[state.Setting]:
    return [
        state.Setting("why_smooth", "smooth", False, state.boolean, state.dump_bool),
        state.Setting("why_guided", "guided", False, state.boolean, state.dump_bool),
        state.Setting("why_sg_n", "sgn", 25, state.int_choice(SMOOTH_COPIES)),
        state.Setting("why_sg_sd", "sgsd", 0.15, state.float_between(0.05, 0.5)),
        state.Setting("why_sg_kind", "nt", "smoothgrad", state.choice(attribution.NOISE_KINDS)),
    ]


def smoothing(cell) -> Smoothing:
    """The gradient map's settings: its toggles in ``cell`` (SmoothGrad, guided backprop) and with SmoothGrad on its
    copies and noise, chosen under the row."""
    layout.toggle(cell, "SmoothGrad", key="why_smooth",
                  help="Smilkov et al. 2017: average the saliency of copies of the image with noise added. The "
                       "speckle of a plain saliency map averages out. Below: the copies' mean square or variance "
                       "instead of their mean.")
    layout.toggle(cell, "Guided backprop", key="why_guided",
                  help="Springenberg et al. 2015: at each ReLU only gradients above zero go back, and only where the "
                       "ReLU was on (its input above zero), so the map shows "
                       "sharp edges. Adebayo et al. 2018 found that it changes little when the weights are random: "
                       "compare in the sanity check below.")
    if not st.session_state.why_smooth:
        return Smoothing(guided=bool(st.session_state.why_guided))
    # how many copies, how much noise, what of their maps: Captum's NoiseTunnel asks the same
    copies, noise, kind = st.columns([4, 4, 3], vertical_alignment="bottom")
    copies.select_slider("Noisy copies", SMOOTH_COPIES, key="why_sg_n")
    noise.slider("Noise (sd, pixels in 0..1)", 0.05, 0.5, step=0.05, key="why_sg_sd",
                 help="Smilkov et al. found 10-20% of the pixel range best: less leaves the speckle, more blurs the "
                      "map away.")
    kind.selectbox("Of their maps, the", attribution.NOISE_KINDS, key="why_sg_kind", format_func=NOISE_WORDS.get,
                   help="Captum's NoiseTunnel's three: the mean is SmoothGrad; the mean square (SmoothGrad²) lets the "
                        "strongest places stand out more; the variance (VarGrad, Adebayo et al. 2018) shows where "
                        "the gradient is unsteady under the noise.")
    return Smoothing(int(st.session_state.why_sg_n), round(float(st.session_state.why_sg_sd), 3),
                     bool(st.session_state.why_guided), st.session_state.why_sg_kind)


NOISE_WORDS = {"smoothgrad": "mean", "smoothgrad_sq": "mean square", "vargrad": "variance"}


def explained(network: Network, digest: str, image: torch.Tensor, target: int | None, layer: str,
              smooth: Smoothing, method: str = "gradcam", augment: bool = True,
              ) -> tuple[attribution.Attribution, attribution.Attribution | None]:
    """Saliency (or SmoothGrad, its noisy copies counted on a progress bar) and the class activation map of
    ``method`` at ``layer`` (None without one; ``augment`` False: without ``aug_smooth``), each once per server."""
    gradient = memo.computed(
        "why_gradient", (network.key, digest, target, smooth),
        lambda report: gradient_of(network.model, image, target, smooth, report), lambda done, total: (
            memo.counted(f"{smooth.title}: the gradients of noisy copies", done, total, "copies") if smooth.copies
            else "Following the gradients back to the pixels..."), keep=32)
    if not layer:
        return gradient, None
    return gradient, cam_controls.mapped(network, digest, image, target, layer, method, augment)


def occluded(network: Network, digest: str, image: torch.Tensor, target: int | None, window: int,
             fill: str = "mean", stride: int | None = None) -> attribution.Occlusion:
    """Occlusion by squares of ``fill`` (a kind of :func:`attribution.baseline_image`), ``stride`` apart (default:
    half a square), with progress."""
    return memo.computed(
        "why_occ", (network.key, digest, target, window, fill, stride),
        lambda report: attribution.occlusion(network.model, image, target, window, stride, fill=fill, progress=report),
        lambda done, total: memo.counted("Covering the image square by square", done, total, "covered images read"))


BASELINE_WORDS = {"black": "a black image", "blurred": "your image blurred", "mean": "your image's mean colour",
                  "noise": "random noise"}
BASELINE_MISSING = {  # what a pixel equal to the baseline, which gets nothing, is
    "black": "A pixel equal to the baseline (black) gets nothing, however much it matters: on a digit, the whole "
             "background.",
    "blurred": "Only what blurring takes away (edges, strokes, texture) can get a share; flat regions get little.",
    "mean": "A pixel of the image's mean colour gets nothing, however much it matters.",
    "noise": "Every pixel differs from the noise, so every pixel can get a share; another noise would give another "
             "map.",
}


def integrated(network: Network, digest: str, image: torch.Tensor, target: int | None, steps: int,
               baseline: str = "black", rule: str = "riemann") -> attribution.IntegratedGradients:
    """Integrated gradients from ``baseline`` in ``steps`` steps summed by ``rule``, with progress."""
    return memo.computed(
        "why_ig", (network.key, digest, target, steps, baseline, rule),
        lambda report: attribution.integrated_gradients(network.model, image, target, steps, progress=report,
                                                        baseline=baseline, rule=rule),
        lambda done, total: memo.counted(f"Integrating the gradients from {BASELINE_WORDS[baseline]} to the image",
                                         done, total, "steps"))


def occluder(fractions: tuple[int, ...]) -> Callable[[str], int]:
    """The link's ``occ``: the square's side as a fraction of the image's side, ``4`` or ``1/4``."""

    def parse(text: str) -> int:
        value = state.whole(text.removeprefix("1/"))
        if value not in fractions:
            raise ValueError("the square's side is " + ", ".join(f"1/{d}" for d in fractions)
                             + " of the image's side: occ=" + ", ".join(map(str, fractions)))
        return value

    return parse


FILL_WORDS = {"mean": "the image's own mean colour", "black": "black",
              "blurred": "the same square of the image blurred", "noise": "random noise"}  # what covers a square


def occlusion_note(occ: attribution.Occlusion, name: Callable[[int], str], fill: str = "mean") -> str:
    """What the occlusion map shows, covered with ``fill``, and what covering its worst square does (``name``: a
    class's name)."""
    what, before, after = name(occ.target), occ.probabilities[occ.target], occ.worst_probability
    note = (f"Zeiler & Fergus's test (they used a grey square): cover a {occ.window} x {occ.window} square with "
            f"{FILL_WORDS[fill]}, slide it "
            f"by {occ.stride} px and read the network again. Each pixel shows how much covering it lowers the class "
            "score (the network's output before the softmax), averaged over the squares that covered it: red, the "
            "score falls (evidence for the class); blue, it rises (evidence against). ")
    if occ.changes_nothing:
        return note + ("Here no square changes the score: each one is the colour of what it covers."
                       if fill == "mean" else "Here no square changes the score.")
    if not occ.hurts:
        return note + (f"Here covering any square raises the score of {what} ({before:.2%}): no part of the image "
                       "speaks for it, so no square is outlined.")
    if before < 0.005:
        return note + f"The network gives {what} only {before:.2%} here, so the map shows where its score falls most."
    reading, (was, now) = name(occ.worst_reading), labels.percent_pair(before, after)
    if was == now:  # a share that no decimal tells apart: the score's fall is what changed
        return note + (f"The outlined square lowers it most: covered, it lowers the score of {what} by "
                       f"**{occ.worst_drop:.3g}**, and {what} keeps {now}.")
    return note + (f"The outlined square lowers it most: covered, it takes {what} from {was} to **{now}**"
                   + (f": the network then reads **{reading}**." if reading != what else "."))


RULE_RECIPES = {  # the Riemann sums other than the paper's, in words: in several steps, in one
    "riemann_left": ("the gradient averaged over {steps} equal parts of the way from {start} to yours, each at its "
                     "start (the first at {start} itself, your image left out)",
                     "in one step, the gradient at {start} itself"),
    "riemann_middle": ("the gradient averaged over {steps} equal parts of the way from {start} to yours, each at its "
                       "middle", "in one step, the gradient halfway from {start} to yours"),
    "riemann_trapezoid": ("the gradient at {ends} images from {start} to yours, both ends included and weighed half "
                          "(trapezoids)", "in one step, the mean of the gradients at {start} and at your image"),
}


def sums(raw: torch.Tensor) -> tuple[float, float, float]:
    """A signed map's (C, H, W) sum over its pixels, and its parts for the class (red) and against it (blue)."""
    pixels = raw.sum(0)
    return float(pixels.sum()), float(pixels.clamp(min=0).sum()), float(pixels.clamp(max=0).sum())


def integrated_note(ig: attribution.IntegratedGradients) -> str:
    """The integrated gradients' recipe, their sign, and their completeness check, in numbers."""
    (added, pro, contra), moved = sums(ig.raw), ig.score - ig.baseline_score
    start = BASELINE_WORDS[ig.baseline]
    if ig.rule == "gauss":
        recipe = (f"the gradient at {ig.steps} images on the way from {start} to yours, weighed by Gauss-Legendre's "
                  "rule (Captum's default)" if ig.steps > 1 else
                  f"in one step, the gradient halfway from {start} to yours (Gauss-Legendre's one point)")
    elif ig.rule in RULE_RECIPES:
        recipe = RULE_RECIPES[ig.rule][ig.steps == 1].format(steps=ig.steps, start=start, ends=ig.steps + 1)
    elif ig.steps > 1:
        recipe = (f"the gradient averaged over {ig.steps} images on the way from {start} to yours, the last your "
                  f"image itself (the right ends of {ig.steps} equal parts, as the paper writes it)")
    else:  # the path's one point is the image itself
        recipe = ("in one step, the gradient at your image alone" + (
            " (from black this is **gradient × input**: Shrikumar et al. 2016, Captum's InputXGradient)"
            if ig.baseline == "black" else ""))
    return (f"Sundararajan et al.: {recipe}, times the pixel's change, summed over the colour channels. Red: the "
            "pixel raises the class score (the "
            "network's output before the softmax), blue: it lowers it. "
            f"The attributions add up to **{added:.3f}** ({pro:+.3f} red, {contra:+.3f} blue); the class score moved "
            f"{moved:.3f} from {start} to your image (off by {abs(added - moved):.3f}: "
            + ("one step only approximates the integral). " if ig.steps == 1 else
               "the steps' sum only approaches the integral; more steps narrow the gap over all, not at each doubling, "
               "and no rule is exact on a ReLU network's kinked path). ")
            + BASELINE_MISSING[ig.baseline])


def repeated_smoothing(smooth: Smoothing, image: torch.Tensor) -> Smoothing:
    """The gradient map of the attack's before and after maps: SmoothGrad's copies again for each image are minutes
    of a 224 px network on a CPU (VGG16's 100: about 5), so there the plain gradient (guided or not), said so."""
    if not smooth.copies or image.shape[-1] <= 64 or torch.cuda.is_available():
        return smooth
    st.caption(f"{smooth.title} takes {smooth.copies} passes of the network for each image: on this server's CPU the "
               "maps before and after the attack leave its copies out.")
    return Smoothing(guided=smooth.guided)
