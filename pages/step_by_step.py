"""Convolution step by step: the lecture's worked examples, one output cell at a time."""

import streamlit as st
import torch

from explorer import backprop, conv, examples, kernels, step_figures, trace
from explorer.ui import backward, layout, state, step_export, step_grids, stepper, stride_view

layout.page_setup(layout.PAGES[0])
st.title("Convolution step by step")
st.markdown(
    "The window (orange) visits one output cell per step: each input value under it is multiplied by "
    "the kernel weight on top of it, and the products are added up (pooling takes their maximum, mean, sum or "
    "L2 norm instead)."
)

MODES = ("convolution", "pooling", "1-D signal", "backward")
SETTINGS = [
    state.Setting("sb_mode", "mode", "convolution", state.choice(MODES)),
    state.Setting("sb_example", "ex", "laplacian", state.choice(step_grids.EXAMPLE_KEYS)),
    state.Setting("sb_input", "in", "1 2 3 0\n0 1 2 3\n3 0 1 2\n2 3 0 1", str),
    state.Setting("sb_kernel", "kv", "1 0\n0 -1", str),
    state.Setting("sb_flip", "flip", False, state.boolean, state.dump_bool),
    state.Setting("sb_pad", "pad", 0, state.int_between(0, 3)),
    state.Setting("sb_pmode", "pmode", "zeros", state.choice(conv.PADDING_MODES)),
    state.Setting("sb_stride", "stride", 1, state.int_between(1, 3)),
    state.Setting("sb_dilation", "dil", 1, state.int_between(1, 3)),
    state.Setting("sb_pool", "pool", "max", state.choice(conv.POOL_KINDS)),
    state.Setting("sb_psize", "psize", 2, state.int_between(1, 4)),
    state.Setting("sb_pstride", "pstride", 2, state.int_between(1, 4)),
    state.Setting("sb_signal", "sig", "0 0 1 3 4 4 2 0 0 1", str),
    state.Setting("sb_kernel_1d", "k1", "-1 0 1", str),
    state.Setting("sb_upstream", "dy", "", str),
    state.Setting("sb_step", "step", 1, state.int_between(1, 10_000)),
]
state.restore(SETTINGS)
# a link's own grids without an example mean them (pooling reads no kernel); the page writes the example beside them
state.implied("sb_example", "custom", ("in",) if st.session_state.sb_mode == "pooling" else ("in", "kv"))
stepper.settle_play()
if state.from_link("sb_example") and st.session_state.sb_example in examples.EXAMPLES:
    # a link that names an example and no padding (or stride) means the example as the lecture has it
    linked = examples.EXAMPLES[st.session_state.sb_example]
    if not state.from_link("sb_pad"):
        st.session_state.sb_pad = linked.padding
    if not state.from_link("sb_stride"):
        st.session_state.sb_stride = linked.stride


def _lecture_named() -> dict[str, str]:
    """``pad=0`` (``stride=1``) for the link of an example the lecture pads (strides) that is shown without: left out
    as the default, it opened padded. The example itself beside grids of one's own kept in the link: without it,
    the link would mean those grids."""
    example = examples.EXAMPLES.get(st.session_state.sb_example)
    if example is None:
        return {}
    typed = any(st.session_state[s.key] != s.default for s in SETTINGS if s.param in ("in", "kv"))
    return ({"ex": st.session_state.sb_example} if typed else {}) | (
        {"pad": "0"} if example.padding and st.session_state.sb_pad == 0 else {}) | (
        {"stride": "1"} if example.stride != 1 and st.session_state.sb_stride == 1 else {})


def show_step(traced: trace.Trace, kind: str, grad: torch.Tensor | None, played: bool) -> None:
    """The step's controls, grids and sum, in a fragment that reruns each second while ``played`` (Play was on when
    the page drew it)."""
    stepper.rerun_if_stopped()
    step = stepper.controls(traced.steps, played)
    if not stepper.playing() or step + 1 == traced.steps:
        # the step changes inside this fragment: keep the link in step, but once a play, not once a second (each
        # address is an entry of the browser's history, which Back would step through)
        state.publish(SETTINGS, _lecture_named())
    r, c = traced.cell(step)
    place = step_figures.cell_name(traced, r, c)  # as the grids name it: a one-row input has positions too
    if grad is not None:
        back = backprop.backward_until(traced, grad, step)
        written = backprop.step_text(traced, back)
        figs = step_figures.backward_step_figures(traced, back)
    elif traced.weights is not None:
        example = examples.EXAMPLES.get(st.session_state.sb_example)  # its output rounded as the lecture prints it
        printed = example.decimals if example is not None and st.session_state.sb_mode == "convolution" else None
        written = trace.equation(traced, step, printed=printed)
        figs = step_figures.conv_step_figures(traced, step, flipped=st.session_state.sb_flip,
                                              decimals=2 if printed is None else printed)
    else:
        written = trace.pool_equation(traced, kind, step)
        figs = step_figures.pool_step_figures(traced, trace.pool_routing(traced, kind), step)
    cells = 0 if grad is not None else 1 if traced.weights is None else len(figs) - 1  # the output cells' grid
    stepper.draw(figs, cells, tuple(traced.output.shape), "the output" + (" gradient" if grad is not None else ""),
                 stacked=len(figs) - 2 if cells == len(figs) - 1 else 0)  # the kernel(s) and the products
    # the sum under the grids, whose products it adds: above them, it had pushed the grids off a projector's screen
    st.markdown(f"**Step {step + 1} of {traced.steps}** fills output {place} (steps count from 1; positions and "
                "cells from 0, as PyTorch indexes them)")
    st.code(written, language=None, wrap_lines=True)


