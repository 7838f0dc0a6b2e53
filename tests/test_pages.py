"""Every page run through the entry point with AppTest: defaults, links, bad input."""

import base64
import io
import socket

import numpy as np
import pytest
import torch
from PIL import Image
from streamlit.testing.v1 import AppTest

from tests.apptest import TIMEOUT, app, errors, figures, no_crash, text
from tests.conftest import ROOT


def test_home_lists_every_page_and_the_device():
    at = app()
    no_crash(at)
    assert at.title[0].value == "CNN Explorer"
    assert "Compute device" in at.info[0].value
    links = {link.proto.page for link in at.get("page_link")}
    assert {"", "kernel_lab", "step_by_step", "layer_by_layer", "receptive_fields", "top_activations",
            "train"} <= links  # the URL paths of the deep links


def test_kernel_lab_defaults_show_a_feature_map():
    at = app("pages/kernel_lab.py")
    no_crash(at)
    assert not errors(at)
    titles = [f["layout"]["title"]["text"] for f in figures(at)]
    assert any(t.startswith("Feature map") and "(256, 256)" in t for t in titles), titles
    assert "= 10" in text(at)  # (3*3*1 + 1) * 1 parameters of the default Sobel on grey


def test_kernel_lab_link_reproduces_the_view():
    at = app("pages/kernel_lab.py", k="laplacian", border="valid", stride="2", img="checkerboard", size="64")
    no_crash(at)
    assert at.selectbox(key="kl_kernel").value == "laplacian"
    assert at.number_input(key="kl_stride").value == 2
    assert at.selectbox(key="img_sample").value == "checkerboard"
    assert "= 31.5" in text(at) and "PyTorch takes the floor, **31**" in text(at)
    assert at.query_params["k"] in ("laplacian", ["laplacian"])  # written back for the next link


def test_kernel_lab_settings_survive_a_page_switch():
    at = app("pages/kernel_lab.py")
    at.number_input(key="kl_stride").set_value(3).run()
    at.switch_page("streamlit_app.py").run()
    at.switch_page("pages/kernel_lab.py").run()
    no_crash(at)
    assert at.number_input(key="kl_stride").value == 3


def test_kernel_lab_custom_kernel_from_the_link():
    at = app("pages/kernel_lab.py", k="custom (edit the grid)", kv="0,1,0;1,-4,1;0,1,0")
    no_crash(at)
    assert not errors(at)
    assert any(f["layout"]["title"]["text"].startswith("Feature map") for f in figures(at))


@pytest.mark.parametrize("kv,where", [("1,abc", "row 1, column 2"), ("1;nan", "row 2, column 1"), ("inf", "row 1, column 1")])
def test_kernel_lab_bad_kernel_cells_are_named(kv, where):
    at = app("pages/kernel_lab.py", k="custom (edit the grid)", kv=kv)
    no_crash(at)
    assert any(where in e for e in errors(at)), errors(at)


def test_kernel_lab_impossible_settings_get_a_message():
    at = app("pages/kernel_lab.py", k="box (choose size)", ksize="15", border="valid", dil="8", img="digit")
    no_crash(at)
    assert any("do not work" in e for e in errors(at)), errors(at)


def test_kernel_lab_bad_link_values_are_ignored_with_a_warning():
    at = app("pages/kernel_lab.py", stride="zero", k="nope")
    no_crash(at)
    warnings = " ".join(w.value for w in at.warning)
    assert "stride=zero" in warnings and "k=nope" in warnings
    assert at.number_input(key="kl_stride").value == 1


def _canvas_value(array: np.ndarray) -> dict:
    buffer = io.BytesIO()
    Image.fromarray(array, "RGBA").save(buffer, "PNG")
    url = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    return {"drawing": {"raw": {"objects": [{"type": "path"}]}, "data": url}, "backgroundFit": None}


def test_kernel_lab_drawing_becomes_the_image():
    rgba = np.full((280, 280, 4), 255, dtype=np.uint8)
    rgba[100:180, 130:150, :3] = 0  # a vertical stroke
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=TIMEOUT)
    at.switch_page("pages/kernel_lab.py")
    at.session_state["img_source"] = "draw"
    at.session_state["img_canvas"] = _canvas_value(rgba)
    at.run()
    no_crash(at)
    assert at.session_state["current_image"][0] == "your drawing"
    fmap = next(f for f in figures(at) if f["layout"]["title"]["text"].startswith("Feature map"))
    assert "Input (your drawing)" in [f["layout"]["title"]["text"] for f in figures(at)]
    assert fmap["data"][0]["z"]  # the map of the stroke is drawn


