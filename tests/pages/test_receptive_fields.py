"""Receptive fields through the entry point: units, clicks, links, the drill."""

import torch
from streamlit.testing.v1 import AppTest

from tests.apptest import TIMEOUT, app, errors, figures, no_crash, text, titles
from tests.conftest import ROOT


def _click(x: int, y: int) -> dict:
    """What a click on the map's cell (x, y) sends (the invisible marker's point)."""
    return {"selection": {"points": [{"x": x, "y": y, "curve_number": 1}], "point_indices": [0], "box": [], "lasso": []}}


def test_rf_page_defaults_show_a_unit_and_its_boxes():
    at = app("pages/receptive_fields.py")
    no_crash(at)
    assert not errors(at)
    assert at.selectbox(key="rf_layer").value == "conv2"
    shown = text(at)
    assert "Unit **(5, 5)** of `conv2` sees rows **8..21**" in shown and "**14 x 14** box" in shown
    titles = [f["layout"]["title"]["text"] for f in figures(at)]
    assert "What the unit can see<br><span style='font-size:12px'>solid: the exact box; dashed: the textbook's</span>" \
        in titles
    on_image = next(t for t in titles if t.startswith("Effective field on this image<br>"))
    averaged = next(t for t in titles if t.startswith("Averaged effective field<br>"))
    assert "of the unit chosen above" in on_image and "over 16 " in averaged  # two lines each: the maps sit level
    assert any(t.startswith("conv2, unit (5, 5)<br>") and "10 x 10 map, the mean of its 16 channels" in t for t in titles)
    assert "unit" not in at.query_params  # the centre is what a link without a unit shows
    assert "turn into a 1 x 1 map: 14 x 14 for `conv2` (adaptive pooling" in shown  # the lecture's other definition


def test_rf_page_a_click_on_the_map_picks_the_unit():
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=TIMEOUT)
    at.switch_page("pages/receptive_fields.py")
    at.session_state["rf_map"] = _click(0, 0)
    at.run()
    no_crash(at)
    shown = text(at)
    assert "Unit **(0, 0)** of `conv2` sees rows **0..11**" in shown and "part of it is padding" in shown
    boxes = next(f for f in figures(at) if f["layout"]["title"]["text"].startswith("What the unit can see"))
    exact = boxes["layout"]["shapes"][0]
    assert (exact["x0"], exact["x1"]) == (-0.5, 11.5)
    assert at.query_params["unit"] in ("0,0", ["0,0"])


def test_rf_page_a_unit_can_be_typed_as_well_as_clicked():
    """A keyboard-only student could not leave the centre unit: only a click on the map chose one."""
    at = app("pages/receptive_fields.py")
    assert (at.number_input(key="rf_row").value, at.number_input(key="rf_col").value) == (5, 5)
    at.number_input(key="rf_row").set_value(0).run()
    at.number_input(key="rf_col").set_value(0).run()
    no_crash(at)
    assert "Unit **(0, 0)** of `conv2` sees rows **0..11**" in text(at)
    assert at.query_params["unit"] in ("0,0", ["0,0"])
    at.session_state["rf_map"] = _click(3, 7)  # then a click: the boxes follow it
    at.run()
    assert (at.number_input(key="rf_row").value, at.number_input(key="rf_col").value) == (7, 3)
    assert at.number_input(key="rf_row").max == 9


def test_rf_page_link_to_a_resnet_layer_and_unit():
    at = app("pages/receptive_fields.py", model="resnet18", weights="0", layer="layer4.1.add", unit="0,6",
              img="chelsea")
    no_crash(at)
    assert "Unit **(0, 6)** of `layer4.1.add`" in text(at)
    table = next(d.value for d in at.dataframe if "start" in d.value.columns)
    row = table[table["layer"] == "layer4.1.relu_1"].iloc[0]
    assert row["r"] == 435 and row["j"] == 32
    how = next(d.value for d in at.dataframe if "r from" in d.value.columns)
    conv1 = how[how["layer"] == "conv1"].iloc[0]  # 7x7 stride 2 pad 3 on the input
    assert (conv1["r from"], conv1["j from"], conv1["start from"]) == ("1 + (7 - 1) x 1", "1 x 2", "0 + (6/2 - 3) x 1")


