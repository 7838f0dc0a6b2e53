"""A link holds only what the user changed: a page's own picks (its first or middle layer, the centre unit)
stay out of it, on the first run and on every rerun, so a copied link is as short as the view allows."""

import pytest

from explorer.ui import layout
from tests.apptest import app, no_crash, warnings

PAGES = [p.script for p in layout.PAGES]


@pytest.mark.parametrize("page", PAGES)
def test_a_page_opened_without_settings_writes_none_into_its_link(page):
    at = app(page)
    no_crash(at)
    assert dict(at.query_params) == {}, dict(at.query_params)
    at.run()  # a rerun (any click) must not add the page's picks either
    assert dict(at.query_params) == {}, dict(at.query_params)


@pytest.mark.parametrize(("page", "key", "other"), [
    ("pages/top_activations.py", "ta_layer", "conv1a"),
    ("pages/why_prediction.py", "why_layer", "relu1a"),
    ("pages/receptive_fields.py", "rf_layer", "conv1a"),
    ("pages/what_excites.py", "wx_layer", "conv1a"),
])
def test_another_model_keeps_only_the_model_in_the_link_and_a_chosen_layer_goes_in(page, key, other):
    at = app(page, model="tinyvgg")
    no_crash(at)
    assert dict(at.query_params) in ({"model": "tinyvgg"}, {"model": ["tinyvgg"]}), dict(at.query_params)
    at.selectbox(key=key).set_value(other).run()
    no_crash(at)
    assert at.query_params["layer"] in (other, [other])


@pytest.mark.parametrize("written, name", [("TinyVGG (shapes)", "tinyvgg"), ("Small ResNet", "resnet_small"),
                                           ("resnet-18", "resnet18"), ("LENET5", "lenet5")])
def test_a_model_written_as_the_picker_shows_it_is_that_model(written, name):
    """A teacher types the name on the screen into a link: "TinyVGG (shapes)" had been refused."""
    at = app("pages/layer_by_layer.py", model=written)
    no_crash(at)
    assert at.session_state["net_model"] == name and "model" not in warnings(at)
