"""Layer by layer through the entry point: every layer, links, downloads, kernels."""

import socket
from urllib import parse

import pytest
import torch
from streamlit.testing.v1 import AppTest

from tests.apptest import app, errors, figures, no_crash, shapes_run, text, warnings


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
    runners = next(c.value for c in at.caption if c.value.startswith("Then "))  # the next two classes, as PyTorch
    import torch

    from explorer import inputs, labels, models

    model = models.build("lenet5", pretrained=True).eval()
    x = inputs.prepare(models.spec("lenet5"), at.session_state["current_image"][1]).tensor
    with torch.no_grad():
        p, i = torch.softmax(model(x[None])[0], 0).topk(3)
    assert runners == f"Then {int(i[1])} ({labels.share(float(p[1]))}), {int(i[2])} ({labels.share(float(p[2]))})."


def test_layer_page_steps_through_every_layer_of_lenet5():
    at = app("pages/layer_by_layer.py")
    seen = _walk_every_layer(at)
    assert len(seen) == 13 and seen[1] == "2 of 13: `conv1` (Conv2d)" and seen[-1] == "13 of 13: `fc5` (Linear)"
    titles = [f["layout"]["title"]["text"] for f in figures(at)]
    assert "Prediction (softmax of the last layer)" in titles
    assert "| 84 | 10 | 850 | 840 |" in text(at)
    written = next(d.value for d in at.dataframe if "exp(z)" in d.value.columns)  # the softmax, as PyTorch has it
    import torch

    from explorer import inputs, models

    model = models.build("lenet5", pretrained=True).eval()
    x = inputs.prepare(models.spec("lenet5"), at.session_state["current_image"][1]).tensor
    with torch.no_grad():
        z = model(x[None])[0]
    assert len(written) == 10 and written["class"].iloc[0] == str(int(z.argmax()))
    assert written["score z"].iloc[0] == f"{float(z.max()):.2f}"
    top = float(torch.softmax(z, 0).max())
    assert written["probability"].iloc[0] == (">99.9%" if top >= 0.9995 else f"{top:.1%}")
    assert at.query_params["layer"] in ("fc5", ["fc5"])  # the step is in the link
    at.button(key="lbl_prev").click().run()
    assert at.subheader[0].value.startswith("12 of 13: `relu4`")


def test_layer_page_steps_through_every_layer_of_resnet18():
    at = app("pages/layer_by_layer.py", model="resnet18", weights="0")
    seen = _walk_every_layer(at)
    assert len(seen) == 70 and any("`layer1.0.add` (add)" in s for s in seen)
    assert not any(m.value.startswith("Skip connection:") for m in at.markdown)  # the last layer is fc
    assert "11,689,512 parameters" in text(at)


def test_layer_page_link_opens_a_layer_with_its_arithmetic():
    at = app("pages/layer_by_layer.py", layer="conv2")
    no_crash(at)
    assert at.subheader[0].value == "5 of 13: `conv2` (Conv2d)"
    shown = text(at)
    assert "(5 \\cdot 5 \\cdot 6 + 1) \\cdot 16 = 2{,}416" in shown and "= 9 + 1 = 10$" in shown
    assert "| 6 x 14 x 14 | 16 x 10 x 10 | 2,416 | 240,000 |" in shown


def test_layer_page_bad_layer_in_the_link_starts_at_the_first():
    at = app("pages/layer_by_layer.py", layer="conv99", model="nope")
    no_crash(at)
    warnings = " ".join(w.value for w in at.warning)
    assert "model=nope" in warnings and "conv99" in warnings
    assert at.select_slider(key="lbl_layer").value == "normalize"
    assert "layer" not in at.query_params  # the first layer is what a link without one shows
    at.select_slider(key="lbl_layer").set_value("conv1").run()
    assert at.query_params["layer"] in ("conv1", ["conv1"])


def test_layer_page_converts_a_colour_photo_for_lenet5():
    at = app("pages/layer_by_layer.py", img="astronaut")
    no_crash(at)
    notes = [c.value for c in at.caption if c.value.startswith("Converted:")]
    assert len(notes) == 1 and "colour to grey" in notes[0] and ("inverted" in notes[0] or "centred" in notes[0])
    for page in ("receptive_fields", "why_prediction", "invariance"):  # they say it too (they had said nothing)
        other = app(f"pages/{page}.py", img="astronaut")
        assert [c.value for c in other.caption if c.value.startswith("Converted:")] == notes, page


