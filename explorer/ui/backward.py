"""Convolution step by step, backward: the upstream gradient's box and the whole pass once every cell is back."""

from __future__ import annotations

import streamlit as st
import torch

from explorer import backprop, conv, export, figures, labels, step_figures
from explorer.trace import Trace
from explorer.ui import charts, layout

INTRO = (
    "Backward: the loss's gradient dL/dy arrives at every output cell. Cell by cell, in the order the forward pass "
    "filled them, each hands its dy back to what made it: **dy · w** is added onto its window of the input "
    "(that is dx) and **dy · x[window]** onto the kernel's gradient dw. The same kernel sits on every window, so "
    "its gradient adds up over all positions; the bias gets the sum of all dy."
)
FOLDED = {
    "zeros": "the ring's zeros are constants, so their gradient goes nowhere",
    "reflect": "each ring cell copies a pixel by reflection, so its gradient is added to that pixel",
    "replicate": "each ring cell repeats the nearest edge pixel, so its gradient is added to it",
    "circular": "each ring cell copies a pixel from the opposite side, so its gradient is added there",
}


def upstream(traced: Trace) -> torch.Tensor | None:
    """The upstream gradient typed on the page (all ones when empty); None, with a message, when unusable."""
    h, w = traced.output.shape
    typed = bool(st.session_state.get("sb_upstream", "").strip())
    # folded while it is all ones: open, the box and the words above it had pushed the grids off a projector's screen
    box = st.expander("Upstream gradient dL/dy: " + ("as typed" if typed else "all ones (L = the sum of the outputs)"),
                      expanded=typed)
    text = box.text_area(f"dL/dy: {h} {labels.plural(h, 'row')} of {w} {labels.plural(w, 'number')} (empty: all "
                         "ones, the gradient of L = the sum of the outputs)", key="sb_upstream", height=100)
    try:
        return backprop.upstream_grid(text, (h, w))
    except ValueError as exc:
        st.error(f"This gradient cannot be used: {exc}.")
        return None


def whole_pass(traced: Trace, grad: torch.Tensor, padding_mode: conv.PaddingMode, flip: bool) -> backprop.Backward:
    """dx read as a transposed convolution, dw as a correlation, both checked against autograd; returns the pass.

    ``flip``: true convolution, so w is the typed kernel turned and dw belongs to the kernel as applied.
    """
    st.subheader("Every cell handed back")
    done = backprop.backward(traced, grad)
    auto_dx, auto_dw = backprop.autograd(traced, grad)
    by_flip = backprop.input_grad_by_flipped_kernel(traced, grad)
    gap = backprop.largest_difference((done.input_grad, auto_dx), (done.weight_grad, auto_dw),
                                      (backprop.input_grad_transposed(traced, grad), auto_dx), (by_flip, auto_dx))
    spread = "its entries spread a stride apart, " if traced.stride > 1 else ""
    st.markdown(
        f"Read the other way round, dx is a convolution too: dL/dy, {spread}ringed with zeros as wide as the "
        "kernel's reach minus one, correlated with the kernel turned 180 degrees: **dx = dy ⋆ flip(w)**, with ⋆ "
        "the sliding sum of products this page steps through (what PyTorch calls convolution; the lecture writes "
        "dy * flip(w)). It is the transposed convolution (PyTorch's `conv_transpose2d(dy, w)`, the lecture's "
        "$A_w^T dy$) that layers use to upsample.")
    figs = step_figures.transposed_figures(backprop.spread_upstream(traced, grad), traced.weights.flip(-1, -2),
                                           by_flip, traced.padding)
    for i, (cell, fig) in enumerate(zip(layout.cells(len(figs), [f.layout.width for f in figs]), figs)):
        charts.show(cell, fig, key=f"sb_bw_fig_{i}", width="content", config=layout.NO_TOOLBAR)
    if torch.equal(traced.weights, traced.weights.flip(-1, -2)):
        st.caption("This kernel is its own 180° turn, so here the flip changes nothing: the lecture's zero-padding "
                   "example has a kernel where it shows.")
    st.markdown(
        "And dw is the input correlated with dL/dy"
        + (f" (dy's entries {traced.stride} apart)" if traced.stride > 1 else "")
        + f": **dw = x ⋆ dy** (the lecture writes dy * flip(x), the same sums in its notation, where * turns one "
        f"side), here {backprop.inline(done.weight_grad)}; the bias's gradient is the sum of dy, "
        f"{export.number(done.bias_grad)}."
        + (" With the flip on, w is the kernel as applied (turned), so flip(w) above is the kernel as you typed "
           "it, and dw belongs to the kernel as applied: the kernel as you typed it gets dw turned back by 180 "
           "degrees." if flip else ""))
    if gap < 1e-9:
        st.success(f"PyTorch agrees: autograd through `F.conv2d` gives the same dx and dw, and so does "
                   f"`conv_transpose2d` for dx (largest difference {f'{gap:.0e}' if gap else '0'}).")
    else:
        st.error(f"PyTorch's autograd differs by {gap:.3g}: please report this example.")
    if any(traced.padding):
        folded = backprop.fold_padding(traced, done.input_grad, padding_mode)
        st.markdown(f"dx above lies on the padded grid. On the input itself ({padding_mode} padding): "
                    f"{FOLDED[padding_mode]}.")
        charts.show(st, figures.grid_figure(folded, "dx on the input itself", colorscale="RdBu_r", zmid=0),
                    key="sb_bw_folded", width="content", config=layout.NO_TOOLBAR)
    return done
