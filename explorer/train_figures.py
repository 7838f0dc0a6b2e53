"""Figures of the training page: loss and accuracy curves, runs side by side, the confusion matrix."""

from __future__ import annotations

import math

import plotly.graph_objects as go
import torch
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from explorer import figures
from explorer.labels import share


TRAIN_COLOUR, TEST_COLOUR = "#0068c9", "#ff2b2b"  # the training set in blue, the test set in red, in both curves
LR_COLOUR = "#888888"


def smoothed(values: list[float], weight: float) -> list[float]:
    """TensorBoard's smoothing of a curve: an exponential moving average, ``s = weight s + (1 - weight) v``, divided
    by ``1 - weight^n`` after n values so that its start is not pulled towards 0; a value that is not finite passes
    through and is left out of the average. ``weight`` 0: the values themselves."""
    out, last, count = [], 0.0, 0
    for value in values:
        if value is None or not math.isfinite(value):
            out.append(value)
            continue
        last, count = last * weight + (1 - weight) * value, count + 1
        out.append(last / (1 - weight ** count) if weight else value)
    return out


def _train_curve(fig: go.Figure, x: list[float], y: list[float], name: str, smoothing: float) -> None:
    """A training curve: smoothed as TensorBoard does, over its raw values drawn faint (``smoothing`` 0: raw)."""
    if smoothing:
        fig.add_trace(go.Scatter(x=x, y=smoothed(y, smoothing), name=name, mode="lines", line_color=TRAIN_COLOUR,
                                 hovertemplate=f"epoch %{{x:.2f}}: %{{y:.4g}} smoothed<extra>{name}</extra>"))
        fig.add_trace(go.Scatter(x=x, y=y, name=f"{name} (raw)", mode="lines", line=dict(color=TRAIN_COLOUR, width=1),
                                 opacity=0.3, showlegend=False, hoverinfo="skip"))
    else:
        fig.add_trace(go.Scatter(x=x, y=y, name=name, mode="lines", line_color=TRAIN_COLOUR))


def loss_figure(records: list[dict], height: int = 300, smoothing: float = 0.0) -> go.Figure:
    """The training loss per logged step (smoothed as TensorBoard does by ``smoothing``, 0 to 1) and the test set's
    loss at each epoch's end, against the epoch.

    ``records`` are a run's metrics: dicts with ``phase``, ``epoch``, ``loss``, ``accuracy`` and,
    for "eval" records, ``test_accuracy`` and ``test_loss``.
    """
    train = [r for r in records if r.get("phase") == "train"]
    tests = [r for r in records if r.get("test_loss") is not None and r.get("phase") in ("eval", "done")]
    fig = go.Figure()
    _train_curve(fig, [r["epoch"] for r in train], [r["loss"] for r in train], "train loss", smoothing)
    if tests:  # beside the training loss, what tells overfitting: the held-out images' loss going up
        fig.add_trace(go.Scatter(x=[r["epoch"] for r in tests], y=[r["test_loss"] for r in tests], name="test loss",
                                 mode="lines+markers", line_color=TEST_COLOUR))
    fig.update_yaxes(range=_padded_range([r["loss"] for r in train] + [r["test_loss"] for r in tests], least=0.25),
                     nticks=6, title=dict(text="loss", standoff=4))  # 0.6 to 2.1: one tick
    rates = [r for r in train if r.get("lr") is not None]
    if rates:  # the rate typed is the one-cycle schedule's peak: the rate each step used, on its own axis
        fig.add_trace(go.Scatter(x=[r["epoch"] for r in rates], y=[r["lr"] for r in rates], name="learning rate",
                                 mode="lines", line=dict(color=LR_COLOUR, dash="dot"), yaxis="y2",
                                 hovertemplate="epoch %{x:.2f}: learning rate %{y:.3g}<extra></extra>"))
        fig.update_layout(yaxis2=dict(overlaying="y", side="right", rangemode="tozero", showgrid=False,
                                      tickmode="auto", tickformat=".1e", nticks=4,  # round ticks of its own
                                      tickfont=dict(size=10, color=LR_COLOUR),
                                      title=dict(text="learning rate", font=dict(size=11, color=LR_COLOUR))))
    return _curve_layout(fig, "Learning curve: loss", records, height)


