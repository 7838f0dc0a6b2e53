"""Why this prediction's "What the layer sees": Deep Feature Factorization of the class activation map's layer, the
same as the library's, from a link and the slider, for another model and layer."""

import numpy as np
import pytest

from explorer import concepts, images, inputs, models
from tests.apptest import app, figures, lenet_and_digit, no_crash, overlay_shares, text, titles, warnings

PAGE = "pages/why_prediction.py"


def test_nothing_is_computed_while_folded():
    at = app(PAGE)
    no_crash(at)
    assert not any("by colour" in t for t in titles(at)) and "dff" not in at.query_params


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_the_digits_concepts_from_a_link_are_the_librarys_each_named_by_its_likeliest_class():
    at = app(PAGE, dff="1", dffk="3")
    no_crash(at)
    found = concepts.factorize(*lenet_and_digit(), "relu2", 3)
    best = concepts.top_classes(found)
    expected = [f"{k + 1}, {colour}:<br>{best[k][0][0]}" for k, (colour, _) in enumerate(concepts.COLOURS[:3])]
    assert [t for t in titles(at) if t.startswith(("All concepts", "1, ", "2, ", "3, "))] == [
        "All concepts:<br>by colour", *expected]
    for k, title in enumerate(expected):
        np.testing.assert_allclose(overlay_shares(at, title), np.round(100 * found.heat[k].numpy()), atol=1)
    painted = next(f for f in figures(at) if f["layout"]["title"]["text"] == "All concepts:<br>by colour")
    assert painted["data"][0]["type"] == "image"
    legend = next(c.value for c in at.caption if c.value.startswith("What the rest of the network reads"))
    assert f"1 (red) {best[0][0][0]} " in legend
    assert f"rebuild the maps with a relative error of {found.error:.0%}" in legend
    assert "splits the maps of `relu2` into a few **concepts**" in text(at)
    at.slider(key="why_dff_k").set_value(6).run()
    no_crash(at)
    assert at.query_params["dffk"] in ("6", ["6"]) and "6, yellow:<br>" in " ".join(titles(at))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_another_model_and_layer_and_a_link_past_eight_concepts():
    at = app(PAGE, dff="1", dffk="12", model="tinyvgg", layer="relu1b")
    no_crash(at)
    assert "`dffk=12` was ignored" in warnings(at)  # the default, 5 concepts, instead
    assert "What the layer sees: concepts at relu1b" in [e.label for e in at.expander]
    spec = models.spec("tinyvgg")
    shape = inputs.prepare(spec, images.load_sample(spec.sample)).tensor
    found = concepts.factorize(models.build("tinyvgg", pretrained=True), shape, "relu1b", 5)
    names = [t for t in titles(at) if t.startswith(("1, ", "2, ", "3, ", "4, ", "5, "))]
    assert names == [f"{k + 1}, {colour}:<br>{spec.classes[c[0][0]]}"
                     for k, ((colour, _), c) in enumerate(zip(concepts.COLOURS, concepts.top_classes(found)))]
    np.testing.assert_allclose(overlay_shares(at, names[0]), np.round(100 * found.heat[0].numpy()), atol=1)


def test_a_layer_of_one_position_has_nothing_to_split_and_random_weights_are_said_to_name_nothing():
    at = app(PAGE, dff="1", model="resnet18", weights="0", img="coffee", layer="avgpool")
    no_crash(at)
    assert "`avgpool`'s maps have one position: nothing to split among concepts" in " ".join(i.value for i in at.info)
    assert not any(t.startswith("All concepts") for t in titles(at))
    random = app(PAGE, dff="1", weights="0")
    legend = next(c.value for c in random.caption if c.value.startswith("What the rest of the network reads"))
    assert "With random weights they mean nothing at all." in legend
