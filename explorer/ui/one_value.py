"""Layer by layer's "How one value is computed": a convolution's output value taken apart on the network's own
activations, every input map's window times its kernel slice, summed with the bias, checked against the layer."""

from __future__ import annotations

import streamlit as st
import torch

from explorer import export, field_figures, figures, inspect, labels, mosaic, unit_sum
from explorer.ui import charts, layout, state

SHOWN_TERMS = 8  # input maps written out in the sum; the others are added up in one term
CAP = 8191  # far above any map count or map side: refuses only absurd link values
CLICKABLE_CELLS = 64 * 64  # a map this small gets an invisible marker per unit to click; more would weigh megabytes


def settings() -> list[state.Setting]:
    return [
        state.Setting("lbl_sum", "sum", False, state.boolean, state.dump_bool),
        state.Setting("lbl_sum_map", "smap", 0, state.int_between(0, CAP)),
        state.Setting("lbl_sum_row", "srow", -1, state.int_between(-1, CAP)),  # -1: the map's middle
        state.Setting("lbl_sum_col", "scol", -1, state.int_between(-1, CAP)),
        state.Setting("lbl_sum_from", "sfrom", -1, state.int_between(-1, CAP)),  # -1: the map that adds most
    ]


def closer_look(layer: inspect.Layer, out: torch.Tensor, closer: int) -> None:
    """Map ``closer`` of ``out`` up close; on a convolution's map (up to 64 x 64) a click on a unit opens how that
    unit is computed (:func:`draw`, below it): CNN Explainer's click on a neuron."""
    fmap, title = out[closer], f"Map {closer} of {layer.name}"
    if not isinstance(layer.module, torch.nn.Conv2d) or fmap.numel() > CLICKABLE_CELLS:
        charts.show(st, figures.feature_map_figure(fmap, "symmetric" if (out < 0).any() else "own", title),
                    key="lbl_fig_closer")
        return
    clicked = mosaic.cell_from_click(st.session_state.get("lbl_closer_click"), tuple(fmap.shape))
    if clicked is not None and clicked != state.kept("lbl_closer_last"):  # a new click: its unit, taken apart
        st.session_state.update(lbl_sum=True, lbl_sum_map=closer, lbl_sum_row=clicked[0], lbl_sum_col=clicked[1])
    state.keep("lbl_closer_last", clicked)
    _clamp(layer.name, out)
    shown = st.session_state.lbl_sum and st.session_state.lbl_sum_map == closer
    unit = (st.session_state.lbl_sum_row, st.session_state.lbl_sum_col) if shown else None
    clickable = field_figures.clickable_map_figure(fmap, figures.subtitled(
        title, "click a unit: how it is computed, below"), unit)
    charts.show(st, clickable, key="lbl_closer_click", on_select="rerun", selection_mode="points")


def draw(layer: inspect.Layer, x: torch.Tensor, out: torch.Tensor) -> None:
    """For a convolution ``layer`` with input ``x`` (C, H, W) and output ``out`` (M, H', W'): the expander."""
    box = st.expander("How one value of this layer is computed, from every input map", key="lbl_sum",
                      on_change="rerun")
    _clamp(layer.name, out)
    if not box.open:  # drawn only while open; open or shut, it is in the link, its unit only while open
        leave_out()
        return
    with box:
        where = layout.cells(3, layout.SETTING_PX)
        m = where[0].number_input("Output map", 0, out.shape[0] - 1, key="lbl_sum_map")
        r = where[1].number_input("Row", 0, out.shape[1] - 1, key="lbl_sum_row")
        c = where[2].number_input("Column", 0, out.shape[2] - 1, key="lbl_sum_col")
        parts = unit_sum.conv_unit(layer.module, x, int(m), int(r), int(c))
        st.markdown(_sum_words(layer.name, (m, r, c), parts, float(out[m, r, c]), layer.module.bias is not None))
        _one_map(parts, (layer.name, m, r, c), tuple(x.shape[1:]))


def leave_out() -> None:
    """Keep the unit's settings out of the link (a shut box, a layer that is no convolution): they show nothing."""
    for key in ("lbl_sum_map", "lbl_sum_row", "lbl_sum_col", "lbl_sum_from"):
        state.page_default(key, st.session_state[key])