def test_layer_page_offers_a_download_and_fails_cleanly_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPLORER_WEIGHTS_DIR", str(tmp_path))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("EXPLORER_WEIGHTS_MIRROR", f"http://127.0.0.1:{port}/")
    at = app("pages/layer_by_layer.py", model="googlenet")
    no_crash(at)
    notes = [i.value for i in at.info]
    assert any(n.startswith("The trained weights of GoogLeNet") and "not on this server yet" in n for n in notes)
    assert any("no trained weights here yet (see the left)" in n for n in notes), notes  # the main panel says why
    at.button(key="net_download").click().run()
    no_crash(at)
    assert any(e.startswith("The trained weights of GoogLeNet (ImageNet) could not be downloaded: this server may be "
                            "offline.") and "random weights" in e for e in errors(at)), errors(at)
    assert f"127.0.0.1:{port}" in at.code[-1].value  # the details, for the server's keeper, in an expander
    at.toggle(key="net_pretrained").set_value(False).run()
    no_crash(at)
    assert not errors(at) and at.subheader[0].value.startswith("1 of 198")


def test_layer_page_names_damaged_weights_in_a_line(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPLORER_WEIGHTS_DIR", str(tmp_path))
    from explorer import models

    models.weights_file("resnet18").write_bytes(b"not the weights")
    at = app("pages/layer_by_layer.py", model="resnet18")
    no_crash(at)
    assert errors(at) == ["The trained weights of ResNet18 (ImageNet) on this server are damaged. Switch off "
                          "*Trained weights* to explore the same network with random weights."]
    assert str(tmp_path) in at.code[-1].value and "delete it and download again" in at.code[-1].value  # folded


def test_layer_page_kernels_and_their_closest_presets():
    at = app("pages/layer_by_layer.py", layer="conv1")
    no_crash(at)
    frames = [d.value for d in at.dataframe]
    similarity = next(f for f in frames if "most alike" in f.columns)
    assert len(similarity) == 6 and similarity["cosine"].abs().max() <= 1
    from explorer import kernels

    assert list(similarity["resemblance"]) == [kernels.resemblance(c) for c in similarity["cosine"]]


def test_layer_page_sends_a_learned_kernel_to_the_kernel_lab():
    at = app("pages/layer_by_layer.py", layer="conv1")
    assert "a preset of another size resampled to the filters' 5x5 first: bilinear" in text(at)  # how 3x3 meets 5x5
    at.number_input(key="lbl_send_index").set_value(2).run()
    assert at.query_params["send"] in ("2", ["2"])  # Back, then Forward, sends the same filter
    beyond = app("pages/layer_by_layer.py", layer="conv1", send="9")
    assert "`send=9` was ignored: the first convolution has filters 0..5, so 5 is shown" in warnings(beyond)
    far = app("pages/layer_by_layer.py", layer="conv1", send="5000")  # past the end too: the last, as for 9
    assert "`send=5000` was ignored: the first convolution has filters 0..5, so 5 is shown" in warnings(far)
    link = next(link.proto for link in at.get("page_link") if link.proto.label == "Use this kernel in the Kernel Lab")
    assert link.page == "kernel_lab"
    sent_query = dict(parse.parse_qsl(link.query_string))
    at = app("pages/kernel_lab.py", **sent_query)  # the link, followed
    no_crash(at)
    assert at.selectbox(key="kl_kernel").value == "custom (edit the grid)"
    from explorer import kernels, models

    learned = models.build("lenet5", pretrained=True).conv1.weight[2, 0]
    sent = kernels.parse_text(at.session_state["kl_grid_base"])  # to three significant digits of the largest
    places = kernels.grid_decimals(learned)
    assert torch.allclose(sent, learned, atol=0.5 * 10 ** -places + 1e-7)
    assert all(len(cell.split(".")[-1]) <= places for cell in at.session_state["kl_grid_base"].replace(";", ",")
               .split(","))
    assert any(t.startswith("Feature map") for t in (f["layout"]["title"]["text"] for f in figures(at)))


def test_layer_page_whole_network_tables():
    at = app("pages/layer_by_layer.py")
    frames = [d.value for d in at.dataframe]
    table = next(f for f in frames if "multiply-adds" in f.columns)
    assert list(table["name"])[:3] == ["normalize", "conv1", "relu1"] and len(table) == 13
    famous = next(f for f in frames if "params: deck / here" in f.columns)
    assert set(famous["network"]) == {"LeNet", "AlexNet", "GoogLeNet", "VGG16", "ResNet"}
    assert "- **GoogLeNet:** The deck says 2M; measured here 6.6M" in text(at)  # the notes, readable in full


def test_layer_page_pages_through_wide_layers_and_looks_closer():
    at = app("pages/layer_by_layer.py", model="resnet18", weights="0", layer="conv1", maps="3")
    no_crash(at)
    maps = next(f for f in figures(at) if f["layout"]["title"]["text"].startswith("64 feature maps"))
    assert "maps 32..47" in maps["layout"]["annotations"][0]["text"]
    assert "lbl_closer" not in [n.key for n in at.number_input]  # the closer look is shut: its map is not drawn
    at.session_state["lbl_look"] = True  # opened
    at.run()
    at.number_input(key="lbl_closer").set_value(63).run()
    closer = next(f for f in figures(at) if f["layout"]["title"]["text"].startswith("Map 63 of conv1"))
    assert closer["data"][0]["z"]["shape"] == "112, 112"
    assert at.query_params["look"] in ("1", ["1"]) and at.query_params["closer"] in ("63", ["63"])
    at.button(key="lbl_next").click().run()  # bn1: the page and the map go back to the start when needed
    no_crash(at)
    assert at.number_input(key="lbl_maps").value == 1
    at.select_slider(key="lbl_layer").set_value("fc").run()
    no_crash(at)


def test_a_link_opens_the_closer_look_at_its_map():
    at = app("pages/layer_by_layer.py", layer="conv1", look="1", closer="4")
    no_crash(at)
    assert any(f["layout"]["title"]["text"].startswith("Map 4 of conv1<br>") for f in figures(at))  # click a unit
    assert at.query_params["closer"] in ("4", ["4"])


# --- Receptive fields ----------------------------------------------------------------------------


def test_layer_page_sample_follows_the_model_unless_chosen():
    at = app("pages/layer_by_layer.py")
    at.selectbox(key="net_model").set_value("tinyvgg").run()
    no_crash(at)
    assert at.selectbox(key="img_sample").value == "triangle"  # the shapes net is not handed a digit
    assert any(m.value.startswith("**Prediction:** triangle (") for m in at.markdown), [m.value for m in at.markdown]
    assert at.query_params["img"] in ("triangle", ["triangle"])
    at.selectbox(key="img_sample").set_value("coffee").run()  # chosen on purpose: it stays
    at.selectbox(key="net_model").set_value("lenet5").run()
    no_crash(at)
    assert at.selectbox(key="img_sample").value == "coffee"


def test_a_link_to_a_model_opens_on_a_sample_like_its_data():
    at = app("pages/layer_by_layer.py", model="tinyvgg")
    no_crash(at)
    assert at.selectbox(key="img_sample").value == "triangle" and "img" not in at.query_params
    at.selectbox(key="img_sample").set_value("digit").run()  # another sample: now the link names it
    assert at.query_params["img"] in ("digit", ["digit"])


def test_a_link_may_name_the_model_in_any_case():
    at = app("pages/layer_by_layer.py", model="TinyVGG")
    no_crash(at)
    assert at.selectbox(key="net_model").value == "tinyvgg" and not warnings(at)
    assert at.selectbox(key="img_sample").value == "triangle"  # the defaults follow it too


def test_the_whole_network_tab_shows_every_layer_with_maps_at_a_glance():
    at = app("pages/layer_by_layer.py", tab="Whole network")
    no_crash(at)
    overview = next(f for f in figures(at) if f["layout"]["title"]["text"].startswith("Every layer at a glance"))
    assert overview["layout"]["yaxis"]["ticktext"] == ["normalize", "conv1", "relu1", "pool1", "conv2", "relu2",
                                                      "pool2"]  # LeNet-5's layers with maps; its fc layers have none
    totals = next(c.value for c in at.caption if c.value.startswith("13 operations"))
    assert totals.startswith("13 operations, 61,706 parameters, 416,520 multiply-adds per image. As 32-bit floats, the "
                             "61,706 parameters take 241 KB; one image's forward pass writes 15,386 values")


def test_a_run_whose_checkpoint_no_longer_loads_is_named_not_raised(tmp_path, monkeypatch):
    from explorer import run_files, runs

    monkeypatch.setenv("EXPLORER_RUNS", str(tmp_path))
    run = shapes_run(tmp_path, "cut off")
    folder = runs.path(run.id, tmp_path)
    checkpoint = folder / "checkpoint.safetensors"
    whole = checkpoint.read_bytes()
    no_crash(app("pages/layer_by_layer.py", model=f"run:{run.id}"))  # built and cached while whole: not served again
    checkpoint.write_bytes(whole[:100])  # a disk that filled up mid-copy
    for broken in ("weights", "description"):
        if broken == "description":
            checkpoint.write_bytes(whole)
            run_files.write_json(folder / "checkpoint.json", {"step": 1, "epoch": 1.0})  # no input shape, no classes
        at = app("pages/layer_by_layer.py", model=f"run:{run.id}")
        no_crash(at)
        assert any(e.startswith("This run's network cannot be loaded: ") for e in errors(at)), errors(at)
        assert "This run's network cannot be loaded (see the left): pick another model." in [i.value for i in at.info]


def test_a_run_deleted_while_it_is_shown_is_named_and_its_choices_go(tmp_path, monkeypatch):
    """A teacher deleted the run a student was looking at: the student's next click had silently swapped in
    LeNet-5, at the run's layer (and on Why this prediction, its class number read as a digit)."""
    from explorer import runs

    monkeypatch.setenv("EXPLORER_RUNS", str(tmp_path))
    run = shapes_run(tmp_path, "teacher's demo")
    at = app("pages/layer_by_layer.py", model=f"run:{run.id}", layer="relu2")
    no_crash(at)
    assert at.select_slider(key="lbl_layer").value == "relu2"
    runs.delete(run.id, tmp_path)
    at.button(key="lbl_next").click().run()
    no_crash(at)
    assert f"The run `{run.id}` is no longer on this server (deleted, or its weights removed): showing LeNet-5" \
        in warnings(at)
    assert at.selectbox(key="net_model").value == "lenet5" and at.select_slider(key="lbl_layer").value == "normalize"
    assert at.session_state["img_sample"] == "digit"  # the run's shapes sample had gone on to the digit reader
    for model, why in ((f"run:{run.id}", f"there is no run '{run.id}' on this server: it was deleted, or the link "
                                          "comes from another server"),
                       ("run:../x", "'../x' is not a run id: it cannot be opened")):
        linked = app("pages/layer_by_layer.py", model=model)
        no_crash(linked)
        assert why in warnings(linked)
    damaged = shapes_run(tmp_path, "damaged")
    (runs.path(damaged.id, tmp_path) / "status.json").write_text("{}")
    linked = app("pages/layer_by_layer.py", model=f"run:{damaged.id}")
    assert f"run {damaged.id}'s config or status is damaged: it cannot be opened" in warnings(linked)
    unsaved = shapes_run(tmp_path, "weights gone", saved=False)
    linked = app("pages/layer_by_layer.py", model=f"run:{unsaved.id}")
    assert "the run 'weights gone' has no saved weights (its checkpoint is missing)" in warnings(linked)


def test_a_zoo_model_that_cannot_be_built_is_named_and_the_page_stays_up(monkeypatch):
    from explorer import models
    from explorer.ui import model_input

    def short_of_memory(name, **kw):
        raise MemoryError

    model_input._network.clear()  # a cached build would not be rebuilt
    monkeypatch.setattr(models, "build", short_of_memory)
    at = app("pages/layer_by_layer.py", model="lenet5")
    assert not at.exception, at.exception
    assert [e for e in errors(at) if e.startswith("The server ran out of memory while building LeNet-5 (MNIST digits).")], errors(at)
    assert "LeNet-5 (MNIST digits) could not be built (see the left): pick another model." in [i.value for i in at.info]
    assert at.selectbox(key="net_model").value == "lenet5"  # the picker is there to pick another


def test_the_kernel_labs_own_sample_does_not_follow_to_the_models_page():
    """The Kernel Lab opens on its Edges picture; Layer by layer opens on the model's own (a digit for LeNet-5),
    unless the visitor picked a sample."""
    from streamlit.testing.v1 import AppTest

    from tests.apptest import TIMEOUT
    from tests.conftest import ROOT

    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=TIMEOUT)
    at.switch_page("pages/kernel_lab.py").run()
    assert at.session_state["img_sample"] == "edges"
    at.switch_page("pages/layer_by_layer.py").run()
    no_crash(at)
    assert at.session_state["img_sample"] == "digit"
    at.selectbox(key="img_sample").set_value("circles").run()  # picked: it follows
    at.switch_page("pages/kernel_lab.py").run()
    assert at.session_state["img_sample"] == "circles"


