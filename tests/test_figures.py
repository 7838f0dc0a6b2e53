"""Figures carry the right numbers and ranges."""

import numpy as np
import pytest
import torch

from explorer import figures


def test_scale_ranges():
    fmap = torch.tensor([[-1.0, 3.0]])
    assert figures.scale_range(fmap, "symmetric") == (-3.0, 3.0)
    assert figures.scale_range(fmap, "own") == (-1.0, 3.0)
    assert figures.scale_range(fmap, "input") == (0.0, 1.0)
    assert figures.scale_range(torch.zeros(2, 2), "own") == (-1.0, 1.0)


def test_grid_figure_writes_values_and_blanks_future_cells():
    mask = torch.tensor([[True, False]])
    fig = figures.grid_figure(torch.tensor([[1.5, 2.0]]), "t", mask=mask, highlight=[(0, 0)])
    background, values = fig.data  # drawn in this order: the pale cells under the values
    assert list(map(list, values.text)) == [["1.5", ""]]
    assert background.hoverinfo == "skip" and np.shape(background.z) == (1, 2)  # the whole output's shape
    assert len(fig.layout.shapes) == 1
    assert len(figures.grid_figure(torch.tensor([[1.5, 2.0]]), "t").data) == 1  # nothing to come: no background
    assert list(map(list, values.customdata)) == [["1.5", "filled at step 2"]]  # on hover, not "NaN"
    assert "%{customdata}" in values.hovertemplate


def test_clickable_cells_put_a_selectable_marker_on_every_cell():
    from explorer import mosaic

    fig = figures.grid_figure(torch.zeros(2, 3), "Output")
    figures.clickable_cells(fig, 2, 3, 30)
    markers = fig.data[-1]
    assert len(markers.x) == 6 and (markers.x[4], markers.y[4]) == (1, 1) and fig.layout.clickmode == "event+select"
    # nearer the pointer than the heatmap, the markers take its hover: they carry its words (it showed none)
    assert markers.customdata[4] == "0" and "%{customdata}" in markers.hovertemplate
    output = figures.grid_figure(torch.tensor([[1.5, 2.0]]), "Output", mask=torch.tensor([[True, False]]))
    figures.clickable_cells(output, 1, 2, 30)
    assert list(output.data[-1].customdata) == ["1.5", "filled at step 2"]
    assert mosaic.cell_from_click({"selection": {"points": [{"x": 1, "y": 1}]}}, (2, 3)) == (1, 1)


def test_a_feature_map_keeps_the_inputs_size_with_its_colour_bar_below():
    fmap = torch.tensor([[-2.0, 0.0], [1.0, 0.5]])
    fig = figures.feature_map_figure(fmap, "symmetric", "map")
    assert (fig.data[0].zmin, fig.data[0].zmax) == (-2.0, 2.0)  # symmetric about 0
    assert fig.data[0].colorbar.orientation == "h"  # beside the map it would shrink it next to the input
    assert fig.layout.height > figures.image_figure(torch.rand(1, 2, 2)).layout.height  # the bar's own room


@pytest.mark.parametrize("mode,expected", [("symmetric", (-4.0, 4.0)), ("own", (-1.0, 4.0)), ("input", (0.0, 1.0))])
def test_maps_side_by_side_can_share_one_colour_scale(mode, expected):
    maps = torch.tensor([[[0.0, 1.0]], [[-1.0, 4.0]]])
    for fmap in maps:
        fig = figures.feature_map_figure(fmap, mode, across=maps)
        assert (fig.data[0].zmin, fig.data[0].zmax) == expected


def test_the_surface_counts_the_images_own_pixels_and_tiny_maps_tick_whole_cells():
    fig = figures.surface_figure(torch.rand(1, 256, 128), max_side=64)
    surface = fig.data[0]
    assert np.shape(surface.z) == (64, 32)
    assert surface.x[-1] == 124 and surface.y[-1] == 252  # the last drawn point's column and row in the image
    assert figures.feature_map_figure(torch.rand(2, 2)).layout.xaxis.dtick == 1
    assert figures.feature_map_figure(torch.rand(64, 64)).layout.xaxis.dtick is None


def test_the_probe_figure_plots_test_and_training_accuracy_per_layer_with_chance():
    from explorer.probes import Probe

    fig = figures.probe_figure([Probe("normalize", 784, 0.99, 0.87), Probe("fc5", 10, 0.99, 0.98)], classes=10)
    tested, trained = fig.data
    assert list(tested.x) == ["normalize", "fc5"] and list(tested.y) == pytest.approx([87, 98])
    assert list(trained.y) == pytest.approx([99, 99]) and trained.line.dash == "dot"
    assert fig.layout.yaxis.range == (80, 101) and not fig.layout.shapes  # 87% to 98% is not squashed flat
    assert fig.layout.yaxis.title.text == "accuracy (%; chance 10%)"
    near = figures.probe_figure([Probe("normalize", 784, 0.6, 0.3), Probe("fc5", 10, 0.9, 0.5)], classes=10)
    assert near.layout.yaxis.range == (0, 101) and near.layout.shapes[0].y0 == 10  # chance drawn when close


