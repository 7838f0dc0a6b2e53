"""Figures of the training page: loss and accuracy curves, runs side by side, the confusion matrix."""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
import torch
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from explorer import figures
from explorer.labels import share
from explorer.training import seconds_through


TRAIN_COLOUR, TEST_COLOUR = "#0068c9", "#ff2b2b"  # the training set in blue, the test set in red, in both curves
LR_COLOUR = "#888888"
# what a learning curve is drawn against (TensorBoard's STEP and RELATIVE, and the epoch): its title and hover label
X_AXES = {"epoch": ("epoch", "epoch %{x:.2f}"), "step": ("step (batches)", "step %{x:,}"),
          "time": ("seconds of training", "%{x:.1f} s")}


def placed(records: list[dict], x: str = "epoch") -> list[dict]:
    """Copies of ``records`` with ``"x"``, each one's place on the axis ``x`` (:data:`X_AXES`): its epoch, its step,
    or its seconds of training since the run began, counted over every resumed stretch. Records that have no place
    there (a resume's) are left out."""
    if x not in X_AXES:
        raise ValueError(f"{x!r} is not one of {', '.join(X_AXES)}")
    values = seconds_through(records) if x == "time" else [r.get(x) for r in records]
    return [{**r, "x": v} for r, v in zip(records, values) if v is not None]


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


def _train_curve(fig: go.Figure, x: list[float], y: list[float], name: str, smoothing: float, axis: str) -> None:
    """A training curve: smoothed as TensorBoard does, over its raw values drawn faint (``smoothing`` 0: raw)."""
    if smoothing:
        where = X_AXES[axis][1]
        fig.add_trace(go.Scatter(x=x, y=smoothed(y, smoothing), name=name, mode="lines", line_color=TRAIN_COLOUR,
                                 hovertemplate=f"{where}: %{{y:.4g}} smoothed<extra>{name}</extra>"))
        fig.add_trace(go.Scatter(x=x, y=y, name=f"{name} (raw)", mode="lines", line=dict(color=TRAIN_COLOUR, width=1),
                                 opacity=0.3, showlegend=False, hoverinfo="skip"))
    else:
        fig.add_trace(go.Scatter(x=x, y=y, name=name, mode="lines", line_color=TRAIN_COLOUR))


def loss_figure(records: list[dict], height: int = 300, smoothing: float = 0.0, x: str = "epoch",
                log_loss: bool = False) -> go.Figure:
    """The training loss per logged step (smoothed as TensorBoard does by ``smoothing``, 0 to 1) and the test set's
    loss at each epoch's end, against ``x`` (:data:`X_AXES`), on a log scale with ``log_loss``.

    ``records`` are a run's metrics: dicts with ``phase``, ``step``, ``epoch``, ``elapsed``, ``loss``, ``accuracy``
    and, for "eval" records, ``test_accuracy`` and ``test_loss``.
    """
    records = placed(records, x)
    train = [r for r in records if r.get("phase") == "train"]
    tests = [r for r in records if r.get("test_loss") is not None and r.get("phase") in ("eval", "done")]
    fig = go.Figure()
    _train_curve(fig, [r["x"] for r in train], [r["loss"] for r in train], "train loss", smoothing, x)
    if tests:  # beside the training loss, what tells overfitting: the held-out images' loss going up
        fig.add_trace(go.Scatter(x=[r["x"] for r in tests], y=[r["test_loss"] for r in tests], name="test loss",
                                 mode="lines+markers", line_color=TEST_COLOUR))
    _loss_axis(fig, [r["loss"] for r in train] + [r["test_loss"] for r in tests], log_loss, least=0.25)
    fig.update_yaxes(nticks=6, title=dict(text="loss (log scale)" if log_loss else "loss", standoff=4))
    rates = [r for r in train if r.get("lr") is not None]
    if rates:  # the rate typed is the one-cycle schedule's peak: the rate each step used, on its own axis
        fig.add_trace(go.Scatter(x=[r["x"] for r in rates], y=[r["lr"] for r in rates], name="learning rate",
                                 mode="lines", line=dict(color=LR_COLOUR, dash="dot"), yaxis="y2",
                                 hovertemplate=f"{X_AXES[x][1]}: learning rate %{{y:.3g}}<extra></extra>"))
        fig.update_layout(yaxis2=dict(overlaying="y", side="right", rangemode="tozero", showgrid=False,
                                      tickmode="auto", tickformat="~g", nticks=4,  # its own round ticks: 0.003
                                      tickfont=dict(size=10, color=LR_COLOUR),
                                      title=dict(text="learning rate", font=dict(size=11, color=LR_COLOUR))))
    return _curve_layout(fig, "Learning curve: loss", records, height, x)


