"""The sanity check's cascade: how alike each map stays to the trained network's as its layers are drawn afresh
from the top down (Adebayo et al. 2018, their figure 2 as lines)."""

from __future__ import annotations

import plotly.graph_objects as go

HARDLY = 0.8  # at or above, a map "hardly changed" (as the pairs above it say)
LABEL_PX = 64  # the right margin, for the line's label
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2")  # one each, apart at a glance


def cascade_figure(steps: list[tuple[str, dict[str, float]]], names: dict[str, str], width_px: int) -> go.Figure:
    """One line per method over the cascade's ``steps`` ((the lowest layer drawn afresh so far, {method: rho})):
    1 for the trained network, then Spearman's rho of each step's map with the trained one; ``names``, the
    methods' names in the legend."""
    x = ["trained", *(name for name, _ in steps)]
    fig = go.Figure()
    lowest = min(rho for _, rhos in steps for rho in rhos.values())
    for method, colour in zip(steps[0][1], COLOURS):
        fig.add_trace(go.Scatter(x=x, y=[1.0, *(rhos[method] for _, rhos in steps)], mode="lines+markers",
                                 name=names.get(method, method), line=dict(color=colour),
                                 hovertemplate="drawn afresh down to %{x}: ρ = %{y:.2f}<extra>%{fullData.name}"
                                               "</extra>"))
    fig.add_hline(y=HARDLY, line=dict(dash="dot", color="grey", width=1))
    # in the right margin: inside the plot, the lines cross it (all start at 1, near "trained", and fall)
    fig.add_annotation(text="hardly<br>changed<br>above", xref="paper", x=1, xanchor="left", xshift=4, y=HARDLY,
                       yanchor="middle", showarrow=False, align="left", font=dict(size=11, color="grey"))
    fig.add_hline(y=0.0, line=dict(color="#bbb", width=1))
    fig.update_layout(title=dict(text="Layers drawn afresh from the top down", font=dict(size=14)), width=width_px,
                      height=440, margin=dict(l=10, r=LABEL_PX, t=40, b=60),
                      yaxis=dict(range=[min(-0.3, lowest - 0.1), 1.05], title="ρ with the trained map",
                                 automargin=True),
                      xaxis=dict(title=dict(text="drawn afresh down to", standoff=4), automargin=True,
                                 type="category"),
                      # in the figure's bottom margin, under the axis however long its layer names
                      legend=dict(orientation="h", yref="container", yanchor="bottom", y=0, x=0))
    return fig
