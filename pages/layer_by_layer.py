"""Layer by layer: one image through a network, every layer's output, kernels and arithmetic."""

import streamlit as st
import torch

from explorer import figures, inputs, inspect, labels, memory, mosaic, softmax
from explorer.ui import channel_links, charts, kernels_tab, layout, model_input, one_value, probing, state

layout.page_setup(layout.PAGES[2])
st.title("Layer by layer")
st.markdown(
    "A network is a stack of simple steps: walk an image through them, one layer at a time, from its shape, "
    "parameters and feature maps to the prediction. Give each network the kind of image it learned from: a digit "
    "for LeNet-5, a shape for TinyVGG, a photo for the ImageNet networks."
)

MAPS_PER_PAGE = 16
FIRST_PAGES = {"lbl_maps": 1, "lbl_kpage": 1, "lbl_kin": 1}  # a layer of its own starts on its first pages
TABS = ("Output", "Kernels", "Whole network", "Probe each layer")
SETTINGS = [
    *model_input.settings(),
    state.Setting("lbl_layer", "layer", ""),
    state.Setting("lbl_maps", "maps", 1, state.int_between(1, 4096)),
    state.Setting("lbl_kpage", "kpage", 1, state.int_between(1, 4096)),
    state.Setting("lbl_send_index", "send", 0, state.int_between(0, 10**6)),  # the filter to try in the Kernel Lab
    state.Setting("lbl_kin", "kin", 1, state.int_between(1, 4096)),
    state.Setting("lbl_own_scale", "own", True, state.boolean, state.dump_bool),
    state.Setting("lbl_look", "look", False, state.boolean, state.dump_bool),
    state.Setting("lbl_closer", "closer", 0, state.index_below(4096, "layer", "maps")),
    state.tab_setting("lbl_tab", TABS),
    *one_value.settings(),
]
state.restore(SETTINGS)


def step(delta: int, names: list[str]) -> None:
    """Previous / next layer (a button callback, so it runs before the slider is drawn)."""
    here = names.index(st.session_state.lbl_layer)
    st.session_state.update(lbl_layer=names[min(max(here + delta, 0), len(names) - 1)], **FIRST_PAGES)


view, network, picked = model_input.controls(SETTINGS, model_bound=("lbl_layer", *FIRST_PAGES))

layers = list(network.layers)
names = [layer.name for layer in layers]
state.page_default("lbl_layer", names[0])
if st.session_state.lbl_layer not in names:
    if st.session_state.lbl_layer:
        view.warning(f"This model has no layer {labels.code(st.session_state.lbl_layer[:40])}: starting at the first one.")
    st.session_state.update(lbl_layer=names[0], **FIRST_PAGES)

with view, layout.guard("running the network"):
    prepared = inputs.prepare(network.spec, picked[1])
    outputs = model_input.activations(network, prepared.tensor)
    # in float64, and ranked by score: float32's softmax gave TinyVGG's runners-up 0 each, in any order
    scores = outputs[names[-1]].flatten().double()
    probabilities = torch.softmax(scores, 0)
    # buttons as wide as their words (columns cut "Previous" at 1280 px), the slider beside them in the rest: under
    # it, they had pushed the maps below a 1280 x 720 projector's screen
    row = st.container(horizontal=True, vertical_alignment="bottom")
    index = names.index(st.session_state.lbl_layer)
    row.button("Previous", key="lbl_prev", on_click=step, args=(-1, names), icon=":material/arrow_back:",
               disabled=index == 0)
    row.button("Next", key="lbl_next", on_click=step, args=(1, names), icon=":material/arrow_forward:",
               disabled=index == len(names) - 1)
    row.select_slider("Layer", names, key="lbl_layer",
                      on_change=lambda: st.session_state.update(FIRST_PAGES))
    layer, out = layers[index], outputs[st.session_state.lbl_layer]
    st.subheader(f"{index + 1} of {len(layers)}: `{layer.name}` ({layer.type})")
    st.markdown(inspect.summary_table(layer))
    for line in inspect.formula(layer):
        st.markdown(line)
    if isinstance(layer.module, torch.nn.ReLU) or layer.type == "relu":
        st.caption(f"{inspect.zero_share(out):.0%} of this layer's outputs are exactly 0.")
    tab_maps, tab_kernels, tab_net, tab_probes = state.tabs("lbl_tab", TABS)

