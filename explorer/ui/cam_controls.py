"""The class activation map's controls on "Why this prediction": its layer, its method (pytorch-grad-cam's
variants) and pytorch-grad-cam's two smoothings, what each computes, and the map itself once per server."""

from __future__ import annotations

import streamlit as st
import torch

from explorer import attribution, cam, map_components, targets
from explorer.ui import layout, memo, model_input, state
from explorer.ui.model_input import Network


def pick_cam_layer(layers: list) -> str:
    """The class activation map's layer, among those with feature maps ("" when the model has none)."""
    cam_layers = cam.usable_layers(layers)
    if not cam_layers:
        st.info("This model has no layer with feature maps, so no class activation map: saliency and the attack still "
                "work.")
        return ""
    suggested = state.page_default("why_layer", cam.suggested_layer(layers))
    if st.session_state.why_layer not in cam_layers:
        if st.session_state.why_layer:
            st.warning(model_input.not_a_map_layer(layers, st.session_state.why_layer,
                                                   f"a class activation map needs one; showing `{suggested}`, "
                                                   "the last convolution's output"))
        st.session_state.why_layer = suggested
    unused = (f" {cam.METHODS[st.session_state.why_cam]} takes every layer at once: the layer picked here is for "
              "the channels' shares and the stages below." if st.session_state.get("why_cam") in cam.LAYERLESS else "")
    return st.selectbox("CAM layer", cam_layers, key="why_layer",
                        help=f"The layer whose maps the class activation map weighs. Suggested: {suggested}, the last "
                             f"convolution's output.{unused}")


# how each class activation map weighs the layer's maps A_m by the class score's gradients g_m (pytorch-grad-cam's
# formulas, which the tests check): the sentence under the picker
CAM_WORDS = {
    "gradcam": "each map weighed by its gradient averaged over the map, summed, negatives cut (Selvaraju et al. "
               "2017).",
    "gradcampp": "each map weighed by its positive gradients only, summed over the map with weights from their "
                 "squares and cubes, so that several objects of the class all light up, not just the largest "
                 "(Chattopadhyay et al. 2018).",
    "xgradcam": "each map weighed by its gradients averaged where the map itself is strong (Fu et al. 2020).",
    "hirescam": "gradient times map at each position, with no averaging: exactly each position's share of the class "
                "score where the network averages its last maps, and there the same map as Grad-CAM's and "
                "XGrad-CAM's (Draelos & Carin 2020).",
    "gradcamelementwise": "element-wise: gradient times map at each position, negatives cut before the sum over "
                          "the maps, so a map's evidence against the class cannot cancel another's evidence for it "
                          "(pytorch-grad-cam's GradCAMElementWise).",
    "layercam": "positive gradient times map at each position, so an earlier layer gives a finer map (Jiang et al. "
                "2021).",
    "scorecam": "no gradients: each map, scaled to 0..1, masks the image, and weighs by how much the masked image "
                "alone raises the class score (softmaxed over the maps; Wang et al. 2020). One pass per map: on two "
                "CPU cores, ResNet18's last layer (512 maps) takes half a minute, VGG16's two minutes.",
    "ablationcam": "no gradients: each map is set to zero in turn and the network runs on from this layer; the map "
                   "weighs by how far the class score falls without it, over the score (Desai & Ramaswamy 2020). One "
                   "pass of the rest of the network per map: on two CPU cores, ResNet18's last layer takes 5 s, "
                   "VGG16's (its large fully connected layers) 40 s.",
    "eigencam": "no class and no gradients: each position's value along the maps' first principal component, the "
                "direction in which the positions differ most (Muhammad & Yeasin 2020). The same map for every "
                "class: what the layer sees most, not why this class.",
    "eigengradcam": "the first principal component, as Eigen-CAM, of gradient times map, so it follows the class "
                    "(pytorch-grad-cam's variant).",
    "kpcacam": "no class and no gradients: Eigen-CAM's first principal component, taken after a sigmoid kernel "
               "compares each pair of positions, tanh(x·y / M + 1) with M the number of maps, so the direction it "
               "finds need not be a straight line through the maps (Karmani et al. 2024; scikit-learn's KernelPCA). "
               "The same map for every class. Its kernel holds every pair of positions: beyond "
               f"{map_components.MOST_POSITIONS} (64 x 64) the maps are averaged over squares until they fit.",
    "fem": "no class and no gradients: each map weighed by its share of positions more than two standard "
           "deviations above its own mean, its rare strong responses, summed (Fuad et al. 2020, the k-sigma rule). "
           "The same map for every class: where the layer responds unusually strongly. Eigen-smooth takes the "
           "weighed maps' first principal component here too (pytorch-grad-cam's FEM leaves it out).",
    "shapleycam": "Grad-CAM's weights less half the score's second derivative along the maps (a Hessian-vector "
                  "product): the maps' Shapley values to second order (Cai 2025). The logit of a ReLU network is "
                  "piecewise linear in the maps, so there it is Grad-CAM: map ReST (as pytorch-grad-cam's examples do) "
                  "or the probability instead.",
    "fullgrad": "no layer to pick: every convolution and batch norm with a bias at once. Each one's bias times the "
                "gradient at its output, and the input times its gradient, made positive, each channel scaled from "
                "0 to 1 and all added up: the gradient alone misses what the biases add to the score (Srinivas & "
                "Fleuret 2019).",
}
PASS_WORDS = {"scorecam": "Score-CAM: the image masked by each map, read",
              "ablationcam": "Ablation-CAM: the network run on with each map set to zero"}
