"""Receptive fields: which input pixels a unit sees, where its gradient gathers, how the field grows."""

import streamlit as st
import torch

from explorer import field_figures, figures, inputs, labels, mosaic, receptive_field
from explorer.ui import charts, layout, model_input, state

layout.page_setup(layout.PAGES[3])
st.title("Receptive fields")
st.markdown(
    "A unit of a feature map is computed from a patch of the input, its **receptive field**: nothing "
    "outside it can change the unit. Stacked convolutions grow it a little, pooling and strides grow it "
    "fast. Click a unit on the map to see its field on the image: the exact box (solid), the textbook "
    "box (dashed, it ignores the border) and the **effective** field, where the unit's gradient gathers."
)

RF_TABLE_WIDTHS = {"layer": 70, "operation": 124, "map": 46, "r": 30, "j": 30, "start": 40, "r from": 96,
                   "j from": 46, "start from": 112}
TABS = ("One unit", "All layers", "Predict, then check")
SIDE_PATHS = ("branch", "downsample", "shortcut")  # names of layers beside a network's main path
LONG_NAME = 16  # characters of a layer's name that share the map title's line with its unit at 1280 px
SETTINGS = [
    *model_input.settings(),
    state.Setting("rf_layer", "layer", ""),
    state.Setting("rf_unit", "unit", "", dump=str),
    state.tab_setting("rf_tab", TABS),
]
state.restore(SETTINGS)


@st.cache_data(show_spinner="Following the gradient back to the input...", max_entries=64)
def effective_fields(key: str, layer: str, unit: tuple[int, int], digest: str,
                     _network: model_input.Network, _image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, str]:
    """The effective field on this image and averaged over typical inputs of the model."""
    batch, about = inputs.reference_batch(_network.spec, 16 if _network.spec.input_size <= 64 else 4)
    return (receptive_field.effective(_network.model, layer, _image, unit),
            receptive_field.effective(_network.model, layer, batch, unit), about)


def parse_unit(text: str, size: tuple[int, int]) -> tuple[int, int] | None:
    """"y,x" from the link; None where it names no unit of a map of ``size``."""
    try:
        y, x = (int(v) for v in text.split(","))
    except ValueError:
        return None
    return (y, x) if 0 <= y < size[0] and 0 <= x < size[1] else None


def _typed_unit() -> None:
    """The unit's row or column was typed (a keyboard, where a click on the map is out of reach)."""
    st.session_state.rf_unit = f"{st.session_state.rf_row},{st.session_state.rf_col}"


