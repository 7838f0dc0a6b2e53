"""Many small images in one figure: a layer's feature maps, its kernels, a vector, the prediction.

A mosaic is drawn as one PNG (``go.Image``) rather than a heatmap per map: a ResNet layer's 16
maps of 112x112 would otherwise send 200,000 numbers to the browser on every rerun.
Values become colours through a look-up table sampled from a plotly colour scale; the tiles are laid out by
:mod:`explorer.tiling`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
import torch
from plotly.colors import sample_colorscale, unlabel_rgb

from explorer import figures
from explorer.labels import share, text_px
from explorer.tiling import GAP, columns_for, png_source, scaled, tile

SELECTED_COLOUR = "#d62728"  # the outline of the tile chosen
LABEL_SCALE = 0.9  # a size-11 label's width against text_px's (a 14 px table's): "Ankle boot" 51 px as measured
MIN_TILE_PX = 28  # small maps and kernels are enlarged (nearest neighbour) to at least this


def _lut(colorscale: str) -> np.ndarray:
    """256 RGB colours (256, 3) uint8 sampled from a plotly colour scale."""
    colours = sample_colorscale(colorscale, np.linspace(0, 1, 256))
    return np.array([unlabel_rgb(c) for c in colours], dtype=np.uint8)


_LUTS = {name: _lut(name) for name in ("RdBu_r", "Viridis", "gray")}


def _enlarged(tiles: np.ndarray) -> np.ndarray:
    h = tiles.shape[1]
    factor = max(1, math.ceil(MIN_TILE_PX / h))
    return tiles.repeat(factor, axis=1).repeat(factor, axis=2) if factor > 1 else tiles


def _kernel_grid(tiles: np.ndarray, cols: int) -> tuple[np.ndarray, int]:
    """Kernels enlarged and tiled with a gap of half a weight's block: filters stand apart from their own cells.
    Returns the image and the pitch from one tile's corner to the next (tiles are square)."""
    big = _enlarged(tiles)
    gap = max(2, big.shape[1] // tiles.shape[1] // 2)
    return tile(big, cols, gap), big.shape[1] + gap


def _numbered(fig: go.Figure, count: int, cols: int, pitch: int, first: int = 0) -> go.Figure:
    """Tile i carries the number ``first + i`` in its top-left corner, so a table's "filter 3" can be found."""
    for i in range(count):
        r, c = divmod(i, cols)
        fig.add_annotation(x=c * pitch - 0.5, y=r * pitch - 0.5, text=str(first + i), showarrow=False,
                           xanchor="left", yanchor="top", font=dict(size=11, color=figures.INK_ON_WHITE),
                           bgcolor="rgba(255,255,255,0.75)", borderpad=0)
    return fig


def _headed(fig: go.Figure, columns: int, rows: int, pitch: int, first: int = 0, first_row: int = 0) -> go.Figure:
    """Numbers over a grid's columns (the filters, from ``first``) and beside its rows (the input maps, from
    ``first_row``), outside the picture."""
    for c in range(columns):
        fig.add_annotation(x=c * pitch + (pitch - 1) / 2, y=-0.5, text=str(first + c), showarrow=False,
                           yanchor="bottom", font=dict(size=10, color="#444"))
    for r in range(rows):
        fig.add_annotation(x=-0.5, y=r * pitch + (pitch - 1) / 2, text=str(first_row + r), showarrow=False,
                           xanchor="right", font=dict(size=10, color="#444"))
    margin, digits = fig.layout.margin, len(str(first_row + rows - 1))
    fig.update_layout(margin=dict(t=margin.t + 14, l=margin.l + 6 * digits + 4), height=fig.layout.height + 14)
    return fig


def png_figure(image: np.ndarray, title: str, height: int, width_px: int | None = None) -> go.Figure:
    """A uint8 (H, W, 3) array as one PNG image with a title, no axes.

    ``width_px``: about how wide the page draws the figure. The height then shrinks to what the image
    needs at that width (at most ``height``), so no empty band is left under a wide, flat image.
    A title on more lines (``<br>``) gets the room of each line past its first on top of ``height``.
    """
    if width_px:
        height = min(height, 50 + round((width_px - 20) * image.shape[0] / image.shape[1]))
    more_lines = 22 * title.count("<br>")
    fig = go.Figure(go.Image(source=png_source(image), hoverinfo="skip"))
    fig.update_layout(title=title, height=height + more_lines, margin=dict(l=10, r=10, t=40 + more_lines, b=10))
    # the image's own ranges (plotly's autorange for an image), which a legend under it is placed by
    fig.update_xaxes(visible=False, constrain="domain", range=[-0.5, image.shape[1] - 0.5])
    # a figure wider or taller than the image leaves the spare room below it, not between title and image
    fig.update_yaxes(visible=False, scaleanchor="x", constrain="domain", constraintoward="top",
                     range=[image.shape[0] - 0.5, -0.5])
    return fig


def maps_figure(maps: torch.Tensor, first: int, title: str, per_map: bool = True, height: int = 520,
                width_px: int | None = None) -> go.Figure:
    """Feature maps (N, H, W) as a grid of heatmap tiles; tile i is map ``first + i``."""
    values, scale, (low, high) = scaled(maps, per_map)
    codes = (values.clamp(0, 1) * 255).round().to(torch.uint8).numpy()
    tiles = _enlarged(_LUTS[scale][codes])
    fig = png_figure(tile(tiles, columns_for(len(maps))), title, height, width_px)
    note = "each map on its own scale" if per_map else f"one scale for all: {low:.3g} to {high:.3g}"
    shown = f"map {first}" if len(maps) == 1 else f"maps {first}..{first + len(maps) - 1}, row by row"
    return _legend(fig, shown, _colours(scale), note)


def _colours(scale: str) -> str:
    return "blue < 0 < red" if scale == "RdBu_r" else "dark = 0, yellow = high"


def _legend(fig: go.Figure, *lines: str) -> go.Figure:
    """Short lines under the picture (one per line: a narrow column must not cut them off), hung from the image's
    bottom edge: under the plot area, a picture drawn narrower than its estimate left a gap above them."""
    fig.add_annotation(text="<br>".join(lines), xref="x", yref="y", x=fig.layout.xaxis.range[0],
                       y=fig.layout.yaxis.range[0], yshift=-4, showarrow=False, yanchor="top", xanchor="left",
                       align="left", font=dict(size=11))
    room = 16 * len(lines)  # added to the height: the picture keeps its size
    fig.update_layout(margin=dict(b=room + 10), height=fig.layout.height + room)
    return fig


def vector_figure(vector: torch.Tensor, title: str, height: int = 260) -> go.Figure:
    """A 1-D output: bars when short, else the values laid out row by row as a heat strip."""
    values = vector.float().flatten()
    if len(values) <= 128:
        fig = go.Figure(go.Bar(y=values.numpy(), marker_color=np.where(values.numpy() < 0, "#4575b4", "#d73027")))
        fig.update_layout(title=title, height=height, margin=dict(l=10, r=10, t=40, b=10),
                          xaxis_title="unit", yaxis_title="value")
        return fig
    cols = math.ceil(math.sqrt(len(values)))
    padded = torch.full((cols * math.ceil(len(values) / cols),), float("nan"))
    padded[:len(values)] = values
    grid = padded.view(-1, cols)
    fig = go.Figure(go.Heatmap(z=grid.numpy(), colorscale="RdBu_r", zmid=0, colorbar=dict(thickness=10),
                               hovertemplate="unit %{customdata}: %{z:.3f}<extra></extra>",
                               customdata=np.arange(grid.numel()).reshape(grid.shape)))
    fig.update_layout(title=f"{title} (laid out row by row)", height=max(height, 420),
                      margin=dict(l=10, r=10, t=40, b=10))
    fig.update_yaxes(autorange="reversed", scaleanchor="x", visible=False)
    fig.update_xaxes(visible=False)
    return fig


def kernels_figure(weight: torch.Tensor, title: str, max_out: int = 16, max_in: int = 16,
                   height: int = 420, width_px: int | None = None, limit: float | None = None,
                   per_filter: bool = False, what: str = "weights", first: int = 0, first_in: int = 0) -> go.Figure:
    """Conv weights (O, I, kh, kw) as small images: one RGB tile per filter when I == 3, else a grid
    with a column per output map and a row per input map (diverging colours). Filters of one input
    map (a first layer on grey images) wrap into a near-square grid instead of one long row.

    ``limit``: the scale runs from -limit to +limit (one scale for every snapshot of a run, so a colour that
    changes is a weight that changed); ``per_filter``: each filter on its own scale (a hand-set Laplacian's 4 had
    left the learned filters beside it blank); else one scale fitted to these weights. ``what`` they are, in the
    legend ("changes" for a difference of weights). ``first``: the filters from this one on (a page of them), numbered
    as the layer numbers them; ``first_in``: the input maps from this one on."""
    w = weight.detach().float().cpu()[first:first + max_out]
    if w.shape[1] == 3:
        top = (w.abs().amax(dim=(1, 2, 3), keepdim=True) if limit is None else torch.tensor(limit)).clamp_min(1e-12)
        rgb = ((w / top + 1) / 2 * 255).clamp(0, 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
        cols = columns_for(len(rgb))
        image, pitch = _kernel_grid(rgb, cols)
        shared = "each filter on its own scale" if limit is None else f"one scale: -{limit:.3g} to {limit:.3g}"
        fig = _legend(png_figure(image, title, height, width_px), "colours: each weight's R, G, B parts",
                      f"grey = 0, {shared}", "numbers: the filters")
        return _numbered(fig, len(rgb), cols, pitch, first)
    w = w[:, first_in:first_in + max_in]
    out_n, in_n = w.shape[:2]
    by_input = w.transpose(0, 1).reshape(in_n * out_n, *w.shape[2:])  # row i: input map i's weights
    if limit is not None:
        top = max(limit, 1e-12)
        values, scale, (low, high) = (by_input / top + 1) / 2, "RdBu_r", (-top, top)
    else:
        values, scale, (low, high) = scaled(by_input, per_map=per_filter)
    codes = (values.clamp(0, 1) * 255).round().to(torch.uint8).numpy()
    cols = columns_for(out_n) if in_n == 1 else out_n if out_n > 1 else in_n  # one filter: its input maps in a row
    image, pitch = _kernel_grid(_LUTS[scale][codes], cols)
    fig = png_figure(image, title, height, width_px)
    lines = (f"{what}: {_colours(scale)}", "each filter on its own scale" if per_filter and limit is None else
             f"one scale for all: {low:.3g} to {high:.3g}")
    if in_n == 1 or out_n == 1:  # one tile per filter, or one filter's tile per input map
        numbers = "the filters" if in_n == 1 else "its input maps"
        return _numbered(_legend(fig, *lines, f"numbers: {numbers}"), len(by_input), cols, pitch,
                         first if in_n == 1 else 0)
    return _headed(_legend(fig, *lines, "numbers: filters along the top, input maps down the side"), out_n, in_n, pitch,
                   first, first_in)


def prediction_figure(probabilities: torch.Tensor, classes: tuple[str, ...], top: int = 10,
                      height: int = 320) -> go.Figure:
    """The ``top`` most likely classes as horizontal bars, the most likely on top (give float64 probabilities where
    the runners-up are tiny: float32 rounds them all to 0, and their order is lost)."""
    p, idx = probabilities.topk(min(top, len(probabilities)))
    p = p.float()
    labels = [classes[i] if i < len(classes) else str(i) for i in idx.tolist()]
    fig = go.Figure(go.Bar(x=p.numpy()[::-1], y=labels[::-1], orientation="h",
                           text=[share(v) for v in p.tolist()][::-1], textposition="auto"))
    fig.update_layout(title="Prediction (softmax of the last layer)", height=height,
                      margin=dict(l=10, r=10, t=40, b=10), xaxis=dict(range=[0, 1.04], dtick=0.2, tickformat=".0%"),
                      yaxis=dict(type="category"))  # digit names are labels, not numbers
    return fig


def _placed(h: int, w: int, side: int) -> tuple[float, tuple[int, int], tuple[int, int]]:
    """Where an h x w image goes on a ``side`` px tile, aspect kept and centred: its scale, size and top-left."""
    scale = side / max(h, w)
    size = (max(1, round(h * scale)), max(1, round(w * scale)))
    return scale, size, ((side - size[0]) // 2, (side - size[1]) // 2)


def _as_rgb_tile(image: torch.Tensor, side: int) -> np.ndarray:
    """A (C, h, w) [0, 1] image as a (side, side, 3) uint8 tile, aspect kept, centred on white."""
    c, h, w = image.shape
    scale, size, (top, left) = _placed(h, w, side)
    mode = "nearest" if scale >= 1 else "area"
    resized = torch.nn.functional.interpolate(image[None].float(), size=size, mode=mode)[0].clamp(0, 1)
    rgb = (resized.expand(3, -1, -1) if c == 1 else resized[:3]).permute(1, 2, 0)
    out = np.full((side, side, 3), 255, dtype=np.uint8)
    out[top:top + size[0], left:left + size[1]] = (rgb * 255).round().to(torch.uint8).numpy()
    return out


def _outline_box(fig: go.Figure, box: tuple[int, int, int, int], size: tuple[int, int], side: int,
                 at: tuple[int, int]) -> None:
    """Outline ``box`` (top, left, bottom, right: pixels of an image of ``size``) on its tile at canvas pixel ``at``
    (top, left), where :func:`_as_rgb_tile` draws the image."""
    scale, _, (offset_top, offset_left) = _placed(*size, side)
    top, left = at[0] + offset_top - 0.5, at[1] + offset_left - 0.5  # a pixel's edge, half a pixel before its centre
    b_top, b_left, b_bottom, b_right = box
    fig.add_shape(type="rect", x0=left + b_left * scale, x1=left + b_right * scale, y0=top + b_top * scale,
                  y1=top + b_bottom * scale, line=dict(color=figures.WINDOW_COLOUR, width=2), xref="x", yref="y")


def framed_tile(image: torch.Tensor, side: int) -> np.ndarray:
    """A (C, h, w) [0, 1] image as a (side, side, 3) uint8 tile with a grey border, to show on its own: enlarged
    pixel for pixel (a browser would blur a small image it enlarges)."""
    tile = _as_rgb_tile(image, side)
    _frame(tile)
    return tile


def _frame(tile: np.ndarray, width: int = 1) -> None:
    """A grey border ``width`` pixels thick, in place: a white patch on the white page keeps its edges."""
    tile[:width], tile[-width:], tile[:, :width], tile[:, -width:] = GAP, GAP, GAP, GAP


def _cut_to(line: str, room_px: float) -> str:
    """``line`` as a size-11 label, cut with "…" where it is wider than ``room_px`` (its whole on hover)."""
    if text_px(line) * LABEL_SCALE <= room_px:
        return line
    while len(line) > 5 and text_px(line + "…") * LABEL_SCALE > room_px:
        line = line[:-1]
    return line + "…"


LABEL_LINE_PX = 16  # a line of an 11 px label under a tile, on the screen


def images_figure(images: list[torch.Tensor], labels: list[str], title: str, cols: int | None = None,
                  side: int = 64, clickable: bool = False, width_px: int = 700, least_px: int | None = None,
                  selected: int | None = None, boxes: Sequence[tuple[int, int, int, int]] | None = None,
                  ink: str = figures.INK_ON_WHITE) -> go.Figure:
    """Images of any sizes as one grid of ``side`` px tiles with a label under each (``\\n`` starts a second line).

    ``clickable``: an invisible marker on every tile reports a click; its ``customdata`` is the tile index.
    The toolbar then offers no zoom or pan (a drag on a grid to click only lost the view). ``selected``: the
    tile outlined as the one chosen.
    ``width_px``: about how wide the figure will be drawn, to size its height to the grid.
    ``least_px``: the narrowest it may be drawn (a projector's column), where its labels must still fit.
    ``boxes``: one (top, left, bottom, right) per image, in its own pixels, outlined on it (a unit's receptive field).
    ``ink``: the labels' colour, for the page's theme (the canvas between the tiles is clear).
    """
    cols = cols or columns_for(len(images))
    rows = math.ceil(len(images) / cols)
    gap = max(1, side // 16)
    lines = max((label.count("\n") + 1 for label in labels), default=1)
    wide = cols * (side + gap) - gap
    drawn = min(least_px or width_px, wide * 3)
    # the labels' band, in the canvas's pixels: a grid drawn smaller than its canvas shrinks the band, not the text
    # (9 tiles of 96 px in a 541 px view: two lines of 11 px text ran over the tiles)
    label_px = math.ceil(LABEL_LINE_PX * lines * max(1.0, wide / drawn))
    # clear between the tiles and under the labels, as in :func:`rows_figure`: a white sheet glared on a dark theme
    canvas = np.zeros((rows * (side + gap + label_px), wide, 4), dtype=np.uint8)
    fig = go.Figure()
    centres = []
    room = drawn * (side + gap) / canvas.shape[1]  # a tile and its gap on the screen, in px
    border = max(1, math.ceil(wide / drawn))  # a screen pixel at least: at a third of its size, 1 px broke up
    for i, image in enumerate(images):
        r, c = divmod(i, cols)
        top, left = r * (side + gap + label_px), c * (side + gap)
        tile = canvas[top:top + side, left:left + side]
        tile[..., :3] = _as_rgb_tile(image, side)
        _frame(tile[..., :3], border)
        tile[..., 3] = 255
        centres.append((left + side / 2, top + side / 2))
        if boxes is not None:
            _outline_box(fig, boxes[i], image.shape[-2:], side, (top, left))
        whole = labels[i].split("\n")
        cut = [_cut_to(line, room) for line in whole]
        fig.add_annotation(x=left + side / 2, y=top + side + gap, yanchor="top", text="<br>".join(cut),
                           showarrow=False, font=dict(size=11, color=ink), xref="x", yref="y",
                           borderpad=0,
                           hovertext=" ".join(whole) if cut != whole else None)
    fig.add_trace(go.Image(source=png_source(canvas), hoverinfo="skip"))
    if clickable:
        fig.add_trace(go.Scatter(x=[x for x, _ in centres], y=[y for _, y in centres], mode="markers",
                                 opacity=0.01, hoverinfo="none", customdata=list(range(len(images))),
                                 marker=dict(size=side * 0.8, symbol="square"), showlegend=False))
        fig.update_layout(modebar_remove=["zoom", "pan", "select", "lasso", "zoomIn", "zoomOut", "autoScale",
                                          "resetScale"])
    if selected is not None and 0 <= selected < len(images):
        x, y = centres[selected]
        reach = side / 2 - 1.5  # the 3 px line inside the tile's edge: past it, the figure cut an edge tile's outline
        fig.add_shape(type="rect", x0=x - reach - 0.5, x1=x + reach - 0.5, y0=y - reach - 0.5, y1=y + reach - 0.5,
                      line=dict(color=SELECTED_COLOUR, width=3), xref="x", yref="y")
    height = 60 + min(width_px, canvas.shape[1] * 3) * canvas.shape[0] / canvas.shape[1]
    fig.update_layout(title=title, height=int(height),
                      margin=dict(l=10, r=10, t=40, b=10), clickmode="event+select", dragmode=False)
    fig.update_xaxes(visible=False, range=[-0.5, canvas.shape[1] - 0.5], constrain="domain")
    fig.update_yaxes(visible=False, range=[canvas.shape[0] - 0.5, -0.5], scaleanchor="x", constrain="domain",
                     constraintoward="top")
    return fig


def rows_figure(rows: list[list[torch.Tensor]], row_labels: list[str], title: str, side: int = 48,
                width_px: int = 700) -> go.Figure:
    """Rows of images of any sizes as ``side`` px tiles, each row named on its left (an axis label, not a
    caption under one tile)."""
    cols = max((len(row) for row in rows), default=1)
    gap = max(1, side // 12)
    # clear where no tile is (after a short row, between tiles): a white block had glared on a dark theme's page
    canvas = np.zeros((len(rows) * (side + gap) - gap, cols * (side + gap) - gap, 4), dtype=np.uint8)
    for r, row in enumerate(rows):
        for c, image in enumerate(row):
            tile = canvas[r * (side + gap):r * (side + gap) + side, c * (side + gap):c * (side + gap) + side]
            tile[..., :3] = _as_rgb_tile(image, side)
            _frame(tile[..., :3])
            tile[..., 3] = 255
    fig = go.Figure(go.Image(source=png_source(canvas), hoverinfo="skip"))
    # room for the longest name (13 px text, about 1.1 times the 14 px table font's estimate): "layer3.0.downsample.0"
    # took more than a fixed 80 px, plotly widened the margin, and the picture shrank over an empty band
    label_px = max(80, round(1.1 * max((text_px(label) for label in row_labels), default=0)) + 12)
    height = 60 + (width_px - label_px) * canvas.shape[0] / canvas.shape[1]
    fig.update_layout(title=title, height=int(height), margin=dict(l=label_px, r=10, t=40, b=10), dragmode=False)
    fig.update_xaxes(visible=False, range=[-0.5, canvas.shape[1] - 0.5], constrain="domain")
    fig.update_yaxes(range=[canvas.shape[0] - 0.5, -0.5], scaleanchor="x", constrain="domain", constraintoward="top",
                     tickvals=[r * (side + gap) + side / 2 for r in range(len(rows))], ticktext=row_labels,
                     showgrid=False, zeroline=False, ticks="", tickfont=dict(size=13))
    return fig


def overview_figure(maps: list[tuple[str, torch.Tensor]], per_layer: int = 8, most: int = 24,
                    width_px: int = 700) -> go.Figure:
    """Every layer at a glance, as CNN Explainer draws a network: a row per layer (``maps``: its name and its (C, H, W)
    output) of its first ``per_layer`` maps, each on its own scale and in the colours of :func:`maps_figure` (a layer's
    feature maps on its own). A deeper network shows ``most`` layers spread evenly from the first to the last."""
    chosen = maps if len(maps) <= most else [maps[round(i * (len(maps) - 1) / (most - 1))] for i in range(most)]
    rows = [[_coloured(m) for m in out[:per_layer]] for _, out in chosen]
    title = f"Every layer at a glance: its first {per_layer} maps" + (
        f" ({len(chosen)} of the {len(maps)} layers with maps)" if len(chosen) < len(maps) else "")
    return rows_figure(rows, [name for name, _ in chosen], title, side=40, width_px=width_px)


def _coloured(fmap: torch.Tensor) -> torch.Tensor:
    """A (H, W) map as a (3, H, W) picture on its own scale, coloured as :func:`maps_figure` colours it: blue < 0 <
    red where it has values below 0, else dark = 0, yellow = its highest."""
    values, scale, _ = scaled(fmap.detach().float().cpu()[None], per_map=True)
    codes = (values[0].clamp(0, 1) * 255).round().to(torch.long)
    return torch.from_numpy(_LUTS[scale][codes.numpy()]).permute(2, 0, 1).float() / 255


def selected_points(event) -> list[dict]:
    """The points of a plotly selection event as Streamlit reports it (a dict or an attribute object)."""
    if isinstance(event, dict):
        return event.get("selection", {}).get("points", []) or []
    return getattr(getattr(event, "selection", None), "points", []) or []


def cell_from_click(event, size: tuple[int, int]) -> tuple[int, int] | None:
    """The (row, column) cell of a ``size`` grid that a plotly selection event points at, or None (no click, or off
    the grid)."""
    points = selected_points(event)
    if not points:
        return None
    x, y = points[0].get("x"), points[0].get("y")
    if x is None or y is None:
        return None
    y, x = int(round(float(y))), int(round(float(x)))
    return (y, x) if 0 <= y < size[0] and 0 <= x < size[1] else None


def clicked_tile(event) -> int | None:
    """The tile index a click on a clickable :func:`images_figure` reports, or None."""
    for point in selected_points(event):
        index = point.get("customdata")
        if isinstance(index, list):
            index = index[0] if index else None
        if index is not None:
            return int(index)
    return None