def accuracy_figure(records: list[dict], height: int = 300, smoothing: float = 0.0) -> go.Figure:
    """Training accuracy per logged step and test accuracy at each epoch's end (``records`` and ``smoothing`` as
    for :func:`loss_figure`)."""
    train = [r for r in records if r.get("phase") == "train"]
    tests = [r for r in records if r.get("test_accuracy") is not None and r.get("phase") in ("eval", "done")]
    fig = go.Figure()
    _train_curve(fig, [r["epoch"] for r in train], [r["accuracy"] for r in train], "train accuracy", smoothing)
    fig.add_trace(go.Scatter(x=[r["epoch"] for r in tests], y=[r["test_accuracy"] for r in tests],
                             name="test accuracy", mode="lines+markers", line_color=TEST_COLOUR))
    fig.update_yaxes(range=ACCURACY_RANGE, tickformat=".0%", title=dict(text="accuracy", standoff=4))
    return _curve_layout(fig, "Learning curve: accuracy", records, height)


def step_epoch(records: list[dict], step: int) -> float | None:
    """The epoch (a fraction) a run had reached at ``step``, read from its records' own steps and epochs."""
    known = [r for r in records if r.get("step") and r.get("epoch") is not None]
    if not known:
        return None
    last = max(known, key=lambda r: r["step"])
    return step * last["epoch"] / last["step"]


def mark_snapshot(fig: go.Figure, epoch: float, step: int) -> go.Figure:
    """A dotted line at the snapshot shown below the curves: where in training its filters were."""
    fig.add_vline(x=epoch, line=dict(color=LR_COLOUR, dash="dash", width=1), annotation_text=f"step {step:,}",
                  annotation_position="top right", annotation_font=dict(size=10, color=LR_COLOUR))
    return fig


def _curve_layout(fig: go.Figure, title: str, records: list[dict], height: int) -> go.Figure:
    """A learning curve's title, epoch axis and legend under the plot (each curve is its own figure, so the
    two stack in a narrow column instead of sharing its width)."""
    _epoch_axes(fig, [r["epoch"] for r in records if r.get("epoch") is not None])
    fig.update_layout(title=title, height=height, margin=dict(l=10, r=10, t=50, b=10), showlegend=True,
                      legend=figures.LEGEND_BELOW)
    return fig


ACCURACY_RANGE = [0, 1.04]  # a curve at 100% is drawn whole, not cut by the plot's edge


def _epoch_axes(fig: go.Figure, epochs: list[float]) -> None:
    """Every x axis in epochs from 0, a tick at every epoch when there are at most ten (plotly would skip some),
    at every quarter for one or two (a one-epoch run's axis had the single tick 1)."""
    last = max(epochs, default=0)
    fig.update_xaxes(title_text="epoch", rangemode="tozero", dtick=0.25 if 0 < last <= 2 else 1 if last <= 10 else None)


def _padded_range(values: list[float], pad: float = 0.06, least: float = 0.0) -> list[float] | None:
    """The finite values' span with a margin, so the first and last points sit inside the plot, not on its
    edge (None, plotly's own range, when there is nothing finite to span). ``least``: the span is at least this
    share of the largest value, centred on the values (a live run's first losses, 2.065 to 2.085, filled the
    plot and looked like wild noise)."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return None
    low, high = min(finite), max(finite)
    widen = max(least * abs(high) - (high - low), 0) / 2
    low, high = low - widen, high + widen
    margin = (high - low) * pad or abs(high) * pad or 1.0
    return [low - margin, high + margin]


DIVERGED = 3  # a loss this many times the largest first loss of the runs compared has diverged: cut above it


def _first_loss(records: list[dict]) -> float:
    """A run's first finite training loss (about ln of its classes: the scale every run starts from), else 0."""
    return next((r["loss"] for r in records if r.get("phase") == "train" and r.get("loss") is not None
                 and math.isfinite(r["loss"])), 0.0)


