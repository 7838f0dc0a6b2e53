"""Kernel Lab: one kernel over an image, and every number behind the feature map."""

import streamlit as st

from explorer import conv, figures, filtering, images, labels
from explorer.ui import charts, classic_view, image_input, kernel_input, layer_counter, layout, numbers_view, state

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
PICTURE_HEIGHT = 300  # the input and the feature map: a picture about 230 px square, its title and axes
RENAMED_TABS = {"Image as numbers": "Numbers", "3-D surface": "3-D"}  # links shared with the longer labels
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
    *numbers_view.settings(),
    *layer_counter.settings(),
]
state.restore(SETTINGS, also=("kv", "count"))  # the custom grid, the counter folded (url_extra)
state.implied("kl_kernel", kernel_input.CUSTOM, ("kv",))
layer_counter.open_for_link()
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
                       "cross-correlation) does not. A kernel that looks the same turned by 180° (Laplacian, a "
                       "blur) gives the same map either way; Sobel's changes sign.")
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
state.publish(SETTINGS, kernel_input.url_extra() | layer_counter.url_extra())

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
            # as tall as the pictures are wide side by side at 1280 px (230 px): at 380 px, bands of 100 px had
            # been left above and below them
            input_title = f"Input ({labels.plot_text(label)})"  # an upload's name as typed: "&amp;" is no "&" in a title
            charts.show(first, figures.image_figure(result.input, input_title, height=PICTURE_HEIGHT),
                        key="kl_fig_input")
            for place, name, fmap in zip(places, names, result.output):
                title = f"Feature map {name} {tuple(fmap.shape)}".replace("  ", " ")
                charts.show(place, figures.feature_map_figure(fmap, scale, title, height=PICTURE_HEIGHT,
                                                              across=result.output), key=f"kl_fig_map{name}")
            if len(names) > 1:
                st.caption("The three maps share one colour scale, so a colour means the same value in each.")
            st.caption("Each pixel of the map is the kernel's sum over the window around it: the **Numbers** tab "
                       "writes those sums out, wherever you click its small picture.")
            shown = [("Kernel (as applied)", kernel)] if not settings.flip else [
                ("Kernel as you set it", kernel), ("As applied (turned)", kernel.flip(0, 1))]
            for column, (title, grid) in zip(st.columns(len(shown)), shown):
                charts.show(column, figures.grid_figure(grid, title, colorscale="RdBu_r", zmid=0),
                            key=f"kl_fig_kernel{'_applied' * (title != shown[0][0])}", width="content",
                            config=layout.NO_TOOLBAR)
    with tab_numbers:
        numbers_view.draw(working, result, kernel, settings)
    state.publish(SETTINGS, kernel_input.url_extra() | layer_counter.url_extra())  # a window the image lacks moved
    if tab_surface.open:  # a WebGL scene: drawn only when its tab is open, as it slows the page's first paint
        with tab_surface:
            charts.show(st, figures.surface_figure(working), key="kl_fig_surface")
    if tab_beyond.open:  # Canny and morphology do not depend on the kernel: computed only when asked
        with tab_beyond:
            classic_view.draw(working, label)
    if result is not None:
        st.subheader("The numbers, filled in")
        for line in filtering.explain(result, kernel, settings):
            st.markdown(line)
layer_counter.draw()  # the page's whole width: seven boxes in a row