def test_the_kernels_of_a_wide_layer_come_in_pages_numbered_as_the_layer_numbers_them():
    """stage3.conv2 of the small ResNet has 64 filters of 64 input maps: 16 of each a page, numbered as the layer
    numbers them (the input maps past the first 16 had no page)."""
    at = app("pages/layer_by_layer.py", model="resnet_small", layer="stage3.conv2", tab="Kernels", kpage="3", kin="2")
    no_crash(at)
    grid = next(f for f in figures(at) if f["layout"]["title"]["text"].startswith("filters 32..47 of 64"))
    assert grid["layout"]["title"]["text"] == "filters 32..47 of 64 (columns) x input maps 16..31 of 64 (rows)"
    numbers = [a["text"] for a in grid["layout"]["annotations"] if a.get("yanchor") == "bottom"]
    assert numbers[:2] == ["32", "33"] and numbers[-1] == "47"
    rows = [a["text"] for a in grid["layout"]["annotations"] if a.get("xanchor") == "right"]
    assert rows[0] == "16" and rows[-1] == "31"
    assert at.number_input(key="lbl_kpage").label == "Filters page (of 4)"
    assert at.number_input(key="lbl_kin").label == "Input maps page (of 4)"
    beyond = app("pages/layer_by_layer.py", model="resnet_small", layer="stage3.conv2", tab="Kernels", kpage="9")
    assert "`kpage=9` was ignored: `stage3.conv2`'s 64 filters fill 4 pages, so 4 is shown" in warnings(beyond)
    at.select_slider(key="lbl_layer").set_value("stage3.shortcut.conv").run()  # another layer: its first pages
    assert at.number_input(key="lbl_kpage").value == 1 and at.number_input(key="lbl_kin").value == 1


