"""Why this prediction's maps beside integrated gradients, each asked for with a toggle under it: DeepLIFT from the
same baseline in one backward pass (:mod:`explorer.deeplift`), GradientSHAP from many baselines, the data set's
images where this server has them (:mod:`explorer.gradient_shap`), the Shapley values of the image's squares
from the same baseline (:mod:`explorer.shapley`), and layer-wise relevance propagation, with no baseline
(:mod:`explorer.lrp`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import NamedTuple

import streamlit as st
import torch

from explorer import (attribution, deeplift, explain_figures, gradient_shap, inspect, labels, lrp, lrp_figures,
                      randomization, shapley)
from explorer.ui import charts, explanations, labelled, layout, memo, state
from explorer.ui.model_input import Network

SHAP_DRAWS = (8, 16, 32, 64, 128)
SHAP_SOURCES = ("data", "four")  # the network's training images; the page's four baselines of this image
SOURCE_NAMES = {"data": "data set", "four": "the four"}  # in the menu; the four are "From"'s choices
SOURCE_WORDS = {"data": "{count:,} of the data set's training images",
                "four": "the four baselines of this image (black, blurred, its mean colour, noise)"}
GRIDS = (2, 3, 4, 5, 6, 8)  # squares per side of the Shapley values' cut
COALITIONS = (256, 1024, 4096, 16384, 65536)  # images read: every one of 2 ** n where that is no more, else KernelSHAP
CPU_VALUES = 2 ** 16 * 3 * 32 * 32  # on a CPU, images read times their values: all of LeNet-5's, 1,024 of 224 px
EPSILONS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0)  # LRP-epsilon's, in std of each layer's outputs
RULE_NAMES = {"composite": "Composite", "epsilon": "LRP-ε", "zero": "LRP-0"}
TOGGLES = ("why_deeplift", "why_shap", "why_rshap", "why_lrp")


class Beside(NamedTuple):
    """The maps under integrated gradients, each None where not asked for."""

    lifted: deeplift.DeepLift | None = None
    shap: gradient_shap.GradientShap | None = None
    squares: shapley.RegionShapley | None = None
    relevance: lrp.Lrp | None = None


def settings() -> list[state.Setting]:
    return [
        state.Setting("why_deeplift", "deeplift", False, state.boolean, state.dump_bool),
        state.Setting("why_shap", "shap", False, state.boolean, state.dump_bool),
        state.Setting("why_shap_n", "shapn", 32, state.int_choice(SHAP_DRAWS)),
        state.Setting("why_shap_from", "shapfrom", "data", state.choice(SHAP_SOURCES)),
        state.Setting("why_rshap", "rshap", False, state.boolean, state.dump_bool),
        state.Setting("why_rgrid", "rgrid", 3, state.int_choice(GRIDS)),
        state.Setting("why_rn", "rn", 1024, state.int_choice(COALITIONS)),
        state.Setting("why_lrp", "lrp", False, state.boolean, state.dump_bool),
        state.Setting("why_lrp_rule", "lrprule", "composite", state.choice(lrp.RULES)),
        state.Setting("why_lrp_eps", "lrpeps", 0.25, state.float_choice(EPSILONS)),
    ]


def toggles() -> None:
    """The four toggles, two to a row as the maps they ask for, under occlusion and integrated gradients."""
    st.markdown("**Compare integrated gradients with**")
    (deeplift_box, shap_box), (squares_box, lrp_box) = st.columns(2), st.columns(2)
    layout.toggle(deeplift_box, "DeepLIFT", key="why_deeplift", width="content",
                  help="Shrikumar et al. 2017: the same question from the same baseline in one backward pass. Each "
                       "ReLU passes back its output's change over its input's change instead of its slope, so the "
                       "attributions add up to the score's change exactly.")
    layout.toggle(shap_box, "GradientSHAP", key="why_shap", width="content",
                  help="Lundberg & Lee 2017 (as Expected Gradients, Erion et al. 2021): integrated gradients from many "
                       "baselines at once, each path read at one random point. From the data set's images it asks "
                       "what makes this image score unlike a typical one, not unlike a black image.")
    layout.toggle(squares_box, "Shapley values", key="why_rshap", width="content",
                  help="Shapley 1953 (SHAP's KernelSHAP, Lundberg & Lee 2017): the image cut into squares, each "
                       "square's share of the score's change from the same baseline, averaged over every order of "
                       "putting the squares back. No gradient: the network reads images with squares left out.")
    layout.toggle(lrp_box, "LRP", key="why_lrp", width="content",
                  help="Bach et al. 2015, layer-wise relevance propagation: the class score handed back down, each "
                       "layer sharing what it received among its inputs by what each contributed. No baseline: "
                       "the relevance is conserved on the way, less what the biases take.")


def draw(network: Network, digest: str, image: torch.Tensor, target: int | None,
         ig: attribution.IntegratedGradients, name: Callable[[int], str], width_px: int, title_px: int,
         outliers: float | None) -> Beside:
    """The maps the toggles ask for, two to a row under occlusion and integrated gradients (one under the other where
    the page is narrow), each ``width_px`` wide with its note; a map's controls in a row above the maps, so the two
    maps of a row stay level."""
    asked = [on for on in TOGGLES if st.session_state[on]]
    made: dict[str, object] = {}
    for row in (asked[:2], asked[2:]):
        if not row:
            continue
        controls, cells = dict(zip(row, st.columns(2, vertical_alignment="bottom"))), dict(zip(row, st.columns(2)))
        if "why_shap" in controls:
            draws_box, from_box = controls["why_shap"].columns(2, vertical_alignment="bottom")
            draws_box.select_slider("Draws", SHAP_DRAWS, key="why_shap_n")
            from_box.selectbox("Baselines", SHAP_SOURCES, key="why_shap_from", format_func=SOURCE_NAMES.get,
                               help=f"The data set's training images ({labelled.TRAIN_IMAGES:,} of them, where this "
                                    "server has the data set): what the network sees on average. The four "
                                    "baselines: black, your image blurred, its mean colour and noise.")
        if "why_rshap" in controls:
            grid_box, read_box = controls["why_rshap"].columns(2, vertical_alignment="bottom")
            grid_box.select_slider("Squares per side", GRIDS, key="why_rgrid")
            read_box.select_slider("Images read", COALITIONS, key="why_rn", format_func=lambda k: f"{k:,}",
                                   help="Each set of squares kept is one image for the network to read. Where "
                                        "all the sets (2 ** the squares unlike the baseline) are no more than this, "
                                        "all of them: the exact values. Else KernelSHAP draws this many sets and "
                                        "estimates the values from them.")
        if "why_lrp" in controls:
            rule_box, eps_box = controls["why_lrp"].columns(2, vertical_alignment="bottom")
            rule_box.selectbox("Rule", lrp.RULES, key="why_lrp_rule", format_func=RULE_NAMES.get,
                               help="Composite (Montavon et al. 2019): z-box at the pixels, γ at the other "
                                    "convolutions, LRP-0 at the fully connected layers. LRP-ε: every layer's "
                                    "outputs near 0 keep part of their relevance. LRP-0: each input's exact part "
                                    "of its output, the gradient times the input.")
            eps_box.select_slider("ε", EPSILONS, key="why_lrp_eps", format_func=lambda e: f"{e:g} std",
                                  disabled=st.session_state.why_lrp_rule != "epsilon",
                                  help="LRP-ε's ε, in standard deviations (std) of each layer's outputs "
                                       "(Montavon et al. took 0.25): larger keeps more relevance in the layers, "
                                       "for a map with less noise and less of the score. For the LRP-ε rule.")
        for key in row:
            with cells[key]:
                made[key] = _DRAWN[key](network, digest, image, target, ig, name, width_px, title_px, outliers)
    return Beside(*(made.get(key) for key in TOGGLES))


def _draw_deeplift(network: Network, digest: str, image: torch.Tensor, target: int | None,
                   ig: attribution.IntegratedGradients, name: Callable[[int], str], width_px: int, title_px: int,
                   outliers: float | None) -> deeplift.DeepLift:
    lifted = _lifted(network, digest, image, target, ig.baseline)
    title = explain_figures.named_title("DeepLIFT", name(lifted.target), title_px)
    charts.show(st, explain_figures.signed_figure(image, lifted.raw.sum(0), title, "attribution",
                                                  width_px=width_px, outliers=outliers), key="why_fig_deeplift")
    st.caption(deeplift_note(lifted, ig))
    return lifted


def _draw_shap(network: Network, digest: str, image: torch.Tensor, target: int | None,
               ig: attribution.IntegratedGradients, name: Callable[[int], str], width_px: int, title_px: int,
               outliers: float | None) -> gradient_shap.GradientShap:
    source, baselines = _baselines(network, image, st.session_state.why_shap_from)
    shap = _shapped(network, digest, image, target, baselines, source, int(st.session_state.why_shap_n))
    title = explain_figures.named_title("GradientSHAP", name(shap.target), title_px)
    charts.show(st, explain_figures.signed_figure(image, shap.raw.sum(0), title, "attribution",
                                                  width_px=width_px, outliers=outliers), key="why_fig_shap")
    st.caption(shap_note(shap))
    return shap


def _draw_squares(network: Network, digest: str, image: torch.Tensor, target: int | None,
                  ig: attribution.IntegratedGradients, name: Callable[[int], str], width_px: int, title_px: int,
                  outliers: float | None) -> shapley.RegionShapley:
    grid, read = int(st.session_state.why_rgrid), int(st.session_state.why_rn)
    players = len(shapley.player_squares(image, attribution.baseline_image(image, ig.baseline),
                                         shapley.regions(tuple(image.shape[-2:]), grid)))
    most = max((k for k in COALITIONS if k * image.numel() <= CPU_VALUES), default=COALITIONS[0])
    if min(read, 2 ** players) > most and inspect.device_of(network.model).type == "cpu":
        st.info(f"On this server's CPU the page reads at most {most:,} images of this size, not "
                f"{min(read, 2 ** players):,} (1,024 images of 224 px take about a minute on 2 cores).")
        read = most
    squares = _squares(network, digest, image, target, ig.baseline, grid, read)
    title = explain_figures.named_title("Shapley values", name(squares.target), title_px)
    charts.show(st, explain_figures.signed_figure(image, squares.square_map, title, "value",
                                                  width_px=width_px, outliers=outliers), key="why_fig_squares")
    st.caption(squares_note(squares, ig))
    return squares


def _draw_lrp(network: Network, digest: str, image: torch.Tensor, target: int | None,
              ig: attribution.IntegratedGradients, name: Callable[[int], str], width_px: int, title_px: int,
              outliers: float | None) -> lrp.Lrp:
    rule, epsilon = st.session_state.why_lrp_rule, float(st.session_state.why_lrp_eps)
    relevance = _relevance(network, digest, image, target, rule, epsilon)
    title = explain_figures.named_title("LRP", name(relevance.target), title_px)
    charts.show(st, explain_figures.signed_figure(image, relevance.raw.sum(0), title, "relevance",
                                                  width_px=width_px, outliers=outliers), key="why_fig_lrp")
    if relevance.chain:
        charts.show(st, lrp_figures.relevance_figure(relevance, width_px), key="why_fig_lrp_layers")
    st.caption(lrp_note(relevance))
    return relevance


_DRAWN = {"why_deeplift": _draw_deeplift, "why_shap": _draw_shap, "why_rshap": _draw_squares, "why_lrp": _draw_lrp}


def _baselines(network: Network, image: torch.Tensor, source: str) -> tuple[str, torch.Tensor]:
    """The baselines ``source`` names, and the source they came from: the four baselines of the image, with a note,
    where the network's data set is not on this server."""
    if source == "data":
        try:
            train, _, _ = labelled.splits(network)
            return source, train[0]
        except labelled.Unavailable as exc:
            st.info(f"No training images to draw baselines from: {exc} Drawn from the four baselines instead.")
            layout.server_details(exc.details)
    return "four", torch.stack([attribution.baseline_image(image, kind) for kind in attribution.BASELINES])


