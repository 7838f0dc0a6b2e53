"""Why this prediction's "Through the layers": the class activation map picked above at the end of each stage of the
network, from fine maps of small parts to coarse maps of the class, and the maps of several layers combined into one
as pytorch-grad-cam combines its ``target_layers`` (:mod:`explorer.cam_layers`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import streamlit as st
import torch

from explorer import cam as cams, cam_layers, explain_figures, labels
from explorer.attribution import Attribution
from explorer.ui import cam_controls, charts, layout, map_row, state
from explorer.ui.model_input import Network

HEIGHT = 220  # a small overlay with its colour bar, as the attack's


def settings() -> list[state.Setting]:
    return [state.Setting("why_depth", "depth", False, state.boolean, state.dump_bool),  # the fold open
            # the layers combined: names of the model's layers, checked against it when drawn; blank: the first
            # stage and the map's above (the page's pick)
            state.Setting("why_depth_mix", "mix", [], lambda text: list(dict.fromkeys(p for p in text.split(",") if p)),
                          ",".join)]


def draw(network: Network, digest: str, image: torch.Tensor, target: int | None, layer: str, method: str,
         name: Callable[[int], str]) -> None:
    """The fold, computed only when open: ``method``'s map at each stage's end, smoothed as chosen above, and the
    combination of the layers picked; ``layer`` is the map's above ("" where the model has no feature maps)."""
    used = cam_controls.quick_cam(method, image)
    what = "a class activation map" if used in cams.LAYERLESS else cams.METHODS[used]
    with st.expander(f"Through the layers: {what} stage by stage", icon=":material/layers:", key="why_depth",
                     on_change="rerun"):
        if not layout.layer_fold_open("why_depth", layer, ", so no class activation map at any layer"):
            return
        if used in cams.LAYERLESS:
            st.info(f"{cams.METHODS[used]} adds up every layer with a bias at once: one map, not one per stage. Pick "
                    "another class activation map above (Grad-CAM, say) to see it stage by stage.")
            return
        stages = cam_layers.stage_ends(network.layers)
        mix = _mix(network, stages, layer)
        st.markdown(intro(used, layer))
        cam_controls.repeated_cam(method, image, "the maps of the stages")
        augment = cam_controls.repeated_augment(image, "The maps of the stages")
        made = {l: cam_controls.mapped(network, digest, image, target, l, used, augment)
                for l in cam_layers.in_order(network.layers, [*stages, *mix])}
        shapes = {l.name: l.out_shape[1:] for l in network.layers}
        above = used == method and augment  # the map above, made the same way
        for column, stage in zip(layout.cells(len(stages), layout.SMALL_PICTURE_PX), stages):
            title = f"{stage}<br>{' x '.join(map(str, shapes[stage]))}" + (" (above)" if above and stage == layer
                                                                           else "")
            _show(column, image, made[stage], title, f"why_fig_depth_{stage}",
                  f"{cams.METHODS[used]} at {stage}, {name(made[stage].target)}")
        st.caption(stage_note(stages, [made[s] for s in stages], used))
        _combined(image, [made[l] for l in mix], mix, cams.usable_layers(list(network.layers)), used, name)


def intro(method: str, layer: str) -> str:
    """What the stages' maps show, for ``method`` (a class-blind one answers for no class)."""
    said = ("The map at the end of each stage, where a pooling or a strided convolution halves the maps next, and "
            "at the usual layer last. ")
    if method in cams.CLASS_BLIND:
        return said + (f"{cams.METHODS[method]} follows no class: each map is what its layer sees most, small parts "
                       "(edges, strokes) early, large ones late.")
    return said + ("Early stages' maps are fine and follow small parts, edges and strokes, whatever the class; later "
                   "ones are coarse and follow what tells the class apart. Selvaraju et al. took the last "
                   "convolution as the best compromise between the two (the map above is at "
                   f"`{layer}`).")


def _mix(network: Network, stages: Sequence[str], layer: str) -> list[str]:
    """The layers to combine, as the link or the picker names them, those not of this model's maps dropped (a
    link's named in a warning); where none were picked yet, the first stage and the map's above: a fine map and a
    class-specific one."""
    usable = cams.usable_layers(list(network.layers))
    default = state.page_default("why_depth_mix", cam_layers.in_order(network.layers, [stages[0], layer]))
    asked = st.session_state.why_depth_mix
    if not asked and st.session_state.get("why_depth_mix_of") != network.key:
        asked = default  # a fresh view of this model (an emptied picker then stays empty)
    st.session_state.why_depth_mix_of = network.key
    unknown = [l for l in asked if l not in usable]
    if unknown and state.from_link("why_depth_mix"):
        state.link_ignored("mix", ",".join(unknown), f"{'not a layer' if len(unknown) == 1 else 'not layers'} of "
                                                     "this model with feature maps")
    st.session_state.why_depth_mix = cam_layers.in_order(network.layers, asked)
    return st.session_state.why_depth_mix


def _show(column, image: torch.Tensor, result: Attribution, title: str, key: str, about: str) -> None:
    figure = explain_figures.heat_figure(image, result.heat, title, HEIGHT, layout.SMALL_PICTURE_PX,
                                         map_row.outliers())
    charts.show(column, figure, key=key, name=about)


def stage_note(stages: Sequence[str], maps: Sequence[Attribution], method: str) -> str:
    """How widely each stage's map spreads (the share of the image at half its largest value or more), and the
    stages where it is zero everywhere."""
    covered = [f"`{s}` {cam_layers.lit_share(m.heat):.0%}" for s, m in zip(stages, maps)]
    said = f"At half its peak or more, the map covers {labels.listed(covered)} of the image."
    zero = [s for s, m in zip(stages, maps) if float(m.heat.max()) <= 0]
    if zero:
        said += (f" {cams.METHODS[method]} is zero everywhere at {labels.listed([f'`{s}`' for s in zero])}: no "
                 "evidence for the class there that it keeps.")
    return said


def _combined(image: torch.Tensor, maps: list[Attribution], mix: list[str], usable: list[str], method: str,
              name: Callable[[int], str]) -> None:
    """The picker of the layers to combine (among ``usable``) beside their combined map, and how it is made."""
    st.markdown("**Several layers in one map**, as pytorch-grad-cam combines its `target_layers`:")
    picture, words = layout.cells(2, [layout.SMALL_PICTURE_PX, 2 * layout.SMALL_PICTURE_PX + 16])
    words.multiselect("Layers combined", usable, key="why_depth_mix",
                      help="Each layer's map, from its least value (0) to its largest (1), at the image's size; "
                           "their mean, scaled again. A fine early map with a class-specific late one can give a "
                           "map finer than the late one alone, though the early one's evidence follows the class "
                           "less.")
    if not maps:
        picture.caption("Pick layers to combine their maps.")
        return
    result = cam_layers.combined(maps)
    title = f"Mean of {len(maps)} layers" if len(maps) > 1 else "One layer alone"
    _show(picture, image, result, title, "why_fig_depth_mix",
          f"{cams.METHODS[method]}, the mean of {', '.join(mix)}, {name(result.target)}")
    placed = ("Each map is drawn at its units' receptive field centres, where pytorch-grad-cam stretches it over the "
              "image.")
    if len(maps) == 1:
        words.caption(f"`{mix[0]}`'s map alone, scaled from 0 to 1: pick more layers to combine them. {placed}")
    else:
        words.caption(f"The mean of {labels.listed([f'`{l}`' for l in mix])}'s maps, each scaled from 0 to 1, the "
                      f"mean scaled again. {placed}")
