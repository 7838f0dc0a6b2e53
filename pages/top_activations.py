"""Top activations: for every channel of a layer, the images of a data set that excite it most."""

import functools

import streamlit as st
import torch

from explorer import deconvnet, inputs, labels, mosaic, top_activations
from explorer.ui import channel_grid, channel_links, charts, evolution, image_sets, layout, model_input, state

layout.page_setup(layout.PAGES[4])
st.title("Top activations")
st.markdown(
    "What does a channel look for? Run a whole data set through the network and keep, for every channel, "
    "the 9 images that excite it most (Zeiler & Fergus 2014), and the **patch** each of them shows the "
    "channel: the receptive field of its strongest unit. Early channels want edges and blobs; deeper ones, "
    "larger patterns. For a network trained on the Train page, see a channel form over the epochs."
)

PER_PAGE = 32
GRID_PX = 340  # the channels' grid: its height is worked out for this width (which a 1024 px window has)
LINKED = model_input.linked_spec()  # the defaults follow the model the link names
SETTINGS = [
    *model_input.settings(LINKED),
    *image_sets.settings(image_sets.default_source(LINKED)),
    state.Setting("ta_layer", "layer", ""),
    state.Setting("ta_channel", "channel", 0, state.index_below(4096, "layer", "channels")),
    state.Setting("ta_page", "chpage", 0, state.int_between(1, 128)),  # 0: the page of the channel shown
    state.Setting("ta_low", "low", False, state.boolean, state.dump_bool),
    state.Setting("ta_other", "other", False, state.boolean, state.dump_bool),
    state.Setting("ta_proj", "proj", False, state.boolean, state.dump_bool),
    state.Setting("ta_projby", "projby", "deconvnet", state.choice(deconvnet.RULES)),
]
RULE_LABELS = {"deconvnet": "Deconvnet", "guided": "Guided backprop", "gradient": "Gradient"}
state.restore(SETTINGS)


view, network, picked = model_input.controls(SETTINGS, need_image=False,
                                             model_bound=("ta_layer", "ta_channel", "ta_page"))

