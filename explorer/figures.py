"""Plotly figures the pages draw: images, feature maps, numeric grids with a moving window.

Pure functions from tensors to ``go.Figure``; no streamlit, so tests can inspect them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
import plotly.graph_objects as go
import torch

from explorer import export, images
from explorer.probes import Probe
from explorer.tiling import png_source

ScaleMode = Literal["own", "symmetric", "input"]
# purple below zero, orange above, pale at both ends: a gradient grid stays readable even when every cell is 1
GRADIENT_SCALE = [[0.0, "#b2abd2"], [0.5, "#f7f7f7"], [1.0, "#fdb863"]]
# plain values (an input, a pooled map): grey, as a picture's pixels, so that blue and red mean a sign wherever
# they appear (the Blues an input had, navy for its largest value, sat beside kernels whose navy is most negative)
VALUE_SCALE = [[0.0, "#ffffff"], [1.0, "#8f8f8f"]]
UNREAD = "rgba(214, 39, 40, 0.18)"  # input rows and columns no window reads: a stride or size that skips them
WINDOW_COLOUR = "#ff7f0e"  # the window's taps, outlined; black on a gradient's orange cells
SCALE_MODES: tuple[str, ...] = ("symmetric", "own", "input")
SCALE_LABELS = {
    "symmetric": "centred on 0",
    "own": "min..max",
    "input": "0..1",
}
# a legend under the plot hangs from its top below the axis title: anchored by its bottom (plotly's default
# there), one that wraps onto a second line in a narrow column grows up into the title
LEGEND_BELOW = dict(orientation="h", y=-0.3, yanchor="top")
INK_ON_WHITE = "#222"  # text drawn on a white canvas or box: the theme's own text colour is white in a dark theme
SHARP_UP_TO = 150  # px: Streamlit draws no chart narrower, so an image this small is never shrunk (see smoothing)
SCALE_HELP = (
    "centred on 0: white is 0, red positive, blue negative, so the sign shows. min..max: the map's own range "
    "from dark to bright, so faint detail shows. 0..1: the input's range in greys, clipped, so the map reads as "
    "an image."
)


def subtitled(title: str, note: str) -> str:
    """A title with a smaller second line, for what would be cut off in a narrow column."""
    return f"{title}<br><span style='font-size:12px'>{note}</span>"


def top_margin(title: str) -> int:
    """Room above the plot for the title's lines."""
    return 40 + 18 * title.count("<br>")


def _square(fig: go.Figure, title: str, height: int) -> go.Figure:
    fig.update_layout(title=title, height=height, margin=dict(l=10, r=10, t=top_margin(title), b=10))
    fig.update_yaxes(autorange="reversed", scaleanchor="x", constrain="domain")
    fig.update_xaxes(constrain="domain")
    return fig


def smoothing(side: int) -> str | bool:
    """A heatmap's ``zsmooth`` for an image ``side`` pixels across: plotly draws cell for cell and the browser then
    drops whole rows and columns where it shrinks the picture (a one-pixel edge of a 256 px Canny stage vanished
    at 220 px), so a picture larger than the narrowest a chart is drawn (150 px) is blended as it shrinks;
    a smaller one is only ever enlarged and stays sharp."""
    return "fast" if side > SHARP_UP_TO else False


def image_figure(image: torch.Tensor, title: str = "Input", height: int = 380) -> go.Figure:
    """A (C, H, W) [0, 1] image; hover shows pixel values (grey as a heatmap, RGB as an image)."""
    if image.shape[0] == 1:
        fig = go.Figure(go.Heatmap(z=image[0].numpy(), colorscale="gray", zmin=0, zmax=1, showscale=False,
                                   zsmooth=smoothing(max(image.shape[-2:])),
                                   hovertemplate="row %{y}, col %{x}: %{z:.3f}<extra></extra>"))
    else:
        fig = go.Figure(go.Image(z=images.to_display(image)))
    return _square(fig, title, height)