def test_a_maps_closer_look_links_to_its_channel_on_the_other_pages_but_not_at_the_input():
    at = app("pages/layer_by_layer.py", layer="relu1", look="1", closer="4")
    links = {link.proto.label: link.proto.query_string for link in at.get("page_link")}
    shown = "model=lenet5&src=sample&img=digit"  # the image too: a link opened in a new tab shows the same one
    assert links["What excites it"] == f"{shown}&mode=channel&neg=0&grid=0&layer=relu1&channel=4"
    assert links["The images that excite it most"] == f"{shown}&low=0&layer=relu1&channel=4"
    assert "What excites it" not in {link.proto.label for link in app(
        "pages/layer_by_layer.py", layer="normalize", look="1").get("page_link")}


def test_runners_up_keep_their_order_where_float32_rounds_them_to_zero():
    """TinyVGG on its circles: every class after square is below float32's smallest number; triangle's score
    (-47) is third, and the caption and the bars had named line \\ (-56) there."""
    at = app("pages/layer_by_layer.py", model="tinyvgg", img="circles", layer="fc")
    no_crash(at)
    assert any(c.value.startswith("Then square (<0.1%), triangle (<0.1%)") for c in at.caption)
    bars = next(f for f in figures(at) if f["layout"]["title"]["text"].startswith("Prediction"))
    assert list(bars["data"][0]["y"])[::-1][:3] == ["circle", "square", "triangle"]


@pytest.mark.parametrize("weights", ["1", "0"])
def test_a_model_without_weights_shows_trained_weights_off_and_keeps_the_choice_for_the_next(weights):
    """The switch had stayed on, greyed, over a network with random weights."""
    at = app("pages/layer_by_layer.py", model="resnet_small", weights=weights)
    no_crash(at)
    shown = at.toggle(key="net_pretrained_none")
    assert shown.value is False and shown.disabled
    at.selectbox(key="net_model").set_value("lenet5").run()
    no_crash(at)
    assert at.toggle(key="net_pretrained").value == (weights == "1") and not at.toggle(key="net_pretrained").disabled
