"""The Train page's first-layer filters over a run's snapshots, coloured as the visitor chooses: one scale for the
whole run, each filter on its own, or their change since the start (``fview=`` in the link)."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st
import torch

from explorer import mosaic, run_files, runs
from explorer.ui import state

FILTER_VIEWS = {"run": "one scale for the run", "each": "each on its own scale", "change": "change since the start"}


def setting() -> state.Setting:
    return state.Setting("tr_fview", "fview", "run", state.choice(tuple(FILTER_VIEWS)))


@st.cache_data(max_entries=64, show_spinner=False)
def _ranges(run_id: str, steps: tuple[int, ...]) -> tuple[float, float]:
    """:func:`run_files.filter_ranges`, read again only when the run has kept another snapshot (``steps``)."""
    return run_files.filter_ranges(run_id)


def choose() -> str:
    """How the filters are coloured (``tr_fview``), chosen above them."""
    return st.selectbox("Filter colours", tuple(FILTER_VIEWS), key="tr_fview", format_func=FILTER_VIEWS.get,
                        help="One scale for the run: a colour that changes while you scrub is a weight that "
                             "changed. Each on its own scale: the shape of every filter, however small its weights "
                             "(hand-set filters, larger, set the run's scale). Change since the start: where "
                             "training moved the weights.")


def figure(run: runs.Run, steps: list[int], step: int, filters: torch.Tensor, view: str, width_px: int) -> go.Figure:
    """The first layer's filters at ``step``, coloured as the visitor chose: on one scale for every snapshot (what
    changes colour changed: each snapshot on its own scale had recoloured filters that had not moved), each filter
    on its own (hand-set ones set the scale and left the learned ones blank), or as the change from the first."""
    largest, change = _ranges(run.id, tuple(steps))
    if view == "change" and len(steps) > 1:
        moved = filters.float() - run_files.load_snapshot(run.id, steps[0])["filters"].float()
        return mosaic.kernels_figure(moved, f"Change of the filters, step {steps[0]:,} to {step:,}", height=330,
                                     width_px=width_px, limit=change or None, what="changes")
    return mosaic.kernels_figure(filters, f"First-layer filters at step {step:,}", height=330,
                                 width_px=width_px, limit=largest if view == "run" and largest else None,
                                 per_filter=view == "each")