def test_kernel_lab_empty_canvas_asks_for_a_drawing():
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=TIMEOUT)
    at.switch_page("pages/kernel_lab.py")
    at.session_state["img_source"] = "draw"
    at.session_state["img_canvas"] = _canvas_value(np.full((280, 280, 4), 255, dtype=np.uint8))
    at.run()
    no_crash(at)
    assert any("canvas is empty" in i.value for i in at.info)


def test_kernel_lab_every_preset_and_option_runs():
    at = app("pages/kernel_lab.py", size="32")
    for choice in at.selectbox(key="kl_kernel").options:
        at.selectbox(key="kl_kernel").set_value(choice).run()
        no_crash(at)
    for colour in ("sum", "per-channel"):
        at.radio(key="kl_colour").set_value(colour).run()
        no_crash(at)
    at.selectbox(key="kl_pool").set_value("l2").run()
    at.toggle(key="kl_relu").set_value(True).run()
    at.toggle(key="kl_flip").set_value(True).run()
    no_crash(at)
    assert not errors(at)


def test_step_page_defaults_and_next():
    at = app("pages/step_by_step.py")
    no_crash(at)
    assert "Step 1 of 6" in text(at)
    assert at.code[0].value.endswith("= -2")
    at.button(key="sb_next").click().run()
    assert "Step 2 of 6" in text(at) and at.code[0].value.endswith("= 10")


def test_step_page_link_to_a_step_of_the_padding_example():
    at = app("pages/step_by_step.py", ex="zero_padding", pad="1", step="8")
    no_crash(at)
    assert "Step 8 of 25" in text(at)
    assert at.code[0].value.endswith("= 3.5")
    assert "\\begin{bmatrix}" in text(at)


def test_step_page_pooling_and_1d():
    at = app("pages/step_by_step.py", mode="pooling", ex="x_kernel", pool="avg", psize="2", pstride="1")
    no_crash(at)
    assert "Step 1 of 16" in text(at)
    at = app("pages/step_by_step.py", mode="1-D signal", sig="0 0 1 3 4", k1="-1 0 1")
    no_crash(at)
    assert at.code[0].value == "0·(-1) + 0·0 + 1·1 = 1"


@pytest.mark.parametrize("params,message", [
    (dict(ex="custom", kv="1 x"), "row 1, column 2"),
    (dict(ex="custom", **{"in": "1 2\n3"}), "same number"),
    (dict(ex="laplacian", dil="3"), "do not work"),
    (dict(mode="1-D signal", sig="1 2 nan"), "row 1, column 3"),
])
def test_step_page_bad_input_gets_a_message(params, message):
    at = app("pages/step_by_step.py", **params)
    no_crash(at)
    assert any(message in e for e in errors(at)), errors(at)


# --- Layer by layer ------------------------------------------------------------------------------

def _walk_every_layer(at: AppTest) -> list[str]:
    """Press Next until the last layer; returns the subheaders seen."""
    names = at.select_slider(key="lbl_layer").options
    seen = [at.subheader[0].value]
    for _ in range(len(names) - 1):
        at.button(key="lbl_next").click().run()
        no_crash(at)
        seen.append(at.subheader[0].value)
    return seen


def test_layer_page_reads_the_sample_digit_with_the_shipped_lenet5():
    at = app("pages/layer_by_layer.py")
    no_crash(at)
    assert not errors(at)
    assert at.selectbox(key="net_model").value == "lenet5" and at.toggle(key="net_pretrained").value
    assert any(m.value.startswith("**Prediction:** 3 (") for m in at.markdown), [m.value for m in at.markdown]
    assert "61,706 parameters" in text(at)


def test_layer_page_steps_through_every_layer_of_lenet5():
    at = app("pages/layer_by_layer.py")
    seen = _walk_every_layer(at)
    assert len(seen) == 13 and seen[1] == "2 of 13: `conv1` (Conv2d)" and seen[-1] == "13 of 13: `fc5` (Linear)"
    titles = [f["layout"]["title"]["text"] for f in figures(at)]
    assert "Prediction (softmax of the last layer)" in titles
    assert "| 84 | 10 | 850 | 840 |" in text(at)
    assert at.query_params["layer"] in ("fc5", ["fc5"])  # the step is in the link
    at.button(key="lbl_prev").click().run()
    assert at.subheader[0].value.startswith("12 of 13: `relu4`")


