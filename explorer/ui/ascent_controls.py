"""The controls of the "What excites a unit" page: what to optimise, and the step and regularisers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import streamlit as st
import torch

from explorer import image_param, labels, receptive_field, visualize
from explorer.ui import layout, memo, state
from explorer.ui.model_input import Network

MODE_LABELS = {"channel": "A channel", "unit": "One unit", "class": "A class", "invert": "Invert my image",
               "dream": "Dream on my image"}


@dataclass(frozen=True)
class Choice:
    """The goal with the words the page shows for it."""

    goal: visualize.Goal
    verb: str  # what the progress bar says
    title: str  # the animation's title
    value_axis: str  # what the value curve shows

    def channel_of_maps(self, network: Network) -> int | None:
        """The channel whose data-set top 9 belong beside the result (channel and unit goals on feature maps)."""
        layer = next((l for l in network.layers if l.name == self.goal.layer), None)
        spatial = layer is not None and len(layer.out_shape) == 3
        return self.goal.index if self.goal.mode in ("channel", "unit") and spatial else None


def settings() -> list[state.Setting]:
    d = visualize.READABLE
    return [
        state.Setting("wx_mode", "mode", "channel", state.choice(visualize.MODES)),
        state.Setting("wx_layer", "layer", ""),
        state.Setting("wx_channel", "channel", 0, state.index_below(100_000, "layer", "channels")),
        # its own setting: back from "A class", "A channel" shows the channel it showed
        state.Setting("wx_class", "class", 0, state.index_below(100_000, "model", "classes")),
        state.Setting("wx_minus", "minus", NONE, state.int_between(NONE, 100_000)),  # a channel subtracted
        state.Setting("wx_minus_class", "vs", NONE, state.int_between(NONE, 100_000)),  # a class subtracted
        state.Setting("wx_row", "row", -1, state.int_between(-1, 4096)),
        state.Setting("wx_col", "col", -1, state.int_between(-1, 4096)),
        state.Setting("wx_from_image", "start", False, state.boolean, state.dump_bool),
        state.Setting("wx_negative", "neg", False, state.boolean, state.dump_bool),
        state.Setting("wx_grid", "grid", False, state.boolean, state.dump_bool),
        state.Setting("wx_plain", "plain", False, state.boolean, state.dump_bool),
        state.Setting("wx_param", "param", "pixels", state.choice(image_param.PARAMS)),
        state.Setting("wx_steps", "steps", d.steps, state.int_between(1, 1024)),
        state.Setting("wx_step_size", "eta", d.step_size, state.float_between(0.001, 0.5)),
        state.Setting("wx_l2", "l2", d.l2, state.float_between(0.0, 1.0)),
        state.Setting("wx_tv", "tv", d.tv, state.float_between(0.0, 20.0)),
        state.Setting("wx_jitter", "jitter", d.jitter, state.int_between(0, 16)),
        state.Setting("wx_warp", "warp", False, state.boolean, state.dump_bool),
        state.Setting("wx_blur", "blur", d.blur_every, state.int_between(0, 64)),
        state.Setting("wx_norm", "rho", 0.0, state.float_between(0.0, 5.0)),
        state.Setting("wx_seed", "seed", 0, state.int_between(0, 9999)),
        state.Setting("wx_images", "imgs", 1, state.int_between(1, MOST_IMAGES)),
        state.Setting("wx_diversity", "div", DIVERSITY, state.float_between(0.0, 20.0)),
    ]


NONE = -1  # no channel (class) subtracted
MOST_IMAGES = 6
DIVERSITY = 1.0  # LeNet-5's and TinyVGG's channels: the images differ, most still excite the channel


def _layer_names(network: Network, mode: str) -> list[str]:
    """Layers a goal can use: feature maps for a unit, any output but the input's for the rest."""
    usable = [l for l in network.layers if l.type not in ("Normalize", "Flatten", "flatten")]
    return [l.name for l in usable if mode != "unit" or len(l.out_shape) == 3]


