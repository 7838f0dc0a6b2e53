"""Invariance: shift, rotate or scale the image and watch the prediction and every layer's output."""

import streamlit as st
import torch

from explorer import explain_figures, inputs, invariance, invariance_figures, mosaic
from explorer.ui import charts, layout, memo, model_input, state

layout.page_setup(layout.PAGES[7])
st.title("Invariance")
st.markdown(
    "Is the network translation, rotation or scale invariant? Move the image step by step and follow two "
    "things, as Zeiler & Fergus (2014) did for their ImageNet network: the probability of the class it saw in the "
    "original, and how much each layer's output still matches the original's. Convolutions move their maps *with* a "
    "shifted image (equivariance), so an early layer matches the original's less as soon as the image moves "
    "(quickly for thin strokes and fine texture, slowly for large smooth shapes); pooling and depth buy some "
    "tolerance, and the prediction is invariant only as far as it holds."
)

RANGES = {"shift_x": (-50.0, 50.0, 5.0), "shift_y": (-50.0, 50.0, 5.0), "rotate": (-180.0, 180.0, 5.0),
          "scale": (0.25, 3.0, 0.05)}  # slider bounds and step per kind
DEFAULTS = {"shift_x": (-30.0, 30.0), "shift_y": (-30.0, 30.0), "rotate": (-90.0, 90.0), "scale": (0.5, 1.5)}
UNITS = {"shift_x": "% of the width", "shift_y": "% of the height", "rotate": "degrees", "scale": "times"}


def span(kind: str):
    """Parser of a "low,high" range inside the kind's slider bounds."""
    def parse(text: str) -> tuple[float, float]:
        parts = text.split(",")
        if len(parts) != 2:
            raise ValueError(f"{text[:20]!r} is not two numbers, low,high")
        low, high = (state.number(v) for v in parts)
        if low > high:  # equal ends are a range the slider makes too (its thumbs on one spot): one version
            raise ValueError(f"its low end, {low:g}, is above its high end, {high:g}")
        if not RANGES[kind][0] <= low <= high <= RANGES[kind][1]:
            raise ValueError(f"{text} is not a range inside {RANGES[kind][0]:g}..{RANGES[kind][1]:g}")
        return low, high
    return parse


SETTINGS = [
    *model_input.settings(),
    state.Setting("inv_kind", "kind", "shift_x", state.choice(invariance.KINDS)),
    *(state.Setting(f"inv_{k}", k, DEFAULTS[k], span(k), lambda v: f"{v[0]:g},{v[1]:g}") for k in invariance.KINDS),
    state.Setting("inv_count", "n", 21, state.int_between(3, 61)),
]
state.restore(SETTINGS)


WISH = "inv_count_chosen"  # the Versions count last chosen: a narrow range shows fewer, a wider one gives it back
SET = "inv_count_set"  # the count the page last put in the slider


def _chose_count() -> None:
    """The visitor moved Versions. Not the page's own count coming back from a run cut short by fast slider moves
    (it had become the count chosen, and a wider range then kept it: 7 versions of 9 shifts)."""
    if st.session_state.inv_count != st.session_state.get(SET):
        st.session_state[WISH] = st.session_state.inv_count


def sweep(network: model_input.Network, image: torch.Tensor, kind: str, values: tuple[float, ...]) -> invariance.Sweep:
    """The sweep, computed once per server under a progress bar."""
    layers = invariance.compared_layers(list(network.layers))
    return memo.computed(
        "invariance", (network.key, model_input.image_key(image), kind, values),
        lambda report: invariance.sweep(network.model, image, kind, torch.tensor(values), layers, report),
        lambda done, total: f"Running the {len(values)} versions through the network: {done} done")


view, network, picked = model_input.controls(SETTINGS)

