"""Layer by layer's "How one value is computed" (explorer.ui.one_value) through the page: the sum against PyTorch,
a click on a unit, and the unit's settings in the link."""

import pytest

from tests.apptest import app, back_to, figures, no_crash, warnings


def test_one_value_of_a_convolution_is_taken_apart_over_every_input_map():
    """CNN Explainer's view on the network's own maps: conv2 of LeNet-5 reads 6 maps; the terms and the bias add up to
    the layer's output, which the page shows beside them."""
    at = app("pages/layer_by_layer.py", layer="conv2", sum="1", smap="3", srow="2", scol="7")
    no_crash(at)
    import torch

    from explorer import extraction, inputs, inspect, models, unit_sum

    model = models.build("lenet5", pretrained=True).eval()
    x = inputs.prepare(models.spec("lenet5"), at.session_state["current_image"][1]).tensor
    with torch.no_grad():
        pool1 = inspect.activations(extraction.extractor(model), x)["pool1"]
        value = float(model.conv2(pool1[None])[0, 3, 2, 7])
    words = next(m.value for m in at.markdown if m.value.startswith("**`conv2`[3, 2, 7]**"))
    assert "the sum over its 6 input maps" in words and words.count("(map ") == 6
    parts = unit_sum.conv_unit(model.conv2, pool1, 3, 2, 7)
    assert parts.total == pytest.approx(value, abs=1e-4) and f"(the layer's output there: {value:.3g}" in words
    strongest = int(parts.partials.abs().argmax())
    assert at.selectbox(key="lbl_sum_from").value == strongest  # the map that adds most, shown first
    titles = [f["layout"]["title"]["text"] for f in figures(at)]
    assert f"Input map {strongest} under the window" in titles and "Kernel slice" in titles and "Products" in titles
    at.number_input(key="lbl_sum_row").set_value(9).run()  # the last row: 10 x 10 maps
    assert any(m.value.startswith("**`conv2`[3, 9, 7]**") for m in at.markdown)
    moved = unit_sum.conv_unit(model.conv2, pool1, 3, 9, 7)
    assert at.selectbox(key="lbl_sum_from").value == int(moved.partials.abs().argmax())  # its own strongest map
    assert at.query_params["srow"] in ("9", ["9"]) and at.query_params["sum"] in ("1", ["1"])
    at.select_slider(key="lbl_layer").set_value("conv1").run()  # 28 x 28 maps of 1 input: the position is kept
    no_crash(at)
    assert any(m.value.startswith("**`conv1`[3, 9, 7]**") and "its 1 input map " in m.value for m in at.markdown)
    at.number_input(key="lbl_sum_row").set_value(0).run()  # conv1 pads by 2: the window's top rows are padding
    assert any("the padding outside the dashed line" in c.value for c in at.caption)
    window = next(f for f in figures(at) if f["layout"]["title"]["text"].startswith("Input map 0 under the window"))
    assert window["layout"]["shapes"][0]["line"]["dash"] == "dash"


def test_a_click_on_a_unit_of_a_maps_closer_look_takes_that_unit_apart():
    """CNN Explainer's click on a neuron: the unit clicked on conv1's map 2 opens its computation."""
    at = app("pages/layer_by_layer.py", layer="conv1", look="1", closer="2")
    no_crash(at)
    assert not any(m.value.startswith("**`conv1`[") for m in at.markdown)  # nothing taken apart before a click
    at.session_state["lbl_closer_click"] = {"selection": {"points": [{"x": 4, "y": 11, "curve_number": 1}],
                                                          "point_indices": [0], "box": [], "lasso": []}}
    at.run()
    no_crash(at)
    assert any(m.value.startswith("**`conv1`[2, 11, 4]**") for m in at.markdown)
    assert at.query_params["sum"] in ("1", ["1"]) and at.query_params["srow"] in ("11", ["11"])
    closer = next(f for f in figures(at) if f["layout"]["title"]["text"].startswith("Map 2 of conv1"))
    outline = closer["layout"]["shapes"][0]
    assert (outline["x0"], outline["y0"]) == (3.5, 10.5)  # the unit clicked, outlined


def test_one_value_settings_of_a_link_off_the_layer_are_named_and_the_closed_box_adds_none():
    at = app("pages/layer_by_layer.py", layer="conv2", sum="1", smap="999", sfrom="77", srow="3", scol="4")
    no_crash(at)
    said = warnings(at)
    assert "`smap=999` was ignored: `conv2` has maps 0..15, so 15 is shown" in said
    assert "`sfrom=77` was ignored: this unit reads input maps 0..5" in said
    closed = app("pages/layer_by_layer.py", layer="conv1", look="1", closer="2")  # the sum's box shut, no click
    no_crash(closed)
    assert not {"srow", "scol", "smap", "sfrom"} & set(closed.query_params)


def test_back_to_a_one_value_link_keeps_its_input_map():
    """Back restores the link's sfrom: the 'another unit, its own strongest map' reset had won over it."""
    at = app("pages/layer_by_layer.py", layer="conv2", sum="1", smap="15", srow="5", scol="5", sfrom="2")
    assert at.selectbox(key="lbl_sum_from").value == 2
    at.number_input(key="lbl_sum_row").set_value(7).run()
    back_to(at, layer="conv2", sum="1", smap="15", srow="5", scol="5", sfrom="2")
    no_crash(at)
    assert at.number_input(key="lbl_sum_row").value == 5 and at.selectbox(key="lbl_sum_from").value == 2


def test_one_value_of_a_one_by_one_convolution_without_bias_says_so():
    at = app("pages/layer_by_layer.py", model="resnet_small", layer="stage2.shortcut.conv", sum="1")
    no_crash(at)
    words = next(m.value for m in at.markdown if m.value.startswith("**`stage2.shortcut.conv`["))
    assert "(no bias: a batch norm follows)" in words and "bias" not in words.split("\n\n")[1]
    assert any("Its taps read row " in c.value and "and column " in c.value and ".." not in c.value.split(" of ")[0]
               for c in at.caption)


def test_a_layer_that_is_no_convolution_carries_no_unit_in_its_link():
    at = app("pages/layer_by_layer.py", layer="conv1")
    at.button(key="lbl_next").click().run()  # relu1: the unit's middle had followed it into the link
    no_crash(at)
    assert at.select_slider(key="lbl_layer").value == "relu1"
    assert not {"srow", "scol", "smap", "sfrom"} & set(at.query_params)
    single = app("pages/layer_by_layer.py", layer="conv1", sum="1", sfrom="1")  # conv1 reads the one input map
    assert "this unit reads input map 0, so map 0" in warnings(single)