def _lifted(network: Network, digest: str, image: torch.Tensor, target: int | None,
            baseline: str = "black") -> deeplift.DeepLift:
    """DeepLIFT's rescale rule from ``baseline``: one pass, but a 224 px network's pair takes a second on a CPU."""
    return memo.computed(
        "why_deeplift", (network.key, digest, target, baseline),
        lambda report: deeplift.deep_lift(network.model, image, target, baseline),
        lambda done, total: f"DeepLIFT: reading your image and {explanations.BASELINE_WORDS[baseline]} together...")


def shap_baselines(network: Network, image: torch.Tensor, source: str) -> torch.Tensor:
    """GradientSHAP's baselines from ``source`` (the training images or the four baselines) in [0, 1], as the page's
    map drew them (``source`` "data" only where the data set is here: the map's :attr:`~GradientShap.source`)."""
    return _starts(_baselines(network, image, source)[1])


def _starts(baselines: torch.Tensor) -> torch.Tensor:
    """Baselines in [0, 1]: the training images are kept as bytes."""
    return baselines.float() / 255 if baselines.dtype == torch.uint8 else baselines


def _shapped(network: Network, digest: str, image: torch.Tensor, target: int | None, baselines: torch.Tensor,
             source: str, samples: int) -> gradient_shap.GradientShap:
    """GradientSHAP from ``baselines`` (uint8 training images or the four in [0, 1]), with progress."""
    def compute(report: memo.Report) -> gradient_shap.GradientShap:
        made = gradient_shap.gradient_shap(network.model, image, _starts(baselines), target, samples,
                                           progress=report)
        return dataclasses.replace(made, source=source)

    return memo.computed(
        "why_shap", (network.key, digest, target, source, samples), compute,
        lambda done, total: memo.counted(f"GradientSHAP: gradients from {len(baselines):,} baselines", done, total,
                                         "draws"))