def test_rf_page_refuses_fully_connected_layers_and_bad_units():
    at = app("pages/receptive_fields.py", layer="fc3", unit="99,x")
    no_crash(at)
    assert any("(a fully connected layer sees the whole image): showing `conv2`" in w.value for w in at.warning)
    typo = app("pages/receptive_fields.py", layer="layer1.0.conv1")  # no such layer at all: not "fully connected"
    assert [w.value for w in typo.warning] == ["This model has no layer `layer1.0.conv1`: showing `conv2`."]
    assert at.selectbox(key="rf_layer").value == "conv2" and "Unit **(5, 5)**" in text(at)
    at.session_state["rf_map"] = _click(50, 50)  # outside the 10 x 10 map: ignored
    at.run()
    no_crash(at)
    assert "Unit **(5, 5)**" in text(at)


def test_rf_page_predict_then_check():
    at = app("pages/receptive_fields.py")
    question = next(m.value for m in at.markdown if m.value.startswith("**Layer `"))
    name = question.split("`")[1]
    from explorer import models
    from explorer import receptive_field as rf

    truth = {f.name: f for f in rf.fields(models.build("lenet5"), (28, 28))}[name]
    seed = at.session_state["rf_quiz_seed"]
    at.number_input(key=f"rf_quiz_r_{seed}").set_value(truth.r[0])
    at.number_input(key=f"rf_quiz_n_{seed}").set_value(truth.size[0] + 1)
    at.button(key=f"rf_quiz_check_{seed}").click().run()
    no_crash(at)
    assert any("Right!" in s.value for s in at.success) and any("it is **" in e.value for e in at.error)
    assert name != at.selectbox(key="rf_layer").value  # not the layer whose answers the page shows
    asked = [name]
    for _ in range(2):
        at.button(key="rf_quiz_next").click().run()
        asked.append(next(m.value for m in at.markdown if m.value.startswith("**Layer `")).split("`")[1])
    assert at.session_state["rf_quiz_seed"] == seed + 2
    assert sorted(asked) == ["conv1", "pool1", "pool2"]  # LeNet's other three, each once


def test_the_drills_order_differs_between_sessions():
    from explorer import models
    from explorer import receptive_field as rf
    from explorer.ui import drill

    spatial = [f for f in rf.fields(models.build("lenet5"), (28, 28)) if f.size is not None]
    orders = {tuple(drill._question(spatial, order, i, "conv2")[0].name for i in range(3)) for order in range(20)}
    assert len(orders) > 1 and all(sorted(o) == ["conv1", "pool1", "pool2"] for o in orders)


# --- Top activations -----------------------------------------------------------------------------


def test_rf_page_switching_model_starts_on_the_new_models_own_layer_and_unit_without_a_warning():
    at = app("pages/receptive_fields.py", layer="conv2", unit="1,1")
    at.selectbox(key="net_model").set_value("tinyvgg").run()
    no_crash(at)
    assert not at.warning, [w.value for w in at.warning]
    fresh = app("pages/receptive_fields.py", model="tinyvgg")  # what a link to the model opens
    assert at.selectbox(key="rf_layer").value == fresh.selectbox(key="rf_layer").value
    assert at.session_state["rf_unit"] == fresh.session_state["rf_unit"]


def test_rf_page_another_layer_keeps_the_spot_of_the_image():
    at = app("pages/receptive_fields.py", unit="9,0")  # conv2's bottom-left unit, its field centred on (22.5, 4.5)
    no_crash(at)
    at.selectbox(key="rf_layer").set_value("pool2").run()
    no_crash(at)
    assert "Unit **(4, 0)** of `pool2`" in text(at)  # pool2's units are centred on 5.5, 9.5 .. 21.5
    assert any("lies over the same spot of the image as unit (9, 0) of `conv2`" in c.value for c in at.caption)
    assert at.query_params["unit"] in ("4,0", ["4,0"])
    at.run()  # a rerun on the same layer says nothing more
    assert not any("same spot" in c.value for c in at.caption)


def test_rf_page_table_explains_its_surprises():
    at = app("pages/receptive_fields.py", model="resnet18", weights="0", img="chelsea")
    no_crash(at)
    notes = " ".join(c.value for c in at.caption)
    assert "is wider than the 224-pixel input" in notes and "r is the whole input and j is 0" in notes


