"""Layer-wise relevance propagation's bars: how much of the class score reached each layer on the way down."""

from __future__ import annotations

import plotly.graph_objects as go

from explorer import lrp

FOR, AGAINST = "#d6604d", "#4393c3"  # the signed maps' red and blue
BAR_PX = 22  # one layer's row


def relevance_figure(relevance: lrp.Lrp, width_px: int) -> go.Figure:
    """One bar per layer, from the class score at the top down to the pixels: the relevance its inputs received
    (the first layer's inputs are the pixels), red above 0 and blue below; its share of the score on hover."""
    rows = [("class score", relevance.score)] + [
        (f"into {name}" if index else f"into {name}: pixels", total)
        for index, (name, total) in reversed(list(enumerate(relevance.layers)))]
    names, totals = [name for name, _ in rows], [total for _, total in rows]
    score = relevance.score if abs(relevance.score) > 1e-12 else float("nan")
    colours = [FOR if total >= 0 else AGAINST for total in totals]
    fig = go.Figure(go.Bar(x=totals, y=names, orientation="h", marker_color=colours,
                           customdata=[t / score for t in totals], texttemplate="%{x:.3g} (%{customdata:.0%})",
                           textposition="outside", cliponaxis=False, textfont=dict(size=11),
                           hovertemplate="%{y}: %{x:.4g} (%{customdata:.1%} of the score)<extra></extra>"))
    fig.update_layout(title=dict(text="Relevance reaching each layer", font=dict(size=14)), width=width_px,
                      height=70 + BAR_PX * len(rows), margin=dict(l=10, r=10, t=36, b=30), showlegend=False,
                      yaxis=dict(autorange="reversed", automargin=True),
                      xaxis=dict(zeroline=True, title=None, range=_room(totals)))
    return fig


def _room(totals: list[float]) -> list[float]:
    """The axis's range: the bars and, beyond each end, room for their numbers written outside."""
    low, high = min(0.0, *totals), max(0.0, *totals)
    pad = 0.6 * max(high - low, 1e-12)
    return [low - (pad if low < 0 else 0.0), high + (pad if high > 0 else 0.0)]
