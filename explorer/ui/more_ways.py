"""Why this prediction's "Two more ways to ask": occlusion and integrated gradients (and under them, on request,
DeepLIFT, GradientSHAP, the Shapley values of squares and LRP), signed (evidence for the class and against it), and
every map's raw values as one download."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st
import torch

from explorer import attribution, cam as cams, explain_figures, export, labels, lrp
from explorer.ui import beside_ig, cam_controls, charts, explanations, layout, map_row, state
from explorer.ui.explanations import Smoothing
from explorer.ui.model_input import Network

OCCLUDERS = (8, 4, 2)  # the square's side: this fraction of the image's
STRIDES = (4, 2, 1)  # how far the square slides: this fraction of its side (Captum's strides)
STRIDE_NAMES = {4: "a quarter square", 2: "half a square", 1: "a whole square"}
IG_STEPS = (1, 8, 16, 32, 64, 128)  # 1 step from black: the gradient times the input (Shrikumar et al. 2016)


def settings() -> list[state.Setting]:
    return [
        state.Setting("why_occ", "occ", 4, explanations.occluder(OCCLUDERS)),
        state.Setting("why_occ_fill", "fill", "mean", state.choice(attribution.BASELINES)),
        state.Setting("why_occ_stride", "ostride", 2, state.int_choice(STRIDES)),
        state.Setting("why_ig_steps", "steps", 32, state.int_choice(IG_STEPS)),
        state.Setting("why_ig_base", "base", "black", state.choice(attribution.BASELINES)),
        state.Setting("why_ig_rule", "rule", "riemann", state.choice(attribution.RULES)),
        state.Setting("why_ig_gauss", "gauss", False, state.boolean, state.dump_bool),  # links from before the rules
    ]


RULE_NAMES = {"riemann": "right ends (the paper's)", "riemann_left": "left ends", "riemann_middle": "midpoints",
              "riemann_trapezoid": "trapezoids", "gauss": "Gauss-Legendre (Captum's)"}


def draw(network: Network, digest: str, image: torch.Tensor, target: int | None, name: Callable[[int], str],
         publish: Callable[[], None],
         ) -> tuple[attribution.Occlusion, attribution.IntegratedGradients, beside_ig.Beside]:
    """The controls (then ``publish``, before the slow work), the two maps side by side with their notes, and under
    integrated gradients the maps asked for beside them (DeepLIFT, GradientSHAP, the squares' Shapley values,
    LRP)."""
    st.subheader("Two more ways to ask")
    side = min(image.shape[-2:])
    left, right = st.columns(2)
    square_box, fill_box = left.columns([3, 2], vertical_alignment="bottom")
    square_box.select_slider("Occluding square", OCCLUDERS, key="why_occ",
                             format_func=lambda d: f"{side // d} px (1/{d} of the side)")
    fill_box.selectbox("Covered with", attribution.BASELINES, key="why_occ_fill",
                       help="What covers each square: the image's mean colour adds no pattern of its own; black is "
                            "Captum's default (Zeiler & Fergus used grey); the image blurred hides only the square's "
                            "fine detail; noise adds a pattern of its own. Each asks a different question.")
    steps_box, base_box = right.columns([3, 2], vertical_alignment="bottom")  # the maps below stay level
    steps_box.select_slider("Integration steps", IG_STEPS, key="why_ig_steps")
    base_box.selectbox("From", attribution.BASELINES, key="why_ig_base",
                       help="The baseline the path of integrated gradients starts from. A pixel equal to it gets "
                            "nothing: black says nothing about the background of a digit; the image blurred keeps "
                            "its colours and asks about its edges.")
    publish()
    window, half, clip = side // int(st.session_state.why_occ), layout.VIEW_PX // 2, map_row.outliers()
    half_least = layout.VIEW_LEAST_PX // 2 - 8  # a column of two in the narrowest view, for titles
    with left:  # each progress bar in its own column
        strides = _strides(window)  # st.session_state.why_occ_stride one of them
        fill, stride = st.session_state.why_occ_fill, max(1, window // int(st.session_state.why_occ_stride))
        occ = explanations.occluded(network, digest, image, target, window, fill, stride)
        title = explain_figures.named_title("Occlusion", name(occ.target), half_least)
        drops = torch.zeros_like(occ.raw) if occ.changes_nothing else occ.raw  # rounding's noise is no red
        charts.show(st, explain_figures.signed_figure(image, drops, title, "score drop", width_px=half, outliers=clip,
                                                      box=(*occ.worst, window) if occ.hurts else None),
                    key="why_fig_occlusion")
        st.caption(explanations.occlusion_note(occ, name, fill))
        if len(strides) > 1:
            st.select_slider("Slide it by", strides, key="why_occ_stride",
                             format_func=lambda k: f"{max(1, window // k)} px ({STRIDE_NAMES[k]})",
                             help="How far the square moves between readings. A quarter of a square reads about "
                                  "four times as many covered images as half of one, for a smoother map; a whole "
                                  "square never overlaps itself, so each pixel is read once, in blocks.")
    with right:
        if st.session_state.why_ig_gauss:  # an older link's toggle, gauss=1: the rule it meant, said as it is now
            if not state.from_link("why_ig_rule"):  # a rule the link names itself is the one it means
                st.session_state.why_ig_rule = "gauss"
            st.session_state.why_ig_gauss = False
        rule = st.session_state.why_ig_rule
        ig = explanations.integrated(network, digest, image, target, int(st.session_state.why_ig_steps),
                                     st.session_state.why_ig_base, rule)
        title = explain_figures.named_title("Integrated gradients", name(ig.target), half_least)
        charts.show(st, explain_figures.signed_figure(image, ig.raw.sum(0), title, "attribution", width_px=half,
                                                      outliers=clip),
                    key="why_fig_ig")
        st.caption(explanations.integrated_note(ig))
        st.selectbox("Sum the path by", attribution.RULES, key="why_ig_rule", format_func=RULE_NAMES.get,
                     help="Where on the way the gradient is taken, Captum's five rules: the paper takes the right end "
                          "of each of the m parts (k/m for k = 1..m, each 1/m); the left ends start at the baseline "
                          "itself; trapezoids take both ends at half weight (m + 1 images); Gauss-Legendre's points, "
                          "Captum's default, are exact for a polynomial of degree 2m - 1. The same integral, summed "
                          "another way: compare the gap above.")
    beside_ig.toggles()  # a row of their own: in integrated gradients' column they left a tall blank beside them
    return occ, ig, beside_ig.draw(network, digest, image, target, ig, name, half, half_least, clip)


def _strides(window: int) -> list[int]:
    """The slides (fractions of ``window``, :data:`STRIDES`) that move it by different amounts: on a 3 px square a
    quarter and a half are both 1 px, one choice, half a square's (the default); the setting made one of them."""
    by_px = {}
    for k in sorted(STRIDES, key=lambda k: k != 2):  # half a square first: it keeps its place where another ties
        by_px.setdefault(max(1, window // k), k)
    kept = [k for k in STRIDES if k in by_px.values()]
    if st.session_state.why_occ_stride not in kept:  # a fraction that moves it as far as a kept one does
        st.session_state.why_occ_stride = by_px[max(1, window // int(st.session_state.why_occ_stride))]
    return kept


def download(network: Network, image: torch.Tensor, gradient: attribution.Attribution,
             cam: attribution.Attribution | None, occ: attribution.Occlusion, ig: attribution.IntegratedGradients,
             smooth: Smoothing, method: str, layer: str, name: Callable[[int], str],
             guided: attribution.Attribution | None = None, beside: beside_ig.Beside = beside_ig.Beside()) -> None:
    """The image and every map's raw values as one NumPy ``.npz``: to study them elsewhere, as Captum's users do,
    with the settings that made them (``settings``: JSON). The class activation map is named by its ``method``:
    grad_cam, grad_cam_pp, xgrad_cam, hires_cam, kpca_cam, fem...; ``guided``, its product with guided backprop:
    guided_grad_cam...; ``beside``, DeepLIFT's, GradientSHAP's, the squares' Shapley values and LRP's where the page
    shows them."""
    lifted, shap, squares, relevance = beside
    named = method.replace("cam", "_cam", 1).replace("pp", "_pp").replace("elementwise", "_elementwise")
    maps = {"image": image, smooth.method: gradient.raw,
            **({named: cam.raw, f"{named}_at_image_size": cam.heat} if cam is not None else {}),
            **({f"{smooth.method}_{named}": guided.raw} if guided is not None else {}), "occlusion": occ.raw,
            "integrated_gradients": ig.raw, **({"deeplift": lifted.raw} if lifted is not None else {}),
            **({"gradient_shap": shap.raw} if shap is not None else {}),
            **({"shapley_squares": squares.values.view(squares.grid, squares.grid)} if squares is not None else {}),
            **({"lrp": relevance.raw} if relevance is not None else {})}
    settings = {"model": network.spec.name, "weights": "trained" if network.pretrained else "random",
                "class": gradient.target, "class_name": name(gradient.target),
                "predicted": int(gradient.probabilities.argmax()),
                "smoothgrad": {"copies": smooth.copies, "noise_sd": smooth.noise, "nt_type": smooth.kind}
                if smooth.copies else None,
                "guided": smooth.guided,
                "cam": {"method": method, "layer": "" if method in cams.LAYERLESS else layer,
                        **_json_ready(cam_controls.keywords(method), method)} if cam is not None else None,
                "occlusion": {"window": occ.window, "stride": occ.stride, "fill": st.session_state.why_occ_fill},
                "integrated_gradients": {"steps": ig.steps, "baseline": ig.baseline, "rule": ig.rule},
                "deeplift": {"baseline": lifted.baseline, "rule": "rescale"} if lifted is not None else None,
                "gradient_shap": {"draws": shap.samples, "baselines": shap.source,
                                  "baseline_count": shap.baselines, "seed": 0} if shap is not None else None,
                "shapley_squares": {"grid": squares.grid, "baseline": squares.baseline, "images_read":
                                    squares.coalitions, "exact": squares.exact, "seed": 0} if squares is not None
                else None,
                "lrp": {"rule": relevance.rule, "epsilon": relevance.epsilon,
                        "gamma": lrp.GAMMA if relevance.rule == "composite" else None,
                        "stabilizer": lrp.STABILIZER} if relevance is not None else None}
    stem = "-".join(labels.file_stem(part) for part in (network.spec.name, name(gradient.target), named))
    st.download_button("Download the maps (NumPy .npz)", export.arrays_npz(maps, settings), f"why-{stem}.npz",
                       key="why_npz", icon=":material/download:",
                       help="The image and each map's raw values, before any scaling: the gradient (C, H, W), "
                            "the class activation map at its layer's size and at the image's as drawn (scaled to "
                            "0..1, each value at its unit's field centre), with guided backprop the gradient times "
                            "that (C, H, W), occlusion's score drop (H, W), integrated gradients (C, H, W), "
                            "DeepLIFT's, GradientSHAP's and LRP's where shown (C, H, W), the squares' Shapley "
                            "values (rows, columns of squares); and `settings`, a JSON text of "
                            "the model, class and settings that made them. Read them with numpy.load.")


def _json_ready(settings: dict, method: str) -> dict:
    """The map's settings as JSON holds them: the class's score explained as ``score`` (logit, probability or
    rest; None for a ``method`` that follows no class)."""
    kept = {key: value for key, value in settings.items() if key != "of"}
    return kept | {"score": None if method in cams.CLASS_BLIND else settings["of"].output}