def comparison_figure(named: list[tuple[str, list[dict]]], height: int = 380, smoothing: float = 0.0) -> go.Figure:
    """Several runs' training loss (smoothed by ``smoothing``, as :func:`loss_figure`) and test accuracy against the
    epoch, one colour per run.

    ``named``: (run name, its metrics records) pairs, as :func:`curves_figure` reads them.
    """
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Training loss", "Test accuracy"))
    palette, dashes = qualitative.Plotly, ("solid", "dash", "dot", "dashdot")
    for i, (name, records) in enumerate(named):
        # a dash of its own too: two runs with the same curves still both show
        line = dict(color=palette[i % len(palette)], dash=dashes[i % len(dashes)])
        train = [r for r in records if r.get("phase") == "train"]
        tests = [r for r in records if r.get("test_accuracy") is not None and r.get("phase") in ("eval", "done")]
        fig.add_trace(go.Scatter(x=[r["epoch"] for r in train], y=smoothed([r["loss"] for r in train], smoothing),
                                 name=name, legendgroup=name, mode="lines", line=line), 1, 1)
        fig.add_trace(go.Scatter(x=[r["epoch"] for r in tests], y=[r["test_accuracy"] for r in tests], name=name,
                                 legendgroup=name, showlegend=False, mode="lines+markers", line=line),
                      1, 2)
    _epoch_axes(fig, [r["epoch"] for _, records in named for r in records if r.get("epoch") is not None])
    fig.update_xaxes(rangemode="tozero")
    losses = [r["loss"] for _, records in named for r in records if r.get("phase") == "train"]
    ceiling = DIVERGED * max((_first_loss(records) for _, records in named), default=0.0)
    finite = [v for v in losses if v is not None and math.isfinite(v)]
    if ceiling and finite and max(finite) > ceiling:
        # a diverged run beside others: its 1e30 flattened them, on a linear axis and on a log one (1 to 1e28)
        low = _padded_range([v for v in finite if v <= ceiling])
        fig.update_yaxes(range=[low[0] if low else 0.0, ceiling], title_text="cut: a diverged run goes off the top",
                         row=1, col=1)
    else:
        fig.update_yaxes(range=_padded_range(losses), row=1, col=1)
    fig.update_yaxes(range=ACCURACY_RANGE, tickformat=".0%", row=1, col=2)
    fig.update_layout(title="Runs compared", height=height, margin=dict(l=10, r=10, t=60, b=10),
                      legend=figures.LEGEND_BELOW)
    return fig


def confusion_figure(matrix: torch.Tensor, classes: tuple[str, ...], height: int = 420) -> go.Figure:
    """Counts (true class x predicted class) with the diagonal (right answers) in view."""
    labels = [str(c) for c in classes] if len(classes) == matrix.shape[0] else [str(i) for i in range(matrix.shape[0])]
    fig = go.Figure(go.Heatmap(z=matrix.numpy(), x=labels, y=labels, colorscale="Blues", text=matrix.numpy(),
                               texttemplate="%{text}", hovertemplate="true %{y}, predicted %{x}: %{z}<extra></extra>",
                               showscale=False))
    fig.update_layout(title="Confusion matrix (test set)", height=height, margin=dict(l=10, r=10, t=40, b=10),
                      xaxis=dict(title="predicted", type="category"),
                      yaxis=dict(title="true", type="category", autorange="reversed"))
    return fig


def reading_captions(probabilities: torch.Tensor, labels: torch.Tensor, classes: tuple[str, ...]) -> list[str]:
    """Under each test image, what the network reads over how sure it is: "✓ circle" over "87.0%", or "✗ square"
    over "54.0%, is circle" when it is wrong (``probabilities`` (R, K), ``labels`` (R,)); two short lines, which fit
    under a phone's narrow tiles."""
    def name(k: int) -> str:
        return classes[k] if k < len(classes) else f"class {k}"

    captions = []
    for p, truth in zip(probabilities, labels.tolist()):
        read = int(p.argmax())
        sure = share(float(p[read]))
        captions.append(f"✓ {name(read)}\n{sure}" if read == truth else f"✗ {name(read)}\n{sure}, is {name(truth)}")
    return captions
