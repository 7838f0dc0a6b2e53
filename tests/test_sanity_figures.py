"""The sanity check's cascade chart: a line per map from the trained network's 1 down the layers drawn afresh, and
the "hardly changed" line labelled where no line crosses its label."""

import pytest

from explorer import sanity_figures


def test_each_map_is_a_line_from_the_trained_network_down_the_layers_drawn_afresh():
    steps = [("fc5", {"saliency": 0.9, "gradcam": 0.5}), ("conv1", {"saliency": 0.2, "gradcam": -0.6})]
    fig = sanity_figures.cascade_figure(steps, {"saliency": "Saliency"}, 600).to_plotly_json()
    lines = {trace["name"]: trace for trace in fig["data"]}
    assert list(lines) == ["Saliency", "gradcam"]  # a method without a name keeps its key
    assert list(lines["Saliency"]["x"]) == ["trained", "fc5", "conv1"]
    assert list(lines["gradcam"]["y"]) == [1.0, 0.5, -0.6]
    assert fig["layout"]["yaxis"]["range"] == pytest.approx([-0.7, 1.05])  # room under the lowest value
    assert fig["layout"]["width"] == 600


def test_the_hardly_changed_line_is_labelled_in_the_right_margin_off_the_lines():
    fig = sanity_figures.cascade_figure([("fc5", {"saliency": 0.9})], {}, 600).to_plotly_json()
    (label,) = fig["layout"]["annotations"]
    assert label["text"] == "hardly<br>changed<br>above" and label["y"] == sanity_figures.HARDLY
    assert (label["xref"], label["x"], label["xanchor"]) == ("paper", 1, "left")  # right of the plot area
    assert fig["layout"]["margin"]["r"] == sanity_figures.LABEL_PX
    assert [shape["y0"] for shape in fig["layout"]["shapes"]] == [sanity_figures.HARDLY, 0.0]