with view, layout.guard("sweeping the transformation"):
    prepared = inputs.prepare(network.spec, picked[1])
    model_input.conversion_note(prepared)
    a, b, c = st.columns([3, 3, 2])
    kind = a.selectbox("Transformation", invariance.KINDS, key="inv_kind", format_func=invariance.LABELS.get)
    low, high, step = RANGES[kind]
    side = network.spec.input_size
    b.slider(f"Range ({UNITS[kind]}{f' of {side} px' if kind.startswith('shift') else ''})", low, high,
             key=f"inv_{kind}", step=step, format="%g")
    state.odd("inv_count", "n", "the Versions slider takes odd counts")  # from 3: one version in the middle
    first, last = st.session_state[f"inv_{kind}"]
    top = invariance.most_versions(kind, first, last, side)
    if state.from_link("inv_count") or state.came_back() or WISH not in st.session_state:
        st.session_state[WISH] = st.session_state.inv_count
    if top > 3:
        # a narrow range lowers the count; a wide one gives back the count the visitor chose (it only went down)
        st.session_state.inv_count = max(st.session_state.inv_count, min(st.session_state[WISH], top))
        state.page_default("inv_count", min(SETTINGS[-1].default, top))  # the default 21, or all the shifts there are
        state.at_most("inv_count", "n", top, f"{first:g}% to {last:g}% of {side} px holds {top} different "
                      "whole-pixel shifts")
        st.session_state[SET] = st.session_state.inv_count
        c.slider("Versions", 3, top, key="inv_count", step=2, on_change=_chose_count,
                 help="How many versions to run, the original among them. Shifts stop at one per whole pixel.")
    values = invariance.swept_values(kind, first, last, st.session_state.inv_count, side)
    if len(values) == 1:  # a range under a pixel, or both ends on one spot: "every version from 0 px to 0 px"
        st.warning(f"Shifts move whole pixels: {first:g}% to {last:g}% of {side} px rounds to one shift, "
                   f"{values[0]:g} px. Widen the range to see the image move." if kind.startswith("shift") else
                   f"{first:g} to {last:g} {UNITS[kind]} is one version: widen the range to compare several.")
        state.publish(SETTINGS)
        st.stop()
    if kind.startswith("shift"):  # the slider in % (a link fits every model's size), the pictures and charts in px
        st.caption(f"Shifts move whole pixels: {first:g}% to {last:g}% of {side} px is {values[0]:g} to "
                   f"{values[-1]:g} px" + (f", which holds {len(values)} different shifts, so {len(values)} versions."
                                           if len(values) < st.session_state.inv_count else "."))
    if invariance.IDENTITY[kind] not in values.tolist():
        st.caption(f"This range leaves out the original ({invariance.IDENTITY[kind]:g}{invariance.SUFFIX[kind]}): "
                   "every version is compared with it all the same.")
    result = sweep(network, prepared.tensor, kind, tuple(values.tolist()))
    classes = network.spec.classes if len(network.spec.classes) == result.probabilities.shape[1] else ()
    if not classes:
        st.info("This model has no class names: classes are shown by their number.")
    shown = invariance.shown_versions(len(values), invariance.nearest_original(result))
    # the class read on a line of its own, cut to the view at 1280 px: "-6 px → triangle" ran into its neighbours
    charts.show(st, mosaic.images_figure([result.images[i] for i in shown],
                                         [f"{round(float(values[i]), 2):g}{invariance.SUFFIX[kind]}\n→ "
                                          f"{explain_figures.class_name(int(result.predictions[i]), classes)}"
                                          for i in shown], invariance.strip_title(len(shown), len(values)),
                                         cols=len(shown), side=96, width_px=layout.VIEW_PX,
                                         least_px=layout.VIEW_LEAST_PX, ink=layout.ink()), key="inv_fig_images")
    kept = result.predictions == result.reference_class
    st.markdown(f"The original is read as **{explain_figures.class_name(result.reference_class, classes)}**; "
                f"**{int(kept.sum())} of {len(values)}** versions keep that reading. "
                + invariance_figures.verdict(result, classes))
    if not network.pretrained:
        chance = 1 / result.probabilities.shape[1]
        st.warning(f"With random weights this says nothing about invariance: the network gives its top class "
                   f"{result.favourite[1]:.2%} on average (chance is {chance:.2%}), and an untrained "
                   "network's reading is the same near-tie whatever it is shown. "
                   + model_input.trained_hint(network, "ask whether a trained network keeps its reading")
                   + " The layers' chart below still shows what the architecture alone does with a moved image.")
    charts.show(st, invariance_figures.confidence_figure(result, classes), key="inv_fig_confidence")
    charts.show(st, invariance_figures.correlation_figure(result), key="inv_fig_layers")
    st.caption("Pearson's r of each layer's whole output with the original's, position by position: 1 is the same "
               "output, 0 unrelated (Zeiler & Fergus measured the distance between the feature vectors instead). Rows "
               "are the convolutions, poolings, fully connected layers, additions and concatenations in forward "
               "order.")

state.publish(SETTINGS)
