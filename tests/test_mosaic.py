"""Mosaic figures: feature maps, colour scales, kernels, vectors, images with labels and the prediction."""

import base64
import io

import numpy as np
import torch
from PIL import Image

from explorer import mosaic, tiling


def _image(fig) -> np.ndarray:
    source = fig.data[0].source
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(source.split(",", 1)[1]))))


def test_maps_figure_is_one_png_with_every_map():
    fig = mosaic.maps_figure(torch.randn(16, 10, 10), 16, "maps")
    image = _image(fig)
    tile = 10 * 3  # 10 px maps are enlarged to at least MIN_TILE_PX
    cols = tiling.columns_for(16)
    assert image.shape[1] == cols * tile + (cols - 1) * tiling.gap_for(tile, tile)
    assert "maps 16..31" in fig.layout.annotations[0].text


def test_kernels_figure_shows_rgb_filters_as_colour_tiles_and_others_as_a_grid():
    rgb = mosaic.kernels_figure(torch.randn(4, 3, 5, 5), "rgb")
    assert _image(rgb).shape[2] == 3 and "grey = 0" in rgb.layout.annotations[0].text
    grid = _image(mosaic.kernels_figure(torch.randn(16, 6, 5, 5), "grid"))
    tile = 5 * 6  # enlarged 6x to reach 28 px
    gap = 3  # half a weight's 6 px block: filters stand apart from their own cells
    assert grid.shape[1] == 16 * tile + 15 * gap and grid.shape[0] == 6 * tile + 5 * gap
    legend = mosaic.kernels_figure(torch.tensor([[[[-2.0, 1.0]]]]), "signed").layout.annotations[0].text
    assert legend == "weights: blue < 0 < red<br>one scale for all: -2 to 2<br>numbers: the filters"
    grey = _image(mosaic.kernels_figure(torch.randn(6, 1, 5, 5), "first layer on grey"))  # wraps: 3 columns, 2 rows
    assert tiling.columns_for(6) == 3 and grey.shape[:2] == (2 * tile + gap, 3 * tile + 2 * gap)
    single = _image(mosaic.kernels_figure(torch.randn(1, 4, 5, 5), "one filter"))  # its 4 input maps in a row
    assert single.shape[:2] == (tile, 4 * tile + 3 * gap)


def test_prediction_figure_puts_the_most_likely_class_on_top():
    fig = mosaic.prediction_figure(torch.tensor([0.1, 0.7, 0.2]), ("a", "b", "c"))
    assert list(fig.data[0].y) == ["a", "c", "b"] and fig.data[0].text[-1] == "70.0%"


def test_vector_figure_bars_short_vectors_and_tiles_long_ones():
    assert mosaic.vector_figure(torch.randn(84), "v").data[0].type == "bar"
    long = mosaic.vector_figure(torch.randn(4096), "v")
    assert long.data[0].type == "heatmap" and np.array(long.data[0].z).shape == (64, 64)