def test_a_block_as_numbers_keeps_its_rows_and_columns_and_writes_each_value():
    block = torch.tensor([[0.25, -0.001], [1.0, 0.5]])
    fig = figures.numbers_figure(block, 10, 20, "numbers", signed=True)
    heat = fig.data[0]
    assert list(heat.y) == ["10", "11"] and list(heat.x) == ["20", "21"]
    assert [list(row) for row in heat.text] == [["0.25", "0.00"], ["1.00", "0.50"]]  # no "-0.00"
    assert heat.zmid == 0 and heat.colorscale[0][1] != "rgb(0, 0, 0)"  # signed: blue below 0, red above
    greys = figures.numbers_figure(block.clamp(0, 1), 0, 0, "pixels").data[0]
    assert (greys.zmin, greys.zmax) == (0, 1)
    twelve = figures.numbers_figure(torch.rand(12, 12), 0, 0, "pixels", width_px=624)
    assert twelve.layout.yaxis.scaleanchor == "x"  # square cells, as the pixels are
    assert twelve.layout.height - twelve.layout.margin.t - 30 == pytest.approx(12 * (624 - 50) / 12, abs=1)


def test_a_picture_that_may_be_drawn_smaller_than_its_pixels_is_blended_and_a_small_one_stays_sharp():
    # plotly draws cell for cell; the browser shrinking a 256 px Canny stage to 220 px dropped a one-pixel edge
    edge = torch.zeros(1, 256, 256)
    edge[0, 60:200, 103] = 1
    assert figures.image_figure(edge).data[0].zsmooth == "fast"
    assert figures.feature_map_figure(edge[0]).data[0].zsmooth == "fast"
    decided = figures.decision_figure(torch.zeros(256, 256, dtype=torch.long), ["a"], ["#000"], "t")
    assert decided.data[0].zsmooth == "fast"
    assert figures.image_figure(torch.zeros(1, 28, 28)).data[0].zsmooth is False  # only ever enlarged: sharp cells
    assert figures.feature_map_figure(torch.zeros(150, 150)).data[0].zsmooth is False


def test_a_narrow_grid_keeps_square_cells_and_gives_its_title_room_on_the_right():
    """A one-column grid under a long title had stretched to 115 x 44 px cells, cutting the window's right edge."""
    fig = figures.grid_figure(torch.ones(12, 1), "Output: cell (0, 0)")
    plot_width = fig.layout.width - fig.layout.margin.l - fig.layout.margin.r
    assert plot_width == 44 and fig.layout.width >= 7 * len("Output: cell (0, 0)") + 24
    wide = figures.grid_figure(torch.ones(3, 5), "Input")
    assert wide.layout.width == 5 * 44 + 40 and wide.layout.margin.r == 20


def test_a_grid_filling_up_keeps_one_colour_for_each_value_at_every_step():
    """Plotly's range had spanned the cells filled so far: an output of -2 was navy at step 1, pale at step 6."""
    values = torch.tensor([[-2.0, 5.0, 1.0], [0.5, -7.0, 3.0]])
    first, sixth = (figures.grid_figure(values, "out", mask=torch.arange(6).reshape(2, 3) < n, zmid=0.0)
                    for n in (1, 6))
    assert (first.data[-1].zmin, first.data[-1].zmax) == (sixth.data[-1].zmin, sixth.data[-1].zmax) == (-7.0, 7.0)
    plain = figures.grid_figure(values, "in")
    assert (plain.data[-1].zmin, plain.data[-1].zmax) == (-7.0, 5.0)
    box = figures.grid_figure(torch.full((3, 3), 1 / 9), "kernel", fraction=9, zmid=0.0)
    assert "%{text}" in box.data[-1].hovertemplate and box.data[-1].text[0][0] == "1/9"  # hover as the cell writes it


def test_a_decision_map_goes_to_the_browser_as_bytes_with_its_key_under_it():
    """Each cell's name on hover had made a 256 x 256 Canny map 880 KB of JSON; the key names the colours once."""
    import plotly.io as pio

    decided = torch.randint(0, 4, (256, 256))
    fig = figures.decision_figure(decided, ["no edge", "weak, dropped", "weak, kept", "strong"],
                                  ["#000", "#3b82f6", "#f97316", "#fff"], "4. Hysteresis: the edges", height=320)
    assert len(pio.to_json(fig)) < 120_000
    assert fig.data[0].z.dtype == np.uint8 and (fig.data[0].z == decided.numpy()).all()
    assert list(fig.data[0].colorbar.ticktext) == ["no edge", "weak,<br>dropped", "weak,<br>kept", "strong"]


def test_the_window_picture_outlines_the_window_and_takes_clicks_on_a_coarse_grid():
    fig = figures.window_figure(torch.rand(256, 256), 250, 3, 12, "window")
    picture, targets = fig.data
    assert picture.type == "image" and picture.source.startswith("data:image/png;base64,")
    assert len(targets.x) == 64 * 64 and (targets.x[0], targets.x[1], targets.x[63]) == (0, 4, 255)  # edge to edge
    assert len(figures.window_figure(torch.rand(20, 30), 0, 0, 12, "small").data[1].x) == 20 * 30  # every pixel
    box = fig.layout.shapes[0]
    assert (box.x0, box.x1, box.y0, box.y1) == (2.5, 14.5, 249.5, 255.5)  # cut by the image's border
    assert fig.layout.clickmode == "event+select" and not fig.layout.dragmode
