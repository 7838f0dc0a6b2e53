"""Why this prediction's first row: the image as the model sees it, the gradient map, the class activation map and,
with guided backprop, their product (Guided Grad-CAM), each over the image."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import streamlit as st
import torch

from explorer import attribution, cam as cams, explain_figures
from explorer.ui import cam_controls, charts, explanations, layout, state
from explorer.ui.explanations import Smoothing


def settings() -> list[state.Setting]:
    return [state.Setting("why_clip", "clip", False, state.boolean, state.dump_bool)]


def outliers() -> float:
    """The percent of each map's total drawn at full colour: :data:`attribution.OUTLIERS` with "Clip the largest"
    on, else 0 (each map scaled to its largest value)."""
    return attribution.OUTLIERS if st.session_state.get("why_clip") else 0.0


def pick_clip(where) -> None:
    """The toggle that clips each map's largest values, as Captum clips maps."""
    layout.toggle(where, f"Clip the largest {attribution.OUTLIERS:g}%", key="why_clip",
                  help=f"Draw each map with its largest values, {attribution.OUTLIERS:g}% of its total, all at full "
                       f"colour, as Captum's visualize_image_attr does (outlier_perc={attribution.OUTLIERS:g}): a few "
                       "very large gradients no longer leave the rest of the map dark. Off: each map is scaled to its "
                       "own largest value, as pytorch-grad-cam and the papers draw them. The download keeps the raw "
                       "values either way.")


def fused(smooth: Smoothing, pair: tuple[attribution.Attribution, attribution.Attribution | None],
          ) -> attribution.Attribution | None:
    """Guided Grad-CAM (or guided backprop times another class activation map): with guided backprop on and a class
    activation map, else None."""
    return cams.guided_map(pair[0], pair[1]) if smooth.guided and pair[1] is not None else None


def fused_title(smooth: Smoothing, cam: str) -> str:
    """The product's name: "Guided Grad-CAM", "Guided SG × Grad-CAM" with SmoothGrad's copies ("SG²", "VarGrad")."""
    return f"Guided {f'{SHORT[smooth.kind]} × ' if smooth.copies else ''}{cams.METHODS[cam]}"


SHORT = {"smoothgrad": "SG", "smoothgrad_sq": "SG²", "vargrad": "VarGrad"}  # a noise tunnel's name in a short title


def gradient_words(smooth: Smoothing) -> str:
    """The gradient map's name inside a sentence: "guided backprop", "guided SmoothGrad"."""
    return smooth.title[0].lower() + smooth.title[1:]


def fused_words(smooth: Smoothing, cam: str) -> str:
    """What the product is, in a sentence."""
    return (f"{fused_title(smooth, cam)}: {gradient_words(smooth)}'s map times {cams.METHODS[cam]}'s, pixel by pixel "
            "(Selvaraju et al. 2017): the gradient's fine detail, only where the class's evidence lies.")


def titled(maps: Sequence[attribution.Attribution | None], titles: Sequence[str], name: Callable[[int], str],
           width_px: int = layout.PICTURE_PX) -> list[str]:
    """Each map's title with its class (but for a map the same for every class), all on two lines where one needs
    them, so the pictures stay level: "Grad-CAM, circle" beside "Guided backprop:" over "circle" had sat higher."""
    made = []
    for role, title, result in zip(("gradient", "cam", "guided"), titles, maps):
        if result is None or result.method in cams.CLASS_BLIND:
            made.append(title)
        elif role == "guided" and not explain_figures.title_fits(f"{title}, {name(result.target)}", width_px):
            # the class left to the page's text, so the row stays on one line ("Guided EigenGrad-CAM" takes two)
            made.append(title if explain_figures.title_fits(title, width_px) else title.replace(" ", "<br>", 1))
        else:
            made.append(explain_figures.named_title(title, name(result.target), width_px))
    if not any("<br>" in t for t in made):
        return made
    return [t if "<br>" in t else explain_figures.second_line(title, name(result.target), width_px)
            if result is not None and result.method not in cams.CLASS_BLIND else t + "<br> "
            for t, title, result in zip(made, titles, maps)]


