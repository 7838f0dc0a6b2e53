"""Why this prediction's maps beside integrated gradients, each asked for with a toggle under it: DeepLIFT from the
same baseline in one backward pass (:mod:`explorer.deeplift`), and GradientSHAP from many baselines, the data
set's images where this server has them (:mod:`explorer.gradient_shap`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import streamlit as st
import torch

from explorer import attribution, deeplift, explain_figures, gradient_shap, labels, randomization
from explorer.ui import charts, explanations, labelled, layout, memo, state
from explorer.ui.model_input import Network

SHAP_DRAWS = (8, 16, 32, 64, 128)
SHAP_SOURCES = ("data", "four")  # the network's training images; the page's four baselines of this image
SOURCE_NAMES = {"data": "data set", "four": "the four"}  # in the menu; the four are "From"'s choices
SOURCE_WORDS = {"data": "{count:,} of the data set's training images",
                "four": "the four baselines of this image (black, blurred, its mean colour, noise)"}


def settings() -> list[state.Setting]:
    return [
        state.Setting("why_deeplift", "deeplift", False, state.boolean, state.dump_bool),
        state.Setting("why_shap", "shap", False, state.boolean, state.dump_bool),
        state.Setting("why_shap_n", "shapn", 32, state.int_choice(SHAP_DRAWS)),
        state.Setting("why_shap_from", "shapfrom", "data", state.choice(SHAP_SOURCES)),
    ]


def toggles() -> None:
    """The two toggles, under integrated gradients' controls."""
    layout.toggle(st, "Compare with DeepLIFT", key="why_deeplift",
                  help="Shrikumar et al. 2017: the same question from the same baseline in one backward pass. Each "
                       "ReLU passes back its output's change over its input's change instead of its slope, so the "
                       "attributions add up to the score's change exactly.")
    layout.toggle(st, "Compare with GradientSHAP", key="why_shap",
                  help="Lundberg & Lee 2017 (as Expected Gradients, Erion et al. 2021): integrated gradients from many "
                       "baselines at once, each path read at one random point. From the data set's images it asks "
                       "what makes this image score unlike a typical one, not unlike a black image.")


def draw(network: Network, digest: str, image: torch.Tensor, target: int | None,
         ig: attribution.IntegratedGradients, name: Callable[[int], str], width_px: int, title_px: int,
         outliers: float | None) -> tuple[deeplift.DeepLift | None, gradient_shap.GradientShap | None]:
    """The maps the toggles ask for, side by side in a row of two under occlusion and integrated gradients (one
    under the other where the page is narrow), each ``width_px`` wide with its note; the maps (else None)."""
    asked = [on for on in ("why_deeplift", "why_shap") if st.session_state[on]]
    if not asked:
        return None, None
    controls, cells = dict(zip(asked, st.columns(2, vertical_alignment="bottom"))), dict(zip(asked, st.columns(2)))
    lifted = shap = None  # GradientSHAP's controls in a row of their own above the maps: the two maps stay level
    if "why_shap" in controls:
        draws_box, from_box = controls["why_shap"].columns(2, vertical_alignment="bottom")
        draws_box.select_slider("Draws", SHAP_DRAWS, key="why_shap_n")
        from_box.selectbox("Baselines", SHAP_SOURCES, key="why_shap_from", format_func=SOURCE_NAMES.get,
                           help=f"The data set's training images ({labelled.TRAIN_IMAGES:,} of them, where this "
                                "server has the data set): what the network sees on average. The four baselines: "
                                "black, your image blurred, its mean colour and noise.")
    if "why_deeplift" in cells:
        with cells["why_deeplift"]:
            lifted = _lifted(network, digest, image, target, ig.baseline)
            title = explain_figures.named_title("DeepLIFT", name(lifted.target), title_px)
            charts.show(st, explain_figures.signed_figure(image, lifted.raw.sum(0), title, "attribution",
                                                          width_px=width_px, outliers=outliers), key="why_fig_deeplift")
            st.caption(deeplift_note(lifted, ig))
    if "why_shap" in cells:
        with cells["why_shap"]:
            source, baselines = _baselines(network, image, st.session_state.why_shap_from)
            shap = _shapped(network, digest, image, target, baselines, source, int(st.session_state.why_shap_n))
            title = explain_figures.named_title("GradientSHAP", name(shap.target), title_px)
            charts.show(st, explain_figures.signed_figure(image, shap.raw.sum(0), title, "attribution",
                                                          width_px=width_px, outliers=outliers), key="why_fig_shap")
            st.caption(shap_note(shap))
    return lifted, shap


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


def _shapped(network: Network, digest: str, image: torch.Tensor, target: int | None, baselines: torch.Tensor,
             source: str, samples: int) -> gradient_shap.GradientShap:
    """GradientSHAP from ``baselines`` (uint8 training images or the four in [0, 1]), with progress."""
    def compute(report: memo.Report) -> gradient_shap.GradientShap:
        starts = baselines.float() / 255 if baselines.dtype == torch.uint8 else baselines
        made = gradient_shap.gradient_shap(network.model, image, starts, target, samples, progress=report)
        return dataclasses.replace(made, source=source)

    return memo.computed(
        "why_shap", (network.key, digest, target, source, samples), compute,
        lambda done, total: memo.counted(f"GradientSHAP: gradients from {len(baselines):,} baselines", done, total,
                                         "draws"))


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