def decision_figure(decided: torch.Tensor, names: Sequence[str], colours: Sequence[str], title: str,
                    height: int = 380) -> go.Figure:
    """A (H, W) map of decisions (indices into ``names``), one flat colour each, named by a key under the map.

    A heatmap, not an RGB image, blended where it shrinks (see :func:`smoothing`): one-pixel lines stay. Its cells
    go to the browser as bytes: each one's name on hover had been 850 KB of words for a 256 x 256 map.
    """
    n = len(names)
    steps = [[edge, colour] for i, colour in enumerate(colours) for edge in (i / n, (i + 1) / n)]
    key = dict(orientation="h", tickvals=list(range(n)), ticktext=[name.replace(", ", ",<br>") for name in names],
               thickness=10, len=1, x=0.5,
               xanchor="center", y=-0.16, yanchor="top", ticks="", tickfont=dict(size=11))
    fig = go.Figure(go.Heatmap(z=decided.to(torch.uint8).numpy(), zmin=-0.5, zmax=n - 0.5, colorscale=steps,
                               colorbar=key, zsmooth=smoothing(max(decided.shape[-2:])),
                               hovertemplate="row %{y}, col %{x}<extra></extra>"))
    _square(fig, title, height)
    return fig.update_layout(height=height + 62, margin_b=72)  # the key below: the map as large as its neighbours


def scale_range(values: torch.Tensor, mode: ScaleMode) -> tuple[float, float]:
    """The colour range of a feature map for a scale mode."""
    if mode == "input":
        return 0.0, 1.0
    if mode == "symmetric":
        top = float(values.abs().max()) or 1.0
        return -top, top
    low, high = float(values.min()), float(values.max())
    return (low, high) if high > low else (low - 1, high + 1)


def feature_map_figure(fmap: torch.Tensor, mode: ScaleMode = "symmetric", title: str = "Feature map",
                       height: int = 380, across: torch.Tensor | None = None) -> go.Figure:
    """A (H, W) feature map as a heatmap with the chosen colour range.

    ``across``: the values the range is taken from instead (e.g. all of a layer's maps), so that maps
    drawn side by side share one scale and their colours compare.
    """
    zmin, zmax = scale_range(fmap if across is None else across, mode)
    colorscale = "RdBu_r" if mode == "symmetric" else ("gray" if mode == "input" else "Viridis")
    fig = go.Figure(go.Heatmap(z=fmap.float().numpy(), zmin=zmin, zmax=zmax, colorscale=colorscale,
                               zsmooth=smoothing(max(fmap.shape[-2:])),
                               # below the map, not beside it: the map keeps the input's size for comparison
                               # "3e-9", not plotly's SI "3n" (an untrained network's tiny maps)
                               colorbar=dict(orientation="h", thickness=10, len=0.8, y=-0.09, yanchor="top",
                                             exponentformat="e"),
                               hovertemplate="row %{y}, col %{x}: %{z:.4g}<extra></extra>"))
    fig = _square(fig, title, height + 40)
    fig.update_layout(margin=dict(b=60))  # room for the column numbers above the colour bar
    if max(fmap.shape[-2:]) <= 12:  # a tiny map: a tick per row and column, not at half pixels
        fig.update_xaxes(dtick=1)
        fig.update_yaxes(dtick=1)
    return fig


def surface_figure(image: torch.Tensor, max_side: int = 96, height: int = 420) -> go.Figure:
    """The grey image as a 3-D surface: brightness as height (downscaled so it stays light)."""
    grey = images.resize(images.to_grey(image), max_side)[0].numpy()
    (h, w), (sh, sw) = image.shape[-2:], grey.shape
    # the axes count the image's own pixels, though fewer points are drawn
    fig = go.Figure(go.Surface(z=grey, x=np.arange(sw) * (w / sw), y=np.arange(sh) * (h / sh), colorscale="gray",
                               cmin=0, cmax=1, showscale=False,
                               hovertemplate="row %{y:.0f}, column %{x:.0f}: %{z:.2f}<extra></extra>"))
    fig.update_layout(height=height, margin=dict(l=0, r=0, t=30, b=0), title="Brightness as height",
                      scene=dict(xaxis_title="column", yaxis=dict(autorange="reversed", title="row"),
                                 # no tick at 0: it fell on the row axis's last one, "250"
                                 zaxis=dict(range=[0, 1], tickvals=[0.5, 1], title="brightness"),
                                 aspectratio=dict(x=1, y=1, z=0.4)))
    return fig


def _fmt(value: float, decimals: int = 2) -> str:
    return "" if np.isnan(value) else export.number(value, decimals)


def _colour_span(grid: torch.Tensor, zmid: float | None) -> dict:
    """A grid's colour range, fixed by all its finite values (``zmid`` in its middle where given): plotly's own
    range spans the cells filled so far, so an output of -2 turned from navy at step 1 to pale blue at step 6."""
    finite = grid[torch.isfinite(grid)]
    if not finite.numel():
        return {"zmid": zmid}
    low, high = float(finite.min()), float(finite.max())
    if zmid is not None:
        reach = max(high - zmid, zmid - low) or 1.0
        return {"zmin": zmid - reach, "zmax": zmid + reach}
    return {"zmin": low, "zmax": high} if high > low else {}


