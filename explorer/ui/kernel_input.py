"""Kernel chooser: a named preset, a parametrised family, or the user's own grid.

A custom kernel lives in the URL as text (``kv=0,1,0;1,-4,1;0,1,0``); bad cells are named in
an error and the typed grid is kept so nothing is lost.
"""

from __future__ import annotations

import zlib

import pandas as pd
import streamlit as st
import torch

from explorer import kernels, labels
from explorer.ui import state

FAMILIES = ("gaussian (choose sigma)", "gabor (choose angle)", "box (choose size)")
CUSTOM = "custom (edit the grid)"
CHOICES = (*kernels.PRESETS, *FAMILIES, CUSTOM)
DEFAULT = "sobel (vertical edges)"
# shorter words in the list for the longest names (links keep the names): at 1024 px the box has 135 px for
# them, and "derivative [-1, 0, 1] (horizontal)" read "derivative [-1, 0, 1] (hor"
SHOWN = {"derivative [-1, 1]": "d/dx [-1, 1]", "derivative [-1, 0, 1] (horizontal)": "d/dx [-1, 0, 1]",
         "derivative [-1, 0, 1] (vertical)": "d/dy [-1, 0, 1]ᵀ", "sobel (horizontal edges)": "sobel (horiz. edges)",
         FAMILIES[0]: "gaussian (set sigma)", FAMILIES[1]: "gabor (set angle)", FAMILIES[2]: "box (set size)"}
_BASE = "kl_grid_base"  # the text the grid editor starts from; replaced only on purpose
_ROUND = "kl_grid_round"  # counts the browser's steps back and forward: each one a fresh editor


def settings() -> list[state.Setting]:
    """URL-bound kernel settings."""
    return [
        state.Setting("kl_kernel", "k", DEFAULT, state.choice(CHOICES)),
        state.Setting("kl_ksize", "ksize", 5, state.int_between(1, 15)),
        state.Setting("kl_sigma", "sigma", 1.0, state.float_between(0.1, 5.0)),
        state.Setting("kl_theta", "theta", 0, state.int_between(0, 180)),
    ]


def pick_kernel() -> torch.Tensor | None:
    """Draw the chooser; returns the (kh, kw) kernel, or None (with an error shown) if invalid."""
    choice = st.selectbox("Kernel", CHOICES, key="kl_kernel", on_change=_start_grid_from_last,
                          format_func=lambda name: SHOWN.get(name, name))
    if choice == CUSTOM:
        return _custom_grid()
    kernel = _family(choice) if choice in FAMILIES else kernels.PRESETS[choice]
    st.caption(kernels.DESCRIPTIONS.get(choice, "A parametrised filter: move the sliders.")
               + (kernels.FLIPPED_SIGNS if st.session_state.get("kl_flip") and kernels.turns_negative(kernel) else ""))
    # a grid to edit starts from it, to three significant digits (0.013 rather than 0.0131128)
    state.keep("kl_last_kernel", kernels.to_text(kernel, decimals=kernels.grid_decimals(kernel)))
    st.button("Edit its weights", key="kl_edit", on_click=_edit_shown, icon=":material/edit:",
              help="A grid to type weights in, starting from this kernel, its weights to 3 significant digits "
                   "(also: Kernel, then the last choice).")
    return kernel


def _edit_shown() -> None:
    """The kernel shown becomes the custom grid's start: one click, not the list's last entry."""
    st.session_state.kl_kernel = CUSTOM
    _start_grid_from_last()


def _family(choice: str) -> torch.Tensor:
    odd = choice != FAMILIES[2]  # a gaussian's or a gabor's centre is a cell: odd sizes, as the slider steps
    if odd:
        state.odd("kl_ksize", "ksize", f"a {choice.split()[0]} kernel has a centre cell: an odd size")
    size = st.slider("Kernel size", 1, 15, key="kl_ksize", step=2 if odd else 1)
    if choice == FAMILIES[0]:
        return kernels.gaussian(size, st.slider("Sigma", 0.1, 5.0, key="kl_sigma", step=0.1))
    if choice == FAMILIES[1]:
        return kernels.gabor(size, st.slider("Angle (degrees)", 0, 180, key="kl_theta", step=15))
    return kernels.box(size)


def _start_grid_from_last() -> None:
    """Switching to the editor starts from the kernel shown just before."""
    if st.session_state.get("kl_kernel") == CUSTOM:
        st.session_state[_BASE] = state.kept("kl_last_kernel", kernels.to_text(kernels.PRESETS[DEFAULT]))


def url_extra() -> dict[str, str]:
    """The custom grid's text for the URL (only while the custom kernel is chosen)."""
    text = state.kept("kl_custom")
    return {"kv": text} if st.session_state.get("kl_kernel") == CUSTOM and text else {}


def start_from_link() -> None:
    """The custom grid starts again from the link's ``kv`` (the browser's Back to an address with another grid), in
    a fresh editor: Back to the grid before a cell's edit had kept the edit (the editor's key was the same)."""
    st.session_state.pop(_BASE, None)
    st.session_state[_ROUND] = st.session_state.get(_ROUND, 0) + 1
    state.keep("kl_custom", None)


def grid_columns() -> int:
    """How many columns the custom grid about to be drawn has; 0 while another kernel is chosen."""
    if st.session_state.get("kl_kernel") != CUSTOM:
        return 0
    return len(_cells(st.session_state.get(_BASE) or _first_grid())[0])