NEVER_NEGATIVE = ("gradcampp", "layercam", "scorecam")  # their weights: a zero map is the layer's own values


def zero_cam_note(method: str, layer: str, name: str) -> str:
    """Why ``method``'s map at ``layer`` is zero everywhere for class ``name``."""
    title = cam.METHODS[method]
    if keywords(method)["eigen_smooth"]:
        values = {"eigencam": "maps have", "kpcacam": "maps have", "eigengradcam": "gradient times map has"}.get(
            method, "weighed maps have")
        return (f"{title} is zero everywhere at `{layer}`: its {values} the same values at every position (or the "
                "layer has one position), so there is no direction in which the positions differ.")
    if method == "fem":  # no class to keep evidence for
        return (f"FEM is zero everywhere at `{layer}`: no map has a position more than two standard deviations above "
                "its mean (a map with a few strong spots has), or those that have add up to zero or less (a "
                "convolution's output before its ReLU can be below zero). A later layer's maps usually have them.")
    if method in NEVER_NEGATIVE:
        why = ("its weights are never below zero, so at every position the maps that count are zero or negative "
               "(a convolution's output before its ReLU can be)")
    else:
        why = f"at every position its maps, weighed by how much they raise {name}, add up to less than zero"
    return (f"{title} is zero everywhere at `{layer}`: {why}, and {title} keeps only evidence for the class. Occlusion "
            "and integrated gradients below show evidence against it too.")


