"""Step by step's strided convolution as the lecture puts it: the stride-1 convolution, then subsampling."""

from __future__ import annotations

import streamlit as st

from explorer import figures, labels, trace
from explorer.ui import charts, layout


def draw(traced: trace.Trace) -> None:
    """For a stride above 1, folded: the stride-1 output with the cells the stride keeps outlined."""
    split = trace.as_subsampling(traced)
    if split is None:
        return
    full, rows, cols = split
    stride, kept = traced.stride, len(rows) * len(cols)
    with st.expander(f"Stride {stride} = stride 1, then every {labels.ordinal(stride)} row and column"):
        cells = [(r, c) for r in rows for c in cols]
        title = f"Stride 1: {full.shape[0]} x {full.shape[1]}"
        charts.show(st, figures.grid_figure(full, title, highlight=cells), key="sb_fig_stride1", width="content",
                    config=layout.NO_TOOLBAR)
        st.markdown(f"The outlined cells, {labels.plural(len(rows), 'row')} {labels.listed(rows)} and "
                    f"{labels.plural(len(cols), 'column')} {labels.listed(cols)}, are the "
                    f"stride-{stride} output, cell for cell: a strided convolution is a convolution followed by "
                    f"subsampling. Sliding {stride} at a time never computes the {full.numel() - kept} of "
                    f"{full.numel()} cells the subsampling would throw away.")
