"""Figures of the ascent, attribution, attack and invariance pages."""

import base64
import io

import pytest
import torch
from PIL import Image

from explorer import explain_figures, invariance, invariance_figures


def test_the_animation_has_a_frame_and_a_slider_step_per_recorded_image():
    frames = [torch.full((1, 28, 28), v) for v in (0.0, 0.5, 1.0)]
    fig = explain_figures.animation_figure(frames, [0, 8, 16], "ascent")
    assert [f.name for f in fig.frames] == ["0", "8", "16"]
    assert [s.label for s in fig.layout.sliders[0].steps] == ["0", "8", "16"]
    assert fig.layout.sliders[0].active == 2 and fig.data[0].source.startswith("data:image/png;base64,")


def _png_size(source: str) -> tuple[int, int]:
    return Image.open(io.BytesIO(base64.b64decode(source.split(",", 1)[1]))).size


def test_the_boxed_picture_outlines_the_square_on_the_images_pixels_and_cuts_it_at_the_border():
    fig = explain_figures.boxed_figure(torch.zeros(1, 28, 28), "occluded", (21, 3, 10))
    assert _png_size(fig.data[0].source) == (28, 28)  # at its own size: the browser draws its pixels as squares
    box = fig.layout.shapes[0]
    assert (box.x0, box.x1, box.y0, box.y1) == (2.5, 12.5, 20.5, 27.5)


def test_a_long_class_name_goes_under_the_method_with_room_for_two_lines():
    assert explain_figures.named_title("Saliency", "3") == "Saliency, 3"
    long = explain_figures.named_title("Grad-CAM", "Greater Swiss Mountain dog")
    # cut where even the smaller line is wider than the picture: Chromium had drawn "Greater Swiss Mountain d"
    assert long == "Grad-CAM:<br><span style='font-size:14px'>Greater Swiss Mountain…</span>"
    assert "Mountain dog" in explain_figures.named_title("Grad-CAM", "Greater Swiss Mountain dog", 240)
    assert explain_figures.picture_figure(torch.zeros(3, 8, 8), long).layout.margin.t == 62
    assert explain_figures.picture_figure(torch.zeros(3, 8, 8), "Saliency, 3").layout.margin.t == 40
    assert explain_figures.fitted("Greater Swiss Mountain dog", 150) == "Greater Swiss Moun…"  # in 16 px type
    assert explain_figures.fitted("water snake", 150) == "water snake"


def test_a_title_too_wide_for_its_picture_takes_two_lines():
    # as cut in Chromium: "Original: triangle (99%" in a third of the view, "...of channel 0 o" in half of it
    assert explain_figures.named_title("Original", "triangle (99%)", joiner=": ") == (
        "Original:<br><span style='font-size:14px'>triangle (99%)</span>")
    assert explain_figures.named_title("Reads", "square (47%)", joiner=": ") == "Reads: square (47%)"
    assert explain_figures.named_title("Occlusion", "triangle", 262) == "Occlusion, triangle"
    frames = [torch.zeros(1, 28, 28)]
    long = explain_figures.animation_figure(frames, [0], "What excites unit (5, 5) of channel 0 of conv2", width_px=262)
    assert long.layout.title.text == "What excites unit (5, 5)<br>of channel 0 of conv2"
    assert long.layout.margin.t == 62  # the second line's room
    short = explain_figures.animation_figure(frames, [0], "What excites channel 0 of conv2", width_px=262)
    assert short.layout.title.text == "What excites channel 0 of conv2"


def test_the_perturbation_is_shown_with_grey_as_zero():
    delta = torch.tensor([[[-0.1, 0.0, 0.1]]])
    torch.testing.assert_close(explain_figures.perturbation_image(delta, 0.1), torch.tensor([[[0.0, 0.5, 1.0]]]))
    torch.testing.assert_close(explain_figures.perturbation_image(delta, 0.0), torch.full((1, 1, 3), 0.5))
    framed = explain_figures.perturbation_figure(delta, 0.1)
    assert framed.layout.title.text == "Perturbation (±eps)" and framed.layout.shapes[0].xref == "x domain"


