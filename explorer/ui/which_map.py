"""Why this prediction's "Which map is right?": the page's maps compared by deletion and insertion (Petsiuk et al.
2018), the pixels taken away greyed out or filled from their neighbours (ROAD), against a random order of them."""

from __future__ import annotations

import hashlib

import streamlit as st
import torch

from explorer import attribution, deeplift, explain_figures, faithfulness, gradient_shap, labels, lrp, shapley
from explorer.ui import charts, explanations, layout, memo, state
from explorer.ui.model_input import Network

INTRO = (
    "Each map ranks the pixels. **Deletion** greys out the pixels a map ranks first, 5% at a time (each set to the "
    "image's mean colour, as occlusion's square is), and follows the class's probability: a map that found what "
    "the score rests on makes it fall fast, and the area under its curve is small. **Insertion** starts from the "
    "image blurred and puts the pixels back in the map's order: the faster the probability returns, the larger the "
    "area. A random order is the yardstick (Petsiuk et al. 2018). The curves compare maps on this image; they read "
    "the network on half-grey images unlike any it trained on, so a map can win here and still mislead."
)
REMOVAL_NAMES = {"mean": "Greyed out (RISE)", "road": "Filled from their neighbours (ROAD)"}
ROAD_NOTE = (
    "ROAD (Rong et al. 2022, as pytorch-grad-cam offers it): each pixel taken away is filled with the weighted mean "
    "of its 8 neighbours, plus a little noise, so no grey shape tells the network where pixels went. Deletion "
    "fills the pixels a map ranks first; insertion keeps them and fills the rest (with none kept, the image's mean "
    "colour). A map that wins with its pixels greyed out but not here may have won on the grey's outline."
)


def settings() -> list[state.Setting]:
    return [state.Setting("why_faith", "faith", False, state.boolean, state.dump_bool),  # the fold open
            state.Setting("why_faith_by", "faithby", "mean", state.choice(faithfulness.REMOVALS))]


def importance(maps: dict[str, attribution.Attribution]) -> dict[str, torch.Tensor]:
    """Each map's ranking of the pixels (H, W), higher first: occlusion's score drop and the attributions of
    integrated gradients, DeepLIFT, GradientSHAP and LRP summed over the channels, and the squares' Shapley values per
    pixel, rank evidence for the class first;
    saliency and a class activation map rank by their heat."""
    ranked = {}
    for name, result in maps.items():
        if isinstance(result, attribution.Occlusion):
            ranked[name] = result.raw
        elif isinstance(result, (attribution.IntegratedGradients, deeplift.DeepLift, gradient_shap.GradientShap,
                                 lrp.Lrp)):
            ranked[name] = result.raw.sum(0)
        elif isinstance(result, shapley.RegionShapley):  # each pixel its square's value per pixel
            ranked[name] = result.raw
        else:
            ranked[name] = result.heat
    return ranked


BESIDE_TITLES = ("DeepLIFT", "GradientSHAP", "Shapley values", "LRP")  # beside_ig.Beside's maps, in its order
TIE = 0.02  # areas closer than this are read as equal: the curves move in steps of 5% of the pixels
UNSURE = 0.05  # below this probability of the class at the start, deletion has nothing to take away


def verdict(curves: faithfulness.Curves, name: str) -> str:
    """Which map took the probability of class ``name`` away fastest and which brought it back fastest, beside the
    random order (closer than :data:`TIE`: no better than it), and the maps no better on either curve. Where the
    network gives the class under :data:`UNSURE` to begin with, that instead."""
    start = float(next(iter(curves.deletion.values()))[0])
    if start < UNSURE:
        return (f"The network gives {name} {labels.share(start)} on this image: deletion has no evidence to take "
                "away, and the curves compare nothing. Explain a class it believes (the predicted one).")
    maps = [m for m in curves.deletion if m != faithfulness.RANDOM]
    random_del, random_ins = curves.deletion_area(faithfulness.RANDOM), curves.insertion_area(faithfulness.RANDOM)
    behind = [m for m in maps
              if curves.deletion_area(m) > random_del - TIE and curves.insertion_area(m) < random_ins + TIE]
    if len(behind) == len(maps):
        return (f"On this image no map takes the probability of {name} away or brings it back faster than a random "
                f"order of the pixels does (by {TIE} of area or more): none finds what the score rests on here.")
    # on each curve, the maps that beat the random order there: the fastest, and every map within TIE of it (areas
    # that close are a tie, not a winner and a runner-up)
    fall = _leaders([m for m in maps if curves.deletion_area(m) <= random_del - TIE], curves.deletion_area, 1)
    rise = _leaders([m for m in maps if curves.insertion_area(m) >= random_ins + TIE], curves.insertion_area, -1)
    takes, brings = ("takes" if len(fall) == 1 else "take"), ("brings" if len(rise) == 1 else "bring")
    if fall and set(fall) == set(rise):  # one list of names, and both lists of areas in its order
        said = (f"On this image, {_bold(fall)} {takes} the probability of {name} away fastest "
                f"({_areas('deletion', [curves.deletion_area(m) for m in fall], random_del)}) and {brings} it back "
                f"fastest ({_areas('insertion', [curves.insertion_area(m) for m in fall], random_ins)}).")
    else:
        away = (f"{_bold(fall)} {takes} the probability of {name} away fastest "
                f"({_areas('deletion', [curves.deletion_area(m) for m in fall], random_del)})" if fall else
                f"no map takes the probability of {name} away faster than a random order (its deletion area "
                f"{random_del:.2f})")
        back = (f"{_bold(rise)} {brings} it back fastest "
                f"({_areas('insertion', [curves.insertion_area(m) for m in rise], random_ins)})" if rise else
                f"no map brings it back faster than a random order (its insertion area {random_ins:.2f})")
        said = f"On this image, {away}, and {back}."
    if behind:
        said += (f" {labels.listed(behind)} {'does' if len(behind) == 1 else 'do'} no better than a random order "
                 "on either curve.")
    return said


