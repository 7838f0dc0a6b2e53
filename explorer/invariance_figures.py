"""The Invariance page's figures and verdict: how the reading and each layer's output hold as an image is shifted,
turned, scaled or flipped."""

from __future__ import annotations

import plotly.graph_objects as go

from explorer import figures, labels
from explorer.explain_figures import MARGIN, class_name
from explorer.invariance import LABELS, SUFFIX, Sweep, kept_span, nearest_original


def confidence_figure(sweep: Sweep, classes: tuple[str, ...], height: int = 320) -> go.Figure:
    """The probability of the original's class as the image is transformed, with each step's prediction."""
    predicted = [class_name(int(c), classes) for c in sweep.predictions]
    held = [int(c) == sweep.reference_class for c in sweep.predictions]
    fig = go.Figure(go.Scatter(
        x=sweep.values.tolist(), y=sweep.confidence.tolist(), mode="lines+markers", text=predicted,
        marker=dict(color=["#2ca02c" if kept else "#d62728" for kept in held],  # and a shape: red and green
                    symbol=["circle" if kept else "x" for kept in held], size=[7 if kept else 10 for kept in held]),
        hovertemplate="%{x:.3g}: %{y:.1%}; predicted %{text}<extra></extra>"))  # look alike to 1 man in 12
    # the key on a line of its own: at 400 px one line cut it off
    title = figures.subtitled(f"Probability of '{class_name(sweep.reference_class, classes)}'",
                              "green dot: still predicted, red ✕: something else")
    fig.update_layout(title=title, height=height, yaxis=dict(title="probability", tickformat=".0%", range=[0, 1.02]))
    return _sweep_frame(fig, sweep, title)


def correlation_figure(sweep: Sweep, height: int = 420) -> go.Figure:
    """Each layer's correlation with the original's output (rows: layers in forward order) against the value."""
    fig = go.Figure(go.Heatmap(
        z=sweep.correlation.numpy(), x=sweep.values.tolist(), y=list(sweep.layers),
        zmin=-1, zmax=1, colorscale="RdBu_r", colorbar=dict(title="r", thickness=10, x=1.01, xanchor="left"),
        hovertemplate="%{y} at %{x:.3g}: r = %{z:.3f}<extra></extra>"))
    title = figures.subtitled("Each layer's match with the original", "Pearson r of the layer's whole output")
    fig.update_layout(title=title, height=max(height, 24 * len(sweep.layers) + 80),
                      yaxis=dict(autorange="reversed", type="category"))
    return _sweep_frame(fig, sweep, title)


SWEEP_RIGHT_PX = 60  # the correlation's colour bar, and as much beside the probability above it


def _sweep_frame(fig: go.Figure, sweep: Sweep, title: str) -> go.Figure:
    """The probability and the layers' match on one frame, one above the other: the same margins (room for the
    layers' names on the left, for the colour bar on the right) and the same x range, each value's column in line
    with its point (a numeric axis above a categorical one of another width had put -8 px 38 px apart)."""
    values = sweep.values.tolist()
    before = values[1] - values[0] if len(values) > 1 else 1.0
    after = values[-1] - values[-2] if len(values) > 1 else 1.0
    # the names in plotly's 12 px tick font (text_px measures 14 px), and the probability's title and ticks
    left = max(70, round(max((labels.text_px(name) for name in sweep.layers), default=0) * 0.95) + 14)
    fig.update_layout(margin={**MARGIN, "l": left, "r": SWEEP_RIGHT_PX, "t": figures.top_margin(title)})
    fig.update_xaxes(title=LABELS[sweep.kind], range=[values[0] - before / 2, values[-1] + after / 2])
    return fig


def verdict(result: Sweep, classes: tuple[str, ...]) -> str:
    """One sentence on how far the reading holds: the unbroken run around the original, and what breaks it."""
    def value(i: int) -> str:
        v = float(result.values[i])
        if result.kind == "scale":
            return f"{v:.3g}{SUFFIX['scale']}"  # as the chart's axis writes it: 1.76x, not 1.7625x
        v = round(v, 2) + 0.0  # as the strip writes it: -38.57°, not -38.5714°
        return f"{v:{'g' if v == 0 else '+g'}}{SUFFIX[result.kind]}"

    def read(i: int) -> str:
        return f"at {value(i)} it is read as **{class_name(int(result.predictions[i]), classes)}**"

    span, last = kept_span(result), len(result.values) - 1
    if span is None:
        return f"Even the version nearest the original changes the reading: {read(nearest_original(result))}."
    if span == (0, last):
        return (f"**Invariant over the whole range swept**: every version from {value(0)} to {value(last)} keeps "
                "the reading.")
    breaks = [read(i) for i in (span[0] - 1, span[1] + 1) if 0 <= i <= last]
    # a run that reaches an end of the sweep may hold beyond it: say so, rather than seem to break there
    ends = [f"**{value(i)}**" + (" (the end of the range swept)" if i in (0, last) else "") for i in span]
    return f"The reading holds without a break from {ends[0]} to {ends[1]}; {' and '.join(breaks)}."