def _default_layer(network: Network, names: list[str]) -> str:
    convs = [l.name for l in network.layers if l.type == "Conv2d" and l.name in names]
    return convs[len(convs) // 2] if convs else names[len(names) // 2]


def pick_goal(network: Network) -> Choice:
    """Draw the goal's controls; the layer, channel and unit are kept within the network's."""
    mode = st.segmented_control("Optimise", visualize.MODES, key="wx_mode", format_func=MODE_LABELS.get, required=True)
    if mode == "class":
        return _pick_class(network)
    names = _layer_names(network, mode)
    if not names:
        st.warning("This model has no layer with feature maps, so no units: optimise a channel or a class instead.")
        st.stop()
    chosen = st.session_state.wx_layer
    default = state.page_default("wx_layer", _default_layer(network, names))
    if chosen not in names:
        st.session_state.wx_layer = default
        if chosen in {l.name for l in network.layers}:  # e.g. a fully connected layer, then "One unit"
            st.info(f"`{chosen}` has no feature maps, so no units: showing `{st.session_state.wx_layer}`.")
        elif chosen:
            st.warning(f"This model has no layer {labels.code(chosen[:40])}: showing `{st.session_state.wx_layer}`.")
    a, b, c = st.columns([5, 5, 6])  # the toggle with its help icon beside it: 183 px, whole from 1024 px up
    a.selectbox("Layer", names, key="wx_layer")
    layer = next(l for l in network.layers if l.name == st.session_state.wx_layer)
    if mode == "invert":
        return Choice(visualize.Goal("invert", layer.name), "Inverting", f"An image that {layer.name} sees as yours",
                      "relative error ||f(x) - f0||² / ||f0||²")
    if mode == "dream":
        st.caption("DeepDream (Mordvintsev et al. 2015): ascent on the mean of the layer's squared activations (on "
                   "its log, so a layer's scale does not matter), from your image. What the layer sees in it grows: "
                   "an early layer's strokes and edges, a deeper layer's parts. Fewer steps keep more of the image.")
        return Choice(visualize.Goal("dream", layer.name), "Dreaming", f"Your image, as {layer.name} dreams it",
                      "mean squared activation of the layer")
    count = layer.out_shape[0]
    kind = "channels" if len(layer.out_shape) == 3 else "outputs"
    state.at_most("wx_channel", "channel", count - 1, f"`{layer.name}` has {kind} 0..{count - 1}")
    b.number_input(f"{'Channel' if len(layer.out_shape) == 3 else 'Output'} (0..{count - 1})", 0, count - 1,
                   key="wx_channel")
    layout.toggle(c, "Start from my image", key="wx_from_image",
                  help="Off: from noise, as the lecture starts: x0 ~ N(0, 1) where the network computes (after its "
                       "normalisation), clipped to the pixels' 0..1; made of frequencies, from smooth random blobs.")
    negative = layout.toggle(c, "Negative", key="wx_negative",
                             help="Drive the activation down instead: the image the unit likes least, the other side "
                                  "of what it detects (Distill's negative visualisations).")
    unit = _pick_unit(layer.name, layer.out_shape[1:]) if mode == "unit" else None
    index, maps = int(st.session_state.wx_channel), len(layer.out_shape) == 3
    noun = "channel" if maps else "output"
    minus = None if unit else _pick_minus(b, "wx_minus", "minus", count, index, noun, lambda i: f"{noun} {i}")
    what = f"unit {unit} of channel {index}" if unit else f"{noun} {index}"
    if minus is not None:
        what += f" less {noun} {minus}"
    goal = visualize.Goal(mode, layer.name, index, unit, bool(st.session_state.wx_from_image), negative, minus)
    # the objective (see visualize): a fully connected layer's output is one number, its own mean
    value = "the unit's activation" if unit else "mean activation of the channel" if maps else "the output's value"
    if minus is not None:
        value = f"{noun} {index}'s {'mean activation' if maps else 'value'} less {noun} {minus}'s"
    if mode == "channel" and maps and _affine(network, layer.name):
        _warn_affine(network, layer.name)
    if negative:
        return Choice(goal, "Gradient descent", f"What drives {what} of {layer.name} down", value)
    return Choice(goal, "Gradient ascent", f"What excites {what} of {layer.name}", value)


def _affine(network: Network, layer: str) -> bool:
    return memo.computed("wx_affine", (network.key, layer), lambda report: visualize.affine_in_pixels(
        network.model, layer, network.spec.input_shape), lambda done, total: "Looking at the layer...", keep=64)


def _warn_affine(network: Network, layer: str) -> None:
    """A channel of a layer linear in the pixels has no pattern for its mean to find (visualize.affine_in_pixels)."""
    names = [l.name for l in network.layers]
    after = next((l.name for l in network.layers[names.index(layer) + 1:]
                  if isinstance(l.module, torch.nn.ReLU) or l.type == "relu"), None)
    st.warning(f"`{layer}` is linear in the pixels (no ReLU or pooling before it): its channel's mean weighs each "
               "pixel the same way wherever a pattern sits, so only the image's brightness and the border move it, "
               "and the ascent paints bands along the edges instead of a pattern. Optimise **One unit** (a first "
               "convolution's unit wants its kernel's own pattern)"
               + (f", or a layer after a ReLU, such as `{after}`." if after else "."))


def _pick_unit(layer: str, size: tuple[int, int]) -> tuple[int, int]:
    """The unit's row and column on ``layer``'s maps of ``size``: the middle one unless chosen (or the link's is not
    on them, which is named)."""
    for key, param, n, lines in (("wx_row", "row", size[0], "rows"), ("wx_col", "col", size[1], "columns")):
        if not 0 <= st.session_state[key] < n:
            if st.session_state[key] >= n and state.from_link(key):
                state.link_ignored(param, st.session_state[key],
                                   f"`{layer}`'s maps have {lines} 0..{n - 1}, so the middle one, {n // 2}, is shown")
            st.session_state[key] = n // 2
    a, b = st.columns(2)
    a.number_input(f"Row (0..{size[0] - 1})", 0, size[0] - 1, key="wx_row")
    b.number_input(f"Column (0..{size[1] - 1})", 0, size[1] - 1, key="wx_col")
    return int(st.session_state.wx_row), int(st.session_state.wx_col)


def _pick_class(network: Network) -> Choice:
    classes = network.spec.classes
    output = network.layers[-1]
    count = output.out_shape[0]
    _class_of_a_former_link()
    state.at_most("wx_class", "class", count - 1, f"this model has classes 0..{count - 1}")
    named = len(classes) == count
    a, b = st.columns(2)
    if named:
        a.selectbox("Class", range(count), key="wx_class", format_func=lambda i: str(classes[i]))
    else:
        st.info("This model has no class names: pick a class by its number.")
        a.number_input(f"Class (0..{count - 1})", 0, count - 1, key="wx_class")

    def name(i: int) -> str:
        return str(classes[i]) if named else f"class {i}"

    index = int(st.session_state.wx_class)
    minus = _pick_minus(b, "wx_minus_class", "vs", count, index, "class", name)
    goal = visualize.Goal("class", output.name, index, minus=minus)
    if minus is not None:  # Simonyan's ascent on a difference of two scores
        return Choice(goal, "Class model", f"What tells '{name(index)}' from '{name(minus)}'",
                      f"score of '{name(index)}' less score of '{name(minus)}'")
    return Choice(goal, "Class model", f"The network's idea of '{name(index)}'", "class score (before the softmax)")


def _pick_minus(cell, key: str, param: str, count: int, index: int, noun: str,
                name: Callable[[int], str]) -> int | None:
    """Lucent's objective arithmetic: a second channel (class) whose activation is subtracted from the first's, so
    the image shows what excites one and not the other; None for none. One off the layer (a link's) is said."""
    if st.session_state[key] >= count or st.session_state[key] == index:
        if st.session_state[key] >= count and state.from_link(key):
            state.link_ignored(param, st.session_state[key], f"there are {noun}s 0..{count - 1}")
        st.session_state[key] = NONE
    cell.selectbox(f"Less {noun}", [NONE, *(i for i in range(count) if i != index)], key=key,
                   format_func=lambda i: "none" if i == NONE else name(i),
                   help=f"Subtract another {noun}'s activation from this one's (Lucent's objective arithmetic, "
                        f"a - b): the image shows what excites this {noun} and not the other, what tells them apart.")
    return None if st.session_state[key] == NONE else int(st.session_state[key])


def _class_of_a_former_link() -> None:
    """A class link made when the class shared the channel's setting (``mode=class&channel=7``) opens class 7,
    and the link says ``class=7`` from then on; the channel goes back to its default."""
    if state.from_link("wx_channel") and not state.from_link("wx_class"):
        st.session_state.wx_class, st.session_state.wx_channel = st.session_state.wx_channel, 0
        state.mark_from_link("wx_class")  # a class the model lacks is still named in a warning


LARGE_STEPS = 256  # steps of a 224 px network on a CPU server: VGG16's 1,024 are over an hour, started by a link


def pick_config(several: bool = True, large_on_cpu: bool = False) -> visualize.AscentConfig:
    """Steps, step size, what the image is made of, how many images at once (``several``: the goal may make more than
    one) and the regularisers; "plain" turns every regulariser off. ``large_on_cpu``: an ImageNet-size network on a
    server without a GPU takes at most :data:`LARGE_STEPS` steps."""
    with st.expander("Steps, regularisers, several images", expanded=False):
        fourier = st.segmented_control(
            "The image is made of", image_param.PARAMS, key="wx_param", format_func=image_param.LABELS.get,
            required=True, help=PARAM_HELP) == "fourier"
        a, b, c = st.columns(3)
        a.slider("Steps", 1, 1024, key="wx_steps")
        b.slider("Adam's learning rate" if fourier else "Step size (brightness, 0..1)", 0.001, 0.5,
                 key="wx_step_size", step=0.001, format="%.3f",
                 help=("Adam's step on the image's frequencies (Lucent's 0.05)." if fourier else
                       "How far a step moves the pixels: the gradient divided by its root mean square, times this, "
                       "on the 0..1 brightness scale."))
        c.number_input("Seed (noise, jitter)", 0, 9999, key="wx_seed")
        plain = st.toggle("Plain ascent: no regularisers (the lecture's algorithm)", key="wx_plain",
                          help="Adam on the spectrum alone, no penalty, jitter or transform." if fourier else
                          "The lecture's step along the gradient, with two things it leaves implicit: the step is "
                          "the gradient over its root mean square, and the image stays in 0..1.")
        d, e, f, g, h = st.columns(5)
        d.slider("L2 (lambda)", 0.0, 1.0, key="wx_l2", step=0.01, disabled=plain)
        e.slider("Total variation (mu)", 0.0, 20.0, key="wx_tv", step=0.1, disabled=plain)
        f.slider("Jitter (pixels)", 0, 16, key="wx_jitter", disabled=plain)
        g.slider("Blur every k steps", 0, 64, key="wx_blur", disabled=plain or fourier,
                 help="0: never." + (" Pixels only: not part of the frequency method." if fourier else ""))
        h.slider("Keep ‖x‖ = ρ, per value", 0.0, 5.0, key="wx_norm", step=0.1, disabled=fourier,
                 help="The lecture's constraint ‖x‖ = ρ, measured where the network computes and per value, so that "
                      "one ρ suits a digit and a photo: after each step the image in the network's units (z, the "
                      "pixels after its normalisation) is rescaled so that its root mean square, ‖z‖ / √(number of "
                      "values), is ρ. The clip to 0..1 that follows may leave it lower. 0: free."
                      + (" Pixels only: a frequency image's sigmoid keeps it in 0..1." if fourier else ""))
        layout.toggle(st, "Scale and turn it too (Lucent's transforms)", key="wx_warp", disabled=plain,
                      help="Before each step's forward pass, each image is also scaled by 0.9 to 1.1 and turned by up "
                           "to 10 degrees about its centre (grey where it uncovers the border), drawn at random as "
                           "Lucent's standard transforms draw them: the pattern must excite the unit a little larger, "
                           "smaller or turned too, which leaves less noise that only one exact placement answers "
                           "(Olah et al. 2017's transformation robustness). The curve shows the image itself.")
        many = _pick_images(several)
    s = st.session_state
    if large_on_cpu and s.wx_steps > LARGE_STEPS:
        st.caption(f"{s.wx_steps} steps of an ImageNet-size network on this server's CPU would take over half an "
                   f"hour: {LARGE_STEPS} are taken (a server with a GPU takes them all).")
    steps = min(s.wx_steps, LARGE_STEPS) if large_on_cpu else s.wx_steps
    param, every = s.wx_param, _record_every(steps)
    norm, blur = (0.0, 0) if fourier else (s.wx_norm, s.wx_blur)
    images, diversity = (s.wx_images, s.wx_diversity) if many else (1, 0.0)
    if plain:
        return visualize.AscentConfig(steps=steps, step_size=s.wx_step_size, norm=norm, seed=s.wx_seed,
                                      record_every=every, param=param, images=images, diversity=diversity).checked()
    return visualize.AscentConfig(steps=steps, step_size=s.wx_step_size, l2=s.wx_l2, tv=s.wx_tv,
                                  jitter=s.wx_jitter, warp=s.wx_warp, blur_every=blur, norm=norm, seed=s.wx_seed,
                                  record_every=every, param=param, images=images, diversity=diversity).checked()


def _pick_images(several: bool) -> bool:
    """How many images at once and how much they must differ; whether more than one is made."""
    i, j = st.columns([1, 2])
    i.number_input("Images at once", 1, MOST_IMAGES, key="wx_images", disabled=not several,
                   help="Several images from different noise, optimised together." + (
                       "" if several else " Not here: an inversion, a dream or a start from your image makes one."))
    many = several and st.session_state.wx_images > 1
    j.slider("Diversity: how much they must differ", 0.0, 20.0, key="wx_diversity", step=0.1, disabled=not many,
             help="Lucid's diversity term (Olah et al. 2017): the images' likeness at the layer (the cosine between "
                  "their Gram matrices, which channels fire together wherever, summed over the pairs) is taken off "
                  "what is maximised, this many times. A unit often answers several different patterns (Nguyen et "
                  "al. 2016's facets); too much, and some images give up the unit to differ. 0: the same goal, "
                  "different noise.")
    return many


PARAM_HELP = (
    "Pixels: each step moves every pixel along its own gradient, mostly high-frequency noise the network happens "
    "to answer. Frequencies: the image is the inverse Fourier transform of coefficients that are each scaled by "
    "1 / frequency (colours decorrelated, as ImageNet's, through a sigmoid), stepped by Adam, so smooth patterns "
    "move first: Olah, Mordvintsev & Schubert (2017), Lucid's and Lucent's default (here from a livelier random "
    "start, and with jitter as the only transformation). Plain against plain it leaves less high-frequency noise; "
    "the pixel regularisers (blur, total variation) smooth more. Blur and ρ are for pixels.")


def _record_every(steps: int) -> int:
    """About 32 frames whatever the number of steps: enough to animate, light to send."""
    return max(1, steps // 32)


def unit_field(network: Network, goal: visualize.Goal, images: int = 1) -> tuple[int, int, int, int] | None:
    """For a unit goal, the input box its receptive field covers (clipped to the image); else None (and where the
    field is no box: a network that scrambles its pixels)."""
    if goal.mode != "unit" or goal.unit is None or images > 1:  # side by side, one box would mark the first only
        return None
    size = tuple(network.spec.input_shape[1:])
    try:
        top, left, bottom, right = memo.computed(
            "wx_field", (network.key, goal.layer, goal.unit),
            lambda report: receptive_field.rf_box(network.model, goal.layer, goal.unit, size),
            lambda done, total: "Finding the unit's receptive field...", keep=64)
    except NotImplementedError:
        return None
    return max(top, 0), max(left, 0), min(bottom, size[0]), min(right, size[1])