with tab_maps, layout.guard("drawing the layer's output"):
    left, right = st.columns([2, 5])
    with left:
        # as tall as a narrow column draws it (105 to 180 px wide), any spare room below: in 280 px it sat
        # between empty bands
        picture = figures.image_figure(prepared.tensor, "Model input", height=200)
        charts.show(st, picture.update_yaxes(constraintoward="top"), key="lbl_fig_input")
        model_input.conversion_note(prepared)
        named = [(network.spec.classes[i] if i < len(network.spec.classes) else str(i), float(probabilities[i]))
                 for i in scores.topk(min(3, len(scores))).indices.tolist()]
        st.markdown(f"**Prediction:** {named[0][0]} ({labels.share(named[0][1])})"
                    + ("" if network.pretrained else " (random weights)"))
        if len(named) > 1:  # the runners-up, as the last layer's bars show them
            st.caption("Then " + ", ".join(f"{name} ({labels.share(p)})" for name, p in named[1:]) + ".")
    with right:
        if out.dim() == 3 and out.shape[1] * out.shape[2] > 1:
            pages = (out.shape[0] + MAPS_PER_PAGE - 1) // MAPS_PER_PAGE
            state.at_most("lbl_maps", "maps", pages, f"`{layer.name}`'s {out.shape[0]} maps fill "
                          f"{pages} {labels.plural(pages, 'page')}")
            first = (st.session_state.lbl_maps - 1) * MAPS_PER_PAGE
            title = f"{out.shape[0]} feature {labels.plural(out.shape[0], 'map')} of {out.shape[1]} x {out.shape[2]}"
            charts.show(st, mosaic.maps_figure(out[first:first + MAPS_PER_PAGE], first, title,
                                               st.session_state.lbl_own_scale, width_px=layout.VIEW_PX * 5 // 7),
                        key="lbl_fig_maps")
            if pages > 1:
                layout.cells(1, layout.SETTING_PX)[0].number_input(f"Maps page (of {pages})", 1, pages, key="lbl_maps")
            layout.toggle(st, "Scale each map", key="lbl_own_scale", help="On: each map on its own colour scale "
                          "(its shape shows); off: one scale for all (their strengths compare).")
            look = st.expander("Look closer at one map (point at or tap a value)", key="lbl_look", on_change="rerun")
            if look.open:  # drawn only while open; open or shut, it is in the link
                with look:  # a link's map the layer lacks is named here, above the box it concerns
                    last = out.shape[0] - 1
                    state.at_most("lbl_closer", "closer", last, f"`{layer.name}` has maps 0..{last}")
                    closer = st.number_input("Map", 0, last, key="lbl_closer")
                    one_value.closer_look(layer, out, closer)
                    if layer.type != "Normalize":  # the input: no channel of the network's own
                        channel_links.draw(layer.name, closer, "pages/layer_by_layer.py")
        elif index == len(layers) - 1:
            charts.show(st, mosaic.prediction_figure(probabilities, network.spec.classes), key="lbl_fig_pred")
        else:  # a vector, or 1x1 maps (global pooling): one value each, as bars rather than one-colour tiles
            what = f"{out.shape[0]:,} maps of 1 x 1" if out.dim() == 3 else f"{out.numel():,} values"
            charts.show(st, mosaic.vector_figure(out.flatten(), what), key="lbl_fig_vector")
    if index == len(layers) - 1:  # the whole view's width: beside the input, its divisions were cut off
        st.markdown("**The softmax, written out:** $p_k = e^{z_k} / \\sum_j e^{z_j}$, from the scores $z$ of the "
                    "last layer (the logits); the largest exponential takes the largest share.")
        written = softmax.written_out(out.flatten(), network.spec.classes)
        st.dataframe(softmax.table(written), key="lbl_softmax", hide_index=True, height="content")
        if written.shift:
            st.caption(f"Every score was first lowered by {written.shift:,.2f}, the largest: e^z itself is out of a "
                       "computer's range here. The exponentials are e^(z - that), the probabilities the same.")
    if isinstance(layer.module, torch.nn.Conv2d):  # CNN Explainer's view, on this network's own maps
        one_value.draw(layer, outputs[layer.source] if layer.source else prepared.tensor, out)
    else:
        one_value.leave_out()

with tab_kernels, layout.guard("drawing the kernels"):
    kernels_tab.draw(layer, layers)

with tab_net, layout.guard("listing the layers"):
    with_maps = [(name, outputs[name]) for name in names if outputs[name].dim() == 3 and outputs[name][0].numel() > 1]
    if with_maps:
        charts.show(st, mosaic.overview_figure(with_maps, width_px=layout.VIEW_LEAST_PX), key="lbl_fig_overview")
        st.caption("Each row: a layer's first 8 feature maps of this image, each on its own scale and coloured as on "
                   "the Output tab: dark = 0, yellow = its highest; blue < 0 < red for a map with values below 0. "
                   "Fully connected layers have no maps: the table lists them.")
    table = inspect.rows_for_display(layers)
    # whole where it is short (ten rows, then a scroll, hid LeNet-5's last three layers); a long one scrolls
    st.dataframe(table, key="lbl_table", hide_index=True, height="content" if len(table) <= 30 else "auto",
                 column_config={name: st.column_config.NumberColumn(format="localized")
                                for name in ("parameters", "multiply-adds")})
    st.caption(f"{inspect.totals(layers)}. {memory.in_words(layers)}")
    st.markdown("**The lecture's famous networks, measured here** (torchvision's architectures; LeNet-5 is this "
                "app's)")
    rows = model_input.famous_table()
    st.dataframe([{k: v for k, v in row.items() if k != "note"} for row in rows], key="lbl_famous", hide_index=True)
    st.markdown("\n".join(f"- **{row['network']}:** {row['note']}" for row in rows))
    st.caption("Deck: the lecture's figure (a dash: it gives none); here: counted in this app. Layers: the depth, "
               "as papers count it: the layers with weights (convolutions and fully connected layers) on the "
               "longest path from input to output. GoogLeNet's 22 run through 57 convolutions, many side by side; "
               "ResNet18's 3 shortcut convolutions sit beside its 18.")

with tab_probes, layout.guard("probing the layers"):
    st.markdown("**How much does each layer know about the class?** Train a linear classifier on each layer's "
                "output alone and test it (Zeiler & Fergus's experiment, in the lecture).")
    if tab_probes.open:  # some seconds of work: only when asked for
        state.publish(SETTINGS)  # the link names this tab before them (it kept the last tab's for ~15 s)
        probing.draw(network)

state.publish(SETTINGS)
