"""Top activations projected back onto the pixels (Zeiler & Fergus's deconvnet, guided backprop, the gradient)."""

import torch

from explorer import deconvnet
from explorer.ui import image_sets, memo

from tests.apptest import app, figures, no_crash, text, warnings

PAGE = "pages/top_activations.py"
SHAPES = {"data": "shapes", "n": "500", "layer": "conv2", "channel": "3"}


def _spy(monkeypatch) -> list[dict]:
    """Every call of deconvnet.project, its arguments and what it returned (none remembered from other tests)."""
    memo._stores().pop("projections", None)
    calls, project = [], deconvnet.project

    def spied(model, layer, images, channel, units, **kwargs):
        out = project(model, layer, images, channel, units, **kwargs)
        calls.append({"layer": layer, "channel": channel, "units": units, "out": out, "images": images, **kwargs})
        return out

    monkeypatch.setattr(deconvnet, "project", spied)
    return calls


def test_each_top_unit_projected_back_beside_its_patch(monkeypatch):
    calls = _spy(monkeypatch)
    at = app(PAGE, proj="1", **SHAPES)
    no_crash(at)
    named = [c.proto.alt.split(":")[0] for c in at.get("plotly_chart")]
    assert named[1:4] == ["Whole images", "Their patches", "Deconvnet projections"]
    assert at.get("plotly_chart")[3].proto.alt.endswith(
        "channel 3 of conv2, LeNet-5 (MNIST digits), 500 built-in shapes")
    (call,) = calls
    assert (call["layer"], call["channel"], call["rule"], call["sign"]) == ("conv2", 3, "deconvnet", 1.0)
    assert len(call["images"]) == 9 and call["units"].shape == (9, 2)
    # under each tile the largest value of its projection, the scale it is drawn on
    shown = [a["text"] for a in figures(at)[3]["layout"]["annotations"]]
    assert shown == image_sets.tile_numbers(call["out"].flatten(1).abs().amax(1).tolist())
    assert "Zeiler & Fergus's deconvnet" in text(at) and "Nothing comes back" not in text(at)


def test_the_rule_is_picked_in_the_page_and_kept_in_the_link(monkeypatch):
    calls = _spy(monkeypatch)
    at = app(PAGE, proj="1", projby="guided", **SHAPES)
    no_crash(at)
    assert "Guided projections" in [f["layout"]["title"]["text"] for f in figures(at)]
    assert "Springenberg" in text(at)
    at.selectbox(key="ta_projby").set_value("gradient").run()
    no_crash(at)
    assert at.query_params["projby"] == "gradient" and at.query_params["proj"] == "1"
    assert [c["rule"] for c in calls] == ["guided", "gradient"]
    off = app(PAGE, **SHAPES)
    assert "proj" not in off.query_params and not any(c.proto.alt.split(":")[0].endswith(" projections") for c in
                                                       off.get("plotly_chart"))
    assert all(s.key != "ta_projby" for s in off.selectbox)


def test_the_lowest_units_go_back_with_their_sign_and_after_a_relu_nothing_does(monkeypatch):
    calls = _spy(monkeypatch)
    at = app(PAGE, proj="1", low="1", **SHAPES)
    no_crash(at)
    assert calls[-1]["sign"] == -1.0 and "Nothing comes back" not in text(at)  # conv2: before the ReLU, below 0
    at = app(PAGE, proj="1", low="1", **{**SHAPES, "layer": "relu2"})
    no_crash(at)
    assert calls[-1]["out"].abs().max() == 0
    assert "Nothing comes back: read after a ReLU, a unit sends -1 into that ReLU" in text(at)
    assert "A lowest unit goes back from -1: what drives it down." in text(at)


def test_the_other_side_is_projected_too_with_its_own_sign(monkeypatch):
    calls = _spy(monkeypatch)
    at = app(PAGE, proj="1", other="1", **SHAPES)
    no_crash(at)
    projected = [c.proto.alt for c in at.get("plotly_chart") if c.proto.alt.split(":")[0].endswith(" projections")]
    assert len(projected) == 2 and "at its lowest" in projected[1] and "at its lowest" not in projected[0]
    assert [c["sign"] for c in calls] == [1.0, -1.0]
    assert text(at).count("Zeiler & Fergus's deconvnet") == 1  # the other side's caption does not say it again


def test_an_unknown_rule_in_a_link_is_named_and_the_deconvnet_drawn():
    at = app(PAGE, proj="1", projby="lrp", **SHAPES)
    no_crash(at)
    assert "projby" in warnings(at) and "lrp" in warnings(at)
    assert "Deconvnet projections" in [f["layout"]["title"]["text"] for f in figures(at)]


def test_a_projection_drawn_is_the_libraries_cropped_to_the_patch():
    projection = torch.zeros(1, 28, 28)
    projection[0, 3, 4], projection[0, 5, 6] = 2.0, -1.0
    picture = deconvnet.picture(projection[:, 2:8, 3:9])
    assert picture.shape == (1, 6, 6) and picture[0, 1, 1] == 1.0 and picture[0, 3, 3] == 0.25