def test_the_eps_figure_marks_the_first_flip():
    epsilons = torch.tensor([0.0, 0.1, 0.2])
    probabilities = torch.tensor([[0.9, 0.1], [0.6, 0.4], [0.3, 0.7]])
    fig = explain_figures.eps_figure(epsilons, probabilities, 0, ("cat", "dog"), chosen=0.1)
    assert list(fig.data[0].y) == pytest.approx([0.9, 0.6, 0.3]) and list(fig.data[1].y) == pytest.approx([0.1, 0.4, 0.7])
    lines = [shape.x0 for shape in fig.layout.shapes]
    assert lines == pytest.approx([0.2, 0.1])  # the first flip, then the chosen eps
    labels = {a.text: a for a in fig.layout.annotations}
    assert set(labels) == {"flips at 0.2", "your eps 0.1"}
    assert labels["flips at 0.2"].xanchor == "left" and labels["your eps 0.1"].xanchor == "right"  # apart, not on top
    assert fig.data[0].name == "cat (attacked)" and fig.layout.title.text == "FGSM: confidence against eps"
    assert all(a.bgcolor for a in fig.layout.annotations)  # readable where they cross a curve
    assert all(a.yanchor == "top" and a.y == 1 for a in fig.layout.annotations)  # in the band above 100%
    assert fig.layout.yaxis.range == (0, 1.18) and fig.data[1].name == "strongest other: dog"


def test_the_eps_figure_names_each_strongest_other_class_in_turn():
    classes = tuple("abcdef")
    rivals = torch.tensor([1, 1, 2, 1, 3, 4])
    probabilities = torch.full((6, 6), 0.01).scatter(1, rivals[:, None], 0.2)
    probabilities[:, 0] = 0.5
    fig = explain_figures.eps_figure(torch.linspace(0, 0.5, 6), probabilities, 0, classes, chosen=0.1)
    assert fig.data[1].name == "strongest other: b, then c, then d, ..."


def test_sweep_figures_show_every_value_and_layer():
    sweep = invariance.Sweep("rotate", torch.tensor([-10.0, 0.0, 10.0]), torch.zeros(3, 1, 4, 4),
                             torch.tensor([[0.2, 0.8], [0.9, 0.1], [0.6, 0.4]]), 0, ("a", "b"),
                             torch.tensor([[0.5, 1.0, 0.4], [0.9, 1.0, 0.8]]))
    confidence = invariance_figures.confidence_figure(sweep, ("yes", "no"))
    assert list(confidence.data[0].y) == pytest.approx([0.2, 0.9, 0.6])
    assert list(confidence.data[0].text) == ["no", "yes", "yes"]
    assert list(confidence.data[0].marker.symbol) == ["x", "circle", "circle"]  # not by red and green alone
    layers = invariance_figures.correlation_figure(sweep)
    assert list(layers.data[0].y) == ["a", "b"] and list(layers.data[0].x) == [-10, 0, 10]
    # one frame for both, one above the other: a value's column under its point
    assert confidence.layout.xaxis.range == layers.layout.xaxis.range == (-15, 15)
    assert (confidence.layout.margin.l, confidence.layout.margin.r) == (layers.layout.margin.l, layers.layout.margin.r)
    assert explain_figures.class_name(3, ("a",)) == "class 3"


def _readings(kind: str, values: list[float], classes: list[int], reference: int = 0) -> invariance.Sweep:
    """A sweep whose versions are read as ``classes``, one per value."""
    probabilities = torch.nn.functional.one_hot(torch.tensor(classes), 3).float()
    return invariance.Sweep(kind, torch.tensor(values), torch.zeros(len(values), 1, 2, 2), probabilities, reference,
                            (), torch.empty(0, len(values)))


@pytest.mark.parametrize("kind,values,classes,expected", [
    ("shift_x", [-2, -1, 0, 1, 2], [1, 0, 0, 0, 2], "without a break from **-1 px** to **+1 px**; at -2 px it is "
                                                    "read as **b** and at +2 px it is read as **c**."),
    ("shift_x", [-2, -1, 0, 1, 2], [0, 1, 0, 0, 0], "without a break from **0 px** to **+2 px** (the end of the "
                                                    "range swept); at -1 px it is read as **b**."),  # stops at a break
    ("rotate", [-10, 0, 10], [0, 0, 0], "**Invariant over the whole range swept**: every version from -10° to +10°"),
    ("rotate", [-90, -38.5714, 0, 38.5714], [1, 0, 0, 0], "from **-38.57°** to **+38.57°** (the end of the range "
                                                          "swept); at -90° it is read as **b**."),  # as the strip
    ("scale", [0.5, 0.9, 1.5], [0, 2, 0], "Even the version nearest the original changes the reading: at 0.9x it "
                                          "is read as **c**."),
])
def test_the_invariance_verdict_names_the_unbroken_run_and_what_breaks_it(kind, values, classes, expected):
    result = _readings(kind, values, classes)
    assert expected in invariance_figures.verdict(result, ("a", "b", "c"))
    span = invariance.kept_span(result)
    assert span is None or all(int(result.predictions[i]) == 0 for i in range(span[0], span[1] + 1))


