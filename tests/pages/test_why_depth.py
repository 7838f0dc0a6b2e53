"""Why this prediction's "Through the layers": the class activation map at each stage's last layer and the layers
combined, the same as the library's, from a link as from the picker."""

import numpy as np
import pytest

from explorer import cam, cam_layers
from tests.apptest import app, lenet_and_digit, no_crash, overlay_shares, text, titles, warnings

PAGE = "pages/why_prediction.py"
STAGES = ["relu1", "relu2"]  # LeNet-5's


def test_nothing_is_computed_while_folded():
    at = app(PAGE)
    no_crash(at)
    assert not any(t.startswith("Mean of") for t in titles(at))
    assert "depth" not in at.query_params and "mix" not in at.query_params


def test_each_stage_shows_the_map_at_its_last_layer_and_says_how_widely_it_spreads():
    at = app(PAGE, depth="1")
    no_crash(at)
    shown = titles(at)
    assert ["relu1<br>28 x 28", "relu2<br>10 x 10 (above)", "Mean of 2 layers"] == [
        t for t in shown if "<br>" in t or t.startswith("Mean of")]
    model, digit = lenet_and_digit()
    maps = {layer: cam.class_map(model, digit, layer) for layer in STAGES}
    for layer, size in zip(STAGES, ("28 x 28", "10 x 10 (above)")):
        np.testing.assert_allclose(overlay_shares(at, f"{layer}<br>{size}"), np.round(100 * maps[layer].heat.numpy()),
                                   atol=1)
    fine, coarse = (f"{cam_layers.lit_share(maps[layer].heat):.0%}" for layer in STAGES)
    assert f"At half its peak or more, the map covers `relu1` {fine} and `relu2` {coarse} of the image." in text(at)
    mixed = cam_layers.combined([maps["relu1"], maps["relu2"]])  # the first stage and the map above unless picked
    np.testing.assert_allclose(overlay_shares(at, "Mean of 2 layers"), np.round(100 * mixed.heat.numpy()), atol=1)
    assert "The mean of `relu1` and `relu2`'s maps, each scaled from 0 to 1, the mean scaled again." in text(at)
    assert "mix" not in at.query_params  # the page's own pick stays out of the link


def test_the_links_layers_are_combined_in_the_networks_order_and_a_foreign_one_is_named():
    at = app(PAGE, depth="1", mix="pool2,nope,Relu1")
    no_crash(at)
    assert "nope" in warnings(at)
    assert at.multiselect(key="why_depth_mix").value == ["relu1", "pool2"]  # capitals as typed from a slide: the layer
    model, digit = lenet_and_digit()
    mixed = cam_layers.combined([cam.class_map(model, digit, "relu1"), cam.class_map(model, digit, "pool2")])
    np.testing.assert_allclose(overlay_shares(at, "Mean of 2 layers"), np.round(100 * mixed.heat.numpy()), atol=1)
    assert at.query_params["mix"] == "relu1,pool2"


def test_a_layer_picked_joins_the_mean_and_an_emptied_picker_stays_empty():
    at = app(PAGE, depth="1")
    at.multiselect(key="why_depth_mix").set_value(["pool1", "relu2", "pool2"]).run()
    no_crash(at)
    assert "Mean of 3 layers" in titles(at) and at.query_params["mix"] == "pool1,relu2,pool2"
    at.multiselect(key="why_depth_mix").set_value(["pool1"]).run()
    assert "One layer alone" in titles(at) and "`pool1`'s map alone, scaled from 0 to 1" in text(at)
    at.multiselect(key="why_depth_mix").set_value([]).run()
    no_crash(at)
    assert not any(t.startswith("Mean of") for t in titles(at))
    assert "Pick layers to combine their maps." in text(at)


@pytest.mark.parametrize("method, name", [("scorecam", "Score-CAM"), ("eigencam", "Eigen-CAM")])
def test_the_method_picked_above_is_the_one_through_the_layers(method, name):
    at = app(PAGE, depth="1", cam=method)
    no_crash(at)
    model, digit = lenet_and_digit()
    made = cam.class_map(model, digit, "relu1", method=method, eigen_smooth=method in cam.PRINCIPAL)
    np.testing.assert_allclose(overlay_shares(at, "relu1<br>28 x 28"), np.round(100 * made.heat.numpy()), atol=1)
    assert f"Through the layers: {name} stage by stage" in [e.label for e in at.expander]
    assert ("follows no class" in text(at)) == (method in cam.CLASS_BLIND)


def test_a_model_switch_forgets_the_layers_combined():
    at = app(PAGE, depth="1", mix="relu1,pool1")
    at.selectbox(key="net_model").set_value("tinyvgg").run()
    no_crash(at)
    assert "mix" not in at.query_params
    assert at.multiselect(key="why_depth_mix").value == ["relu1b", "relu2b"]  # TinyVGG's first stage, its map