def test_layer_page_steps_through_every_layer_of_resnet18():
    at = app("pages/layer_by_layer.py", model="resnet18", weights="0")
    seen = _walk_every_layer(at)
    assert len(seen) == 70 and any("`layer1.0.add` (add)" in s for s in seen)
    assert any("Skip connection" in m.value for m in at.markdown) is False  # the last layer is fc
    assert "11,689,512 parameters" in text(at)


def test_layer_page_link_opens_a_layer_with_its_arithmetic():
    at = app("pages/layer_by_layer.py", layer="conv2")
    no_crash(at)
    assert at.subheader[0].value == "5 of 13: `conv2` (Conv2d)"
    shown = text(at)
    assert "(5 \\cdot 5 \\cdot 6 + 1) \\cdot 16 = 2,416" in shown and "\\lfloor 10 \\rfloor = 10" in shown
    assert "| 6 × 14 × 14 | 16 × 10 × 10 | 2,416 | 240,000 |" in shown


def test_layer_page_bad_layer_in_the_link_starts_at_the_first():
    at = app("pages/layer_by_layer.py", layer="conv99", model="nope")
    no_crash(at)
    warnings = " ".join(w.value for w in at.warning)
    assert "model=nope" in warnings and "conv99" in warnings
    assert at.select_slider(key="lbl_layer").value == "normalize"


def test_layer_page_converts_a_colour_photo_for_lenet5():
    at = app("pages/layer_by_layer.py", img="astronaut")
    no_crash(at)
    notes = [c.value for c in at.caption if c.value.startswith("Converted:")]
    assert any("colour to grey" in n for n in notes) and any("inverted" in n or "centred" in n for n in notes)


def test_layer_page_offers_a_download_and_fails_cleanly_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPLORER_WEIGHTS_DIR", str(tmp_path))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("EXPLORER_WEIGHTS_MIRROR", f"http://127.0.0.1:{port}/")
    at = app("pages/layer_by_layer.py", model="googlenet")
    no_crash(at)
    assert any("not on this server yet" in i.value for i in at.info)
    at.button(key="net_download").click().run()
    no_crash(at)
    assert any("could not be downloaded" in e and "random weights" in e for e in errors(at)), errors(at)
    at.toggle(key="net_pretrained").set_value(False).run()
    no_crash(at)
    assert not errors(at) and at.subheader[0].value.startswith("1 of 198")


def test_layer_page_kernels_and_their_closest_presets():
    at = app("pages/layer_by_layer.py", layer="conv1")
    no_crash(at)
    frames = [d.value for d in at.dataframe]
    similarity = next(f for f in frames if "closest preset" in f.columns)
    assert len(similarity) == 6 and similarity["cosine"].abs().max() <= 1


def test_layer_page_sends_a_learned_kernel_to_the_kernel_lab():
    at = app("pages/layer_by_layer.py", layer="conv1")
    at.number_input(key="lbl_send_index").set_value(2)
    at.button(key="lbl_send").click().run()
    no_crash(at)
    assert at.selectbox(key="kl_kernel").value == "custom (edit the grid)"
    from explorer import kernels, models

    learned = models.build("lenet5", pretrained=True).conv1.weight[2, 0]
    sent = kernels.parse_text(at.session_state["kl_grid_base"])
    assert torch.allclose(sent, learned, atol=1e-5)
    assert any(t.startswith("Feature map") for t in (f["layout"]["title"]["text"] for f in figures(at)))


def test_layer_page_whole_network_tables():
    at = app("pages/layer_by_layer.py")
    frames = [d.value for d in at.dataframe]
    table = next(f for f in frames if "multiply-adds" in f.columns)
    assert list(table["name"])[:3] == ["normalize", "conv1", "relu1"] and len(table) == 13
    famous = next(f for f in frames if "deck: parameters" in f.columns)
    assert set(famous["network"]) == {"LeNet", "AlexNet", "GoogLeNet", "VGG16", "ResNet"}


