"""The Kernel Lab's "Numbers" tab: a 12 x 12 window of the image as numbers, and the feature map's numbers
under it, each hoverable for its sum written out."""

from __future__ import annotations

import functools

import streamlit as st
import torch

from explorer import figures, filtering, mosaic
from explorer.ui import charts, layout, state

SIDE = 12  # the numbers' window: 12 x 12 pixels


def settings() -> list[state.Setting]:
    return [
        state.Setting("kl_channel", "ch", 0, state.int_between(0, 2)),
        state.Setting("kl_top", "top", -1, state.int_between(-1, 8191)),  # -1: the image's middle row
        state.Setting("kl_left", "left", -1, state.int_between(-1, 8191)),
    ]


def middle(size: int) -> int:
    """The first row (or column) of the numbers' window centred in ``size``: the middle pixel's neighbours on both
    sides show. Starting at the middle, the default sample's edge fell just outside, so a flat window of 0.55s sat
    over outputs of 1.25."""
    return max(size // 2 - SIDE // 2, 0)


def _kept_in_link(key: str, size: int) -> None:
    """The row or column box changed: the link keeps it, or -1 for the middle (the default)."""
    value = st.session_state[f"{key}_{size}"]
    st.session_state[key] = -1 if value == middle(size) else value


def _start(column, label: str, key: str, size: int) -> int:
    """A row or column of the numbers' window: the link's, else the middle of the image's ``size``. The setting
    decides, not the box's value left from before: the browser's Back had changed the address, not the window."""
    box = f"{key}_{size}"
    if st.session_state[key] >= size and state.from_link(key):  # one chosen here comes back on a larger image
        state.link_ignored(key.removeprefix("kl_"), st.session_state[key], f"the image has {label.split()[-1]}s "
                           f"0..{size - 1}, so the window is in its middle")
        st.session_state[key] = -1
    st.session_state[box] = st.session_state[key] if 0 <= st.session_state[key] < size else middle(size)
    return column.number_input(label, 0, size - 1, key=box, on_change=_kept_in_link, args=(key, size))


def _move_window(chart: str, size: tuple[int, int]) -> None:
    """A click on the small picture: the numbers' window centred there, within the image (a callback: the window
    moves before the boxes are drawn)."""
    cell = mosaic.cell_from_click(st.session_state.get(chart), size)
    if cell is None:
        return
    for key, at, extent in (("kl_top", cell[0], size[0]), ("kl_left", cell[1], size[1])):
        start = min(max(at - SIDE // 2, 0), max(extent - SIDE, 0))
        st.session_state[key] = -1 if start == middle(extent) else start


def draw(working: torch.Tensor, result: filtering.FilterResult | None, kernel: torch.Tensor,
         chosen: filtering.FilterSettings) -> None:
    """The chosen channel's window of ``working`` (the image as filtered) and, where the settings give a map,
    the outputs whose windows are centred on those pixels."""
    if st.session_state.kl_channel >= working.shape[0]:
        if state.from_link("kl_channel"):
            state.link_ignored("ch", st.session_state.kl_channel, "the image is grey, with one channel")
        st.session_state.kl_channel = 0
    channel = st.selectbox("Channel", range(working.shape[0]), key="kl_channel",
                           format_func=lambda c: "grey" if working.shape[0] == 1 else "RGB"[c])
    h, w = working.shape[-2:]
    # the picture beside the boxes, or under them where the view is narrow (a 1024 px projector): beside them in
    # 2 of 5 of the width, a 512 px image's window had been a dot
    where, overview = layout.flow(2, 200, "kl_window_row")
    top = _start(where, "Top row", "kl_top", h)
    left = _start(where, "Left column", "kl_left", w)
    chart = f"kl_overview_{top}_{left}"  # a fresh chart for each window: a click on the same place counts again
    charts.show(overview, figures.window_figure(working[channel], top, left, SIDE, "The window"), key=chart,
                on_select=functools.partial(_move_window, chart, (h, w)), selection_mode="points",
                config=layout.NO_TOOLBAR)
    overview.caption("Click the picture to move the window there.")
    region = working[channel, top:top + SIDE, left:left + SIDE]
    st.caption(f"Pixel values in [0, 1] of rows {top}..{top + region.shape[0] - 1}, "
               f"columns {left}..{left + region.shape[1] - 1} (point at or tap a cell for its value whole).")
    charts.show(st, figures.numbers_figure(region, top, left, "The image as numbers", width_px=layout.VIEW_PX),
                key="kl_region", config=layout.NO_TOOLBAR)
    rows_a, rows_b, cols_a, cols_b = (0, 0, 0, 0) if result is None else filtering.output_block(
        result, tuple(kernel.shape), chosen, top, left, SIDE)
    if rows_b <= rows_a or cols_b <= cols_a:
        return
    fmap = result.conv[channel if result.conv.shape[0] > 1 else 0]
    st.caption(f"Feature map values (the kernel's sums, before ReLU and pooling) of rows "
               f"{rows_a}..{rows_b - 1}, columns {cols_a}..{cols_b - 1}: the outputs whose windows are "
               "centred on the pixels above.")
    sums = filtering.window_sums(result, kernel, chosen, (rows_a, rows_b, cols_a, cols_b), channel)
    charts.show(st, figures.numbers_figure(fmap[rows_a:rows_b, cols_a:cols_b], rows_a, cols_a,
                                           "The feature map as numbers", signed=True, sums=sums,
                                           width_px=layout.VIEW_PX),
                key="kl_region_out", config=layout.NO_TOOLBAR)
    st.caption("Point at or tap a number for its sum: the pixels under the kernel, each times its weight (pixels to 2 "
               "decimals, so the terms add up to the total only roughly)." if sums is not None else
               "A kernel larger than 5x5, or RGB summed, has too many products to write out on hover.")
    if chosen.colour == "sum":
        st.caption("RGB, summed: each of these adds up the kernel's products over R, G and B, so the "
                   "channel above holds only a third of the terms.")