def default_layer(spatial: list[receptive_field.Field]) -> str:
    """The middle convolution of the main path: deep enough to see a patch, shallow enough to see a box (GoogLeNet's
    had been a 1 x 1 bottleneck inside one branch of an Inception block)."""
    convs = [f.name for f in spatial if f.op[0].isdigit() and "x" in f.op and "stride" in f.op]
    main = [name for name in convs if not any(side in name for side in SIDE_PATHS)] or convs
    return main[len(main) // 2] if main else spatial[len(spatial) // 2].name


def layer_table(rows: list[dict], key: str) -> None:
    """A table with a row per layer: whole when it is short; long cells (ResNet's) widen their column and the
    layer's name stays in sight while it scrolls."""
    widths = labels.column_widths(rows, {name: RF_TABLE_WIDTHS[name] for name in rows[0]})
    st.dataframe(rows, key=key, hide_index=True, height="content" if len(rows) <= 30 else "auto",
                 column_config={name: st.column_config.Column(width=width, pinned=name == "layer")
                                for name, width in widths.items()})


view, network, picked = model_input.controls(SETTINGS, model_bound=("rf_layer", "rf_unit"))
with view, layout.guard("tracing the receptive fields"):
    size = network.spec.input_size
    try:
        fields = receptive_field.fields(network.graph, (size, size))
    except NotImplementedError as exc:  # a run that scrambles its pixels, say
        st.info(f"No receptive fields to draw for this network: {exc}. Pick another model.")
        st.stop()
    spatial = [f for f in fields if f.size is not None]
    by_name = {f.name: f for f in spatial}
    default = state.page_default("rf_layer", default_layer(spatial))
    if st.session_state.rf_layer not in by_name:
        asked, st.session_state.rf_layer = st.session_state.rf_layer, default
        if asked:  # from a link
            st.warning(model_input.not_a_map_layer(fields, asked, f"showing `{st.session_state.rf_layer}`"))
    st.selectbox("Layer (those with a feature map)", list(by_name), key="rf_layer")
    field = by_name[st.session_state.rf_layer]
    centre = (field.size[0] // 2, field.size[1] // 2)
    state.page_default("rf_unit", "{},{}".format(*centre))
    unit = parse_unit(st.session_state.rf_unit, field.size)
    if unit is None:
        if state.from_link("rf_unit") and st.session_state.rf_unit:  # "03, 4" is unit (3, 4): no word
            state.link_ignored("unit", st.session_state.rf_unit, f"`{field.name}` has units 0..{field.size[0] - 1}, "
                               f"0..{field.size[1] - 1} (row,column), so its centre is shown")
        unit = centre
    shown = state.kept("rf_shown")  # (model, layer, unit) of the last run: a new layer keeps the image spot
    if shown and shown[0] == network.key and shown[1] != field.name and shown[1] in by_name:
        unit = receptive_field.unit_nearest(field, receptive_field.unit_centre(by_name[shown[1]], shown[2]))
        st.caption(f"Unit {unit} of `{field.name}` lies over the same spot of the image as unit {shown[2]} "
                   f"of `{shown[1]}`.")
    clicked = mosaic.cell_from_click(st.session_state.get("rf_map"), field.size)
    if clicked is not None and clicked != state.kept("rf_last_click"):
        unit = clicked  # a new click on the map
    state.keep("rf_last_click", clicked)
    state.keep("rf_shown", (network.key, field.name, unit))
    st.session_state.rf_unit = f"{unit[0]},{unit[1]}"
    prepared = inputs.prepare(network.spec, picked[1])
    model_input.conversion_note(prepared)
    fmap = model_input.activations(network, prepared.tensor)[field.name]
    exact = receptive_field.rf_box(network.model, field.name, unit, (size, size))
    textbook = receptive_field.textbook_box(field, unit)
    tab_unit, tab_layers, tab_drill = state.tabs("rf_tab", TABS)

with tab_unit, layout.guard("drawing the unit's field"):
    st.session_state.rf_row, st.session_state.rf_col = unit  # a click moves them too
    row, column = layout.cells(2, layout.SETTING_PX)
    row.number_input("Unit row", 0, field.size[0] - 1, key="rf_row", on_change=_typed_unit,
                     help="Or click a unit on the map.")
    column.number_input("Unit column", 0, field.size[1] - 1, key="rf_col", on_change=_typed_unit)
    left, right = layout.flow(2, layout.LARGE_PICTURE_PX, "rf_unit_pictures")
    # a long name (GoogLeNet's inception4c.branch2.0.conv) on a line of its own: a title does not wrap, and it was cut
    long = len(field.name) > LONG_NAME
    title = figures.subtitled(f"{field.name}{'<br>' if long else ', '}unit {unit}",
                              f"{field.size[0]} x {field.size[1]} map, the mean of its {fmap.shape[0]} "
                              f"{labels.plural(fmap.shape[0], 'channel')}")
    charts.show(left, field_figures.clickable_map_figure(fmap.mean(0), title, unit), key="rf_map", on_select="rerun",
                selection_mode="points")
    seen = figures.subtitled("What the unit can see", f"solid: the exact box;{'<br>' if long else ' '}dashed: the "
                             "textbook's")  # as many lines as the map's title: the two pictures sit level
    charts.show(right, field_figures.boxes_figure(prepared.tensor, exact, textbook, seen), key="rf_fig_boxes")
    top, lft, bottom, rgt = exact
    st.markdown(f"Unit **{unit}** of `{field.name}` sees rows **{top}..{bottom - 1}** and columns "
                f"**{lft}..{rgt - 1}** of the {size} x {size} input: a **{bottom - top} x {rgt - lft}** box. "
                f"The textbook field is **{field.r[0]} x {field.r[1]}**, centred on "
                "({:g}, {:g})".format(*receptive_field.unit_centre(field, unit))
                + ("; at the border part of it is padding, so the exact box is smaller." if
                   (bottom - top, rgt - lft) != tuple(field.r) else "."))
    on_image, averaged, about = effective_fields(network.key, field.name, unit, model_input.image_key(prepared.tensor),
                                                 network, prepared.tensor)
    a, b = layout.flow(2, layout.LARGE_PICTURE_PX, "rf_effective_pictures")
    # both titles on two lines, so the two maps sit level
    charts.show(a, field_figures.heat_figure(on_image, figures.subtitled("Effective field on this image",
                                                                         "of the unit chosen above"), exact),
                key="rf_fig_erf")
    charts.show(b, field_figures.heat_figure(averaged, figures.subtitled("Averaged effective field", f"over {about}"),
                                             exact), key="rf_fig_erf_mean")
    if not on_image.any():
        st.info("On this image the unit's gradient is 0 at every pixel: every path from the input to it passes a "
                "ReLU (or a max) that is off here, so no pixel changes it a little. Pick another unit or image; the "
                "averaged field still shows where it looks.")
    st.caption("Effective field (Luo et al. 2016): |d a / d pixel|, where a is the sum of the layer's channels at "
               "this position and a pixel's colours are added up (yellow: a changes most with that pixel, dark purple: "
               "not at all). Past the first layers it usually fills only the middle of the theoretical box and falls "
               "off towards its edges; a first convolution's is the absolute sum of its kernels, edges and all.")

with tab_layers, layout.guard("tabulating the layers"):
    charts.show(st, field_figures.growth_figure(fields, field.name, size), key="rf_fig_growth")
    st.markdown("Per layer and axis: $r_{out} = r_{in} + (k_{eff} - 1)\\,j_{in}$, $j_{out} = j_{in}\\,s$, "
                "$start_{out} = start_{in} + ((k_{eff} - 1)/2 - p)\\,j_{in}$ with $k_{eff} = d(k - 1) + 1$. "
                "Equivalently, r is the input size that the layers up to there, without their padding, turn into a "
                "1 x 1 map" + ("" if "adaptive" in field.op else f": {field.r[0]} x {field.r[1]} for `{field.name}`")
                + " (adaptive pooling, whose output size is fixed, aside).")
    layer_table(field_figures.table_rows(fields), "rf_table")
    st.markdown("**How each follows from the layer before** (the sums above, first axis)")
    layer_table(field_figures.how_rows(fields), "rf_how")
    for note in field_figures.table_notes(fields, (size, size)):
        st.caption(note)

with tab_drill, layout.guard("asking a question"):
    from explorer.ui import drill

    drill.receptive_field_quiz(spatial, size, field.name)

state.publish(SETTINGS)
