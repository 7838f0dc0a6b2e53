"""Why this prediction: saliency, Grad-CAM, occlusion, integrated gradients, DeepLIFT, GradientSHAP, the Shapley
values of squares and LRP on your image, and an adversarial image that flips it."""

import streamlit as st
import torch

from explorer import adversarial, cam as cams, explain_figures, inputs, labels
from explorer.ui import beside_ig, cam_concepts, cam_contrast, cam_controls, cam_depth, channel_shares, charts
from explorer.ui import explanations, fool_all, layout, map_row, memo, model_input, more_ways, sanity, smallest, state
from explorer.ui import cam_ranking, which_map

layout.page_setup(layout.PAGES[6])
st.title("Why this prediction")
st.markdown(
    "Which pixels does the prediction rest on? **Saliency** is the gradient of the class score with respect to each "
    "pixel: where a small change would move the score most (Simonyan et al. 2014). **Grad-CAM** weighs a layer's "
    "feature maps by how much the class score gains from each, and shows where, at that layer's resolution, the "
    f"evidence lies (Selvaraju et al. 2017; {len(cams.METHODS) - 2} variants weigh the maps otherwise, three of them "
    "with no class at all, and FullGrad adds up every layer's bias times its gradient). **Occlusion** hides one "
    "square at a time and watches the score fall (Zeiler & Fergus 2014); **integrated gradients** add up the "
    "gradients on the way from a black image (or another baseline) to yours (Sundararajan et al. 2017); **DeepLIFT** "
    "asks the same in one backward pass (Shrikumar et al. 2017), **GradientSHAP** from many baselines at once "
    "(Lundberg & Lee 2017), the **Shapley values** of squares by reading the image with squares left out (Shapley "
    "1953); **LRP** hands the class score back down layer by layer (Bach et al. 2015). Then fool the network: move "
    "every pixel by ±eps (within 0..1) in the direction that raises the loss (Goodfellow's fast gradient sign) and "
    "watch the prediction flip, then ask for the smallest change that does it (Szegedy et al. 2014) and for one "
    "pattern that fools it on many images at once."
)

PREDICTED = ANY = -1  # the class to explain, the class to make it read: -1 for the predicted one, any other one
SETTINGS = [
    *model_input.settings(),
    state.Setting("why_class", "class", PREDICTED, state.int_between(PREDICTED, 100_000)),
    state.Setting("why_layer", "layer", ""),
    state.Setting("why_eps", "eps", 0.1, state.float_between(0.0, 0.3)),
    state.Setting("why_iterated", "iterated", False, state.boolean, state.dump_bool),
    state.Setting("why_target", "target", ANY, state.int_between(ANY, 100_000)),
    *explanations.smoothing_settings(),
    *cam_controls.cam_settings(),
    *map_row.settings(),
    *more_ways.settings(),
    *beside_ig.settings(),
    *channel_shares.settings(),
    *cam_depth.settings(),
    *cam_contrast.settings(),
    *cam_concepts.settings(),
    *sanity.settings(),
    *which_map.settings(),
    *cam_ranking.settings(),
    state.Setting("why_smallest", "small", False, state.boolean, state.dump_bool),
    state.Setting("why_universal", "uni", False, state.boolean, state.dump_bool),
    state.Setting("why_uni_eps", "ueps", 0.2, state.float_between(0.01, 0.3)),
]
state.restore(SETTINGS)


def attack(digest: str, eps: float, iterated: bool, target: int | None, network: model_input.Network,
           image: torch.Tensor) -> adversarial.Attack:
    """The attack, once per server under a progress bar (the iterated one's 10 passes take 45 s on VGG16 on a CPU)."""
    return memo.computed(
        "attack", (network.key, digest, eps, iterated, target),
        lambda report: adversarial.iterative_fgsm(network.model, image, eps, target=target, progress=report)
        if iterated else adversarial.fgsm(network.model, image, eps, target=target),
        lambda done, total: f"Attacking: {done} of {total} steps" if total else "Attacking...", keep=32)


def class_name(index: int) -> str:
    return explain_figures.class_name(index, classes)


view, network, picked = model_input.controls(
    SETTINGS, model_bound=("why_layer", "why_class", "why_target", "why_depth_mix"))

