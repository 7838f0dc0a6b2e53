"""Why this prediction's "This class, not the ones most like it": Finer-CAM (Zhang et al. 2025), the class activation
map picked above of the class score less the scores of the classes the network finds most alike, beside each
class's own map (:mod:`explorer.targets`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import streamlit as st
import torch

from explorer import cam as cams, cam_layers, explain_figures, labels, targets
from explorer.attribution import Attribution
from explorer.ui import cam_controls, charts, explanations, layout, map_row, state
from explorer.ui.model_input import Network

HEIGHT = 220  # a small overlay with its colour bar, as the stages'
MOST = 4  # classes compared: each adds a map to make


def settings() -> list[state.Setting]:
    return [state.Setting("why_finer", "finer", False, state.boolean, state.dump_bool),  # the fold open
            # the classes compared, checked against the model when drawn; blank: the three nearest (the page's pick)
            state.Setting("why_vs", "vs", [], _classes, lambda picked: ",".join(map(str, picked))),
            state.Setting("why_alpha", "alpha", 1.0, state.float_between(0.0, 2.0))]


def _classes(text: str) -> list[int]:
    """Parser for "9,8,5": class numbers, each once."""
    try:
        return list(dict.fromkeys(int(part) for part in text.split(",") if part.strip()))
    except ValueError:
        raise ValueError(f"{text!r} is not a list of class numbers") from None


def draw(network: Network, digest: str, image: torch.Tensor, target: int | None, layer: str, method: str,
         name: Callable[[int], str]) -> None:
    """The fold, computed only when open: ``method``'s map at ``layer`` (smoothed as chosen above) of class
    ``target`` (None: the predicted one) alone, against the classes picked, and of each of them."""
    used = cam_controls.quick_cam(method, image)
    with st.expander("This class, not the ones most like it: Finer-CAM", icon=":material/compare:", key="why_finer",
                     on_change="rerun"):
        if not layout.layer_fold_open("why_finer", layer, ", so no class activation map to compare"):
            return
        if used in cams.CLASS_BLIND:
            st.info(f"{cams.METHODS[used]} follows no class, so it cannot tell one class from another: pick another "
                    "class activation map above (Grad-CAM, say).")
            return
        scores = explanations.logits(network, digest, image)
        explained = int(scores.argmax()) if target is None else target
        versus = _versus(network, scores, explained, name)
        st.markdown(INTRO.format(name=name(explained), score=f"{float(scores[explained]):.2f}"))
        st.multiselect("Compared with", targets.nearest_classes(scores, explained, len(scores)), key="why_vs",
                       max_selections=MOST, format_func=lambda k: f"{name(k)}: {float(scores[k]):.2f}",
                       help="Each class with its score before the softmax, the nearest to this class's first: those "
                            f"the network finds most like it. pytorch-grad-cam's FinerCAM takes the three nearest; "
                            f"{MOST} at most here.")
        st.slider("alpha: how much of their score is taken away", 0.0, 2.0, key="why_alpha", step=0.1, width=300,
                  help="0: the class's own map. 1: its score less the compared classes' (their mean, the likelier "
                       "weighing more), pytorch-grad-cam's default.")
        if not versus:
            st.caption("Pick classes to compare with.")
            return
        cam_controls.repeated_cam(method, image, "the maps compared")  # its caption: Grad-CAM where it is not
        # the method picked
        augment = cam_controls.repeated_augment(image, "The maps compared")
        alpha = float(st.session_state.why_alpha)
        if st.session_state.get("why_cam_score", "logit") != "logit":
            st.caption("Finer-CAM compares the classes' scores before the softmax: each map here is of a score, not "
                       "of what is picked above.")
        of = targets.Score(versus=tuple(versus), alpha=alpha)
        alone = cam_controls.mapped(network, digest, image, target, layer, used, augment, targets.LOGIT)
        finer = cam_controls.mapped(network, digest, image, explained, layer, used, augment, of)
        others = [cam_controls.mapped(network, digest, image, c, layer, used, augment, targets.LOGIT) for c in versus]
        _pictures(image, [alone, finer, *others], name, used, layer)
        st.caption(contrast_note(alone, finer, others, alpha, name))


INTRO = ("A class activation map of **{name}** lights everything the network reads as that class, also what the "
         "classes most like it have too. Finer-CAM (Zhang et al. 2025) explains instead its score ({score}, before "
         "the softmax) less the scores of those classes: what they share cancels, and what tells it apart stays.")


def _versus(network: Network, scores: torch.Tensor, explained: int, name: Callable[[int], str]) -> list[int]:
    """The classes compared, as the link or the picker names them, the explained class and classes the model has not
    dropped (a link's named in a warning, the three nearest where none is left); the three nearest when the view is
    fresh or another model or class is explained (an emptied picker then stays empty)."""
    default = state.page_default("why_vs", targets.nearest_classes(scores, explained))
    asked, seen = st.session_state.why_vs, (network.key, explained)
    before = st.session_state.get("why_vs_of")
    if before != seen and (before is not None or not asked):
        asked = default
    st.session_state.why_vs_of = seen
    wrong = [c for c in asked if not 0 <= c < len(scores) or c == explained]
    if wrong and state.from_link("why_vs"):
        state.link_ignored("vs", ",".join(map(str, wrong)), f"{'not a class' if len(wrong) == 1 else 'not classes'} "
                                                            f"of this model other than {name(explained)}")
    kept = [c for c in asked if c not in wrong]
    if len(kept) > MOST and state.from_link("why_vs"):
        state.link_ignored("vs", ",".join(map(str, kept[MOST:])), f"at most {MOST} classes are compared")
    st.session_state.why_vs = kept[:MOST] if kept or not wrong else default  # none of the link's: the page's pick
    return st.session_state.why_vs


def _pictures(image: torch.Tensor, maps: Sequence[Attribution], name: Callable[[int], str], method: str,
              layer: str) -> None:
    """The class's own map, Finer-CAM's and each compared class's, small and side by side."""
    alone, finer, *others = maps
    def fitted(k: int) -> str:  # a bold title is wider than title_fits reckons: the "…" had lost its last dot
        return explain_figures.fitted(name(k), layout.SMALL_PICTURE_PX - 12)

    titles = [f"{fitted(alone.target)}<br>alone", f"{fitted(alone.target)}<br>not the others",
              *(f"{fitted(r.target)}<br>alone" for r in others)]
    abouts = [f"{cams.METHODS[method]} at {layer}, {name(alone.target)} alone",
              f"Finer-CAM ({cams.METHODS[method]}) at {layer}, {name(alone.target)} against "
              f"{labels.listed([name(r.target) for r in others])}",
              *(f"{cams.METHODS[method]} at {layer}, {name(r.target)} alone" for r in others)]
    for k, (column, result, title, about) in enumerate(zip(layout.cells(len(maps), layout.SMALL_PICTURE_PX), maps,
                                                           titles, abouts)):
        figure = explain_figures.heat_figure(image, result.heat, title, HEIGHT, layout.SMALL_PICTURE_PX,
                                             map_row.outliers())
        charts.show(column, figure, key=f"why_fig_finer_{k}", name=about)


def contrast_note(alone: Attribution, finer: Attribution, others: Sequence[Attribution], alpha: float,
                  name: Callable[[int], str]) -> str:
    """The score explained, worked out from the classes' own scores, and how widely each map spreads."""
    weights = targets.weights(torch.tensor([r.score for r in others]), range(len(others)))
    terms = " + ".join(f"{float(q):.2f} × {float(r.score):.2f} ({name(r.target)})" for q, r in zip(weights, others))
    said = (f"Score explained: {name(alone.target)}'s {alone.score:.2f}, less {alpha:g} × ({terms}) = "
            f"{finer.score:.2f}; the weights are the compared classes' probabilities among themselves.")
    if alpha == 0:
        said += " With alpha 0 nothing is taken away: the map is the class's own."
    elif finer.score < 0:
        said += (f" Below zero: {name(alone.target)}'s score is less than {alpha:g} × the compared classes' weighed "
                 "score, and the map shows where it gains on them all the same.")
    elif finer.score > alone.score:
        said += " Above the class's own score: the compared classes score below zero, so taking them away adds."
    if finer.method == "ablationcam" and finer.score < 0:
        said += (" Ablation-CAM divides each fall by the score's size; pytorch-grad-cam divides by the score itself, "
                 "which turns every weight round below zero.")
    covered = [f"{name(alone.target)} alone {cam_layers.lit_share(alone.heat):.0%}",
               f"not the others {cam_layers.lit_share(finer.heat):.0%}",
               *(f"{name(r.target)} {cam_layers.lit_share(r.heat):.0%}" for r in others)]
    said += f" At half its peak or more, each map covers: {labels.listed(covered)} of the image."
    if float(finer.heat.max()) <= 0:
        said += (f" Finer-CAM is zero everywhere: nowhere does {name(alone.target)}'s evidence outweigh the compared "
                 "classes' at this layer.")
    return said