def test_kernel_grid_puts_output_maps_in_columns_and_input_maps_in_rows():
    weight = torch.zeros(4, 2, 3, 3)
    weight[3, 1] = 1.0  # output map 3, input map 1
    image = _image(mosaic.kernels_figure(weight, "grid"))
    tile = 3 * 10  # 3 px kernels are enlarged 10x
    gap = tiling.gap_for(tile, tile)
    hot = image[1 * (tile + gap) + tile // 2, 3 * (tile + gap) + tile // 2]
    cold = image[tile // 2, 3 * (tile + gap) + tile // 2]
    assert hot[0] > 150 > hot[2] and abs(int(cold[0]) - int(cold[2])) < 30  # red where the weight is, neutral elsewhere


def test_a_page_of_input_maps_shows_those_maps_rows_numbered_as_the_layer_numbers_them():
    weight = torch.zeros(4, 40, 3, 3)
    weight[3, 17] = 1.0  # output map 3, input map 17: the second row of the page from 16
    fig = mosaic.kernels_figure(weight, "grid", first_in=16)
    image, tile = _image(fig), 3 * 10
    gap = tiling.gap_for(tile, tile)
    hot = image[1 * (tile + gap) + tile // 2, 3 * (tile + gap) + tile // 2]
    assert hot[0] > 150 > hot[2]
    first = _image(mosaic.kernels_figure(weight, "grid"))[1 * (tile + gap) + tile // 2, 3 * (tile + gap) + tile // 2]
    assert abs(int(first[0]) - int(first[2])) < 30  # input map 1 holds no weight
    rows = [a.text for a in fig.layout.annotations if a.xanchor == "right"]
    assert rows[0] == "16" and rows[-1] == "31"
    last = mosaic.kernels_figure(weight, "grid", first_in=32)  # the last page: 8 maps
    assert [a.text for a in last.layout.annotations if a.xanchor == "right"][-1] == "39"


def test_click_events_are_read_from_dicts_and_objects():
    from types import SimpleNamespace

    as_dict = {"selection": {"points": [{"x": 2.0, "y": 1.0, "customdata": 5}]}}
    as_object = SimpleNamespace(selection=SimpleNamespace(points=[{"x": 2, "y": 1, "customdata": [5]}]))
    for event in (as_dict, as_object):
        assert mosaic.clicked_tile(event) == 5
        assert mosaic.cell_from_click(event, (3, 3)) == (1, 2)
    assert mosaic.clicked_tile(None) is None and mosaic.cell_from_click({}, (3, 3)) is None
    assert mosaic.cell_from_click(as_dict, (1, 1)) is None  # off a 1 x 1 map


def test_a_grid_drawn_smaller_than_its_tiles_gets_a_border_a_screen_pixel_thick():
    """Three 96 px tiles drawn 168 px wide: a one-pixel border would be a third of a screen pixel, and break."""
    tall = [torch.ones(3, 115, 73)] * 9  # white patches narrower than their tiles: only the border shows their edge
    image = _image(mosaic.images_figure(tall, [""] * 9, "framed", cols=3, side=96, width_px=168))
    assert (image[48, :2, :3] == tiling.GAP).all() and (image[48, 2, :3] == 255).all()  # 292 / 168: 2 px
    wide = _image(mosaic.images_figure(tall, [""] * 9, "framed", cols=3, side=96, width_px=600))
    assert (wide[48, 0, :3] == tiling.GAP).all() and (wide[48, 1, :3] == 255).all()  # drawn larger: 1 px


def test_image_tiles_are_framed_so_white_patches_keep_their_edges():
    image = _image(mosaic.images_figure([torch.ones(3, 8, 8)], ["white"], "framed", side=32))
    assert (image[0, 0, :3] == tiling.GAP).all() and (image[31, 16, :3] == tiling.GAP).all()
    assert (image[16, 16] == 255).all()  # inside: the image itself, opaque
    assert image.shape[-1] == 4 and (image[32:, :, 3] == 0).all()  # under it, the labels' band: clear on a dark page
    labelled = mosaic.images_figure([torch.ones(3, 8, 8)], ["white"], "framed", side=32)
    assert labelled.layout.annotations[0].font.color == "#222"  # the page's ink: plotly's grey read at 3.3:1
    assert mosaic.images_figure([torch.ones(3, 8, 8)], ["w"], "t", ink="#e6e6ea").layout.annotations[0].font.color == \
        "#e6e6ea"


def test_a_box_is_outlined_on_its_image_where_the_tile_draws_those_pixels():
    """A 28 x 28 image on a 56 px tile (2 px a pixel), the second tile of a row: rows 3..8, columns 10..20."""
    fig = mosaic.images_figure([torch.zeros(1, 28, 28)] * 2, ["a", "b"], "t", cols=2, side=56,
                               boxes=[(0, 0, 28, 28), (3, 10, 9, 21)])
    whole, part = fig.layout.shapes
    assert (whole.x0, whole.x1, whole.y0, whole.y1) == (-0.5, 55.5, -0.5, 55.5)  # the whole tile
    left = 56 + max(1, 56 // 16)  # the second tile, after the gap
    assert (part.x0, part.x1, part.y0, part.y1) == (left + 19.5, left + 41.5, 5.5, 17.5)


def test_a_picture_figure_is_as_tall_as_its_image_at_the_width_it_is_drawn():
    flat = np.zeros((50, 500, 3), dtype=np.uint8)
    assert mosaic.png_figure(flat, "t", 400, width_px=520).layout.height == 50 + 50  # title and margins + image
    assert mosaic.png_figure(flat, "t", 400).layout.height == 400  # no width: the height asked for
    tall = np.zeros((1000, 100, 3), dtype=np.uint8)
    assert mosaic.png_figure(tall, "t", 400, width_px=520).layout.height == 400  # never more than asked
    maps = mosaic.maps_figure(torch.rand(2, 8, 8), 0, "t", width_px=300)  # its three legend lines add their room
    h, w, _ = _image(maps).shape
    assert maps.layout.height == 50 + round(280 * h / w) + 48 and maps.layout.margin.b == 58
    key = maps.layout.annotations[0]  # hung from the image's bottom edge, however wide the page draws it
    assert (key.xref, key.yref, key.x, key.y, key.yanchor) == ("x", "y", -0.5, h - 0.5, "top")


def test_rows_of_images_are_named_on_the_left_one_tick_per_row():
    rows = [[torch.rand(1, 5, 5)] * 9, [torch.rand(3, 4, 6)] * 9]
    fig = mosaic.rows_figure(rows, ["untrained", "epoch 1"], "t", side=48)
    assert list(fig.layout.yaxis.ticktext) == ["untrained", "epoch 1"]
    assert list(fig.layout.yaxis.tickvals) == [24, 24 + 48 + 4]  # each row's middle: tiles of 48 px, gaps of 4
    assert fig.layout.margin.l == 80 and fig.layout.xaxis.visible is False


def test_a_label_longer_than_its_tile_is_cut_and_whole_on_hover():
    tiles = [torch.rand(3, 8, 8) for _ in range(9)]
    words = ["3 → Greater Swiss Mountain dog"] + ["3 → cat"] * 8
    fig = mosaic.images_figure(tiles, words, "versions", cols=9, side=96, width_px=800)
    first, second = fig.layout.annotations[:2]
    assert first.text.endswith("…") and len(first.text) < len(words[0]) and first.hovertext == words[0]
    assert second.text == "3 → cat" and second.hovertext is None


def test_two_line_labels_fit_the_narrowest_view_and_get_their_room():
    tiles = [torch.rand(1, 28, 28) for _ in range(16)]
    words = ["T-shirt/top\n→ automobile"] * 14 + ["automobile\n→ T-shirt/top", "Ankle boot\n→ Greater Swiss Mountain dog"]
    fig = mosaic.images_figure(tiles, words, "mistakes", cols=4, side=56, width_px=516, least_px=315)
    first, last = fig.layout.annotations[0], fig.layout.annotations[-1]
    assert first.text == "T-shirt/top<br>→ automobile" and first.hovertext is None  # about 60 px in 80
    assert fig.layout.annotations[-2].text == "automobile<br>→ T-shirt/top"
    assert last.text.startswith("Ankle boot<br>→ Greater") and last.text.endswith("…")
    assert last.hovertext == "Ankle boot → Greater Swiss Mountain dog"
    assert _image(fig).shape[0] == 4 * (56 + 3 + 32)  # four rows, each with two 16 px lines under its tile
    wide = mosaic.images_figure(tiles, words, "mistakes", cols=4, side=56, width_px=516)
    assert wide.layout.annotations[-1].text.count("…") == 1 and wide.layout.height == fig.layout.height


def test_a_strip_drawn_smaller_than_its_canvas_keeps_room_for_its_labels_on_the_screen():
    """Invariance's 9 tiles of 96 px in a 541 px view: the 32 px band shrank to 19 px and the labels ran over the
    tiles."""
    tiles = [torch.rand(1, 28, 28) for _ in range(9)]
    fig = mosaic.images_figure(tiles, ["-8 px\n→ 3"] * 9, "versions", cols=9, side=96, width_px=624, least_px=541)
    wide = 9 * (96 + 6) - 6
    band = _image(fig).shape[0] - 96
    assert band * 541 / wide >= 2 * 16  # two lines of label, on the screen at the narrowest
    assert all(a.yanchor == "top" and a.y == 96 + 6 for a in fig.layout.annotations)  # right under each tile


def test_kernel_tiles_carry_the_numbers_a_table_names_them_by():
    """A table's "filter 3" is found in the picture: each tile, or each column and row of a grid, is numbered."""
    grey = mosaic.kernels_figure(torch.randn(6, 1, 5, 5), "first layer on grey")
    numbers = grey.layout.annotations[1:]
    pitch = 5 * 6 + 3  # a 30 px tile and its gap
    assert [a.text for a in numbers] == [str(i) for i in range(6)]
    assert (numbers[4].x, numbers[4].y) == (1 * pitch - 0.5, 1 * pitch - 0.5)  # filter 4: row 1, column 1 of 3
    rgb = mosaic.kernels_figure(torch.randn(4, 3, 5, 5), "rgb")
    assert [a.text for a in rgb.layout.annotations[1:]] == ["0", "1", "2", "3"]
    single = mosaic.kernels_figure(torch.randn(1, 4, 5, 5), "one filter")
    assert single.layout.annotations[0].text.endswith("numbers: its input maps")
    grid = mosaic.kernels_figure(torch.randn(16, 6, 5, 5), "grid")
    heads = grid.layout.annotations[1:]
    assert [a.text for a in heads] == [str(i) for i in range(16)] + [str(i) for i in range(6)]
    assert all(a.yanchor == "bottom" for a in heads[:16]) and all(a.xanchor == "right" for a in heads[16:])
    assert grid.layout.margin.t == 40 + 14  # room above the picture for the filters' numbers


def test_the_chosen_tile_of_a_grid_to_click_is_outlined_and_the_toolbar_has_no_zoom():
    tiles = [torch.zeros(1, 4, 4)] * 6
    fig = mosaic.images_figure(tiles, [str(i) for i in range(6)], "Click a channel", cols=3, side=32, clickable=True,
                               selected=4)
    (box,) = fig.layout.shapes
    # tile 4: row 1, column 1; a tile is 32 px and a 2 px gap, its label 16 px: pixels 34..65 across, 50..81 down,
    # the line's middle 1.5 px inside its edges
    assert (box.x0, box.x1, box.y0, box.y1) == (35, 64, 51, 80)
    (first,) = mosaic.images_figure(tiles, ["a"] * 6, "t", cols=3, side=32, selected=0).layout.shapes
    assert first.x0 - 1.5 >= -0.5 and first.y0 - 1.5 >= -0.5  # inside the figure, which cuts what passes its edge
    assert "zoom" in fig.layout.modebar.remove and "pan" in fig.layout.modebar.remove
    assert not mosaic.images_figure(tiles, ["a"] * 6, "t", clickable=True).layout.shapes  # none chosen
    assert not mosaic.images_figure(tiles, ["a"] * 6, "t", selected=9).layout.shapes  # not on this page


def test_the_overview_has_a_row_per_layer_of_its_first_maps_each_on_its_own_scale():
    maps = [("conv1", torch.randn(6, 28, 28)), ("pool1", torch.randn(6, 14, 14) * 100),
            ("conv2", torch.zeros(16, 10, 10))]
    fig = mosaic.overview_figure(maps, per_layer=4)
    assert list(fig.layout.yaxis.ticktext) == ["conv1", "pool1", "conv2"]
    tile = 40 + 40 // 12
    assert _image(fig).shape == (3 * tile - 40 // 12, 4 * tile - 40 // 12, 4)  # 3 rows of 4 maps, with alpha
    picture = _image(fig)
    assert picture[5, 5, 3] == 255 and picture[tile - 1, 5, 3] == 0  # tiles opaque, the gaps clear (a dark theme)
    pool = picture[tile + 5:tile + 35, 5:35, :3].astype(int)  # signed, 100 times conv1's: its own full scale
    assert (pool[..., 0] - pool[..., 2]).max() > 100 and (pool[..., 2] - pool[..., 0]).max() > 100  # red and blue
    colours = {tuple(picture[y, x, :3]) for y in range(2 * tile + 4, 2 * tile + 36) for x in range(4, 36)}
    assert colours == {tuple(mosaic._LUTS["Viridis"][0])}  # a map of zeros: the Output tab's 0, all one colour
    relu = mosaic.overview_figure([("relu1", torch.arange(16.0).view(1, 4, 4))], per_layer=1)
    corner, far = _image(relu)[1, 1, :3], _image(relu)[38, 38, :3]
    assert (corner == mosaic._LUTS["Viridis"][0]).all() and (far == mosaic._LUTS["Viridis"][255]).all()
    deep = mosaic.overview_figure([(f"l{i}", torch.randn(2, 4, 4)) for i in range(50)], most=24)
    assert len(deep.layout.yaxis.ticktext) == 24 and deep.layout.yaxis.ticktext[-1] == "l49"
    assert "(24 of the 50 layers with maps)" in deep.layout.title.text
    named = mosaic.overview_figure([("layer3.0.downsample.0", torch.randn(2, 4, 4))])
    assert named.layout.margin.l > 80 == mosaic.overview_figure(maps).layout.margin.l  # room for a long name


def test_filters_on_one_fixed_scale_or_each_on_its_own():
    """A run's snapshots share one scale (the colour of a weight that did not move stays); a hand-set Laplacian's -4
    had left learned filters of 0.2 blank unless each filter gets its own scale."""
    weights = torch.zeros(2, 1, 3, 3)
    weights[0, 0, 1, 1], weights[1, 0, 1, 1] = -4.0, 0.2
    shared, own = (_image(mosaic.kernels_figure(weights, "t", per_filter=p)) for p in (False, True))
    fixed = mosaic.kernels_figure(weights, "t", limit=8.0)
    assert "one scale for all: -8 to 8" in fixed.layout.annotations[0].text
    legend = mosaic.kernels_figure(weights, "t", per_filter=True).layout.annotations[0].text
    assert "each filter on its own scale" in legend


    def coloured(image: np.ndarray) -> int:  # pixels far from grey: a weight drawn in strong red or blue
        image = image.astype(int)
        return int((np.abs(image - image.mean(-1, keepdims=True)).sum(-1) > 60).sum())

    assert coloured(own) == 2 * coloured(shared) > 0  # the 0.2 filter's centre shows too, as strong as the -4


def test_a_framed_tile_enlarges_pixel_for_pixel_inside_a_grey_border():
    image = torch.tensor([[[0.0, 1.0], [1.0, 0.0]]])  # a 2 x 2 checkerboard, to 8 x 8
    tile = mosaic.framed_tile(image, 8)
    assert tile.shape == (8, 8, 3) and tile.dtype == np.uint8
    assert (tile[0] == tiling.GAP).all() and (tile[:, -1] == tiling.GAP).all()
    assert (tile[1:4, 1:4] == 0).all() and (tile[1:4, 4:7] == 255).all() and (tile[4:7, 1:4] == 255).all()
