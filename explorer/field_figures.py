"""Figures of the receptive-field page: a clickable feature map, boxes on the input, the growth chart, and
the sentences that explain its table."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go
import torch

from explorer import figures
from explorer.receptive_field import Field

EXACT, TEXTBOOK = "#ff7f0e", "#1f77b4"


def clickable_map_figure(fmap: torch.Tensor, title: str, unit: tuple[int, int] | None,
                         height: int = 420) -> go.Figure:
    """A (H, W) map whose cells report clicks (:func:`figures.clickable_cells`), with the chosen unit (if any)
    outlined."""
    h, w = fmap.shape
    fig = figures.feature_map_figure(fmap, "symmetric" if bool((fmap < 0).any()) else "own", title, height)
    figures.clickable_cells(fig, h, w, max(4, min(40, 360 // max(h, w))))
    if unit is not None:
        y, x = unit
        fig.add_shape(type="rect", x0=x - 0.5, x1=x + 0.5, y0=y - 0.5, y1=y + 0.5, line=dict(color=EXACT, width=3))
    fig.update_xaxes(range=[-0.5, w - 0.5])
    fig.update_yaxes(range=[h - 0.5, -0.5], autorange=False)
    return fig


def boxes_figure(image: torch.Tensor, exact: tuple[int, int, int, int],
                 textbook: tuple[float, float, float, float], title: str, height: int = 420) -> go.Figure:
    """The input with the unit's exact box (solid) and the textbook box (dashed, may leave the image)."""
    fig = figures.image_figure(image, title, height)
    top, left, bottom, right = exact
    fig.add_shape(type="rect", x0=left - 0.5, x1=right - 0.5, y0=top - 0.5, y1=bottom - 0.5,
                  line=dict(color=EXACT, width=3), name="exact")
    t, l, b, r = textbook
    fig.add_shape(type="rect", x0=l - 0.5, x1=r - 0.5, y0=t - 0.5, y1=b - 0.5,
                  line=dict(color=TEXTBOOK, width=2, dash="dash"), name="textbook")
    h, w = image.shape[-2:]
    fig.update_xaxes(range=[min(l, 0) - 1, max(r, w) + 0.5])
    fig.update_yaxes(range=[max(b, h) + 0.5, min(t, 0) - 1], autorange=False)
    return fig


def heat_figure(values: torch.Tensor, title: str, box: tuple[int, int, int, int], height: int = 420) -> go.Figure:
    """The effective receptive field (H, W) as a heatmap, with the exact box for scale.

    (Viridis, not Inferno or Magma: the plotly.js in Streamlit draws their first colour, #000004, pink.)
    """
    # all zeros (no path from the input reaches the unit on this image) is dark, "not at all", not the scale's middle
    flat = dict(zmin=0.0, zmax=1.0) if not values.any() else {}
    fig = go.Figure(go.Heatmap(z=values.numpy(), colorscale="Viridis", showscale=False, **flat,
                               hovertemplate="row %{y}, col %{x}: %{z:.3g}<extra></extra>"))
    top, left, bottom, right = box
    fig.add_shape(type="rect", x0=left - 0.5, x1=right - 0.5, y0=top - 0.5, y1=bottom - 0.5,
                  line=dict(color=EXACT, width=2))
    fig.update_layout(title=title, height=height, margin=dict(l=10, r=10, t=figures.top_margin(title), b=10))
    fig.update_yaxes(autorange="reversed", scaleanchor="x", constrain="domain",
                     constraintoward="top")  # right under its title
    fig.update_xaxes(constrain="domain")
    return fig