def _first_grid() -> str:
    """The grid the editor starts from: the link's, the one typed before on this page, or the last kernel shown."""
    linked = st.query_params.get("kv", "")
    return ((linked if _has_cells(linked) else "") or state.kept("kl_custom")
            or state.kept("kl_last_kernel", kernels.to_text(kernels.PRESETS[DEFAULT])))


def _has_cells(text: str) -> bool:
    """Whether a grid's text holds anything but separators ("kv=;," has no cells)."""
    return bool(text.strip(";, "))


def _custom_grid() -> torch.Tensor | None:
    if _BASE not in st.session_state:
        if (linked := st.query_params.get("kv")) is not None and not _has_cells(linked):
            state.link_ignored("kv", linked, "it has no cells, so the grid starts from the kernel shown last")
        st.session_state[_BASE] = _within_size(_first_grid())
    base = _cells(st.session_state[_BASE])
    st.caption("Click a cell of the grid, type a weight, press Enter.")
    rows, cols = st.columns(2)
    rows.number_input("Rows", 1, kernels.MAX_SIZE, len(base), key="kl_rows", on_change=_resize)
    cols.number_input("Columns", 1, kernels.MAX_SIZE, len(base[0]), key="kl_cols", on_change=_resize)
    frame = pd.DataFrame(base, columns=[str(c + 1) for c in range(len(base[0]))], dtype="string")
    st.space(20)  # where the grid's toolbar shows on hover: right under the boxes, it covered Rows' + button
    # a new starting grid gets a new editor: the old one's edits belong to the old grid
    digest = zlib.crc32(st.session_state[_BASE].encode())
    edited = st.data_editor(frame, key=f"kl_grid_{digest}_{st.session_state.get(_ROUND, 0)}", hide_index=True,
                            num_rows="fixed", width="content")
    cells = [["" if pd.isna(v) else str(v) for v in row] for row in edited.itertuples(index=False)]
    state.keep("kl_custom", _grid_text(cells))
    try:
        return kernels.parse_grid(cells)
    except kernels.KernelError as exc:
        st.error(f"This kernel cannot be used: {exc}.")
        return None


def _resize() -> None:
    """Rows or Columns changed: the grid as typed so far, cropped or padded with zeros."""
    typed = _cells(state.kept("kl_custom") or st.session_state[_BASE])
    st.session_state[_BASE] = _resized(typed, int(st.session_state.kl_rows), int(st.session_state.kl_cols))


def _grid_text(cells: list[list[str]]) -> str:
    """The grid as the link keeps it (``0,1,0;1,-4,1;0,1,0``), a typed cell's own commas escaped (see
    :func:`_cells`)."""
    return ";".join(",".join(labels.link_cell(cell) for cell in row) for row in cells)


def _cells(text: str) -> list[list[str]]:
    """The grid's cells from its text, rows padded with zeros to the widest, cut to the largest kernel."""
    rows = [r.split(",") for r in text.split(";") if r != ""] or [["0"]]
    width = min(max(len(r) for r in rows), kernels.MAX_SIZE)
    return [([labels.from_link_cell(c.strip()) for c in r] + ["0"] * width)[:width] for r in rows][: kernels.MAX_SIZE]


def _within_size(text: str) -> str:
    """A grid's text (a link's ``kv``), its top-left corner only, with a warning, where it is larger than the
    largest kernel the Rows and Columns boxes take."""
    rows = [r.split(",") for r in text.split(";") if r != ""]
    height, width = len(rows), max((len(r) for r in rows), default=0)
    if len(lengths := [len(r) for r in rows]) > 1 and min(lengths) < width:  # a link's grid cut short
        st.warning(f"The kernel's rows have {min(lengths)} to {width} cells: the shorter ones end in zeros, "
                   f"{width} columns in all.")
    if max(height, width) <= kernels.MAX_SIZE:
        return text
    st.warning(f"The kernel has {height} x {width} cells; the largest is {kernels.MAX_SIZE} x {kernels.MAX_SIZE}, "
               f"so its top-left {min(height, kernels.MAX_SIZE)} x {min(width, kernels.MAX_SIZE)} cells are shown.")
    return _grid_text(_cells(text))


def _resized(cells: list[list[str]], n_rows: int, n_cols: int) -> str:
    """Crop or pad the grid with zeros to the new size, keeping what was typed where it stays centred: a kernel
    acts around its centre cell, so a 3 x 3 grown to 5 x 5 (one + at a time, too) is framed by zeros, not shifted
    into a corner (which moved its map by a pixel)."""
    def fitted(line: list, n: int, zero: object) -> list:
        before = (n + 1) // 2 - (len(line) + 1) // 2  # cells added before (removed, if negative): centres kept
        padded = [zero] * max(before, 0) + line[max(-before, 0):]
        return (padded + [zero] * n)[:n]

    return _grid_text(fitted([fitted(row, n_cols, "0") for row in cells], n_rows, ["0"] * n_cols))


def send_to_lab(kernel: torch.Tensor) -> str:
    """Make ``kernel`` the Kernel Lab's custom kernel (for a page that switches there); returns its text."""
    text = kernels.to_text(kernel, decimals=kernels.grid_decimals(kernel))  # six digits a cell widened the grid
    st.session_state[_BASE] = text
    state.keep("kl_custom", text)
    state.keep("kl_kernel", CUSTOM)
    return text