def overlays(image: torch.Tensor, maps: Sequence[attribution.Attribution | None], titles: Sequence[str], key: str,
             columns: Sequence, height: int = 300, width_px: int = layout.PICTURE_PX, about: str = "",
             names: Sequence[str] = ()) -> None:
    """``maps`` over one image, one a column ``width_px`` wide, titled ``titles``, clipped as the page asks
    (:func:`outliers`). Each chart's name for a screen reader and its saved picture's: ``names`` (where a
    title cuts a long class name short), or its title followed by ``about``, where the page around tells the maps
    apart ("before the attack")."""
    for i, (column, role, title, result) in enumerate(zip(columns, ("gradient", "cam", "guided"), titles, maps)):
        if result is None:
            column.caption("No class activation map: this model has no layer with feature maps.")
            continue
        figure = explain_figures.heat_figure(image, result.heat, title, height, width_px, outliers())
        name = names[i] if names else f"{charts.title_words(figure)}, {about}" if about else None
        charts.show(column, figure, key=f"why_fig_{role}_{key}", name=name)


def scale_words() -> str:
    """How the maps' colours are scaled, as the page draws them."""
    if outliers():
        return (f"Each map's largest values, {outliers():g}% of its total, are all drawn at full colour "
                "and the rest scaled to them, as Captum clips maps")
    return "Each map is scaled to its largest value"


def pair_titles(smooth: Smoothing, cam: str) -> tuple[str, str]:
    """The gradient map's and the class activation map's titles."""
    return explanations.GRADIENT_TITLES[smooth.method], cams.METHODS[cam]


def draw(image: torch.Tensor, before: tuple[attribution.Attribution, attribution.Attribution | None],
         guided: attribution.Attribution | None, smooth: Smoothing, cam: str, layer: str,
         layer_shape: Sequence[int], name: Callable[[int], str]) -> None:
    """The row, the note where the class activation map is zero everywhere, and what the colours mean."""
    maps = [*before, guided] if guided is not None else list(before)
    titles = titled(maps, [*pair_titles(smooth, cam), fused_title(smooth, cam)], name)
    columns = layout.cells(len(maps) + 1, layout.PICTURE_PX)  # wraps: Guided Grad-CAM under the image if narrow
    seen = "What the model sees"
    if "<br>" in titles[0]:  # on two lines where the maps' titles are, to stay level with them
        seen += ":<br>{} x {} pixels".format(*image.shape[-2:])
    charts.show(columns[0], explain_figures.picture_figure(image, seen, width_px=layout.PICTURE_PX),
                key="why_fig_input")
    whole = [t if r is None or r.method in cams.CLASS_BLIND else f"{t}, {name(r.target)}"  # no class cut short
             for t, r in zip([*pair_titles(smooth, cam), fused_title(smooth, cam)], maps)]
    overlays(image, maps, titles, "before", columns[1:], names=whole)
    made_of = " × ".join(pair_titles(smooth, cam))
    if guided is not None and made_of != fused_title(smooth, cam):  # where it wraps under the image, what it is of
        columns[3].caption(f"= {made_of}")
    if before[1] is not None and float(before[1].raw.max()) <= 0:
        st.info(cam_controls.zero_cam_note(cam, layer, name(before[1].target)))
    pick_clip(st)
    st.caption(scale_words() + ": yellow matters most, orange and purple less, no colour not at all (the bar under it; "
               "hover for a place's share)."
               + (f" {cams.METHODS[cam]} at `{layer}`, whose maps are {' x '.join(map(str, layer_shape))}"
                  ": it cannot be finer than that, each value drawn at its unit's receptive field centre "
                  "(pytorch-grad-cam stretches the map over the image)."
                  + cam_controls.pooled_note(cam, layer, tuple(layer_shape)) if layer and cam not in cams.LAYERLESS
                  else f" {cams.METHODS[cam]} takes every layer with a bias, each drawn at its units' receptive "
                       "field centres, and is scaled from its least value (no colour) to its largest." if layer else "")
               + (" " + fused_words(smooth, cam) if guided is not None else ""))