with view, layout.guard("explaining the prediction", needed=True):  # the parts below read its names
    prepared = inputs.prepare(network.spec, picked[1])
    model_input.conversion_note(prepared)
    digest = model_input.image_key(prepared.tensor)
    count = network.layers[-1].out_shape[0]
    classes = network.spec.classes if len(network.spec.classes) == count else ()
    if not classes:
        st.info("This model has no class names: classes are shown by their number.")
    if st.session_state.why_class >= count:
        st.warning(f"The link's class {st.session_state.why_class} is not one of this model's (0..{count - 1}): "
                   "explaining the predicted class.")
        st.session_state.why_class = PREDICTED
    probabilities = explanations.probabilities(network, digest, prepared.tensor)

    def with_share(k: int) -> str:
        return f"{class_name(k)} ({labels.share(float(probabilities[k]))})"

    a, b, c = st.columns([6, 6, 7], vertical_alignment="bottom")  # "Guided backprop" with its help icon: 170 px
    a.selectbox("Explain the class", [PREDICTED, *explanations.ranked(probabilities)], key="why_class",
                format_func=lambda i: "the predicted one" if i == PREDICTED else with_share(i),
                help="The classes most likely first, each with the network's probability.")
    with b:
        cam_layer = cam_controls.pick_cam_layer(list(network.layers))
    smooth = explanations.smoothing(c)
    state.publish(SETTINGS)  # before the slow parts, and after each section's controls: a link copied meanwhile
    # is the view being drawn
    target = None if st.session_state.why_class == PREDICTED else int(st.session_state.why_class)
    cam, cam_name = st.session_state.why_cam, cams.METHODS[st.session_state.why_cam]
    before = explanations.explained(network, digest, prepared.tensor, target, cam_layer, smooth, cam)
    best = int(probabilities.argmax())
    st.markdown(f"**Prediction:** {class_name(best)} ({labels.share(float(probabilities[best]))})"
                + ("" if network.pretrained else " (random weights)")
                + (f"; explaining {class_name(target)} ({labels.share(float(probabilities[target]))})."
                   if target is not None else "."))
    if not network.pretrained:
        st.info(explanations.undecided_note(probabilities, model_input.trained_hint(
            network, "see a real decision explained and fooled")))
    guided = map_row.fused(smooth, before)
    layer_shape = next(l for l in network.layers if l.name == cam_layer).out_shape[1:] if cam_layer else ()
    map_row.draw(prepared.tensor, before, guided, smooth, cam, cam_layer, layer_shape, class_name)
    if cam_layer:
        cam_controls.pick_cam_method(network.model)

with view, layout.guard("asking in two more ways"):
    occ, ig, beside = more_ways.draw(network, digest, prepared.tensor, target, class_name,
                                     lambda: state.publish(SETTINGS))
    more_ways.download(network, prepared.tensor, *before, occ, ig, smooth, cam, cam_layer, class_name, guided, beside)

with view, layout.guard("sharing the score among the channels"):
    channel_shares.draw(network, digest, prepared.tensor, target, cam_layer, class_name)

with view, layout.guard("mapping the evidence through the layers"):
    cam_depth.draw(network, digest, prepared.tensor, target, cam_layer, cam, class_name)
    cam_contrast.draw(network, digest, prepared.tensor, target, cam_layer, cam, class_name)
    cam_concepts.draw(network, digest, prepared.tensor, cam_layer, class_name)

with view, layout.guard("checking the maps"):
    sanity.draw(network, digest, prepared.tensor, target, cam_layer, smooth, ig, cam, beside)
    cam_ranking.draw(network, digest, prepared.tensor, target, cam_layer, cam, class_name, before[0].target)
    which_map.draw(network, digest, prepared.tensor, which_map.page_maps(
        *before, cam_name, occ, ig, {map_row.fused_title(smooth, cam): guided} if guided is not None else {}, beside),
        class_name(before[0].target))

