"""What excites a unit: the image a channel, a unit or a class wants to see, made by gradient ascent."""

import streamlit as st
import torch

from explorer import explain_figures, export, inputs, labels, visualize
from explorer.ui import (ascent_controls, ascent_words, channel_grid, channel_links, charts, image_sets, layout,
                         model_input, optimisation, state)

layout.page_setup(layout.PAGES[5])
st.title("What excites a unit")
st.markdown(
    "Start from noise, ask the network how a unit's activation changes with each pixel (the gradient), "
    "nudge the pixels that way, repeat: the image that forms is what the unit looks for (Erhan et al. 2009). "
    "The same ascent on a class score draws the network's idea of a class (Simonyan et al. 2014), and run "
    "backwards from a layer it shows what that layer kept of your image (Mahendran & Vedaldi 2015), and on your "
    "image it dreams: what a layer sees in it grows (DeepDream). "
    "Beside it, the data set's images that excite the same channel most."
)

LINKED = model_input.linked_spec()  # the defaults follow the model the link names
SETTINGS = [
    *model_input.settings(LINKED),
    *image_sets.settings(image_sets.default_source(LINKED)),
    *ascent_controls.settings(),
]
state.restore(SETTINGS)
# the image matters to an inversion and to an ascent that starts from it; else its picker is folded away (a class
# model beside "Sample image: Digit 3" looked as if it started from the 3)
uses_image = visualize.Goal(st.session_state.wx_mode, "", from_image=bool(st.session_state.wx_from_image)).needs_image
view, network, picked = model_input.controls(SETTINGS, need_image=uses_image,
                                             model_bound=("wx_layer", "wx_channel", "wx_class", "wx_row", "wx_col",
                                                          "wx_minus", "wx_minus_class"))

with view, layout.guard("setting up the optimisation"):
    # the image's shape is the ascent's; a drawing not yet made, where no image is needed, is a blank one
    image = inputs.prepare(network.spec, picked[1]).tensor if picked is not None else torch.zeros(
        network.spec.input_shape)
    choice = ascent_controls.pick_goal(network)
    goal = choice.goal
    config = ascent_controls.pick_config(several=goal.mode in ("channel", "unit", "class") and not goal.needs_image,
                                         large_on_cpu=network.spec.input_size > 64 and not torch.cuda.is_available())
    key = (network.key, goal, config, model_input.image_key(image) if goal.needs_image else "")
state.publish(SETTINGS)  # before the ascent: a link copied meanwhile is the view being made, its values checked

with view, layout.guard("optimising the image"):
    several = config.images > 1  # side by side across the page, the curve below
    left, middle = (st.container(), st.columns(2)[0]) if several else st.columns(2)
    with left:
        outcome = optimisation.run(key, lambda: goal.frames(network.model, config, image), config.steps,
                                   choice.verb)
    shown = visualize.recorded(outcome.frames)
    if outcome.stopped:  # the step of the image shown (a step stopped halfway has its value, not its image)
        st.warning(f"Stopped at step {shown[-1].step if shown else outcome.last_step} of {config.steps}: this is "
                   "what was made so far.")
    if not network.pretrained:
        st.info("Random weights: the image shows what untrained filters happen to respond to, not a learned "
                "feature. " + model_input.trained_hint(network, "see what training made it look for"))
    if shown:
        charts.show(left, explain_figures.animation_figure([visualize.side_by_side(f.image) for f in shown],
                                                           [f.step for f in shown], choice.title, 300 if several
                                                           else 380, layout.VIEW_LEAST_PX // (1 if several else 2) - 8,
                                                           box=ascent_controls.unit_field(network, goal, config.images)),
                    key="wx_fig_animation")
        charts.show(middle, explain_figures.value_figure([f.step for f in outcome.frames],
                                                         [f.value for f in outcome.frames],
                                                         "Step by step", choice.value_axis), key="wx_fig_value",
                    name=f"{choice.title}: {choice.value_axis} step by step")
        start, end = labels.alike(outcome.frames[0].value, outcome.frames[-1].value)
        middle.markdown(f"{choice.value_axis.capitalize()}: **{start}** at the start, **{end}** at step "
                        f"{outcome.last_step}." + ascent_words.remark(choice, outcome.frames, config)
                        + ascent_words.several_values(outcome.frames, config)
                        + ascent_words.read_back(choice, network, shown[-1].image))
        made = visualize.side_by_side(shown[-1].image).cpu()
        middle.download_button(
            "Download the image (PNG)", export.png_bytes(made), icon=":material/download:", key="wx_png",
            on_click="ignore",  # a download needs no rerun of the page
            file_name="-".join(labels.file_stem(part, 60) for part in (choice.title, network.spec.name)) + ".png",
            mime="image/png", help=f"The image at step {shown[-1].step}, exactly its {made.shape[-1]} x "
                                   f"{made.shape[-2]} pixels" + (", the images side by side" if several else "") + ".")
        if goal.needs_image:
            charts.show(middle, explain_figures.picture_figure(image, "Your image (what is inverted)" if goal.mode ==
                                                               "invert" else "Your image (where it started)",
                                                               height=260), key="wx_fig_original")
        if (lowest := ascent_words.well_below_last(outcome.frames)) is not None:
            charts.show(middle, explain_figures.picture_figure(lowest.image.cpu(), f"The lowest error, at step "
                                                               f"{lowest.step}", height=260), key="wx_fig_lowest")

with view, layout.guard("optimising every channel"):
    channel_grid.draw(network, goal, config, image)

state.publish(SETTINGS)  # the link follows a click on the grid now, not after the data set's search below
with view, layout.guard("finding the data set's top 9"):
    if choice.channel_of_maps(network) is not None:
        verb = "drives" if goal.negative else "excites"  # beside a negative, the images that drive it down most
        st.subheader(f"What {verb} channel {goal.index} of `{goal.layer}` {'down ' * goal.negative}in real images")
        with st.columns([2, 1])[0]:
            images_set = image_sets.pick_images(network.spec)
        if images_set is not None:
            result = image_sets.top9(network, goal.layer, images_set, lowest=goal.negative)
            image_sets.draw_top9(network, result, images_set, goal.index, (
                f"Its lowest {result.k}" if goal.negative else f"Its top {result.k}", "The patches they show it"),
                "wx_fig", lowest=goal.negative)
            st.caption(f"Searched: {images_set.about}. " + ascent_words.beside_top9(goal.mode, goal.negative))
        channel_links.draw(goal.layer, goal.index, "pages/what_excites.py")

state.publish(SETTINGS)