def _squares(network: Network, digest: str, image: torch.Tensor, target: int | None, baseline: str, grid: int,
             read: int) -> shapley.RegionShapley:
    """The squares' Shapley values, with progress: up to 65,536 images for the network to read."""
    return memo.computed(
        "why_squares", (network.key, digest, target, baseline, grid, read),
        lambda report: shapley.region_shapley(network.model, image, target, grid, baseline, read, progress=report),
        lambda done, total: memo.counted("Shapley values: your image with squares left out", done, total,
                                         "images"))


def _relevance(network: Network, digest: str, image: torch.Tensor, target: int | None, rule: str,
               epsilon: float) -> lrp.Lrp:
    """LRP by ``rule``: one pass, but a 224 px network's takes a second or more on a CPU."""
    return memo.computed(
        "why_lrp", (network.key, digest, target, rule, epsilon if rule == "epsilon" else None),
        lambda report: lrp.lrp(network.model, image, target, rule, epsilon),
        lambda done, total: "LRP: handing the class score back down, layer by layer...")


def deeplift_note(lifted: deeplift.DeepLift, ig: attribution.IntegratedGradients) -> str:
    """DeepLIFT's recipe, its summation to delta in numbers beside the integrated gradients' gap (``ig``, from the
    same baseline), and how alike the two maps rank the pixels."""
    (added, pro, contra), start = explanations.sums(lifted.raw), explanations.BASELINE_WORDS[lifted.baseline]
    moved = lifted.score - lifted.baseline_score
    ig_gap = abs(float(ig.raw.sum()) - (ig.score - ig.baseline_score))
    note = (f"Shrikumar et al. 2017, the rescale rule: the network reads your image and {start} together; going "
            "back, each ReLU passes on its output's change over its input's change instead of its slope, and each "
            "max pool its change to where its maxima came from. One backward pass, no steps. The attributions add "
            f"up to **{added:.3f}** ({pro:+.3f} red, {contra:+.3f} blue); the class score moved {moved:.3f} "
            f"(off by {abs(added - moved):.3f}, where integrated gradients in {ig.steps} "
            f"step{'s' if ig.steps > 1 else ''} are off by {ig_gap:.3f}). ")
    if lifted.slopes:
        note += (f"This network's {labels.listed([f'`{s}`' for s in lifted.slopes])} "
                 f"{'has' if len(lifted.slopes) == 1 else 'have'} no DeepLIFT rule here and pass back their slope: "
                 "the sum misses part of the change. ")
    if ig.baseline == lifted.baseline and ig.target == lifted.target:
        rho = randomization.rank_correlation(lifted.raw.sum(0), ig.raw.sum(0))
        if rho >= 0.8:
            note += (f"The two maps order the pixels' magnitudes alike (Spearman's ρ = {rho:.2f}): both follow the "
                     "way from the same baseline, DeepLIFT in one jump by each unit's average slope.")
        else:
            note += (f"The two maps order the pixels' magnitudes {'only partly' if rho >= 0.5 else 'differently'} "
                     f"(Spearman's ρ = {rho:.2f}): both share out the same change, but DeepLIFT by each unit's "
                     "average slope over the whole way and integrated gradients by the gradients along it, which "
                     "part where the units switch on and off on the way.")
    return note