with view, layout.guard("attacking the prediction"):
    st.subheader("Fool it: an adversarial image")
    a, b, c = st.columns([5, 4, 3], vertical_alignment="bottom")
    a.slider("eps: each pixel's change (0..1)", 0.0, 0.3, key="why_eps", step=0.001, format="%.3f")
    targets = [ANY, *explanations.ranked(probabilities, leave_out=best)]
    if st.session_state.why_target not in targets:  # the link's class is not the model's, or already the prediction
        if st.session_state.why_target >= count:
            st.warning(f"The link's target {st.session_state.why_target} is not one of this model's classes "
                       f"(0..{count - 1}): attacking without one.")
        else:
            st.warning(f"The network already reads {class_name(best)}: attacking towards any other class.")
        st.session_state.why_target = ANY
    b.selectbox("Make it read as", targets, key="why_target",
                format_func=lambda k: "any other class" if k == ANY else with_share(k),
                help="Szegedy et al. asked for the smallest change that makes the network read a chosen class: "
                     "the steps go down that class's loss.")
    layout.toggle(c, "Iterated", key="why_iterated",
                  help="Kurakin's iterated FGSM: 10 smaller steps, stronger for the same eps.")
    state.publish(SETTINGS)
    eps, goal = float(st.session_state.why_eps), None if st.session_state.why_target == ANY else st.session_state.why_target
    result = attack(digest, eps, bool(st.session_state.why_iterated), goal, network, prepared.tensor)
    st.markdown(f"{explanations.attack_reading(result, class_name, bool(st.session_state.why_iterated))} No pixel "
                f"moved more than {eps:.3f}." + explanations.visible_change(result, network.spec.input_size,
                                                                                  network.pretrained))
    third = layout.PICTURE_PX
    p, q, r = layout.cells(3, layout.PICTURE_PX)
    original, changed, fooled = explain_figures.attack_titles(class_name(result.before), class_name(result.after), eps)
    charts.show(p, explain_figures.picture_figure(prepared.tensor, original, width_px=third), key="why_fig_original")
    charts.show(q, explain_figures.perturbation_figure(result.perturbation, eps, width_px=third, title=changed),
                key="why_fig_delta")
    q.caption(explain_figures.perturbation_key(prepared.tensor.shape[0]))
    charts.show(r, explain_figures.picture_figure(result.image, fooled, width_px=third), key="why_fig_adversarial")
    quick = cam_controls.repeated_cam(cam, prepared.tensor)
    augment = bool(cam_layer) and cam_controls.repeated_augment(prepared.tensor)
    fast = explanations.repeated_smoothing(smooth, prepared.tensor)
    after = explanations.explained(network, model_input.image_key(result.image), result.image, None, cam_layer, fast,
                                   quick, augment)
    st.markdown("**Each image's own prediction explained**, before and after the attack:")
    own = explanations.explained(network, digest, prepared.tensor, None, cam_layer, fast, quick, augment)
    for column, (when, image, pair) in zip(layout.cells(2, 2 * layout.SMALL_PICTURE_PX + 16),
                                           (("Before", prepared.tensor, own), ("After", result.image, after))):
        column.markdown(f"*{when}:* read as **{class_name(pair[0].target)}**")
        map_row.overlays(image, pair, map_row.pair_titles(fast, quick), f"{when.lower()}_attack",
                         layout.cells(2, layout.SMALL_PICTURE_PX, column), height=220, width_px=layout.SMALL_PICTURE_PX,
                         about=f"{when.lower()} the attack, read as {class_name(pair[0].target)}")
    iterated = bool(st.session_state.why_iterated)
    sweep = explanations.eps_sweep(network, digest, prepared.tensor, iterated, goal)
    charts.show(st, explain_figures.eps_figure(*sweep, result.label, classes, eps, target=goal,
                                               method="Iterated FGSM (10 steps)" if iterated else "FGSM"),
                key="why_fig_eps")

with view, layout.guard("searching the smallest change"):
    if smallest.asked():
        smallest.draw(network, digest, prepared.tensor, goal, probabilities, class_name,
                      lambda: smallest.fgsm_match(network, prepared.tensor, sweep, result.label, goal, iterated))

with view, layout.guard("searching one pattern for every image"):
    st.subheader("One pattern that fools it on many images")
    a, b = st.columns([3, 2], vertical_alignment="bottom")
    a.slider("eps of the pattern", 0.01, 0.3, key="why_uni_eps", step=0.01, format="%.2f")
    if layout.toggle(b, "Search for it", key="why_universal", help=fool_all.HELP):
        fool_all.draw(network, float(st.session_state.why_uni_eps))

state.publish(SETTINGS)
