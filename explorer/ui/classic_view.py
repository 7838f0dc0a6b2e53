"""The Kernel Lab's "Beyond one kernel" tab: Canny's edge detector stage by stage, and morphology."""

from __future__ import annotations

import streamlit as st
import torch

from explorer import classic, figures, images, labels
from explorer.ui import charts, layout, state

WINDOWS = (3, 5, 7, 9)
DECISION_COLOURS = ("black", "#3f7fff", "#ff9900", "white")  # no edge, weak dropped, weak kept, strong
MORPHOLOGY_WORDS = {
    "erosion": "Erosion: each pixel becomes the darkest under the window. Bright shapes shrink, bright specks vanish.",
    "dilation": "Dilation: each pixel becomes the brightest under the window (max-pooling with stride 1). Bright "
                "shapes grow, dark gaps close.",
    "opening": "Opening: erosion, then dilation. Bright details smaller than the window go; larger shapes come "
               "back at their size.",
    "closing": "Closing: dilation, then erosion. Dark gaps and holes smaller than the window fill in.",
    "gradient": "Gradient: dilation minus erosion. Bright where the window holds both dark and bright: the outlines.",
}


def settings() -> list[state.Setting]:
    return [
        state.Setting("kl_canny_sigma", "csigma", 1.4, state.float_between(0.5, 4.0)),
        state.Setting("kl_canny_low", "clow", 10, state.int_between(1, 100)),
        state.Setting("kl_canny_high", "chigh", 30, state.int_between(1, 100)),
        state.Setting("kl_morph", "morph", "erosion", state.choice(classic.MORPHOLOGY)),
        state.Setting("kl_msize", "msize", 3, state.int_choice(WINDOWS)),
    ]


def draw(image: torch.Tensor, label: str) -> None:
    """Canny on the image's grey version, then the chosen morphology on the image itself."""
    _canny(image)
    _morphology(image, label)


def _canny(image: torch.Tensor) -> None:
    """Canny's stages, or why not (thresholds the wrong way round: the morphology below still shows)."""
    st.markdown(
        "One kernel finds a pattern; useful detectors chain kernels and decisions, as a CNN's layers do. "
        "**Canny's edge detector** (1986): blur, take the two Sobel derivatives, keep only the pixels whose "
        "gradient beats both neighbours across the edge, then keep weak edge pixels only where they touch a "
        "strong one.")
    # short labels, each slider at least 140 px: three columns left them 100 px at 1024 px, a label on four lines
    a, b, c = layout.flow(3, 140, "kl_canny_controls")
    sigma = a.slider("Blur (sigma, px)", 0.5, 4.0, step=0.1, key="kl_canny_sigma")
    low = b.slider("Weak edge from (%)", 1, 100, key="kl_canny_low",
                   help="Of the strongest gradient in the image. Weaker pixels are dropped; those between the weak "
                        "and the strong threshold are kept only where they connect to a strong edge (directly or through "
                        "other weak pixels).")
    high = c.slider("Strong edge from (%)", 1, 100, key="kl_canny_high",
                    help="Of the strongest gradient in the image: pixels above it are edges for sure.")
    if low > high:
        st.error(f"The weak threshold ({low}%) must not exceed the strong one ({high}%): lower it, or raise the other.")
        return
    stages = classic.canny(images.to_grey(image)[0], sigma, low / 100, high / 100)
    top = float(stages.magnitude.max()) or 1.0
    pictures = [
        # short titles: a longer one was cut at the picture's edge at 1280 px; the caption says the rest
        (stages.blurred[None], f"1. Blurred (sigma {sigma:g})"),
        ((stages.magnitude / top)[None], "2. Gradient length"),
        ((stages.thinned / top)[None], "3. Thinned to the ridges"),
    ]
    figs = [figures.image_figure(picture.clamp(0, 1), title, height=320) for picture, title in pictures]
    figs.append(figures.decision_figure(classic.decisions(stages), classic.DECISIONS, DECISION_COLOURS,
                                        "4. Hysteresis: the edges", height=320))
    # two side by side where the view holds them at a useful size (columns left 100 px pictures at 1024 px)
    for i, place in enumerate(layout.flow(4, layout.LARGE_PICTURE_PX, "kl_canny_pictures")):
        charts.show(place, figs[i], key=f"kl_fig_canny_{i}")
    n = classic.canny_counts(stages)
    st.caption(f"After thinning, {n['strong']:,} pixels are strong (white, at least {high}% of the "
               f"strongest gradient) and {n['weak']:,} weak (at least {low}%). Hysteresis kept {n['kept']:,} weak "
               f"pixels connected to a strong edge (orange) and dropped {n['dropped']:,} (blue): {n['edges']:,} edge "
               "pixels in all. Stage 1 blurs with a Gaussian of that sigma. Stage 2 combines the two Sobel maps "
               "non-linearly, sqrt(gx² + gy²): no single kernel finds edges in every direction. Stage 3 keeps a "
               "pixel only where its gradient is the largest across the edge.")


def _morphology(image: torch.Tensor, label: str) -> None:
    """The chosen operation's window minimum or maximum beside the image."""
    st.markdown("**Morphology**: the window's minimum or maximum instead of a weighted sum. No kernel can compute "
                "it, but max-pooling with stride 1 is exactly a dilation.")
    a, b = st.columns(2)
    operation = a.selectbox("Operation", classic.MORPHOLOGY, key="kl_morph")
    size = b.select_slider("Window (px, odd: it has a centre)", WINDOWS, key="kl_msize")
    left, right = layout.flow(2, layout.LARGE_PICTURE_PX, "kl_morph_pictures")
    charts.show(left, figures.image_figure(image, f"Input ({labels.plot_text(label)})", height=320),
                key="kl_fig_morph_input")
    charts.show(right, figures.image_figure(classic.morphology(image, operation, size).clamp(0, 1),
                                            f"{operation.capitalize()}, {size}x{size} window", height=320),
                key="kl_fig_morph")
    st.caption(MORPHOLOGY_WORDS[operation])
