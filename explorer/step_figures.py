"""The figures of one step of a convolution or pooling, forward and backward (the page Convolution step by step):
the input with the window and its path, the kernel, the products and the output filled so far.
"""

from __future__ import annotations

import plotly.graph_objects as go
import torch

from explorer.backprop import Backward
from explorer.export import common_fraction
from explorer.figures import GRADIENT_SCALE, INK_ON_WHITE, grid_figure
from explorer.trace import Trace, input_gradient, unread, window_centres


def _step_marks(trace: Trace, step: int):
    """The output cell of ``step``, its window's taps, and which output cells are filled so far."""
    taps = list(zip(trace.rows[step].tolist(), trace.cols[step].tolist()))
    done = torch.arange(trace.output.numel()).reshape(trace.output.shape) <= step
    return trace.cell(step), taps, done


def cell_name(trace: Trace, r: int, c: int) -> str:
    """"cell (r, c)" of a grid, "position c" of a signal (one row, a one-row window)."""
    return f"position {c}" if trace.padded.shape[0] == 1 and trace.window_hw[0] == 1 else f"cell ({r}, {c})"


def conv_step_figures(trace: Trace, step: int, flipped: bool = False, decimals: int = 2) -> list[go.Figure]:
    """Input (padded, window and path), kernel as applied (``flipped``: after the kernel as set, turned by 180
    degrees for true convolution), products at ``step``, output so far (to ``decimals``: a worked example's output
    as the lecture prints it)."""
    (r, c), taps, done = _step_marks(trace, step)
    ninths = common_fraction(trace.weights)  # 1/9 and 3/9 as the lecture writes them: 0.11s, 0.33s did not add up
    as_set = [grid_figure(trace.weights.flip(0, 1), "Kernel as you set it", colorscale="RdBu_r", zmid=0,
                          fraction=ninths)] if flipped else []
    return [
        grid_figure(trace.padded, "Input (padded)" if any(trace.padding) else "Input", highlight=taps,
                    border=trace.padding, path=window_centres(trace), unread=unread(trace)),
        *as_set,
        grid_figure(trace.weights, "Turned, as applied" if flipped else "Kernel", colorscale="RdBu_r", zmid=0,
                    fraction=ninths),
        grid_figure(trace.window_terms(step), "Products", colorscale="RdBu_r", zmid=0, fraction=ninths),
        grid_figure(trace.output, f"Output: {cell_name(trace, r, c)}", mask=done, highlight=[(r, c)],
                    colorscale="RdBu_r", zmid=0, decimals=decimals),
    ]


def pool_step_figures(trace: Trace, routing: torch.Tensor, step: int) -> list[go.Figure]:
    """Input with the window, output so far, and where this output's gradient flows back."""
    (r, c), taps, done = _step_marks(trace, step)
    upstream = torch.zeros(trace.output.numel(), dtype=torch.float64)
    upstream[step] = 1.0
    return [
        grid_figure(trace.padded, "Input", highlight=taps, path=window_centres(trace), unread=unread(trace)),
        grid_figure(trace.output, f"Output: {cell_name(trace, r, c)}", mask=done, highlight=[(r, c)]),
        grid_figure(input_gradient(trace, routing, upstream), "Backward: its gradient",
                    highlight=taps, colorscale="Oranges", outline=INK_ON_WHITE),
    ]


def backward_step_figures(trace: Trace, back: Backward) -> list[go.Figure]:
    """Upstream gradient (this cell outlined), input with the window, dx and dw as handed back so far."""
    (r, c), taps, _ = _step_marks(trace, back.step)
    padded = "(padded)" if any(trace.padding) else ""
    return [
        grid_figure(back.upstream, f"dL/dy: {cell_name(trace, r, c)}", highlight=[(r, c)], colorscale=GRADIENT_SCALE,
                    zmid=0, outline=INK_ON_WHITE),
        grid_figure(trace.padded, f"Input x {padded}".strip(), highlight=taps, border=trace.padding,
                    unread=unread(trace)),
        grid_figure(back.input_grad, f"dx so far {padded}".strip(), highlight=taps, border=trace.padding,
                    colorscale="RdBu_r", zmid=0),
        grid_figure(back.weight_grad, "dw so far", colorscale="RdBu_r", zmid=0),
    ]


def transposed_figures(spread: torch.Tensor, turned: torch.Tensor, input_grad: torch.Tensor,
                       border: tuple[int, int, int, int]) -> list[go.Figure]:
    """dx read as a convolution: the spread dL/dy, the kernel turned 180 degrees, and what sliding one over
    the other gives."""
    return [
        grid_figure(spread, "dL/dy spread out, ringed with zeros", colorscale=GRADIENT_SCALE, zmid=0),
        grid_figure(turned, "flip(w), turned 180°", colorscale="RdBu_r", zmid=0),
        grid_figure(input_grad, "= dx", border=border, colorscale="RdBu_r", zmid=0),
    ]