def test_layer_page_pages_through_wide_layers_and_looks_closer():
    at = app("pages/layer_by_layer.py", model="resnet18", weights="0", layer="conv1", maps="3")
    no_crash(at)
    maps = next(f for f in figures(at) if f["layout"]["title"]["text"].startswith("64 feature maps"))
    assert "maps 32..47" in maps["layout"]["annotations"][0]["text"]
    at.number_input(key="lbl_closer").set_value(63).run()
    closer = next(f for f in figures(at) if f["layout"]["title"]["text"].startswith("Map 63 of conv1"))
    assert closer["data"][0]["z"]["shape"] == "112, 112"
    at.button(key="lbl_next").click().run()  # bn1: the page and the map go back to the start when needed
    no_crash(at)
    assert at.number_input(key="lbl_maps").value == 1
    at.select_slider(key="lbl_layer").set_value("fc").run()
    no_crash(at)


# --- Receptive fields ----------------------------------------------------------------------------

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
    assert "What the unit can see" in titles and "Effective field on this image" in titles
    assert any(t.startswith("Averaged over 16") for t in titles)
    assert at.query_params["unit"] in ("5,5", ["5,5"])


def test_rf_page_a_click_on_the_map_picks_the_unit():
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=TIMEOUT)
    at.switch_page("pages/receptive_fields.py")
    at.session_state["rf_map"] = _click(0, 0)
    at.run()
    no_crash(at)
    shown = text(at)
    assert "Unit **(0, 0)** of `conv2` sees rows **0..11**" in shown and "part of it is padding" in shown
    boxes = next(f for f in figures(at) if f["layout"]["title"]["text"] == "What the unit can see")
    exact = boxes["layout"]["shapes"][0]
    assert (exact["x0"], exact["x1"]) == (-0.5, 11.5)
    assert at.query_params["unit"] in ("0,0", ["0,0"])


def test_rf_page_link_to_a_resnet_layer_and_unit():
    at = app("pages/receptive_fields.py", model="resnet18", weights="0", layer="layer4.1.add", unit="0,6",
              img="chelsea")
    no_crash(at)
    assert "Unit **(0, 6)** of `layer4.1.add`" in text(at)
    table = next(d.value for d in at.dataframe if "how" in d.value.columns)
    row = table[table["layer"] == "layer4.1.relu_1"].iloc[0]
    assert row["r"] == 435 and row["j"] == 32


def test_rf_page_refuses_fully_connected_layers_and_bad_units():
    at = app("pages/receptive_fields.py", layer="fc3", unit="99,x")
    no_crash(at)
    assert any("fully connected layers see the whole image" in w.value for w in at.warning)
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
    at.button(key="rf_quiz_next").click().run()
    assert at.session_state["rf_quiz_seed"] == seed + 1


# --- Top activations -----------------------------------------------------------------------------

def test_top_page_defaults_find_the_top9_of_every_channel():
    at = app("pages/top_activations.py")
    no_crash(at)
    assert not errors(at)
    heads = [s.value for s in at.subheader]
    assert heads == ["The 16 channels of `conv2`: each one's strongest patch",
                     "Channel 0: its top 9 of 10,000 built-in shapes"]
    titles = [f["layout"]["title"]["text"] for f in figures(at)]
    assert titles[:3] == ["Click a channel", "Whole images", "The patches they show it (receptive fields)"]
    assert "Its kernel (6 input maps)" in titles
    assert any(m.value.startswith("**Your image** (sample: Digit 3") for m in at.markdown)


def test_top_page_a_click_on_a_channel_opens_it():
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=TIMEOUT)
    at.switch_page("pages/top_activations.py")
    at.session_state["ta_grid"] = {"selection": {"points": [{"x": 10, "y": 10, "customdata": 7, "curve_number": 1}],
                                                 "point_indices": [7], "box": [], "lasso": []}}
    at.run()
    no_crash(at)
    assert at.subheader[1].value.startswith("Channel 7:")
    assert at.query_params["channel"] in ("7", ["7"])


def test_top_page_link_and_the_numbers_behind_it():
    at = app("pages/top_activations.py", layer="conv1", channel="4", n="500", model="tinyvgg", img="circles")
    no_crash(at)
    assert at.subheader[1].value == "Channel 4: its top 9 of 500 built-in shapes"
    top = next(f for f in figures(at) if f["layout"]["title"]["text"] == "Whole images")
    values = [float(a["text"]) for a in top["layout"]["annotations"]]
    assert values == sorted(values, reverse=True) and len(values) == 9