def accuracy_figure(records: list[dict], height: int = 300, smoothing: float = 0.0, x: str = "epoch") -> go.Figure:
    """Training accuracy per logged step and test accuracy at each epoch's end (``records``, ``smoothing`` and ``x``
    as for :func:`loss_figure`)."""
    records = placed(records, x)
    train = [r for r in records if r.get("phase") == "train"]
    tests = [r for r in records if r.get("test_accuracy") is not None and r.get("phase") in ("eval", "done")]
    fig = go.Figure()
    _train_curve(fig, [r["x"] for r in train], [r["accuracy"] for r in train], "train accuracy", smoothing, x)
    fig.add_trace(go.Scatter(x=[r["x"] for r in tests], y=[r["test_accuracy"] for r in tests],
                             name="test accuracy", mode="lines+markers", line_color=TEST_COLOUR))
    fig.update_yaxes(range=ACCURACY_RANGE, tickformat=".0%", title=dict(text="accuracy", standoff=4))
    return _curve_layout(fig, "Learning curve: accuracy", records, height, x)


def step_epoch(records: list[dict], step: int) -> float | None:
    """The epoch (a fraction) a run had reached at ``step``, read from its records' own steps and epochs."""
    known = [r for r in records if r.get("step") and r.get("epoch") is not None]
    if not known:
        return None
    last = max(known, key=lambda r: r["step"])
    return step * last["epoch"] / last["step"]


def step_place(records: list[dict], step: int, x: str = "epoch") -> float | None:
    """Where ``step`` lies on the axis ``x``: its epoch (:func:`step_epoch`), the step itself, or the seconds of
    training it had taken, between the logged steps around it (None where the records place nothing)."""
    if x == "epoch":
        return step_epoch(records, step)
    if x == "step":
        return float(step)
    timed = sorted((r["step"], r["x"]) for r in placed(records, x) if r.get("step") is not None)
    if not timed:
        return None
    if timed[0][0] > 0:  # step 0, the untrained network: before any training time
        timed.insert(0, (0, 0.0))
    return float(np.interp(step, [s for s, _ in timed], [t for _, t in timed]))


def mark_snapshot(fig: go.Figure, place: float, step: int) -> go.Figure:
    """A dotted line at the snapshot shown below the curves (``place`` on the curves' axis, as :func:`step_place`
    says): where in training its filters were."""
    fig.add_vline(x=place, line=dict(color=LR_COLOUR, dash="dash", width=1), annotation_text=f"step {step:,}",
                  annotation_position="top right", annotation_font=dict(size=10, color=LR_COLOUR))
    return fig


def _curve_layout(fig: go.Figure, title: str, records: list[dict], height: int, x: str) -> go.Figure:
    """A learning curve's title, x axis and legend under the plot (each curve is its own figure, so the
    two stack in a narrow column instead of sharing its width)."""
    _x_axes(fig, [r["x"] for r in records], x)
    fig.update_layout(title=title, height=height, margin=dict(l=10, r=10, t=50, b=10), showlegend=True,
                      legend=figures.LEGEND_BELOW)
    return fig


ACCURACY_RANGE = [0, 1.04]  # a curve at 100% is drawn whole, not cut by the plot's edge


def _x_axes(fig: go.Figure, places: list[float], x: str) -> None:
    """Every x axis from 0, titled by ``x``; in epochs, a tick at every epoch when there are at most ten (plotly
    would skip some), at every quarter for one (a one-epoch run's axis had the single tick 1), every half for two
    (nine quarters turned on end in a half-width chart, and pushed the axis's title into the legend)."""
    last = max(places, default=0)
    dtick = (0.25 if 0 < last <= 1 else 0.5 if last <= 2 else 1 if last <= 10 else None) if x == "epoch" else None
    fig.update_xaxes(title_text=X_AXES[x][0], rangemode="tozero", dtick=dtick)