def pooled_note(method: str, layer: str, shape: tuple[int, ...]) -> str:
    """Where KPCA-CAM's kernel cannot hold every pair of ``layer``'s positions (maps of ``shape``, h x w), that it
    averages the maps over squares first: its map is that much coarser."""
    factor = map_components.kernel_pooling(shape[-2:]) if method == "kpcacam" and len(shape) >= 2 else 1
    if factor == 1:
        return ""
    h, w = (-(-side // factor) for side in shape[-2:])
    return (f" KPCA-CAM's kernel holds at most {map_components.MOST_POSITIONS} positions, so it averages `{layer}`'s "
            f"maps over {factor} x {factor} squares first: its map is {h} x {w}, brought back to the layer's size.")


def quick_cam(method: str, image: torch.Tensor) -> str:
    """The method of maps made again (the attack's before and after, one at each stage): Score-CAM's or
    Ablation-CAM's pass per map, again for each, is minutes on a 224 px network, so there Grad-CAM."""
    return method if method not in cam.PASSES or image.shape[-1] <= 64 else "gradcam"


def repeated_cam(method: str, image: torch.Tensor, maps: str = "the maps before and after the attack") -> str:
    """:func:`quick_cam`, and where it is not ``method``, a caption that says so of ``maps``."""
    if (quick := quick_cam(method, image)) != method:
        st.caption(f"{cam.METHODS[method]} runs the network once per map: {maps} use {cam.METHODS[quick]}.")
    return quick


def cam_settings() -> list[state.Setting]:
    return [state.Setting("why_cam", "cam", "gradcam", state.choice(tuple(cam.METHODS))),
            state.Setting("why_eigen", "eigen", False, state.boolean, state.dump_bool),
            state.Setting("why_aug", "aug", False, state.boolean, state.dump_bool),
            state.Setting("why_cam_score", "camscore", "logit", state.choice(tuple(targets.OUTPUTS)))]


def keywords(method: str, augment: bool = True) -> dict:
    """The map's settings chosen for ``method``, as :func:`cam.class_map`'s keywords: the smoothings, ``eigen_smooth``
    always for the Eigen-CAMs (their map is a principal component), ``augment`` False leaving ``aug_smooth`` out;
    and ``of``, the class's score it explains (the logit for a method that follows no class: nothing to remake)."""
    output = "logit" if method in cam.CLASS_BLIND else st.session_state.get("why_cam_score", "logit")
    return {"eigen_smooth": method in cam.PRINCIPAL or bool(st.session_state.get("why_eigen")),
            "aug_smooth": augment and bool(st.session_state.get("why_aug")), "of": targets.Score(output)}


def augment_allowed(image: torch.Tensor) -> bool:
    """Whether maps made again (the attack's, the sanity check's) take ``aug_smooth``'s six copies too: not for a
    224 px network on a CPU, where each map is six passes of seconds."""
    return image.shape[-1] <= 64 or torch.cuda.is_available()


def mapped(network: Network, digest: str, image: torch.Tensor, target: int | None, layer: str, method: str,
           augment: bool = True, of: targets.Score | None = None) -> attribution.Attribution:
    """The class activation map of ``method`` at ``layer``, smoothed as chosen, once per server; Score-CAM's and
    Ablation-CAM's passes, and the six copies of ``aug_smooth``, counted on a progress bar. ``of``: the class's score
    explained, where not the one picked on the page (Finer-CAM's)."""
    smooth = keywords(method, augment) | ({"of": of} if of is not None else {})
    copies, unit = (" (six copies)", "passes") if smooth["aug_smooth"] else ("", "maps")
    where = "every layer with a bias" if method in cam.LAYERLESS else layer
    return memo.computed(
        "why_cam", (network.key, digest, target, layer_key(layer, method), method, *smooth.values()),
        lambda report: cam.class_map(network.model, image, layer, target, method, progress=report, **smooth),
        lambda done, total: memo.counted(PASS_WORDS[method] + copies, done, total, unit) if method in cam.PASSES
        else f"{cam.METHODS[method]} at {where}{copies}...", keep=32)


def layer_key(layer: str, method: str) -> str:
    """The layer as a cached map's key: the same for every layer where ``method`` takes none (FullGrad), so that
    picking another layer makes nothing again; "" stays "" (no layer with feature maps, no map)."""
    return "*" if layer and method in cam.LAYERLESS else layer


def repeated_augment(image: torch.Tensor, maps: str = "The maps before and after the attack") -> bool:
    """:func:`augment_allowed`, and where it is not (with Augment-smooth on), a caption that says so of ``maps``."""
    if not st.session_state.get("why_aug") or augment_allowed(image):
        return True
    st.caption(f"{maps} leave aug_smooth's six copies out: each is six passes of the network on this server's CPU.")
    return False


def pick_cam_method(model: torch.nn.Module) -> None:
    """The class activation map's method (pytorch-grad-cam's variants), what it computes, and the smoothings; for
    FullGrad on ``model`` without biases (a fresh torchvision network's), that its map is the input's term alone."""
    st.segmented_control("Class activation map", list(cam.METHODS), key="why_cam", required=True,
                         format_func=cam.METHODS.get)
    eigen, aug = st.columns(2)
    method = st.session_state.why_cam
    always = method in cam.PRINCIPAL  # shown on, the choice kept for the other methods
    layout.toggle(eigen, "Eigen-smooth", key="why_eigen_always" if always else "why_eigen", disabled=always,
                  **({"value": True} if always else {}),
                  help="pytorch-grad-cam's eigen_smooth: instead of adding up the weighed maps, take each position's "
                       "value along their first principal component, the direction in which the positions differ "
                       "most, on the side that agrees with the sum. Much of the noise drops out, but that direction "
                       "need not be the class's evidence (on TinyVGG's relu2b it lights the background): compare "
                       "with it off. The Eigen-CAMs always do this, KPCA-CAM in its kernel's space.")
    layout.toggle(aug, "Augment-smooth", key="why_aug",
                  help="pytorch-grad-cam's aug_smooth: the mean map of six copies, the image and its mirror, each "
                       "at 0.9, 1 and 1.1 times its brightness (a mirror's map mirrored back). The map sits better "
                       "on the object; it takes six times as long.")
    blind = method in cam.CLASS_BLIND
    st.segmented_control("Map of the class's", list(targets.OUTPUTS), key="why_cam_score", required=True,
                         format_func=lambda output: "score (logit)" if output == "logit" else targets.OUTPUTS[output],
                         disabled=blind,
                         help="What of the class the map explains: its score before the softmax (the logit, as the "
                              "papers and pytorch-grad-cam by default), its probability after it, or ReST, the two "
                              "together (pytorch-grad-cam's model targets)." + (
                                  f" {cam.METHODS[method]} follows no class." if blind else ""))
    st.caption(f"{cam.METHODS[method]}: {CAM_WORDS[method]}"
               + smoothing_words() + ("" if blind else score_words(method, st.session_state.why_cam_score))
               + (f" {NO_BIASES}" if method in cam.LAYERLESS and not cam.has_biases(model) else ""))


SCORE_WORDS = {  # the class's score a map explains, after the method's words ("": the logit, unsaid)
    "logit": "",
    "probability": " Explaining the class's probability, not its score: what raises this class and what lowers "
                   "the others (pytorch-grad-cam's ClassifierOutputSoftmaxTarget). Where the network is sure the "
                   "softmax is flat, its gradients tiny; each map is scaled to its largest value all the same.",
    "rest": " Explaining ReST, the score plus its log-probability (Cai 2025, pytorch-grad-cam's "
            "ClassifierOutputReST): the class's own evidence and its lead over the others. Where the network is sure "
            "(a probability near 1) the log-probability is near 0 and ReST is the score.",
}


def score_words(method: str, output: str) -> str:
    """:data:`SCORE_WORDS` of ``output``, and for Score-CAM of the probability, why its map is near the plain sum."""
    said = SCORE_WORDS[output]
    if method == "scorecam" and output == "probability":
        said += (" Score-CAM softmaxes the masked images' probabilities, all between 0 and 1, over the maps: its "
                 "weights are nearly equal, and the map near the plain sum of the layer's maps.")
    return said


NO_BIASES = ("This network's convolutions and batch norms add nothing yet (no biases, batch norms fresh from "
             "initialisation): every bias term is zero, and the map is the input times its gradient alone.")


def smoothing_words() -> str:
    """The smoothings on, in a sentence after the method's ("" with none; an Eigen-CAM's own component unsaid)."""
    method = st.session_state.why_cam
    smooth = keywords(method)
    done = [words for on, words in (
        (smooth["eigen_smooth"] and method not in cam.PRINCIPAL,
         "the layers' and colours' maps' first principal component in place of their sum" if method in cam.LAYERLESS
         else "the weighed maps' first principal component in place of their sum"),
        (smooth["aug_smooth"], "the mean of six copies' maps, mirrored or not, at 0.9, 1 and 1.1 times the brightness"))
        if on]
    return f" Smoothed: {' and '.join(done)}." if done else ""