def test_top_page_refuses_layers_without_maps_and_missing_data(monkeypatch):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("EXPLORER_DATA_MIRROR", f"http://127.0.0.1:{port}/")
    at = app("pages/top_activations.py", layer="fc3", data="cifar10")
    no_crash(at)
    warnings = " ".join(w.value for w in at.warning)
    assert "has no feature maps here" in warnings and "cifar10" in warnings.lower()
    at.button(key="ta_download").click().run()
    no_crash(at)
    assert any("cifar" in e.lower() for e in errors(at)), errors(at)


def test_top_page_on_a_branching_network():
    at = app("pages/top_activations.py", model="resnet_small", weights="0", layer="stage2.add", n="500")
    no_crash(at)
    assert at.subheader[0].value == "The 32 channels of `stage2.add`: each one's strongest patch"


# --- Train -------------------------------------------------------------------------------------

def _poll_until_final(at: AppTest, run_id: str, timeout: float = 150) -> str:
    """Rerun the page (AppTest does not tick fragments) until the run ends; returns its status."""
    import time

    from explorer import runs

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        at.run()
        no_crash(at)
        if runs.get(run_id).final:
            at.run()
            return runs.get(run_id).status
        time.sleep(0.5)
    raise AssertionError(f"run {run_id} did not end within {timeout} s")


def test_train_page_runs_a_short_training_and_the_run_becomes_a_model():
    at = app("pages/train.py", train="1000", epochs="1", seed="3")
    no_crash(at)
    assert not errors(at)
    at.button(key="tr_start").click().run()
    run_id = at.session_state["tr_run"]
    assert run_id and at.query_params["run"] in (run_id, [run_id])
    at.button(key="tr_start").click().run()  # a second click with the same settings: the same run
    assert at.session_state["tr_run"] == run_id
    assert _poll_until_final(at, run_id) == "finished"
    at.button(key="tr_start").click().run()  # the run has ended: Train starts a new one
    again = at.session_state["tr_run"]
    assert again != run_id and at.session_state["tr_mine"] == [run_id, again]
    at.button(key=f"tr_cancel_{again}").click().run()  # (a queued run can be cancelled too)
    at.session_state["tr_run"] = run_id
    at.run()
    titles = [f["layout"]["title"]["text"] for f in figures(at)]
    assert "Learning curves" in titles and "Confusion matrix (test set)" in titles
    assert any(t.startswith("First-layer filters at step") for t in titles)
    assert at.select_slider(key=f"tr_scrub_{run_id}").options  # the snapshots over training
    runs_table = next(d.value for d in at.dataframe if "yours" in d.value.columns)
    assert runs_table[runs_table["id"] == run_id]["yours"].iloc[0] == "yes"

    at.switch_page("pages/layer_by_layer.py").run()
    at.selectbox(key="net_model").set_value(f"run:{run_id}").run()
    no_crash(at)
    assert any(m.value.startswith("**Prediction:**") for m in at.markdown)


def test_train_page_checks_a_custom_network_before_launch():
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=TIMEOUT)
    at.query_params["arch"] = "custom"
    at.session_state["_kept_settings"] = {"tr_layers": [{"type": "conv", "out": 4, "kernel": 3},
                                                        {"type": "pool", "size": 2},
                                                        {"type": "conv", "out": 4, "kernel": 29}]}
    at.switch_page("pages/train.py").run()
    no_crash(at)
    assert any("cannot be built" in e and "layer 3" in e for e in errors(at)), errors(at)
    assert at.button(key="tr_start").disabled
    plan = next(d.value for d in at.dataframe if "problem" in d.value.columns)
    assert plan["output"].iloc[0] == "4 x 26 x 26"


def test_train_page_cancel_stops_a_run():
    import time

    from explorer import runs

    at = app("pages/train.py", epochs="20", seed="4")
    at.button(key="tr_start").click().run()
    run_id = at.session_state["tr_run"]
    deadline = time.monotonic() + 60
    while runs.get(run_id).status != "running" and time.monotonic() < deadline:
        time.sleep(0.3)
    at.run()
    at.button(key=f"tr_cancel_{run_id}").click().run()
    assert _poll_until_final(at, run_id, timeout=30) == "cancelled"
