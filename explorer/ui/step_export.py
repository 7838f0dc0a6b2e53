"""Step by step's export: the example's matrices as Markdown and LaTeX under a line of its settings, for handouts
and slides, each file named after the example."""

from __future__ import annotations

import streamlit as st
import torch

from explorer import backprop, export, labels, trace
from explorer.examples import WorkedExample


def matrices(traced: trace.Trace, flip: bool, grad: torch.Tensor | None, done: backprop.Backward | None,
             padding_mode: str) -> dict[str, torch.Tensor]:
    """The example's matrices by name, as the page shows them: the kernel as set and as applied where it is
    turned, the padded input where there is padding, the backward pass's gradients with ``done``."""
    padded = any(traced.padding)
    named = {"input": traced.unpadded, "input (padded)": traced.padded if padded else None,
             "kernel (as set)": traced.weights.flip(0, 1) if flip and traced.weights is not None else None,
             "kernel (turned, as applied)" if flip else "kernel": traced.weights, "output": traced.output}
    if done is not None:
        named.update({"dL/dy": grad, "dx (on the padded input)" if padded else "dx": done.input_grad,
                      "dw (of the kernel as applied)" if flip else "dw": done.weight_grad})
        if padded:
            named["dx (on the input)"] = backprop.fold_padding(traced, done.input_grad, padding_mode)
    return {name: m for name, m in named.items() if m is not None}  # pooling has no kernel


def draw(traced: trace.Trace, mode: str, pooling: str, grad: torch.Tensor | None, done: backprop.Backward | None,
         padding_mode: str, flip: bool, example: WorkedExample | None, departed: bool) -> None:
    """The export fold. ``example``: the lecture's example shown (None for grids of the user's own); ``departed``:
    the settings leave it, so its title is not the handout's; its output keeps the lecture's rounding."""
    named = matrices(traced, flip, grad, done, padding_mode)
    kernel = traced.weights.shape if traced.weights is not None else traced.window_hw
    settings = export.example_heading(mode, tuple(kernel), traced.padding, traced.stride, traced.dilation,
                                      padding_mode, flip, pooling)
    heading = f"{example.title}. {settings}" if example is not None and not departed else settings
    decimals = {"output": example.decimals} if example is not None and mode == "convolution" else 2
    stem = "-".join(labels.file_stem(part) for part in ("step", example.key if example else "", mode, pooling) if part)
    markdown, latex = (write(named, decimals, heading) for write in (export.example_markdown, export.example_latex))
    with st.expander("Export this example (Markdown / LaTeX)"):
        st.code(markdown, language="markdown")
        st.code(latex, language="latex")
        st.download_button("Download Markdown", markdown, f"{stem}.md", key="sb_dl_md")
        st.download_button("Download LaTeX", latex, f"{stem}.tex", key="sb_dl_tex")