def grid_figure(values: torch.Tensor, title: str, *, highlight: list[tuple[int, int]] | None = None,
                mask: torch.Tensor | None = None, colorscale: str | list = VALUE_SCALE, zmid: float | None = None,
                cell_px: int = 44, border: tuple[int, int, int, int] = (0, 0, 0, 0),
                path: torch.Tensor | None = None, fraction: int | None = None, decimals: int = 2,
                outline: str = WINDOW_COLOUR, unread: tuple[list[int], list[int]] = ([], [])) -> go.Figure:
    """A small numeric grid with every value written in its cell to ``decimals`` (as ``v/fraction`` when given: a box
    blur's 1/9).

    ``highlight``: cells (row, col) outlined in ``outline`` (the window's taps). ``mask``: (H, W) bool,
    cells not yet computed are left blank. ``border``: padding (left, right, top, bottom) drawn
    dashed so the added ring is visible. ``path``: (L, 2) window centres, drawn as dots. ``unread``: rows and
    columns no window reads, shaded.
    """
    grid = values.double().clone().reshape(-1, values.shape[-1])
    span = _colour_span(grid, zmid)  # of every value, the hidden ones too: a colour means one value at every step
    if mask is not None:
        grid[~mask] = float("nan")
    text = [[_fmt(v, decimals) if fraction is None or np.isnan(v) else f"{export.number(v * fraction)}/{fraction}"
             for v in row] for row in grid.tolist()]
    rows, cols = grid.shape
    # a cell still to come said "NaN" on hover: it names the step that fills it (the steps go row by row)
    # the value as the cell writes it (1/9, not 0.1111111)
    hover = dict(hovertemplate="row %{y}, col %{x}: %{text}<extra></extra>") if mask is None else dict(
        customdata=[[word or f"filled at step {r * cols + c + 1}" for c, word in enumerate(line)]
                    for r, line in enumerate(text)], hovertemplate="row %{y}, col %{x}: %{customdata}<extra></extra>")
    heat = go.Heatmap(z=grid.numpy(), text=text, texttemplate="%{text}", colorscale=colorscale, **span,
                      showscale=False, xgap=2, ygap=2, **hover)
    # the cells still to come, in pale grey under the values: the whole shape shows
    pending = [go.Heatmap(z=[[0.0] * cols] * rows, colorscale=[[0, "#eceff4"], [1, "#eceff4"]], showscale=False,
                          xgap=2, ygap=2, hoverinfo="skip")] if mask is not None else []
    fig = go.Figure([*pending, heat])
    _outline_padding(fig, rows, cols, border)
    for r in unread[0]:
        fig.add_shape(type="rect", x0=-0.5, x1=cols - 0.5, y0=r - 0.5, y1=r + 0.5, line_width=0, fillcolor=UNREAD)
    for c in unread[1]:
        fig.add_shape(type="rect", x0=c - 0.5, x1=c + 0.5, y0=-0.5, y1=rows - 0.5, line_width=0, fillcolor=UNREAD)
    if path is not None:
        xs, ys = _path_under_numbers(path)
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="markers+lines",
                                 marker=dict(size=4, color=WINDOW_COLOUR),
                                 line=dict(color=WINDOW_COLOUR, width=1, dash="dot"), opacity=0.35, hoverinfo="skip",
                                 showlegend=False))
    for r, c in highlight or []:
        fig.add_shape(type="rect", x0=c - 0.5, x1=c + 0.5, y0=r - 0.5, y1=r + 0.5,
                      line=dict(color=outline, width=4))
    # as wide as its cells or its title (about 7 px a letter, from the left edge): a least width of 200 px for
    # every title had pushed the output under a padded 7x7 input at 1280 px. Room for the title goes to the right
    # margin, so cells stay square (a one-column grid had stretched to 115 x 44 px)
    cells = cols * cell_px + 40
    width = max(cells, 7 * len(title) + 24, 120)
    fig.update_layout(title=title, width=width, height=max(rows * cell_px + 70, 140),
                      margin=dict(l=20, r=20 + width - cells, t=45, b=20))
    fig.update_xaxes(showticklabels=False, ticks="", showgrid=False, zeroline=False, range=[-0.5, cols - 0.5],
                     constrain="domain", constraintoward="left")
    # square cells whatever room the figure has (Streamlit draws a chart 150 px wide at least; a one-row grid is
    # 140 px tall at least): a 3x1 input's cells had been 74 x 46 px
    fig.update_yaxes(showticklabels=False, ticks="", showgrid=False, zeroline=False, range=[rows - 0.5, -0.5],
                     scaleanchor="x", scaleratio=1, constrain="domain", constraintoward="top")
    return fig