def growth_figure(fields: list[Field], chosen: str, input_size: int, height: int = 380) -> go.Figure:
    """Receptive field size (rows) and jump across the layers with a feature map."""
    spatial = [f for f in fields if f.size is not None]
    names = [f.name for f in spatial]
    sizes = [f.r[0] for f in spatial]
    # a skip connection's own layers (ResNet's shortcut) see less than the layer listed before them: drawn apart,
    # so the line of the main path never seems to shrink
    widest = [max(sizes[:i + 1]) for i in range(len(sizes))]
    main = [i for i, r in enumerate(sizes) if r >= widest[i]]
    branch = [i for i in range(len(sizes)) if i not in main]
    fig = go.Figure([
        go.Scatter(x=[names[i] for i in main], y=[sizes[i] for i in main], mode="lines+markers",
                   name="receptive field r"),
        # on an axis of its own (right): beside r, whose axis reaches the input's side, jumps of 1 to 4 were slivers
        go.Bar(x=names, y=[f.j[0] for f in spatial], name="jump j (input px per unit, right axis)", opacity=0.45,
               yaxis="y2"),
    ])
    if branch:
        fig.add_trace(go.Scatter(x=[names[i] for i in branch], y=[sizes[i] for i in branch], mode="markers",
                                 marker=dict(symbol="circle-open", size=9), name="r on a side branch (a shortcut)"))
    fig.add_hline(y=input_size, line=dict(color="#888", dash="dot"), annotation_text=f"input {input_size} px")
    if chosen in names:
        fig.add_vline(x=names.index(chosen), line=dict(color=EXACT, width=2))
    fig.update_layout(title="How far each layer sees (rows)", height=height, margin=dict(l=10, r=10, t=40, b=10),
                      # automargin: a slanted first name ran past the figure's left edge ("rmalize")
                      xaxis=dict(type="category", tickangle=-90 if len(names) > 16 else -45, automargin=True,
                                 categoryorder="array", categoryarray=names,
                                 tickfont=dict(size=9 if len(names) > 16 else 12)),
                      yaxis=dict(title="input pixels", automargin=True, rangemode="tozero"),  # 0 level with j's
                      # bars to half the height, under the line; ticks of its own (synced, they read 0.13, 0.81...)
                      yaxis2=dict(title="jump j", overlaying="y", side="right", showgrid=False, automargin=True,
                                  range=[0, 2 * max((f.j[0] for f in spatial), default=1)], tickmode="auto",
                                  nticks=5),
                      legend=dict(orientation="h", y=1.08))
    return fig


def how_columns(how: str) -> dict[str, str]:
    """The recurrence in three short columns ("r from": "5 + (3 - 1) x 1"...), so no cell is cut off."""
    if how.startswith("the branches meet"):  # its r is in the values' table: a sentence here widened the column
        return {"r from": "the union of its inputs' fields", "j from": "", "start from": ""}
    parts = how.split(";  ")
    if len(parts) != 3:  # "unchanged", "the whole input"
        return {"r from": how, "j from": "", "start from": ""}
    # "r = 5 + (3 - 1) x 1 = 7" -> "5 + (3 - 1) x 1": the table's r column holds the result
    return {f"{name} from": part.split(" = ")[1] for name, part in zip(("r", "j", "start"), parts)}


def table_rows(fields: Sequence[Field]) -> list[dict[str, object]]:
    """The All-layers table: per layer its operation, map size, r, j and start (first axis)."""
    return [{"layer": f.name, "operation": f.op, "map": "x".join(map(str, f.size)) if f.size else "-",
             "r": f.r[0], "j": f.j[0], "start": f.start[0]} for f in fields]


def how_rows(fields: Sequence[Field]) -> list[dict[str, str]]:
    """Per layer how its r, j and start (first axis) follow from the layer before: a table of its own, as the
    values and the sums side by side are wider than a page's view."""
    return [{"layer": f.name, **how_columns(f.how)} for f in fields]


def table_notes(fields: Sequence[Field], input_size: tuple[int, int]) -> list[str]:
    """Sentences for the table's surprises: a field wider than the image, and layers without a grid (j = 0)."""
    notes = []
    wide = next((f for f in fields if f.size is not None and f.r[0] > input_size[0]), None)
    if wide is not None:
        notes.append(f"From `{wide.name}` on, r (**{wide.r[0]}**) is wider than the {input_size[0]}-pixel input: "
                     "every unit's textbook field reaches past the image into the zero border that padding adds. "
                     "The exact box on the first tab stops at the image.")
    flat = [f.name for f in fields if f.size is None]
    if flat:
        notes.append(f"`{flat[0]}` and the layers after it have no feature map: each of their units mixes every "
                     "pixel, so r is the whole input and j is 0, as there is no grid of units to step along.")
    return notes