def test_the_fooling_figure_sets_the_pattern_beside_noise_and_counts_the_new_readings():
    from explorer.universal import Universal

    result = Universal(torch.zeros(1, 2, 2), 0.1, before=torch.tensor([0, 0, 1, 2]), after=torch.tensor([2, 0, 2, 2]),
                       noise_after=torch.tensor([0, 0, 1, 1]))
    fig = explain_figures.fooling_figure(result, ("a", "b", "c"))
    rates, readings = fig.data
    assert list(rates.y) == pytest.approx([0.5, 0.25]) and list(rates.text) == ["50%", "25%"]
    assert list(readings.x) == ["a", "b", "c"] and list(readings.y) == [0, 0, 2]  # both changed now read as c
    assert fig.layout.annotations[1].text == "Now read as<br>(2 changed)"
    assert fig.layout.xaxis2.dtick == 1  # every class named (plotly named every second of ten)


def test_a_targeted_eps_figure_follows_the_target_and_marks_where_it_wins():
    probabilities = torch.tensor([[0.8, 0.15, 0.05], [0.5, 0.45, 0.05], [0.2, 0.3, 0.5]])
    fig = explain_figures.eps_figure(torch.tensor([0.0, 0.1, 0.2]), probabilities, 0, ("a", "b", "c"), chosen=0.1,
                                     target=2)
    assert fig.data[1].name == "c (target)" and list(fig.data[1].y) == pytest.approx([0.05, 0.05, 0.5])
    assert {a.text for a in fig.layout.annotations} == {"reads c at 0.2", "your eps 0.1"}  # not where b leads


def test_the_distance_figure_marks_the_nearest_class_and_those_not_reached():
    from explorer.minimal import Smallest

    original = torch.zeros(1, 2, 2)
    images = torch.stack([original + 0.2, original + 0.1, original])  # L2 norms 0.4, 0.2; the last not reached
    result = Smallest(original, torch.tensor([1, 2, 3]), images, torch.tensor([True, True, False]), torch.zeros(3, 4))
    fig = explain_figures.distance_figure(result, ("a", "b", "c", "d"), "a")
    bars = fig.data[0]
    assert list(bars.x) == ["b", "c", "d"] and list(bars.y) == pytest.approx([0.4, 0.2, 0.0])
    assert list(bars.text) == ["0.40", "0.20", "not reached"]
    assert list(bars.marker.color) == ["#7f7f7f", "#d62728", "#7f7f7f"]  # c is the nearest
    assert list(bars.customdata) == pytest.approx([0.2, 0.1, 0.0])  # RMS: the norm over 2 (4 values)
    assert fig.layout.xaxis.title.text == "read as (a, its reading now, has no bar)"


def test_a_long_value_axis_title_takes_two_lines():
    fig = explain_figures.value_figure([0, 1], [0.5, 1.0], "Step by step", "mean activation of the channel")
    assert fig.layout.yaxis.title.text == "mean activation<br>of the channel"
    assert explain_figures.value_figure([0], [1.0], "t", "the unit's activation").layout.yaxis.title.text == (
        "the unit's<br>activation")
    assert explain_figures.value_figure([0], [1.0], "t", "error").layout.yaxis.title.text == "error"


def test_a_signed_map_has_a_symmetric_scale_over_the_image_in_its_own_pixels():
    image = torch.rand(3, 28, 28)
    values = torch.linspace(-2, 0.5, 28 * 28).reshape(28, 28)
    fig = explain_figures.signed_figure(image, values, "Occlusion, 3", "score drop", width_px=312, box=(4, 8, 7))
    picture, heat = fig.data
    assert picture.type == "image" and heat.type == "heatmap"
    assert (heat.zmin, heat.zmax) == (-2.0, 2.0)  # 0 is clear, whatever the range: red for, blue against
    assert _png_size(picture.source) == (28, 28) and picture.dx is None and picture.x0 is None  # pixel c at c
    assert list(fig.layout.xaxis.range) == [-0.5, 27.5]
    outline = fig.layout.shapes[-1]
    assert (outline.x0, outline.x1, outline.y0, outline.y1) == (7.5, 14.5, 3.5, 10.5)


