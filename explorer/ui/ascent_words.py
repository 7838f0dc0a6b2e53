"""What "What excites a unit" says about an optimisation's result: a remark where one is needed, the values of
several images, how the network reads a class model, and how the image relates to the data set's top 9."""

from __future__ import annotations

import torch

from explorer import explain_figures, labels, visualize
from explorer.ui import memo, model_input
from explorer.ui.ascent_controls import Choice
from explorer.ui.model_input import Network


def remark(choice: Choice, frames: list[visualize.Frame], config: visualize.AscentConfig) -> str:
    """A sentence on a result that needs one: a dead unit, a descent stopped by a ReLU, or an inversion that ended
    well above its lowest error; and what the image was made of, when not of pixels."""
    made = (" The image was made of frequencies, not pixels (Olah et al. 2017; see Steps and regularisers)."
            if config.param == "fourier" else "")
    return _remark(choice, frames, config) + made


def _remark(choice: Choice, frames: list[visualize.Frame], config: visualize.AscentConfig) -> str:
    values = [f.value for f in frames]
    if choice.goal.mode in ("channel", "unit") and max(values) == 0:
        return (" The activation stayed at 0: after a ReLU a unit at 0 has no gradient, so the ascent cannot "
                "start. Try another seed, start from your image, or pick the layer before the ReLU.")
    if choice.goal.negative and values[0] > 0 and min(values) == 0:
        return (" It went down to 0, the least a ReLU's output can be, and no lower: pick the layer before the ReLU "
                "to see what drives the channel below 0.")
    if (lowest := well_below_last(frames)) is not None:  # the text quoted only the last
        why = (f" Jitter shifts the image by up to {config.jitter} pixels each step, so the error jumps from step "
               "to step." if config.jitter else "")
        low = labels.alike(values[0], lowest.value, values[-1])[1]  # as the page writes the first and the last
        return f" The lowest was **{low}**, at step {lowest.step}: its image is under yours.{why}"
    return ""


def well_below_last(frames: list[visualize.Frame]) -> visualize.Frame | None:
    """An inversion's lowest-error frame (with its image) where it is well below the last one's error."""
    lowest = visualize.lowest(frames)
    return lowest if lowest is not None and lowest.value < 0.67 * frames[-1].value else None


def several_values(frames: list[visualize.Frame], config: visualize.AscentConfig) -> str:
    """For several images at once: each one's value at the end (a sentence)."""
    if not frames[-1].values:
        return ""
    values = ", ".join(labels.alike(*frames[-1].values))
    return (f" The {len(frames[-1].values)} images, left to right: **{values}** (the curve is their mean); diversity "
            f"{config.diversity:g}.")


def read_back(choice: Choice, network: Network, image: torch.Tensor) -> str:
    """For a class model: how the network reads the image it drew for the class (a sentence); for several images,
    how many of them it reads as the class."""
    if choice.goal.mode != "class":
        return ""
    probabilities = memo.computed(  # once per image: the page reruns on every widget change
        "wx_read_back", (network.key, model_input.image_key(image)),
        lambda report: visualize.class_probabilities(network.model, image),
        lambda done, total: "Reading the image back through the network...", keep=16)
    target = choice.goal.index
    # named as the class picker names them: by number when the names do not match the outputs
    classes = network.spec.classes if len(network.spec.classes) == probabilities.shape[-1] else ()

    def name(index: int) -> str:
        return explain_figures.class_name(index, classes)

    if probabilities.dim() == 2:
        read = int((probabilities.argmax(1) == target).sum())
        return (f" Shown to the network, **{read} of the {len(probabilities)}** images are read as "
                f"**{name(target)}** ({', '.join(labels.percents(*probabilities[:, target].tolist()))}).")
    top = int(probabilities.argmax())
    first, second = labels.percents(float(probabilities[top]), float(probabilities[target]))
    if top == target:
        return f" Shown to the network, this image is read as **{name(target)}** with **{first}**."
    return (f" Shown to the network, this image is read as **{name(top)}** ({first}); {name(target)} gets "
            f"{second}: the ascent raised {name(target)}'s score, and another class's score is higher still.")


def beside_top9(mode: str, negative: bool = False) -> str:
    """How the optimised image above relates to the data set's top 9 and their patches below."""
    if negative:
        return ("Above, what drives the channel down; here, the real images that drive it down most (their lowest "
                "response anywhere): the other side of what it detects.")
    if mode == "unit":
        return ("Above, what one unit of the channel was optimised to see: only its receptive field (outlined in "
                "orange) matters to it (outside, only the regularisers change the image). Here, the channel's best "
                "matches anywhere in real data, each cut to one unit's field.")
    return ("Above, what the channel was optimised to see; here, what excites it in real data. The optimised image "
            "shows the pattern everywhere at once, the patches show it once each. The numbers differ too: above, "
            "the channel's mean over its whole map; here, its strongest response at one position.")
