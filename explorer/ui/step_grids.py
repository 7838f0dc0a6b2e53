"""Step by step's grids: the lecture's worked example chosen, or your own input and kernel typed in (or made up at
random, a new exercise), validated."""

from __future__ import annotations

import secrets
from typing import Any

import streamlit as st
import torch

from explorer import examples, kernels

EXAMPLE_KEYS = (*examples.EXAMPLES, "custom")
LARGEST = 12  # rows and columns of an input typed in


def grids(pooling: bool, pick: Any) -> tuple[torch.Tensor, torch.Tensor | None] | None:
    """The input and kernel of the chosen example (picked in ``pick``), or the user's own (validated). Pooling takes
    the input only."""
    key = pick.selectbox("Input grid" if pooling else "Example", EXAMPLE_KEYS, key="sb_example",
                       on_change=_example_changed,
                       format_func=lambda k: (f"the input of the example “{examples.EXAMPLES[k].title}”" if pooling
                                              else examples.EXAMPLES[k].title) if k in examples.EXAMPLES
                       else "Your own grids")
    if key in examples.EXAMPLES:
        st.caption("Pooling slides a window over this example's input; it has no kernel." if pooling
                   else examples.EXAMPLES[key].note)
        return examples.EXAMPLES[key].image, examples.EXAMPLES[key].kernel
    _random_row(pooling)
    a, b = st.columns(2)
    text_in = a.text_area("Input (rows on lines, numbers split by spaces)", key="sb_input", height=150)
    text_k = "" if pooling else b.text_area("Kernel", key="sb_kernel", height=150)
    try:
        grid, kernel = kernels.parse_each(lambda: _grid(text_in, "input", LARGEST).double(),
                                          lambda: None if pooling else kernels.parse_text(text_k, "kernel").double())
        return grid, kernel
    except kernels.KernelError as exc:
        st.error(f"These grids cannot be used: {exc}.")
        return None


def _grid(text: str, what: str, limit: int) -> torch.Tensor:
    if not text.strip():
        raise kernels.KernelError(f"the {what} needs 1 to {limit} rows and columns of numbers")
    return kernels.parse_text(text, what, limit)


def _example_changed() -> None:
    example = examples.EXAMPLES.get(st.session_state.sb_example)
    st.session_state.sb_step = 1
    if example is not None:
        st.session_state.sb_pad, st.session_state.sb_stride = example.padding, example.stride


def _random_row(pooling: bool) -> None:
    """Sizes and a button that fill the boxes below with a new exercise (CNN Explainer's input and kernel sizes, with
    numbers a class can add up)."""
    row = st.container(horizontal=True, vertical_alignment="bottom", gap="small")
    size = row.number_input("Input size", 2, LARGEST, 5, key="sb_gen_size", width=130)
    if not pooling:  # no larger than the input: a 5 x 5 kernel asked of a 3 x 3 input had come out 3 x 3 unsaid
        largest = min(size, 5)
        st.session_state.sb_gen_kernel = min(st.session_state.get("sb_gen_kernel", 3), largest)
        row.number_input(f"Kernel size (1..{largest})", 1, largest, key="sb_gen_kernel", width=130)
    row.button("Random numbers", key="sb_gen", icon=":material/casino:", on_click=_fill_random, args=(pooling,),
               help="A new input (whole numbers 0..9) and kernel (-2..2) of these sizes in the boxes below.")


def _fill_random(pooling: bool) -> None:
    size = int(st.session_state.sb_gen_size)
    kernel_size = 1 if pooling else int(st.session_state.sb_gen_kernel)
    image, kernel = examples.random_problem(size, kernel_size, secrets.randbelow(2**31))
    st.session_state.sb_input = examples.grid_text(image)
    if not pooling:
        st.session_state.sb_kernel = examples.grid_text(kernel)
    st.session_state.sb_step = 1