def test_a_heat_map_shows_each_places_share_on_hover_and_its_colours_in_a_bar_under_the_picture():
    image, heat = torch.rand(1, 28, 28), torch.zeros(28, 28)
    heat[3, 5], heat[10, 20] = 1.0, 0.25
    fig = explain_figures.heat_figure(image, heat, "Saliency, 3", width_px=164)
    picture, hover, bar = fig.data
    assert picture.type == "image" and hover.type == "heatmap"
    assert hover.z[3][5] == 100 and hover.z[10][20] == 25 and hover.z[0][0] == 0  # per cent of the largest
    assert (hover.x0, hover.dx) == (0, 1) and "row %{y}, column %{x}" in hover.hovertemplate
    assert list(fig.layout.xaxis.range) == [-0.5, 27.5]  # hover cell (r, c) over the image's pixel (r, c)
    assert bar.marker.showscale and bar.marker.colorbar.orientation == "h"
    assert [bar.marker.cmin, bar.marker.cmax] == [0, 100]
    plain = explain_figures.picture_figure(image, "Saliency, 3", width_px=164)
    assert fig.layout.height - fig.layout.margin.b == plain.layout.height - plain.layout.margin.b  # as large


def test_clipped_maps_draw_their_largest_values_at_full_colour_and_say_so_on_hover():
    """Captum's outlier_perc: a map's largest values, 2% of its total, all at the top of the scale."""
    from explorer import attribution

    image, heat = torch.rand(1, 28, 28), torch.linspace(0, 1, 28 * 28).reshape(28, 28) ** 8  # a few large values
    level = attribution.clip_level(heat)
    clipped = explain_figures.heat_figure(image, heat, "Saliency, 3", width_px=164, outliers=2).data[1]
    plain = explain_figures.heat_figure(image, heat, "Saliency, 3", width_px=164).data[1]
    assert 0 < level < 1 and clipped.z[27][27] == plain.z[27][27] == 100
    assert sum(v == 100 for row in clipped.z for v in row) > 1 == sum(v == 100 for row in plain.z for v in row)
    assert clipped.z[20][0] == round(100 * min(float(heat[20, 0]) / level, 1))
    assert "% of the scale (the largest values, 2% of the map's total, all 100%)" in clipped.hovertemplate
    assert "% of the largest" in plain.hovertemplate
    values = torch.linspace(-2, 0.5, 28 * 28).reshape(28, 28) ** 3
    signed = explain_figures.signed_figure(image, values, "Occlusion, 3", "score drop", outliers=2).data[1]
    top = attribution.clip_level(values)
    assert (signed.zmin, signed.zmax) == pytest.approx((-top, top)) and top < 8  # the raw values stay on hover
    assert signed.z[0][0] == pytest.approx(-8.0)


def test_a_large_heat_maps_hover_values_come_in_blocks_at_the_blocks_centres():
    heat = torch.zeros(224, 224)
    heat[:2, :2] = 1.0
    hover = explain_figures.heat_figure(torch.rand(3, 224, 224), heat, "Grad-CAM").data[1]
    assert len(hover.z) == explain_figures.HOVER_CELLS and hover.z[0][0] == 100 and hover.z[0][1] == 0
    assert (hover.x0, hover.dx) == (0.5, 2) and "about row" in hover.hovertemplate


def test_the_deletion_and_insertion_curves_name_each_maps_area_and_dash_the_random_order():
    from explorer import faithfulness

    curves = faithfulness.Curves(3, torch.linspace(0, 1, 3), {"Saliency": torch.tensor([1.0, 0.2, 0.0]),
                                                              faithfulness.RANDOM: torch.tensor([1.0, 0.8, 0.0])},
                                 {"Saliency": torch.tensor([0.0, 0.9, 1.0]),
                                  faithfulness.RANDOM: torch.tensor([0.0, 0.5, 1.0])})
    deletion = explain_figures.faithfulness_figure(curves, False, "3")
    assert deletion.layout.title.text == "Deletion: area lower is better"
    assert [t.name for t in deletion.data] == ["Saliency: area 0.35", "Random order: area 0.65"]
    assert list(deletion.data[0].x) == [0, 50, 100] and deletion.data[1].line.dash == "dash"
    insertion = explain_figures.faithfulness_figure(curves, True, "3")
    assert insertion.layout.title.text == "Insertion: area higher is better"
    assert [t.name for t in insertion.data] == ["Saliency: area 0.70", "Random order: area 0.50"]
    assert insertion.layout.xaxis.title.text == "pixels put back"


def test_the_attacks_three_titles_take_as_many_lines_as_the_adversarials():
    assert explain_figures.attack_titles("3", "9", 0.1) == ("Original", "Perturbation (±eps)", "Adversarial: 9")
    long = explain_figures.attack_titles("tabby, tabby cat", "sports car, sport car", 0.004)
    assert [t.count("<br>") for t in long] == [1, 1, 1]
    assert long[0].startswith("Original:<br>") and "tabby, tabby cat" in long[0] and "±0.004" in long[1]
