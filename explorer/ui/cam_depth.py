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
            # the layers combined: names of the model's layers, checked against it when drawn; blank: the last two
            # stages (the page's pick)
            state.Setting("why_depth_mix", "mix", [], lambda text: list(dict.fromkeys(p for p in text.split(",") if p)),
                          ",".join)]


def draw(network: Network, digest: str, image: torch.Tensor, target: int | None, layer: str, method: str,
         name: Callable[[int], str]) -> None:
    """The fold, computed only when open: ``method``'s map at each stage's end, smoothed as chosen above, and the
    combination of the layers picked; ``layer`` is the map's above ("" where the model has no feature maps)."""
    with st.expander(f"Through the layers: {cams.METHODS[method]} at every stage", icon=":material/layers:",
                     key="why_depth", on_change="rerun"):
        if not st.session_state.why_depth:
            return
        if not layer:
            st.info("This model has no layer with feature maps, so no class activation map at any layer.")
            return
        stages = cam_layers.stage_ends(network.layers)
        mix = _mix(network, stages)
        st.markdown(
            f"The map above, made at the last layer of each stage (a run of layers whose maps keep one size). Early "
            "stages' maps are fine and respond to small parts, edges and strokes; later ones are coarse and answer for "
            "the class: Selvaraju et al. found Grad-CAM the most class-specific at the last convolution, the usual "
            f"layer (the map above is at `{layer}`).")
        method = cam_controls.repeated_cam(method, image, "the maps at every stage")
        augment = cam_controls.repeated_augment(image, "The maps at every stage")
        made = {l: cam_controls.mapped(network, digest, image, target, l, method, augment)
                for l in cam_layers.in_order(network.layers, [*stages, *mix])}
        shapes = {l.name: l.out_shape[1:] for l in network.layers}
        for column, stage in zip(layout.cells(len(stages), layout.SMALL_PICTURE_PX), stages):
            title = f"{stage}<br>{' x '.join(map(str, shapes[stage]))}" + (" (above)" if stage == layer else "")
            _show(column, image, made[stage], title, f"why_fig_depth_{stage}",
                  f"{cams.METHODS[method]} at {stage}, {name(made[stage].target)}")
        st.caption(stage_note(stages, [made[s] for s in stages], shapes, method))
        _combined(image, [made[l] for l in mix], mix, cams.usable_layers(list(network.layers)), method, name)


def _mix(network: Network, stages: Sequence[str]) -> list[str]:
    """The layers to combine, as the link or the picker names them, those not of this model's maps dropped (a
    link's named in a warning); the last two stages where none were picked yet."""
    usable = cams.usable_layers(list(network.layers))
    default = state.page_default("why_depth_mix", list(stages[-2:]))
    asked = st.session_state.why_depth_mix
    if not asked and st.session_state.get("why_depth_mix_of") != network.key:
        asked = default  # a fresh view of this model (an emptied picker then stays empty)
    st.session_state.why_depth_mix_of = network.key
    unknown = [l for l in asked if l not in usable]
    if unknown and state.from_link("why_depth_mix"):
        state.link_ignored("mix", ",".join(unknown), "not layers of this model with feature maps")
    st.session_state.why_depth_mix = cam_layers.in_order(network.layers, asked)
    return st.session_state.why_depth_mix


def _show(column, image: torch.Tensor, result: Attribution, title: str, key: str, about: str) -> None:
    figure = explain_figures.heat_figure(image, result.heat, title, HEIGHT, layout.SMALL_PICTURE_PX,
                                         map_row.outliers())
    charts.show(column, figure, key=key, name=about)


def stage_note(stages: Sequence[str], maps: Sequence[Attribution], shapes: dict, method: str) -> str:
    """How widely each stage's map spreads: the share of the image it lights, from the first stage to the last,
    and the stages where it is zero everywhere."""
    lit = [cam_layers.lit_share(m.heat) for m in maps]
    first, last = stages[0], stages[-1]
    size = " x ".join
    said = (f"From `{first}` ({size(map(str, shapes[first]))}) to `{last}` ({size(map(str, shapes[last]))}), the map "
            f"lights {labels.listed([f'{v:.0%}' for v in lit])} of the image (half its largest value or more).")
    zero = [s for s, m in zip(stages, maps) if float(m.heat.max()) <= 0]
    if zero:
        said += (f" {cams.METHODS[method]} is zero everywhere at {', '.join(f'`{s}`' for s in zero)}: no evidence "
                 "for the class there that it keeps.")
    return said


def _combined(image: torch.Tensor, maps: list[Attribution], mix: list[str], usable: list[str], method: str,
              name: Callable[[int], str]) -> None:
    """The picker of the layers to combine (among ``usable``) beside their combined map, and how it is made."""
    st.markdown("**Several layers in one map**, as pytorch-grad-cam combines its `target_layers`:")
    picture, words = layout.cells(2, [layout.SMALL_PICTURE_PX, 2 * layout.SMALL_PICTURE_PX + 16])
    words.multiselect("Layers combined", usable, key="why_depth_mix",
                      help="Each layer's map, from its least value (0) to its largest (1), at the image's size; "
                           "their mean, scaled again. A fine early map and a class-specific late one together "
                           "give a map finer than the late one alone.")
    if not maps:
        picture.caption("Pick layers to combine their maps.")
        return
    result = cam_layers.combined(maps)
    _show(picture, image, result, f"Mean of {len(maps)} {labels.plural(len(maps), 'layer')}", "why_fig_depth_mix",
          f"{cams.METHODS[method]}, the mean of {', '.join(mix)}, {name(result.target)}")
    words.caption(f"The mean of {labels.listed([f'`{l}`' for l in mix])}'s maps, each scaled from 0 to 1 first.")