result = None  # the search's, unless it failed (named by the guard): then nothing below it is drawn
with view, layout.guard("finding the top activations"):
    spatial = [layer for layer in network.layers if len(layer.out_shape) == 3 and layer.type != "Normalize"]
    names = [layer.name for layer in spatial]
    convs = [layer.name for layer in spatial if layer.type == "Conv2d"]
    default = state.page_default("ta_layer", convs[len(convs) // 2] if convs else names[0])
    if st.session_state.ta_layer not in names:
        if st.session_state.ta_layer:
            st.warning(model_input.not_a_map_layer(network.layers, st.session_state.ta_layer,
                                                   "pick a conv or pooling layer"))
        st.session_state.ta_layer = default
    a, b = st.columns([3, 4])
    a.selectbox("Layer", names, key="ta_layer", on_change=lambda: st.session_state.update(ta_page=0))
    low = layout.toggle(a, "Lowest 9", key="ta_low", help="The images that drive each channel down most (its lowest "
                        "response anywhere), the other side of what it detects; below 0 only before a ReLU.")
    other = layout.toggle(a, "The other side too", key="ta_other", help="Under the channel's 9, the 9 of the other "
                          "side: what drives it most and least on one screen, as Distill's feature pages show them.")
    projected = layout.toggle(a, "Projected back", key="ta_proj", help="Beside the patches, each strongest unit "
                              "(each lowest, with Lowest 9) passed back down to the pixels alone, as Zeiler & Fergus "
                              "show their top 9: what in the patch the unit answers to.")
    if projected:
        a.selectbox("Projected by", deconvnet.RULES, key="ta_projby", format_func=RULE_LABELS.get,
                    help="How each ReLU passes the signal back: the deconvnet keeps what comes back above 0, the "
                    "gradient passes where the input was above 0, guided backprop both.")
    rule = st.session_state.ta_projby if projected else None  # each top unit projected back by this rule
    layer = next(l for l in spatial if l.name == st.session_state.ta_layer)
    with b:
        images_set = image_sets.pick_images(network.spec)
    channels = layer.out_shape[0]
    chosen = st.session_state.ta_channel  # for another layer, it may be past this one's last channel: said
    state.at_most("ta_channel", "channel", channels - 1, f"`{layer.name}` has channels 0..{channels - 1}")
    if chosen > channels - 1 and not state.from_link("ta_channel"):
        st.caption(f"Channel {chosen} is past `{layer.name}`'s {channels} channels: channel {channels - 1} is shown.")
    pages = -(-channels // PER_PAGE)
    own_page = state.page_default("ta_page", st.session_state.ta_channel // PER_PAGE + 1)  # left out of the link
    if not st.session_state.ta_page:
        st.session_state.ta_page = own_page
    state.at_most("ta_page", "chpage", pages, f"`{layer.name}`'s {channels} channels fill {pages} "
                  f"{labels.plural(pages, 'page')}")
    # before the search: a link copied meanwhile, or on a page whose images are missing, is the view in use (with
    # the channels' page the page picks known: else it went into the link, and left it again, two steps of history)
    state.publish(SETTINGS)
    if images_set is None:
        st.stop()
    result = image_sets.top9(network, layer.name, images_set, lowest=low)

    st.subheader(f"The {channels} channels of `{layer.name}`: each one's {'lowest' if low else 'strongest'} patch")
    page = st.number_input(f"Channels page (of {pages})", 1, pages, key="ta_page") if pages > 1 else 1
    first = (page - 1) * PER_PAGE
    shown = range(first, min(first + PER_PAGE, channels))
    best = [top_activations.patches(result, images_set.images, network.model, images_set.size, c)[0] for c in shown]
    grid = f"ta_grid_{layer.name}_{first}_{st.session_state.ta_channel}"  # a fresh grid for each view: none selected
    clickable = mosaic.images_figure(best, [f"{c}" for c in shown], "Click a channel", clickable=True, side=56,
                                     width_px=GRID_PX, selected=int(st.session_state.ta_channel) - first,
                                     ink=layout.ink())
    charts.show(layout.cells(1, GRID_PX)[0], clickable, key=grid, selection_mode="points",
                on_select=functools.partial(channel_grid.open_clicked, grid, first, "ta_channel"),
                name=f"Channels {shown[0]} to {shown[-1]} of {layer.name}, each by its "
                     f"{'lowest' if low else 'strongest'} patch")
    st.number_input("Channel", 0, channels - 1, key="ta_channel", on_change=lambda: st.session_state.update(ta_page=0))

if result is None:
    st.stop()
with view, layout.guard("showing the channel"):
    channel = int(st.session_state.ta_channel)
    values = result.values[channel]
    st.subheader(f"Channel {channel}: its {'lowest' if low else 'top'} {result.k} of {images_set.about}")
    patches = ("Their patches" + ("" if rule else " (receptive fields)") if top_activations.has_patches(network.model)
               else "Whole again" + ("" if rule else " (its units see scattered pixels)"))  # three grids: short titles
    image_sets.draw_top9(network, result, images_set, channel, (
        f"Its {'lowest' if low else 'top'} {result.k}, whole" if other else "Whole images", patches), "ta", lowest=low,
        projected=rule)
    if other:  # what drives it least under what drives it most, or the other way round
        side, opposite = "top" if low else "lowest", image_sets.top9(network, layer.name, images_set, lowest=not low)
        st.markdown(f"**The other side: its {side} {opposite.k}**")
        image_sets.draw_top9(network, opposite, images_set, channel, (f"Its {side} {opposite.k}, whole", patches),
                             "ta_other", lowest=not low, projected=rule, explained=False)
    if isinstance(layer.module, torch.nn.Conv2d):
        maps, most = layer.module.in_channels, 16  # the figure draws at most 16 input maps
        shown_maps = f"{maps} input {labels.plural(maps, 'map')}"
        if maps > most:
            shown_maps = f"the first {most} of its {shown_maps}"
        charts.show(st, mosaic.kernels_figure(layer.module.weight[channel:channel + 1].detach(),
                                              f"Its kernel ({shown_maps})", max_in=most, height=200,
                                              width_px=layout.VIEW_PX), key="ta_kernel")
    if picked is not None:
        prepared = inputs.prepare(network.spec, picked[1])
        response = model_input.activations(network, prepared.tensor)[layer.name][channel]
        own = (response.min() if low else response.max()).item()  # as the data set's images are ranked
        rank = top_activations.rank(values, own, lowest=low)
        at, kind, past, last = ((" at its lowest", "lowest", "above", "lowest") if low else ("", "top", "below", "best"))
        st.markdown(f"**Your image** ({picked[0]}) drives channel {channel} to **{own:.3g}**{at}: "
                    + (f"it would rank **{rank}** among the {kind} {result.k}." if rank <= result.k else
                       f"{past} the {labels.ordinal(result.k)} {last} ({values[-1]:.3g}) of the data set."))
    channel_links.draw(layer.name, channel, "pages/top_activations.py")

if network.spec.name.startswith("run:"):  # a run keeps its weights at the lecture's epochs
    with view, layout.guard("following the channel over training"):
        evolution.draw(network, layer.name, int(st.session_state.ta_channel), images_set, lowest=low)

state.publish(SETTINGS)
