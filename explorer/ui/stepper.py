"""Step by step's stepping: Previous / Next, the step slider, Play (a step a second), and a click on an output cell.

The step is the widget ``sb_step`` (1..L, in the page's link); Play is the toggle ``sb_play``, whose steps run in a
fragment that reruns each second.
"""

from __future__ import annotations

import functools
from typing import Any

import plotly.graph_objects as go
import streamlit as st

from explorer import figures, mosaic
from explorer.ui import charts, layout, state

STOP_PLAY = "sb_stop_play"  # Play reached the end: the toggle above the steps turns off at the next whole run
CLICK_PX = 30  # the invisible marker that takes a cell's click, in a 44 px cell


def settle_play() -> None:
    """At the top of a whole run, before the toggle: Play that reached the end stops (it reran each second, and the
    browser's Back to an earlier step restarted it)."""
    if st.session_state.pop(STOP_PLAY, False):
        st.session_state.sb_play = False


def playing() -> bool:
    return bool(st.session_state.get("sb_play"))


def rerun_if_stopped() -> None:
    """In the fragment: Play ended a second ago, so rerun the whole page, whose toggle above turns off."""
    if st.session_state.get(STOP_PLAY) and playing():
        st.rerun()


def controls(steps: int, played: bool) -> int:
    """Previous / next, Play and a slider over steps 1..L, one step on while playing; returns the 0-based output cell.

    ``played``: whether Play was on when the page drew the fragment (which then reruns each second): Play switched
    here reruns only the fragment, so the whole page runs again to start (or stop) the clock.
    """
    if playing() != played:
        st.rerun()
    state.at_most("sb_step", "step", steps, f"the output has {steps} cells, steps 1..{steps}" if steps > 1 else
                  "the output has 1 cell, step 1")
    if playing():
        if st.session_state.sb_step < steps:
            st.session_state.sb_step += 1
        if st.session_state.sb_step >= steps:
            st.session_state[STOP_PLAY] = True
    # buttons as wide as their words and the slider in the rest: columns cut "Previous" at 1024 px
    row = st.container(horizontal=True, vertical_alignment="bottom")
    row.button("◀ Previous", key="sb_prev", on_click=_move, args=(-1, steps), disabled=st.session_state.sb_step <= 1)
    row.button("Next ▶", key="sb_next", on_click=_move, args=(1, steps), disabled=st.session_state.sb_step >= steps)
    layout.toggle(row, "Play", key="sb_play", width="content", on_change=play_from_start, args=(steps,),
                  help="Advance one step per second (from the first when at the last).")
    if steps > 1:
        row.slider("Step", 1, steps, key="sb_step")
    return st.session_state.sb_step - 1


def play_from_start(steps: int) -> None:
    """The Play toggle's callback: at the last step, it plays from the first."""
    if playing() and st.session_state.sb_step >= steps:
        st.session_state.sb_step = 1


def _move(delta: int, steps: int) -> None:
    st.session_state.sb_step = max(1, min(steps, st.session_state.sb_step + delta))


def draw(figs: list[go.Figure], cells: int, shape: tuple[int, int], what: str, stacked: int = 0) -> None:
    """The step's grids in a row that wraps where the page is narrow; ``figs[cells]``, the output cells (or their
    gradients, ``what``), takes a click: that cell's step, as CNN Explainer's output does.

    ``stacked``: the grids after the first one that share one place in the row, side by side where it has room and
    one under the other where not (the kernel and the products, between the input and the output): on a 1280 px
    projector the zero-padding example's output had wrapped under its 7x7 input, out of the screen."""
    figures.clickable_cells(figs[cells], *shape, CLICK_PX)
    places = _places([fig.layout.width for fig in figs], stacked)
    for i, (cell, fig) in enumerate(zip(places, figs)):
        if i == cells:
            charts.show(cell, fig, key="sb_cells", width="content", config=layout.NO_TOOLBAR, selection_mode="points",
                        on_select=functools.partial(_go_to_clicked, shape))
        else:
            charts.show(cell, fig, key=f"sb_fig_{i}", width="content", config=layout.NO_TOOLBAR)
    st.caption(f"Pause Play to go to a step by clicking a cell of {what}." if playing() else
               f"Click a cell of {what} to go to its step.")


def _places(widths: list[int], stacked: int) -> list[Any]:
    """One container per grid, each at its own width; grids 1..``stacked`` inside one place of the row that takes
    what the row has left (at least the widest of them) and wraps them onto lines of their own."""
    if stacked < 2:
        return layout.cells(len(widths), widths)
    first, group, rest = widths[0], widths[1:1 + stacked], widths[1 + stacked:]
    st.html(f"<style>.st-key-sb_grids > div:nth-child(2) {{ flex: 1 1 {max(group)}px !important; }}</style>")
    row = st.container(horizontal=True, wrap=True, gap="small", key="sb_grids")
    head = row.container(width=first)
    middle = row.container().container(horizontal=True, wrap=True, gap="xsmall")
    return [head, *(middle.container(width=w) for w in group), *(row.container(width=w) for w in rest)]


def _go_to_clicked(shape: tuple[int, int]) -> None:
    """Go to the step that fills the output cell just clicked (the steps go row by row); not while Play runs: its
    reruns each second raced the click's, and the step jumped back."""
    clicked = mosaic.cell_from_click(st.session_state.get("sb_cells"), shape)
    if clicked is not None and not playing():
        st.session_state.sb_step = clicked[0] * shape[1] + clicked[1] + 1
