"""Kernel Lab: one kernel over an image, and every number behind the feature map."""

import streamlit as st

from explorer import conv, figures, filtering, images
from explorer.ui import classic_view, image_input, kernel_input, layout, state

layout.page_setup(layout.PAGES[1])
st.title("Kernel Lab")
st.markdown(
    "A kernel slides over the image; at each position it multiplies the pixels under it by its weights "
    "and adds them up. That sum is one pixel of the **feature map**. Pick an image and a kernel, "
    "then change the border, stride and dilation and watch the map and its size change."
)

SIZES = (32, 64, 128, 256, 512)
POOLS = ("none", *conv.POOL_KINDS)
TABS = ("Feature map", "Numbers", "3-D", "Beyond one kernel")  # all four in the 315 px view at 1024 px
RENAMED_TABS = {"Image as numbers": "Numbers", "3-D surface": "3-D"}  # links shared with the longer labels
COUNTED = (("w", 30, 1, 4096), ("c", 3, 1, 2048), ("f", 7, 1, 64), ("s", 1, 1, 16), ("p", 0, 0, 32),
           ("k", 5, 1, 4096))  # (name, default, least, most) of the parameter counter's boxes
SETTINGS = [
    *image_input.settings(),
    *kernel_input.settings(),
    state.Setting("kl_size", "size", 256, state.int_choice(SIZES)),
    state.Setting("kl_border", "border", "replicate", state.choice(filtering.BORDERS)),
    state.Setting("kl_stride", "stride", 1, state.int_between(1, 8)),
    state.Setting("kl_dilation", "dil", 1, state.int_between(1, 8)),
    state.Setting("kl_colour", "colour", "grey", state.choice(filtering.COLOUR_MODES)),
    state.Setting("kl_flip", "flip", False, state.boolean, state.dump_bool),
    state.Setting("kl_relu", "relu", False, state.boolean, state.dump_bool),
    state.Setting("kl_pool", "pool", "none", state.choice(POOLS)),
    state.Setting("kl_pool_size", "psize", 2, state.int_between(2, 8)),
    state.Setting("kl_scale", "scale", "symmetric", state.choice(figures.SCALE_MODES)),
    state.tab_setting("kl_tab", TABS, RENAMED_TABS),
    *classic_view.settings(),
    state.Setting("kl_channel", "ch", 0, state.int_between(0, 2)),
    state.Setting("kl_top", "top", -1, state.int_between(-1, 8191)),  # -1: the image's middle row
    state.Setting("kl_left", "left", -1, state.int_between(-1, 8191)),
    # the parameter counter opens on the lecture's locally connected example: 30x30x3, 7x7, 5 filters
    *(state.Setting(f"kl_count_{name}", f"n{name}", default, state.int_between(low, high))
      for name, default, low, high in COUNTED),
    state.Setting("kl_count_open", "count", False, state.boolean, state.dump_bool),  # the counter unfolded
]
state.restore(SETTINGS)
if any(state.from_link(f"kl_count_{name}") for name, *_ in COUNTED) and not state.from_link("kl_count_open"):
    st.session_state.kl_count_open = True  # a link's count (or its error) shows at once, unless it says count=0
if state.came_back():  # the browser's Back: the grid of that address, not the one edited last
    kernel_input.start_from_link()


def filter_controls() -> filtering.FilterSettings:
    """Border, stride, dilation, colour handling, ReLU and pooling, as plain values."""
    st.selectbox("Border (padding)", filtering.BORDERS, key="kl_border",
                 help="valid: no padding, the map shrinks. The others pad so the map keeps its size (at stride 1): "
                      "zeros adds a dark frame (edges at the border), replicate repeats the edge pixels, reflect "
                      "mirrors them.")
    a, b = st.columns(2)
    a.number_input("Stride", 1, 8, key="kl_stride")
    b.number_input("Dilation", 1, 8, key="kl_dilation")
    st.radio("Colour", filtering.COLOUR_MODES, key="kl_colour", horizontal=True,
             format_func={"grey": "grey", "sum": "RGB, summed", "per-channel": "per RGB channel"}.get)
    layout.toggle(st, "Flip the kernel", key="kl_flip",
                  help="True convolution turns the kernel by 180 degrees before it slides; PyTorch's conv2d (a "
                       "cross-correlation) does not. A symmetric kernel gives the same map either way.")
    a, b = layout.flow(2, layout.SETTING_PX, "kl_after")
    a.toggle("ReLU after", key="kl_relu")
    b.selectbox("Pooling after", POOLS, key="kl_pool")
    if st.session_state.kl_pool != "none":
        st.slider("Pooling window (= stride)", 2, 8, key="kl_pool_size")
    return filtering.FilterSettings(
        border=st.session_state.kl_border, stride=int(st.session_state.kl_stride),
        dilation=int(st.session_state.kl_dilation), colour=st.session_state.kl_colour,
        flip=st.session_state.kl_flip, relu=st.session_state.kl_relu,
        pool=st.session_state.kl_pool, pool_size=st.session_state.kl_pool_size)