def test_a_unit_no_pixel_reaches_on_this_image_is_said_so_and_drawn_dark(monkeypatch):
    """A flat teal square (the colour scale's middle) under "falls off towards its edges" had said nothing."""
    from explorer import receptive_field

    monkeypatch.setattr(receptive_field, "effective", lambda model, layer, images, unit: torch.zeros(28, 28))
    at = app("pages/receptive_fields.py", layer="conv1", unit="3,4")  # a unit no other test caches
    no_crash(at)
    assert any(i.value.startswith("On this image the unit's gradient is 0 at every pixel") for i in at.info)
    heat = next(f for f in figures(at) if f["layout"]["title"]["text"].startswith("Effective field on this image"))
    assert (heat["data"][0]["zmin"], heat["data"][0]["zmax"]) == (0.0, 1.0)  # dark: "not at all"


def test_googlenet_starts_on_its_main_path_and_a_long_layer_name_gets_a_line_of_its_own():
    at = app("pages/receptive_fields.py", model="googlenet", weights="0")
    no_crash(at)
    assert at.selectbox(key="rf_layer").value == "conv3.conv"  # not a 1 x 1 bottleneck inside one Inception branch
    deep = app("pages/receptive_fields.py", model="googlenet", weights="0", layer="inception4c.branch2.0.conv")
    no_crash(deep)
    map_title, seen = (next(t for t in titles(deep) if t.startswith(start)) for start in ("inception4c", "What the"))
    assert map_title.startswith("inception4c.branch2.0.conv<br>unit (")  # a title does not wrap: it was cut off
    assert map_title.count("<br>") == seen.count("<br>") == 2  # the two pictures sit level


def _scrambled_run(root):
    """A finished LeNet-5 run on built-in shapes whose pixels are scrambled (untrained weights as its checkpoint)."""
    from explorer import architecture, run_files, run_lifecycle, runs

    config = {"data": "shapes", "model": "lenet5", "scramble": True}
    run = runs.create(config, root=root, name="scrambled")
    run_files.save_checkpoint(run.id, architecture.build(config, (1, 28, 28), 8), None, 1, 1.0, root,
                              input_shape=[1, 28, 28], classes=[str(k) for k in range(8)], mean=[0.5], std=[0.25])
    run_lifecycle.set_status(run.id, "finished", "", root)
    return run


def test_a_network_that_scrambles_its_pixels_has_no_boxes_to_draw_and_says_why_and_other_pages_go_without(
        tmp_path, monkeypatch):
    monkeypatch.setenv("EXPLORER_RUNS", str(tmp_path))
    run = _scrambled_run(tmp_path)
    at = app("pages/receptive_fields.py", model=f"run:{run.id}")
    no_crash(at)
    assert not errors(at)
    assert ("No receptive fields to draw for this network: scramble moves the pixels to random places, so a unit "
            "sees pixels scattered over the image, not a box. Pick another model.") in [i.value for i in at.info]
    inside = app("pages/layer_by_layer.py", model=f"run:{run.id}", layer="scramble")  # what the network sees
    no_crash(inside)
    assert not errors(inside) and "Scramble: the 28 x 28 pixels moved to fixed random places" in text(inside)
    top = app("pages/top_activations.py", model=f"run:{run.id}", layer="conv2")  # whole images, no patch boxes
    no_crash(top)
    assert not errors(top) and "Whole again (its units see scattered pixels)" in titles(top)
    unit = app("pages/what_excites.py", model=f"run:{run.id}", mode="unit", layer="conv2", steps="4")
    no_crash(unit)
    assert not errors(unit)


def test_a_model_kept_from_another_page_gets_its_own_sample_so_the_link_without_one_opens_the_same_view():
    """Layer by layer on TinyVGG, then Receptive fields from the sidebar (a bare address): the kept TinyVGG had got
    LeNet-5's digit, and its link, which leaves out a model's own sample, opened on TinyVGG's triangle."""
    at = app("pages/layer_by_layer.py", model="tinyvgg")
    assert at.session_state["img_sample"] == "triangle"
    at.query_params.clear()  # the sidebar's link to a page not seen yet
    at.switch_page("pages/receptive_fields.py").run()
    no_crash(at)
    assert at.session_state["net_model"] == "tinyvgg" and at.session_state["img_sample"] == "triangle"
    assert at.query_params["model"] in ("tinyvgg", ["tinyvgg"]) and "img" not in at.query_params
