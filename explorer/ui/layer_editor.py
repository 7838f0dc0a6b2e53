"""The Train page's editor of your own layers: one row per layer, its cells read as typed, and the live plan of
output shapes and parameter counts under it, so an impossible network is caught before launch."""

from __future__ import annotations

import hashlib
import json

import pandas as pd
import streamlit as st

from explorer import layer_table, table_cells
from explorer.ui import state

COLUMNS = ("type", *layer_table.SETTINGS)
# short headers (their help says the rest) and narrow number columns: all nine fit the Train page's wide
# column (about 470 px inside its box at a 1400 px window)
NUMBER_COLUMNS = {"out": ("out", 54, "Output channels (conv) or units (linear)"),
                  "kernel": ("k", 46, "Kernel side (conv)"), "stride": ("s", 46, "Stride (conv, pool)"),
                  "padding": ("pad", 52, "Zeros added on each side (conv)"),
                  "dilation": ("dil", 46, "Dilation (conv): the kernel's taps this many pixels apart"), "size": ("size", 52, "Window (pool)"),
                  "p": ("p", 48, "Probability of dropping a value (dropout)")}


def layer_editor(key: str, linked: list[dict] | None = None) -> list[dict]:
    """An editable table of layers (one row each), starting from the ``linked`` ones (a link's) or a default;
    returns them as dicts without blank cells.

    The editor keeps its edits against the rows it started from, so those stay put while it is on the page (given
    the rows edited so far, it lost every second edit); a new start is a new editor.
    """
    base = st.session_state.get(f"{key}_base")
    if base is None or _editor_key(key, base) not in st.session_state:  # first drawn, or back from another page
        base = st.session_state[f"{key}_base"] = state.kept(key) or linked or layer_table.default_layers()
    frame = pd.DataFrame([{c: _cell_text(row.get(c)) if c in NUMBER_COLUMNS else row.get(c) for c in COLUMNS}
                          for row in base], columns=list(COLUMNS))
    frame = frame.astype({c: "string" for c in NUMBER_COLUMNS})
    edited = st.data_editor(
        frame, key=_editor_key(key, base), num_rows="dynamic", hide_index=True, width="stretch",
        height=_rows_height(len(frame) + 1),  # every row in view, and the empty one that adds a layer
        column_config={
            "type": st.column_config.SelectboxColumn("type", options=list(layer_table.LAYER_TYPES), required=True,
                                                     width=72),
            "kind": st.column_config.SelectboxColumn("kind", options=["max", "avg"], width=60,
                                                     help="Max or average pooling (pool)"),
            # text cells, read here: a number cell made a typed letter 0, so the plan blamed a 0 nobody typed
            **{name: st.column_config.TextColumn(header, width=width, help=words, alignment="right", default="")
               for name, (header, width, words) in NUMBER_COLUMNS.items()},
        })
    layers = [{k: table_cells.cell_value(v) if k in NUMBER_COLUMNS else v for k, v in row.items() if not _blank(v)}
              for row in edited.to_dict("records")]
    state.keep(key, layers)
    return layers


def start_again(key: str, layers: list[dict] | None = None) -> None:
    """Make the editor ``key`` start again from ``layers`` (None: from the link's, else the default), its edits
    dropped: a run's settings put back, or the browser's Back to an address with other layers."""
    state.keep(key, layers)
    st.session_state.pop(f"{key}_base", None)
    for stale in [k for k in st.session_state if str(k).startswith(f"{key}_editor_")]:
        del st.session_state[stale]


def _cell_text(value: object) -> str:
    """A number as its cell shows it (3, 0.25); a blank is empty (None would read "None")."""
    if _blank(value):
        return ""
    return f"{value:g}" if isinstance(value, float) else str(value)


def _blank(value: object) -> bool:
    return value is pd.NA or table_cells.blank(value)  # a text column's empty cell is pd.NA


def _editor_key(key: str, base: list[dict]) -> str:
    """The editor of ``base``: its key names the rows it started from."""
    return f"{key}_editor_{hashlib.sha256(json.dumps(base, sort_keys=True).encode()).hexdigest()[:12]}"


def edited_default() -> list[dict]:
    """The default layers as the editor hands them back (its columns only): what a link need not name."""
    return [{k: v for k, v in row.items() if k in COLUMNS} for row in layer_table.default_layers()]


def _rows_height(rows: int, most: int = 24) -> int:
    """Pixels for a table that shows ``rows`` rows (up to ``most``) and its header without scrolling."""
    return 35 * (min(rows, most) + 1) + 3


def plan_table(layers: list[dict], input_shape: tuple[int, int, int], classes: int) -> str | None:
    """The live output shape and parameter count per layer; returns the first error, if any."""
    rows = layer_table.plan(layers, input_shape, classes)
    st.dataframe([{"layer": r["name"], "type": r["type"],
                   "output": " x ".join(f"{n:,}" for n in r["out_shape"]) if r["out_shape"] else "-",
                   "parameters": f"{r['params']:,}" if r["params"] is not None else "-",
                   "problem": r["error"] or ""} for r in rows], hide_index=True, key="tr_plan",
                 height=_rows_height(len(rows)))
    error = next((r["error"] for r in rows if r["error"]), None)
    if error is not None:  # in full under the plan: its column is too narrow for a sentence
        st.error(f"{error[0].upper()}{error[1:]}.")
    else:
        shape = " x ".join(map(str, input_shape))
        st.caption(f"{shape} in, {classes} classes out: {sum(r['params'] for r in rows):,} parameters in all.")
    return error