NUMBERS_SIDE = 12  # the numbers' window: 12 x 12 pixels


def _middle(size: int) -> int:
    """The first row (or column) of the numbers' window centred in ``size``: the middle pixel's neighbours on both
    sides show. Starting at the middle, the default sample's edge fell just outside, so a flat window of 0.55s sat
    over outputs of 1.25."""
    return max(size // 2 - NUMBERS_SIDE // 2, 0)


def _kept_in_link(key: str, size: int) -> None:
    """The row or column box changed: the link keeps it, or -1 for the middle (the default)."""
    value = st.session_state[f"{key}_{size}"]
    st.session_state[key] = -1 if value == _middle(size) else value


def region_input(column, label: str, key: str, size: int) -> int:
    """A row or column of the numbers' window: the link's, else the middle of the image's ``size``."""
    start = st.session_state[key] if 0 <= st.session_state[key] < size else _middle(size)
    return column.number_input(label, 0, size - 1, start, key=f"{key}_{size}", on_change=_kept_in_link,
                               args=(key, size))


def _counter_fold() -> dict[str, str]:
    """``count=0`` for a link whose counter holds numbers but was folded: left out, the fold opened again."""
    counted = any(st.session_state[f"kl_count_{name}"] != default for name, default, *_ in COUNTED)
    return {"count": "0"} if counted and not st.session_state.kl_count_open else {}


def count_parameters() -> None:
    """The lecture's parameter counts for a layer of any size: shared, locally connected, fully connected."""
    with st.expander("Count a layer's parameters, any sizes", icon=":material/calculate:", key="kl_count_open",
                     on_change="rerun"):
        st.caption("It opens on the lecture's locally connected example. Its other layers: 32 filters of 5x5 on RGB "
                   "(F 5, C 3, K 32); a 256x256 RGB image fully connected (W 256, C 3).")
        labels = {"w": "Input side W", "c": "Channels C", "f": "Kernel F", "s": "Stride S", "p": "Padding P",
                  "k": "Filters K"}
        for cell, (name, _, low, high) in zip(layout.flow(len(COUNTED), 110, "kl_count_boxes"), COUNTED):
            cell.number_input(labels[name], low, high, key=f"kl_count_{name}")
        w, c, f, s, p, k = (int(st.session_state[f"kl_count_{name}"]) for name, *_ in COUNTED)
        try:
            st.markdown("\n".join(filtering.count_lines(w, c, f, s, p, k)))
        except ValueError as exc:
            st.error(f"This layer cannot be built: {exc}.")


# a grid wider than 3 cells gets half the row and a narrower gap: a data editor's columns are 50 px at least, so in
# the controls' usual 5/13 (185 px at 1024 px, sidebar open) a 5 x 5 kernel scrolled sideways
# the drawing canvas too: in 5/13 of the row its right side was cut off at 1024 px
wide_grid = kernel_input.grid_columns() > 3 or st.session_state.get("img_source") == "draw"
controls, view = st.columns([1, 1] if wide_grid else [5, 8], gap="small" if wide_grid else "large")
with controls:
    picked = image_input.pick_image()
    st.selectbox("Largest working size (longer side, px)", SIZES, key="kl_size",
                 help="A larger image is scaled down to this; a smaller one is used as it is.")
    kernel = kernel_input.pick_kernel()
    settings = filter_controls()
state.publish(SETTINGS, kernel_input.url_extra() | _counter_fold())

if picked is None or kernel is None:
    view.info("Choose an image to see the feature map." if picked is None else
              "Mend the kernel (the message on the left names the cell) to see the feature map.")
    st.stop()

label, image = picked[0], images.resize(picked[1], st.session_state.kl_size)
with view, layout.guard("applying the kernel"):
    try:
        result, problem = filtering.apply_filter(image, kernel, settings), None
    except ValueError as exc:  # the other tabs show the image still: only the map needs the kernel to fit
        result, problem = None, str(exc)
    working = filtering.working_input(image, settings)
    tab_map, tab_numbers, tab_surface, tab_beyond = state.tabs("kl_tab", TABS)
    with tab_map:
        if result is None:
            st.error(f"These settings do not work on this image: {problem}.")
            for line in filtering.size_lines(tuple(image.shape[-2:]), tuple(kernel.shape), settings):
                st.markdown(line)
        else:
            scale = st.segmented_control("Colour scale of the map", figures.SCALE_MODES, key="kl_scale",
                                         format_func=figures.SCALE_LABELS.get, required=True,
                                         help=figures.SCALE_HELP)
            names = ["R", "G", "B"] if result.output.shape[0] == 3 else [""]
            first, *places = layout.flow(1 + len(names), layout.LARGE_PICTURE_PX, "kl_pictures")
            first.plotly_chart(figures.image_figure(result.input, f"Input ({label})"), key="kl_fig_input")
            for place, name, fmap in zip(places, names, result.output):
                title = f"Feature map {name} {tuple(fmap.shape)}".replace("  ", " ")
                place.plotly_chart(figures.feature_map_figure(fmap, scale, title, across=result.output),
                                   key=f"kl_fig_map{name}")
            if len(names) > 1:
                st.caption("The three maps share one colour scale, so a colour means the same value in each.")
            shown = [("Kernel (as applied)", kernel)] if not settings.flip else [
                ("Kernel as you set it", kernel), ("As applied (turned)", kernel.flip(0, 1))]
            for column, (title, grid) in zip(st.columns(len(shown)), shown):
                column.plotly_chart(figures.grid_figure(grid, title, colorscale="RdBu_r", zmid=0),
                                    key=f"kl_fig_kernel{'_applied' * (title != shown[0][0])}", width="content",
                                    config=layout.NO_TOOLBAR)
    with tab_numbers:
        if st.session_state.kl_channel >= working.shape[0]:
            st.session_state.kl_channel = 0
        channel = st.selectbox("Channel", range(working.shape[0]), key="kl_channel",
                               format_func=lambda c: "grey" if working.shape[0] == 1 else "RGB"[c])
        h, w = working.shape[-2:]
        a, b = st.columns(2)
        top = region_input(a, "Top row", "kl_top", h)
        left_col = region_input(b, "Left column", "kl_left", w)
        region = working[channel, top:top + NUMBERS_SIDE, left_col:left_col + NUMBERS_SIDE]
        st.caption(f"Pixel values in [0, 1] of rows {top}..{top + region.shape[0] - 1}, "
                   f"columns {left_col}..{left_col + region.shape[1] - 1} (hover a cell for its value whole).")
        st.plotly_chart(figures.numbers_figure(region, top, left_col, "The image as numbers"), key="kl_region",
                        config=layout.NO_TOOLBAR)
        rows_a, rows_b, cols_a, cols_b = (0, 0, 0, 0) if result is None else filtering.output_block(
            result, tuple(kernel.shape), settings, top, left_col, NUMBERS_SIDE)
        if rows_b > rows_a and cols_b > cols_a:
            fmap = result.conv[channel if result.conv.shape[0] > 1 else 0]
            st.caption(f"Feature map values (the kernel's sums, before ReLU and pooling) of rows "
                       f"{rows_a}..{rows_b - 1}, columns {cols_a}..{cols_b - 1}: the outputs whose windows are "
                       "centred on the pixels above.")
            sums = filtering.window_sums(result, kernel, settings, (rows_a, rows_b, cols_a, cols_b), channel)
            st.plotly_chart(figures.numbers_figure(fmap[rows_a:rows_b, cols_a:cols_b], rows_a, cols_a,
                                                   "The feature map as numbers", signed=True, sums=sums),
                            key="kl_region_out", config=layout.NO_TOOLBAR)
            st.caption("Hover a number for its sum: the pixels under the kernel, each times its weight (pixels to 2 "
                       "decimals, so the terms add up to the total only roughly)." if sums is not None else
                       "A kernel larger than 5x5, or RGB summed, has too many products to write out on hover.")
            if settings.colour == "sum":
                st.caption("RGB, summed: each of these adds up the kernel's products over R, G and B, so the "
                           "channel above holds only a third of the terms.")
    if tab_surface.open:  # a WebGL scene: drawn only when its tab is open, as it slows the page's first paint
        with tab_surface:
            st.plotly_chart(figures.surface_figure(working), key="kl_fig_surface")
    if tab_beyond.open:  # Canny and morphology do not depend on the kernel: computed only when asked
        with tab_beyond:
            classic_view.draw(working, label)
    if result is not None:
        st.subheader("The numbers, filled in")
        for line in filtering.explain(result, kernel, settings):
            st.markdown(line)
count_parameters()  # the page's whole width: six boxes in a row
