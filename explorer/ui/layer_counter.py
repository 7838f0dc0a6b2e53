"""The Kernel Lab's parameter counter: the lecture's counts for a layer of any size (shared weights, locally
connected, fully connected), its seven boxes and its fold kept in the link."""

from __future__ import annotations

import streamlit as st

from explorer import filtering
from explorer.ui import layout, state

# (name, default, least, most) of the boxes; the counter opens on the lecture's locally connected example:
# 30x30x3, 7x7, 5 filters
BOXES = (("w", 30, 1, 4096), ("h", 0, 0, 4096), ("c", 3, 1, 2048), ("f", 7, 1, 64), ("s", 1, 1, 16), ("p", 0, 0, 32),
         ("k", 5, 1, 4096))
LABELS = {"w": "Width W", "h": "Height H", "c": "Channels C", "f": "Kernel F", "s": "Stride S", "p": "Padding P",
          "k": "Filters K"}


def settings() -> list[state.Setting]:
    return [
        *(state.Setting(f"kl_count_{name}", f"n{name}", default, state.int_between(low, high))
          for name, default, low, high in BOXES),
        state.Setting("kl_count_open", "count", False, state.boolean, state.dump_bool),  # the counter unfolded
    ]


def open_for_link() -> None:
    """A link's count (or its error) shows at once, unless the link says ``count=0``. Call after ``restore``."""
    if any(state.from_link(f"kl_count_{name}") for name, *_ in BOXES) and not state.from_link("kl_count_open"):
        st.session_state.kl_count_open = True


def url_extra() -> dict[str, str]:
    """``count=0`` for a link whose counter holds numbers but was folded: left out, the fold opened again."""
    counted = any(st.session_state[f"kl_count_{name}"] != default for name, default, *_ in BOXES)
    return {"count": "0"} if counted and not st.session_state.kl_count_open else {}


def draw() -> None:
    """The fold with the seven boxes and the counts, or why the layer cannot be built."""
    with st.expander("Count a layer's parameters, any sizes", icon=":material/calculate:", key="kl_count_open",
                     on_change="rerun"):
        st.caption("It opens on the lecture's locally connected example. Its other layers: 32 filters of 5x5 on RGB "
                   "(F 5, C 3, K 32); a 256x256 RGB image fully connected (W 256, C 3); a 1920x1080 frame (W 1920, "
                   "H 1080); a 6x6 input, 3x3 kernel, stride 2, whose output size is not whole (W 6, C 1, F 3, S 2).")
        for cell, (name, _, low, high) in zip(layout.flow(len(BOXES), 96, "kl_count_boxes"), BOXES):  # 7 at 1280 px
            cell.number_input(LABELS[name], low, high, key=f"kl_count_{name}",
                              help="0: the same as W, a square input." if name == "h" else None)
        w, h, c, f, s, p, k = (int(st.session_state[f"kl_count_{name}"]) for name, *_ in BOXES)
        try:
            st.markdown("\n".join(filtering.count_lines(w, c, f, s, p, k, height=h)))
        except ValueError as exc:
            st.error(f"This layer cannot be built: {exc}.")