def window_figure(image: torch.Tensor, top: int, left: int, side: int, title: str, width_px: int = 260,
                  targets: int = 64) -> go.Figure:
    """A (H, W) [0, 1] picture with the ``side`` x ``side`` window at (``top``, ``left``) outlined, and a grid of
    at most ``targets`` x ``targets`` invisible markers, from edge to edge, whose click says where to move the
    window (read it with ``mosaic.cell_from_click``; a marker on every pixel of a 256 px image would be 65,536 of
    them). At 64 a side, a 512 px picture's markers are 8 px apart: a window of 12 centred on the nearest one still
    holds the pixel clicked. As tall as the picture needs at about ``width_px`` wide."""
    h, w = image.shape
    height = top_margin(title) + 10 + min(round((width_px - 20) * h / w), 320)  # a tall picture at most 320 px
    ys, xs = np.meshgrid(*(np.unique(np.linspace(0, n - 1, min(n, targets)).round().astype(int)) for n in (h, w)),
                         indexing="ij")
    grey = (image.clamp(0, 1) * 255).round().to(torch.uint8).numpy()
    fig = go.Figure(go.Image(source=png_source(np.stack([grey] * 3, -1)), hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=xs.ravel(), y=ys.ravel(), mode="markers", opacity=0.01, showlegend=False,
                             marker=dict(size=max(4, (height - 40) // len(ys)), symbol="square"),
                             hovertemplate="row %{y}, col %{x}: click to look here<extra></extra>"))
    fig.add_shape(type="rect", x0=left - 0.5, x1=min(left + side, w) - 0.5, y0=top - 0.5,
                  y1=min(top + side, h) - 0.5, line=dict(color=WINDOW_COLOUR, width=3))
    fig.update_layout(title=title, height=height, margin=dict(l=10, r=10, t=top_margin(title), b=10),
                      clickmode="event+select", dragmode=False)
    fig.update_xaxes(visible=False, range=[-0.5, w - 0.5], constrain="domain")
    fig.update_yaxes(visible=False, range=[h - 0.5, -0.5], scaleanchor="x", constrain="domain")
    return fig


def clickable_cells(fig: go.Figure, rows: int, cols: int, marker_px: int) -> None:
    """Let a click on any cell of ``fig``'s (rows, cols) heatmap report it (read it with ``mosaic.cell_from_click``).

    A plotly heatmap returns no points on click, so an invisible marker sits on every cell (``opacity`` 0.01: a
    "skip" marker would not be selectable). The markers, nearer the pointer, take the hover from the heatmap: they
    carry its words (a cell still to come says "filled at step 5"), else it showed none.
    """
    ys, xs = np.mgrid[0:rows, 0:cols]
    heat = next(t for t in reversed(fig.data) if t.type == "heatmap")
    words = np.asarray(heat.customdata if heat.customdata is not None else
                       [["" if np.isnan(v) else export.number(v, 3) for v in line]
                        for line in np.asarray(heat.z, dtype=float).tolist()], dtype=object)
    fig.add_trace(go.Scatter(x=xs.ravel(), y=ys.ravel(), mode="markers", opacity=0.01, customdata=words.ravel(),
                             hovertemplate="row %{y}, col %{x}: %{customdata}<extra></extra>",
                             marker=dict(size=marker_px, symbol="square"), showlegend=False))
    fig.update_layout(clickmode="event+select", dragmode=False)


def _path_under_numbers(path: torch.Tensor) -> tuple[list[float | None], list[float | None]]:
    """The window centres' path as plotly points, a third of a cell below each centre, where it underlines the
    numbers instead of striking them through; broken (None) where the window moves to its next row, whose
    diagonal crossed the grid's numbers."""
    xs: list[float | None] = []
    ys: list[float | None] = []
    for i, (row, col) in enumerate(path.tolist()):
        if i and row != path[i - 1, 0].item():
            xs.append(None)
            ys.append(None)
        xs.append(float(col))
        ys.append(row + PATH_DROP)
    return xs, ys


PATH_DROP = 0.3  # of a cell: below the number written at the centre


def numbers_figure(block: torch.Tensor, top: int, left: int, title: str, signed: bool = False,
                   width_px: int = 600, sums: list[list[str]] | None = None) -> go.Figure:
    """A (h, w) block of an image or a map, at rows ``top``.. and columns ``left``.., each value written in its cell
    to two decimals (whole on hover) over its colour: greys for pixels in [0, 1], blue below 0 and red above for
    ``signed`` values. A table of twelve columns ran past a page's view; a figure takes the view's width.
    ``sums``: each cell's computation, shown on hover under its value (the kernel's products, as Setosa's demo).
    Cells are square, as the pixels they are (40 x 28 px had stretched the image sideways): the figure is as tall as
    its cells are wide across ``width_px``, about the width the page draws it."""
    values = block.double().numpy()
    rows = [str(top + r) for r in range(values.shape[0])]
    cols = [str(left + c) for c in range(values.shape[1])]
    colours = dict(colorscale="RdBu_r", zmid=0) if signed else dict(colorscale="gray", zmin=0, zmax=1)
    text = [[f"{v:.2f}".replace("-0.00", "0.00") for v in row] for row in values.tolist()]  # no "-0.00"
    shown = "row %{y}, column %{x}: %{z:.4f}" + ("<br>%{customdata}" if sums is not None else "")
    cell = (width_px - 50) / max(values.shape[1], 1)  # the row numbers' margin and the side margins left out
    heat = go.Heatmap(z=values, x=cols, y=rows, text=text, customdata=sums,  # "0.55" fits 11 px text in 34 px
                      texttemplate="%{text}", textfont=dict(size=11 if cell >= 34 else 9), xgap=1, ygap=1,
                      showscale=False,
                      hovertemplate=shown + "<extra></extra>", **colours)
    fig = go.Figure(heat)
    top_px = top_margin(title) + 16
    fig.update_layout(title=title, height=round(top_px + 30 + cell * values.shape[0]),
                      margin=dict(l=10, r=10, t=top_px, b=10))
    fig.update_xaxes(type="category", side="top", tickfont=dict(size=9), ticks="", showgrid=False)
    fig.update_yaxes(type="category", autorange="reversed", tickfont=dict(size=9), ticks="", showgrid=False,
                     scaleanchor="x", constrain="domain")
    return fig


def _outline_padding(fig: go.Figure, rows: int, cols: int, border: tuple[int, int, int, int]) -> None:
    """A dashed rectangle around the original input inside the padded grid."""
    left, right, top, bottom = border
    if any(border):
        fig.add_shape(type="rect", x0=left - 0.5, x1=cols - right - 0.5, y0=top - 0.5, y1=rows - bottom - 0.5,
                      line=dict(color="#444", width=2, dash="dash"))


PROBE_CHANCE_GAP = 25  # percentage points: a lowest probe this far above chance gets an axis that starts near it


def probe_figure(probes: list[Probe], classes: int, height: int = 380) -> go.Figure:
    """Each probed layer's linear-probe accuracy, in forward order: test (solid) and training (dotted), with
    chance marked."""
    names = [p.layer for p in probes]
    hover = [f"{p.features:,} features" for p in probes]
    fig = go.Figure()
    tested = [100 * p.test_accuracy for p in probes]  # each written by its point: read from the back of a room
    fig.add_trace(go.Scatter(x=names, y=tested, name="test images", mode="lines+markers+text",
                             text=[f"{value:.1f}" for value in tested], textposition="bottom center",
                             textfont=dict(size=11), customdata=hover,
                             hovertemplate="%{x}: %{y:.1f}% (%{customdata})<extra></extra>"))
    fig.add_trace(go.Scatter(x=names, y=[100 * p.train_accuracy for p in probes], name="training images",
                             mode="lines+markers", line=dict(dash="dot"), text=hover,
                             hovertemplate="%{x}: %{y:.1f}% (%{text})<extra></extra>"))
    chance = 100 / classes
    low = min([100 * p.test_accuracy for p in probes] + [100 * p.train_accuracy for p in probes], default=chance)
    # the axis starts near the lowest point, so 87% against 99.6% reads as a climb; chance is drawn when it is close
    bottom = 0.0 if low - chance < PROBE_CHANCE_GAP else 5 * math.floor((low - 5) / 5)
    if bottom < chance:
        fig.add_hline(y=chance, line=dict(dash="dash", color="grey"), annotation_text=f"chance ({chance:.0f}%)",
                      annotation_position="bottom right")
    title = subtitled("What a linear classifier reads off each layer", "accuracy of a softmax classifier "
                      "trained on the layer's output alone")
    fig.update_layout(title=title, height=height, margin=dict(l=10, r=10, t=top_margin(title), b=10),
                      yaxis=dict(title="accuracy (%)" if bottom < chance else f"accuracy (%; chance {chance:.0f}%)",
                                 range=[bottom, 101]),
                      xaxis=dict(title=f"layer ({names[0]}: the pixels)" if names else "layer"),
                      legend=LEGEND_BELOW)
    return fig