def shap_note(shap: gradient_shap.GradientShap) -> str:
    """GradientSHAP's recipe from the baselines it drew, and its sum against the score's change from them."""
    (added, pro, contra), moved = explanations.sums(shap.raw), shap.score - shap.baseline_score
    return (f"Lundberg & Lee 2017: {shap.samples} draws, each a baseline from "
            f"{SOURCE_WORDS[shap.source].format(count=shap.baselines)} and a random point on the way from it to "
            "your image; the map is the mean of the gradient there times the pixel's change. Red raises the class "
            "score above the baselines', blue lowers it. The attributions add up to "
            f"**{added:.3f}** ({pro:+.3f} red, {contra:+.3f} blue); the class score differs from the mean of the "
            f"{shap.samples} baselines drawn by {moved:+.3f} (off by {abs(added - moved):.3f}: each draw reads one "
            "point of one path, so the two agree only on average over many draws, and other draws give another "
            "gap)."
            + (" Unlike from black, a dark pixel where other images have ink or detail gets a share: what your image "
               "lacks counts too." if shap.source == "data" else ""))


def squares_note(squares: shapley.RegionShapley, ig: attribution.IntegratedGradients) -> str:
    """The squares' recipe (exact, or KernelSHAP's estimate from how many images), their sum against the score's
    change, the square that matters most, and how integrated gradients from the same baseline share the squares."""
    grid, n, players = squares.grid, squares.grid ** 2, squares.players
    (added, pro, contra), moved = explanations.sums(squares.values[None]), squares.score - squares.baseline_score
    every = f"2^{players}" if players > 20 else f"{2 ** players:,}"
    sizes = {1: "1", 2: "1 or 2"}.get(squares.listed, f"1 to {squares.listed}")
    listed = (f"every set of {sizes} {'square' if squares.listed == 1 else 'squares'} and of all but {sizes}, the "
              "others" if squares.listed else "all")
    how = (f"exact, from all {squares.coalitions:,} images with some of the squares kept" if squares.exact else
           f"estimated by KernelSHAP (Lundberg & Lee 2017) from {squares.draws:,} of the {every} sets of squares "
           f"({squares.coalitions:,} images), picked as the shap package picks them: {listed} drawn by the Shapley "
           "kernel in pairs (a set and the rest); fitted, each set weighing its share of the kernel, so that the "
           "values add up; other draws give another estimate")
    left_out, top = n - players, int(squares.values.abs().argmax())
    rows, cols = torch.nonzero(squares.regions == top, as_tuple=True)  # in pixels, as the map's hover counts them
    note = (f"Shapley 1953: your image cut into {grid}x{grid} squares, a square left out replaced by "
            f"{explanations.BASELINE_WORDS[squares.baseline]}. A square's value is what putting it back adds to the "
            f"class score, averaged over every order of putting the squares back: {how}. "
            + (f"{left_out} {labels.plural(left_out, 'square')} equal to the baseline "
               f"{'gets' if left_out == 1 else 'get'} 0: kept or not, nothing changes. " if left_out else "")
            + f"The values add up to **{added:.3f}** ({pro:+.3f} red, {contra:+.3f} blue); the class score moved "
            f"{moved:.3f} (off by {abs(added - moved):.3f}). The square that matters most, rows {int(rows.min())} to "
            f"{int(rows.max())} and columns {int(cols.min())} to {int(cols.max())}: "
            f"{float(squares.values[top]):+.3f}. ")
    if ig.baseline == squares.baseline and ig.target == squares.target and n >= 4:
        rho = shapley.spearman(shapley.per_square(ig.raw.sum(0), squares.regions), squares.values)
        note += (f"Integrated gradients from the same baseline, added up over each square, rank the squares "
                 f"{'alike' if rho >= 0.8 else 'only partly alike' if rho >= 0.5 else 'differently'} (Spearman's "
                 f"ρ = {rho:.2f}): they are Aumann & Shapley's value, each pixel a player that joins by degrees, "
                 "where here a square joins whole or not at all.")
    return note