# what to step through beside the example, and Play beside the steps: on a 1280 x 720 projector the grids had
# started below the first screen (at 1024 px the row wraps)
mode_cell, pick_cell = layout.split("sb_top", 380, 300, grow=(0, 1))
mode = mode_cell.segmented_control("What to step through", MODES, key="sb_mode", required=True)
with layout.guard("building the example"):
    flip, pmode = False, "zeros"  # pooling has neither
    if mode == "1-D signal":
        a, b = pick_cell.columns(2)
        signal = a.text_input("Signal", key="sb_signal")
        kernel_text = b.text_input("Kernel", key="sb_kernel_1d")
    else:
        problem = step_grids.grids(mode == "pooling", pick_cell)
    cols = st.columns(4)
    if mode == "pooling":
        kind = cols[0].selectbox("Pooling", conv.POOL_KINDS, key="sb_pool")
        size = cols[1].number_input("Window", 1, 4, key="sb_psize", help="The window's side: it covers size x size "
                                    "input values.")
        stride = cols[2].number_input("Stride", 1, 4, key="sb_pstride",
                                      help="How far the window moves per step: equal to the window, the windows tile "
                                           "the input.")
    else:
        pad = cols[0].number_input("Padding", 0, 3, key="sb_pad",
                                   help="A ring of values around the input (dashed outline): the output grows.")
        pmode = cols[1].selectbox("Padding mode", conv.PADDING_MODES, key="sb_pmode",
                                  help="What the ring holds: zeros, or the input reflected, repeated or wrapped.")
        stride = cols[2].number_input("Stride", 1, 3, key="sb_stride",
                                      help="How far the window moves per step: watch the dotted path skip.")
        dilation = cols[3].number_input("Dilation", 1, 3, key="sb_dilation",
                                        help="Spreads the kernel's taps apart, with dilation - 1 input values between "
                                             "them.")
    if mode != "pooling":
        flip = layout.toggle(st, "Flip the kernel (true convolution)", key="sb_flip",
                             help="Turn the kernel by 180 degrees before it slides, as convolution in the "
                                  "mathematical sense does; PyTorch's conv layers (cross-correlation) do not.")
    state.publish(SETTINGS, _lecture_named())
    try:
        if mode == "1-D signal":
            sig, kernel = kernels.parse_each(lambda: kernels.parse_values(signal, "signal"),
                                             lambda: kernels.parse_values(kernel_text, "kernel"))
            traced = trace.conv1d_trace(sig, kernel, padding=pad, padding_mode=pmode,
                                        stride=stride, dilation=dilation, flip=flip)
        elif problem is None:
            st.stop()
        elif mode == "pooling":
            traced = trace.pool_trace(problem[0], kind, size, stride)
        else:
            traced = trace.conv_trace(problem[0], problem[1], padding=pad, padding_mode=pmode, stride=stride,
                                      dilation=dilation, flip=flip)
    except ValueError as exc:
        st.error(f"These settings do not work here: {exc}.")
        st.stop()
    grad = None
    if mode == "backward":
        st.caption(backward.INTRO)
        if (grad := backward.upstream(traced)) is None:
            st.stop()
    if flip and traced.weights is not None:
        st.info("True convolution: the kernel is turned by 180 degrees before it slides; the grids show it as you "
                "set it, then turned, as applied.")
    example, note = examples.EXAMPLES.get(st.session_state.sb_example), ""
    if mode in ("convolution", "backward") and example is not None and (note := examples.departure_note(
            example, tuple(traced.output.shape), padding=pad, padding_mode=pmode, stride=stride, dilation=dilation,
            flip=flip)):
        st.caption(note)
    if words := trace.skipped_words(traced):  # the lecture's 6x6 input, 3x3 kernel, stride 2: 2.5
        st.warning(words)
    st.fragment(run_every=1.0 if stepper.playing() else None)(show_step)(
        traced, kind if mode == "pooling" else "", grad, stepper.playing())
    if mode == "convolution":
        stride_view.draw(traced)
    done = backward.whole_pass(traced, grad, pmode, flip) if grad is not None else None
    shown = example if mode in ("convolution", "backward") else None  # pooling and 1-D: the grids' own
    step_export.draw(traced, mode, kind if mode == "pooling" else "", grad, done, pmode, flip, shown, bool(note))