def _leaders(maps: list[str], area, sign: int) -> list[str]:
    """The map of ``maps`` with the best ``area`` (least for ``sign`` 1, most for -1) and those within :data:`TIE`
    of it, best first."""
    if not maps:
        return []
    best = min(sign * area(m) for m in maps)
    return sorted((m for m in maps if sign * area(m) <= best + TIE), key=lambda m: sign * area(m))


def _bold(maps: list[str]) -> str:
    return labels.listed([f"**{m}**" for m in maps])


def _areas(curve: str, areas: list[float], random: float) -> str:
    """"deletion area 0.35, a random order's 0.65", or for maps within :data:`TIE` of each other, "deletion areas
    0.07 and 0.08, a tie; a random order's 0.81"."""
    if len(areas) == 1:
        return f"{curve} area {areas[0]:.2f}, a random order's {random:.2f}"
    return f"{curve} areas {labels.listed([f'{a:.2f}' for a in areas])}, a tie; a random order's {random:.2f}"


def page_maps(gradient: attribution.Attribution, cam: attribution.Attribution | None, cam_title: str,
              occ: attribution.Occlusion, ig: attribution.IntegratedGradients,
              more: dict[str, attribution.Attribution] | None = None,
              beside: tuple[attribution.Attribution | None, ...] = ()) -> dict[str, attribution.Attribution]:
    """The page's maps by their titles: saliency (or SmoothGrad, guided...), the class activation map where the
    model has one, ``more`` (Guided Grad-CAM), occlusion, integrated gradients, and ``beside`` them (DeepLIFT,
    GradientSHAP, the squares' Shapley values, LRP) where they are shown."""
    shown = dict(zip(BESIDE_TITLES, beside))
    return {explanations.GRADIENT_TITLES.get(gradient.method, "Saliency"): gradient,
            **({cam_title: cam} if cam is not None else {}), **(more or {}), "Occlusion": occ,
            "Integrated gradients": ig, **{title: result for title, result in shown.items() if result is not None}}


def _digest(ranked: dict[str, torch.Tensor]) -> str:
    """The maps' own digest: new maps (another smoothing, layer, window, baseline...) make new curves."""
    made = hashlib.sha256()
    for name, values in ranked.items():
        made.update(name.encode() + values.float().contiguous().numpy().tobytes())
    return made.hexdigest()


def draw(network: Network, digest: str, image: torch.Tensor, maps: dict[str, attribution.Attribution],
         name: str) -> None:
    """The fold, computed only when open: ``maps`` (title -> the page's map, all for one class, named ``name``)
    compared."""
    with st.expander("Which map is right? Deleting and inserting what each points to", icon=":material/rule:",
                     key="why_faith", on_change="rerun"):
        if not st.session_state.why_faith:
            return
        st.markdown(INTRO)
        removal = st.segmented_control("Pixels taken away are", faithfulness.REMOVALS, key="why_faith_by",
                                       format_func=REMOVAL_NAMES.get, required=True)
        if removal == "road":
            st.caption(ROAD_NOTE)
        if not network.pretrained:
            st.info("This network has random weights: its maps, and these curves, show no learned evidence. Switch "
                    "on its trained weights to compare the maps.")
        target, ranked = next(iter(maps.values())).target, importance(maps)
        curves = memo.computed(
            "why_faith", (network.key, digest, target, _digest(ranked), removal),
            lambda report: faithfulness.compare(network.model, image, target, ranked, progress=report,
                                                removal=removal),
            lambda done, total: memo.counted("Deleting and inserting pixels", done, total, "orders"))
        for cell, insertion in zip(layout.flow(2, layout.LARGE_PICTURE_PX, "why_faith_curves"), (False, True)):
            charts.show(cell, explain_figures.faithfulness_figure(curves, insertion, name),
                        key=f"why_fig_{'insertion' if insertion else 'deletion'}")
        st.caption(verdict(curves, name))