LRP_RULE_WORDS = {
    "composite": "by Montavon et al.'s composite: at the first layer the z-box rule (a pixel's share also counts how "
                 "far it is from black and from white), at the other convolutions the γ rule (contributions for "
                 f"the output weigh {1 + lrp.GAMMA:g} times, so the evidence stands out from the noise), at the "
                 "fully connected layers LRP-0",
    "epsilon": "by LRP-ε with ε = {eps:g} std of each layer's outputs: an output near 0 keeps part of its "
               "relevance instead of handing noise down",
    "zero": "by LRP-0, each input's exact part of the output: on a ReLU network, the gradient times the input as "
            "the first layer sees it, normalized (Ancona et al. 2018), and just as noisy"}


def lrp_note(relevance: lrp.Lrp) -> str:
    """LRP's recipe, and how much of the class score reached the pixels: conserved, less what the biases (and
    LRP-ε) kept."""
    (kept, pro, contra), score = explanations.sums(relevance.raw), relevance.score
    share = f", {kept / score:.0%} of it" if abs(score) > 1e-6 else ""
    note = (f"Bach et al. 2015, with the rules of Montavon et al. 2019: the class score, {score:.3f}, handed back "
            "down layer by layer, each layer sharing what its outputs received among its inputs "
            f"{LRP_RULE_WORDS[relevance.rule].format(eps=relevance.epsilon)}. One backward pass, no baseline. "
            f"The pixels received **{kept:.3f}**{share} ({pro:+.3f} red, {contra:+.3f} blue): relevance is "
            "conserved on the way down but for the biases' shares (a bias is a contribution no input made; a "
            "negative one leaves its inputs more than their output had)"
            f"{' and what ε keeps' if relevance.rule == 'epsilon' else ''}. ")
    if relevance.chain:
        note += "The bars above: how much reached each layer's inputs on the way down."
    else:
        note += ("This network branches, so each branch's layers receive part of the relevance: no bars by "
                 "layer.")
    return note