def _clamp(name: str, out: torch.Tensor) -> None:
    """A position the layer lacks (another layer's, a link's: named) moves inside it; -1 means the middle, which the
    link leaves out (the page's pick)."""
    for key, param, size, what in (("lbl_sum_map", "smap", out.shape[0], "maps"),
                                   ("lbl_sum_row", "srow", out.shape[1], "rows"),
                                   ("lbl_sum_col", "scol", out.shape[2], "columns")):
        state.at_most(key, param, size - 1, f"`{name}` has {what} 0..{size - 1}")
        if key != "lbl_sum_map":
            middle = state.page_default(key, size // 2)
            if st.session_state[key] < 0:
                st.session_state[key] = middle


def _sum_words(name: str, at: tuple[int, int, int], parts: unit_sum.UnitSum, pytorch: float, bias: bool) -> str:
    """"conv2[3, 5, 5] = (map 0: 1.2) + ... + bias 0.1 = 3.4", and PyTorch's own value beside it; ``bias``: whether
    the layer has one (a convolution before a batch norm has none)."""
    order = sorted(range(len(parts.channels)), key=lambda i: -abs(float(parts.partials[i])))
    terms = [f"{_term(float(parts.partials[i]))} (map {parts.channels[i]})" for i in sorted(order[:SHOWN_TERMS])]
    rest = order[SHOWN_TERMS:]
    if rest:
        terms.append(f"{_term(float(parts.partials[rest].sum()))} (the other {len(rest)} maps)")
    m, r, c = at
    if bias:
        terms.append(f"bias {_term(parts.bias)}")
    return (f"**`{name}`[{m}, {r}, {c}]** = the sum over its {len(parts.channels)} input "
            f"{labels.plural(len(parts.channels), 'map')} of window · kernel slice"
            + (", plus the bias:" if bias else " (no bias: a batch norm follows):") + "\n\n"
            f"{' + '.join(terms)} = **{export.number(parts.total, 3)}** "
            f"(the layer's output there: {export.number(pytorch, 3)}). Each map's term is written out below.")


def _term(value: float) -> str:
    """A term of a sum: a negative one in brackets ("(-0.085)"), as the lecture writes them."""
    return f"({export.number(value, 3)})" if value < 0 else export.number(value, 3)


def _one_map(parts: unit_sum.UnitSum, unit: tuple, size: tuple[int, int]) -> None:
    """One input map's window, kernel slice and products as numbers (the map that adds most, by default, and again
    for each new ``unit``: the default follows the output map)."""
    choices, linked = parts.channels, state.from_link("lbl_sum_from")
    if state.kept("lbl_sum_unit", unit) != unit and not linked:  # another unit: its own strongest map (a link's
        st.session_state.lbl_sum_from = -1  # choice stands, Back's too)
    state.keep("lbl_sum_unit", unit)
    strongest = state.page_default("lbl_sum_from", choices[int(parts.partials.abs().argmax())])
    if st.session_state.lbl_sum_from not in choices:
        if linked and st.session_state.lbl_sum_from >= 0:
            maps = f"map {choices[0]}" if len(choices) == 1 else f"maps {choices[0]}..{choices[-1]}"
            state.link_ignored("sfrom", st.session_state.lbl_sum_from, f"this unit reads input {maps}, so map "
                               f"{strongest}, which adds most, is shown")
        st.session_state.lbl_sum_from = strongest
    term = {k: export.number(float(parts.partials[i]), 3) for i, k in enumerate(choices)}
    shown = st.selectbox("Input map to look at", choices, key="lbl_sum_from",
                         format_func=lambda k: f"map {k}: its term {term[k]}")
    i = choices.index(shown)
    grids = layout.flow(3, 200, "lbl_sum_grids")
    outside = _padding(parts, size)
    for place, values, title, scale, zmid, ring in (
            (grids[0], parts.windows[i], f"Input map {shown} under the window", "gray", None, outside),
            (grids[1], parts.kernels[i], "Kernel slice", "RdBu_r", 0, (0, 0, 0, 0)),
            (grids[2], parts.products[i], "Products", "RdBu_r", 0, outside)):
        charts.show(place, figures.grid_figure(values, title, colorscale=scale, zmid=zmid, cell_px=36, border=ring),
                    key=f"lbl_sum_fig_{title.split()[0]}", config=layout.NO_TOOLBAR)
    st.caption(f"Its taps read {_span('row', parts.rows)} and {_span('column', parts.cols)} "
               "of the input map, shaded as the map itself (dark: low)"
               + (", the padding outside the dashed line" if any(outside) else "")
               + ". The products add up to the map's term above.")


def _span(axis: str, taps: list[int]) -> str:
    """"rows 3..7", or "row 16" for a 1x1 kernel's one tap."""
    return f"{axis} {taps[0]}" if taps[0] == taps[-1] else f"{axis}s {taps[0]}..{taps[-1]}"


def _padding(parts: unit_sum.UnitSum, size: tuple[int, int]) -> tuple[int, int, int, int]:
    """How many of the window's taps (left, right, top, bottom) fall on the padding around a map of ``size``."""
    height, width = size
    return (sum(c < 0 for c in parts.cols), sum(c >= width for c in parts.cols),
            sum(r < 0 for r in parts.rows), sum(r >= height for r in parts.rows))