def log_ticks(low: float, high: float, most: int = 7) -> list[float]:
    """Round ticks for a log axis from 10^low to 10^high: 1, 2 and 5 of each power of ten (every digit's where
    those are fewer than 3), or the powers alone (every one, or every other...) where they would be more than
    ``most`` (plotly's own ticks labelled 2 and 5 of every power in small print beside the powers: "2 1 5 2 0.1 5
    2" read as one jumble)."""
    powers = range(math.floor(low), math.ceil(high) + 1)
    for digits in ((1, 2, 5), range(1, 10)):
        ticks = [m * 10.0 ** p for p in powers for m in digits if low <= math.log10(m * 10.0 ** p) <= high]
        if len(ticks) >= 3:
            break
    if len(ticks) <= most:
        return ticks
    whole = [10.0 ** p for p in powers if low <= p <= high]
    every = math.ceil(len(whole) / most)
    return whole[::every]


def _loss_axis(fig: go.Figure, losses: list[float], log: bool, row: int | None = None, col: int | None = None,
               least: float = 0.0, ceiling: float | None = None) -> None:
    """A loss axis's range: the finite losses' span with a margin (at most ``ceiling``), linear or, with ``log``,
    on a log scale (plotly reads a log axis's range as powers of 10; a loss of 0 has no place there)."""
    finite = [v for v in losses if v is not None and math.isfinite(v) and (v > 0 or not log)]
    shown = [v for v in finite if ceiling is None or v <= ceiling]
    if log:
        span = _padded_range([math.log10(v) for v in shown])
        if span and ceiling is not None:
            span[1] = math.log10(ceiling)
        ticks = log_ticks(*span) if span else []
        if len(ticks) < 2:  # a span narrower than two round ticks (a run's first seconds): plotly's own ticks
            fig.update_yaxes(type="log", range=span, row=row, col=col)
        else:
            fig.update_yaxes(type="log", range=span, tickvals=ticks, ticktext=[f"{t:g}" for t in ticks], row=row,
                             col=col)
    else:
        span = _padded_range(shown, least=least)
        if ceiling is not None:
            span = [span[0] if span else 0.0, ceiling]
        fig.update_yaxes(range=span, row=row, col=col)


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


def comparison_figure(named: list[tuple[str, list[dict]]], height: int = 380, smoothing: float = 0.0,
                      x: str = "epoch", log_loss: bool = False) -> go.Figure:
    """Several runs' training loss (smoothed by ``smoothing``, on a log scale with ``log_loss``, as
    :func:`loss_figure`) and test accuracy against ``x`` (:data:`X_AXES`), one colour per run.

    ``named``: (run name, its metrics records) pairs, as :func:`curves_figure` reads them.
    """
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Training loss", "Test accuracy"))
    palette, dashes = qualitative.Plotly, ("solid", "dash", "dot", "dashdot")
    where = X_AXES[x][1]
    for i, (name, records) in enumerate(named):
        # a dash of its own too: two runs with the same curves still both show
        line = dict(color=palette[i % len(palette)], dash=dashes[i % len(dashes)])
        records = placed(records, x)
        train = [r for r in records if r.get("phase") == "train"]
        tests = [r for r in records if r.get("test_accuracy") is not None and r.get("phase") in ("eval", "done")]
        fig.add_trace(go.Scatter(x=[r["x"] for r in train], y=smoothed([r["loss"] for r in train], smoothing),
                                 name=name, legendgroup=name, mode="lines", line=line,
                                 hovertemplate=f"{where}: %{{y:.4g}}<extra>{name}</extra>"), 1, 1)
        fig.add_trace(go.Scatter(x=[r["x"] for r in tests], y=[r["test_accuracy"] for r in tests], name=name,
                                 legendgroup=name, showlegend=False, mode="lines+markers", line=line,
                                 hovertemplate=f"{where}: %{{y:.1%}}<extra>{name}</extra>"), 1, 2)
    _x_axes(fig, [r["x"] for _, records in named for r in placed(records, x)], x)
    losses = [r["loss"] for _, records in named for r in records if r.get("phase") == "train"]
    ceiling = DIVERGED * max((_first_loss(records) for _, records in named), default=0.0)
    finite = [v for v in losses if v is not None and math.isfinite(v)]
    if ceiling and finite and max(finite) > ceiling:
        # a diverged run beside others: its 1e30 flattened them, on a linear axis and on a log one (1 to 1e28)
        _loss_axis(fig, finite, log_loss, 1, 1, ceiling=ceiling)
        fig.update_yaxes(title_text="cut: a diverged run goes off the top" + (" (log scale)" if log_loss else ""),
                         row=1, col=1)
    else:
        _loss_axis(fig, losses, log_loss, 1, 1)
        if log_loss:
            fig.update_yaxes(title_text="log scale", row=1, col=1)
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
