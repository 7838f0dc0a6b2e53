"""Top activations through the entry point: the grid, clicks, links, missing data."""

import socket

import pytest
from streamlit.testing.v1 import AppTest

from explorer import data, models
from explorer.ui import image_sets

from tests.apptest import TIMEOUT, app, click_chart, errors, figures, no_crash, text, titles, warnings
from tests.conftest import ROOT


def test_top_page_defaults_find_the_top9_of_every_channel(monkeypatch):
    monkeypatch.setattr(image_sets, "default_source", lambda spec: "shapes")  # a server without MNIST
    at = app("pages/top_activations.py")
    no_crash(at)
    assert not errors(at)
    heads = [s.value for s in at.subheader]
    assert heads == ["The 16 channels of `conv2`: each one's strongest patch",
                     "Channel 0: its top 9 of 10,000 built-in shapes"]
    titles = [f["layout"]["title"]["text"] for f in figures(at)]
    assert titles[:3] == ["Click a channel", "Whole images", "Their patches (receptive fields)"]
    grid = at.get("plotly_chart")[0].proto  # its title an instruction; its name for a screen reader says what it is
    assert grid.alt == "Channels 0 to 15 of conv2, each by its strongest patch"
    assert "Its kernel (6 input maps)" in titles
    assert any(m.value.startswith("**Your image** (sample: Digit 3") for m in at.markdown)


def test_the_images_searched_by_default_are_the_models_own_test_set_when_the_server_has_it(monkeypatch):
    monkeypatch.setattr(data, "load", lambda name, train=True, download=True: None)  # every set on disk
    assert [image_sets.default_source(models.spec(n)) for n in ("lenet5", "tinyvgg", "resnet18")] == [
        "mnist", "shapes", "shapes"]  # ResNet18's ImageNet is none of the app's sets

    def missing(name, train=True, download=True):
        raise data.DataUnavailable(f"{name} is not here")

    monkeypatch.setattr(data, "load", missing)
    assert image_sets.default_source(models.spec("lenet5")) == "shapes"


def test_the_images_searched_follow_a_new_model_unless_chosen_on_purpose(monkeypatch):
    monkeypatch.setattr(image_sets, "default_source", lambda spec: "mnist" if spec.data == "mnist" else "shapes")
    at = app("pages/top_activations.py", n="500")
    assert at.session_state["ta_data"] == "mnist"
    at.selectbox(key="net_model").set_value("tinyvgg").run()
    no_crash(at)
    assert at.session_state["ta_data"] == "shapes"  # a shapes network is not searched on digits
    assert at.query_params.get("data") in (None, "shapes", ["shapes"])  # the link opens the same search
    at.selectbox(key="ta_data").set_value("fashion-mnist").run()
    at.selectbox(key="net_model").set_value("lenet5").run()
    assert at.session_state["ta_data"] == "fashion-mnist"  # chosen on purpose: it stays


@pytest.mark.skipif(data.shared_root() is None, reason="needs ../shared/data (real MNIST)")
def test_a_digit_network_searches_digits_and_a_shapes_network_shapes():
    at = app("pages/top_activations.py", n="500")
    no_crash(at)
    assert at.session_state["ta_data"] == "mnist" and "data" not in at.query_params  # the default: a short link
    assert at.subheader[1].value == "Channel 0: its top 9 of 500 MNIST test set images"
    at = app("pages/top_activations.py", n="500", model="tinyvgg")
    assert at.session_state["ta_data"] == "shapes"


def _tile(channel: int) -> dict:
    """What a click on a channel's tile sends."""
    return {"selection": {"points": [{"x": 10, "y": 10, "customdata": channel, "curve_number": 1}],
                          "point_indices": [channel], "box": [], "lasso": []}}


def test_top_page_a_click_on_a_channel_opens_it_in_one_run(monkeypatch):
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=TIMEOUT)
    at.switch_page("pages/top_activations.py").run()
    runs, search = [], image_sets.top9
    monkeypatch.setattr(image_sets, "top9", lambda *args, **kwargs: runs.append(1) or search(*args, **kwargs))
    click_chart(at, "ta_grid_conv2_0_0", _tile(7))
    no_crash(at)
    assert len(runs) == 1  # the click's callback, then the page once: it had read the click and run again
    assert at.subheader[1].value.startswith("Channel 7:")
    assert at.query_params["channel"] in ("7", ["7"])
    at.number_input(key="ta_channel").set_value(2).run()  # typed: a grid with nothing selected
    assert at.subheader[1].value.startswith("Channel 2:")
    click_chart(at, "ta_grid_conv2_0_2", _tile(7))  # the tile clicked before, clicked again
    assert at.subheader[1].value.startswith("Channel 7:")


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
    assert "has no feature maps" in warnings
    assert ("CIFAR-10's test images are not on this server: they have not been downloaded yet. Download them, or "
            "search the built-in shapes or your own images.") in warnings
    assert "EXPLORER_DATA_MIRROR" not in warnings and "EXPLORER_DATA_MIRROR" in at.code[-1].value  # folded away
    at.button(key="ta_download").click().run()
    no_crash(at)
    assert ("CIFAR-10's test images are not on this server: the server could not download them (it may be "
            "offline).") in errors(at), errors(at)
    assert f"127.0.0.1:{port}" in at.code[-1].value


def test_a_kernel_with_many_input_maps_says_how_many_are_drawn():
    at = app("pages/top_activations.py", model="alexnet", weights="0", n="8")
    no_crash(at)
    assert "Its kernel (the first 16 of its 192 input maps)" in [f["layout"]["title"]["text"] for f in figures(at)]


def test_the_channels_page_is_in_the_link_when_it_is_not_the_shown_channels_own():
    at = app("pages/top_activations.py", model="alexnet", weights="0", n="8", channel="70")
    no_crash(at)
    assert at.number_input(key="ta_page").value == 3  # channels 64..95 hold channel 70
    assert "chpage" not in at.query_params
    at.number_input(key="ta_page").set_value(5).run()  # browsing the grid: the channel shown stays
    assert at.subheader[1].value.startswith("Channel 70:") and at.query_params["chpage"] in ("5", ["5"])
    again = app("pages/top_activations.py", model="alexnet", weights="0", n="8", channel="70", chpage="5")
    assert again.number_input(key="ta_page").value == 5
    again.number_input(key="ta_channel").set_value(40).run()  # typed: the grid turns to its page
    assert again.number_input(key="ta_page").value == 2 and "chpage" not in again.query_params
    again.number_input(key="ta_page").set_value(1).run()
    again.selectbox(key="ta_layer").set_value(again.selectbox(key="ta_layer").options[0]).run()  # 64 channels
    assert again.number_input(key="ta_page").value == 2 and "chpage" not in again.query_params  # channel 40's
    narrower = app("pages/top_activations.py", model="alexnet", weights="0", n="8", channel="70")  # conv3: 384
    narrower.selectbox(key="ta_layer").set_value("conv1").run()  # 64 channels: the last one, said
    assert ("Channel 70 is past `conv1`'s 64 channels: channel 63 is shown." in text(narrower)
            and narrower.subheader[1].value.startswith("Channel 63:") and not warnings(narrower))


def test_top_page_on_a_branching_network():
    at = app("pages/top_activations.py", model="resnet_small", weights="0", layer="stage2.add", n="500")
    no_crash(at)
    assert at.subheader[0].value == "The 32 channels of `stage2.add`: each one's strongest patch"


# --- Train -------------------------------------------------------------------------------------


def test_a_runs_channel_is_followed_over_the_epochs_it_kept(tmp_path, monkeypatch):
    from explorer import run_files, runs, worker

    monkeypatch.setenv("EXPLORER_RUNS", str(tmp_path))
    config = {"model": "lenet5", "data": "shapes", "train_images": 512, "test_images": 128, "epochs": 2,
              "batch_size": 64, "seed": 0}
    run = runs.create(config, root=tmp_path)
    worker.run(run.path)
    at = app("pages/top_activations.py", model=f"run:{run.id}", n="500", layer="conv1", channel="2")
    no_crash(at)
    assert [s.value for s in at.subheader][-1] == "Channel 2 over training"
    grid = next(f for f in figures(at) if f["layout"]["title"]["text"].startswith("Its top 9 patches before"))
    assert grid["layout"]["yaxis"]["ticktext"] == ["untrained", "epoch 1", "epoch 2"]
    low = app("pages/top_activations.py", model=f"run:{run.id}", n="500", layer="conv1", channel="2", low="1")
    no_crash(low)  # Lowest 9 follows the channel's lowest patches too (it had kept showing the top ones)
    lowest = next(f for f in figures(low) if f["layout"]["title"]["text"].startswith("Its lowest 9 patches before"))
    assert lowest["layout"]["yaxis"]["ticktext"] == grid["layout"]["yaxis"]["ticktext"]
    assert lowest["data"][0]["source"] != grid["data"][0]["source"]
    for epoch in (0, 1, 2):  # as a run from before epochs were kept
        (tmp_path / run.id / "epochs" / f"{epoch}.safetensors").unlink()
    assert run_files.saved_epochs(run.id, tmp_path) == []
    again = app("pages/top_activations.py", model=f"run:{run.id}", n="500")
    no_crash(again)
    assert any("kept no weights along the way" in c.value for c in again.caption)


def test_a_channel_links_to_its_other_views_with_the_network_layer_and_channel_chosen():
    at = app("pages/top_activations.py", layer="conv2", channel="3", weights="0")
    no_crash(at)
    links = {link.proto.label: link.proto for link in at.get("page_link")}
    assert links["What excites it"].page == "what_excites"
    shown = "model=lenet5&weights=0&src=sample&img=digit"
    assert links["What excites it"].query_string == (f"{shown}&data={at.session_state['ta_data']}&mode=channel&neg=0"
                                                     "&grid=0&layer=conv2&channel=3")
    assert links["Its map on your image"].query_string == f"{shown}&layer=conv2&tab=Output&look=1&closer=3"
    assert "The images that excite it most" not in links  # this page
    opened = app("pages/what_excites.py", steps="2", **dict(p.split("=") for p in
                                                           links["What excites it"].query_string.split("&")))
    no_crash(opened)
    assert "What excites channel 3 of conv2" in titles(opened) and not opened.toggle(key="net_pretrained").value
    assert "The images that excite it most" in {link.proto.label for link in opened.get("page_link")}


def test_the_lowest_nine_of_a_channel_and_where_your_image_ranks_among_them():
    at = app("pages/top_activations.py", layer="conv2", channel="3", low="1")
    no_crash(at)
    headings = [h.value for h in at.subheader]
    assert "The 16 channels of `conv2`: each one's lowest patch" in headings
    assert any(h.startswith("Channel 3: its lowest 9 of") for h in headings)
    said = next(m.value for m in at.markdown if m.value.startswith("**Your image**"))
    assert " at its lowest: " in said and ("among the lowest 9" in said or "above the 9th lowest" in said)


def test_the_other_side_draws_the_lowest_nine_under_the_top_nine_and_the_top_under_the_lowest():
    at = app("pages/top_activations.py", layer="conv2", channel="3", data="shapes", other="1")
    no_crash(at)
    named = [c.proto.alt.split(":")[0] for c in at.get("plotly_chart")]
    patches = "Their patches (receptive fields)"
    assert named[1:5] == ["Its top 9, whole", patches, "Its lowest 9, whole", patches]
    assert "**The other side: its lowest 9**" in [m.value for m in at.markdown]
    top, lowest = ([float(a["text"]) for a in f["layout"]["annotations"]] for f in figures(at)[1:4:2])
    assert top == sorted(top, reverse=True) and lowest == sorted(lowest) and max(lowest) < 0 < min(top)
    alts = [c.proto.alt for c in at.get("plotly_chart")]  # the two patches' charts (and saved pictures) named apart
    assert alts[4] == ("Their patches (receptive fields): channel 3 of conv2 at its lowest, LeNet-5 (MNIST digits), "
                       "10,000 built-in shapes") and "at its lowest" not in alts[2]
    at.toggle(key="ta_low").set_value(True).run()
    assert "**The other side: its top 9**" in [m.value for m in at.markdown] and at.query_params["other"] == "1"
    assert "Its top 9, whole" in [c.proto.alt.split(":")[0] for c in at.get("plotly_chart")]
    assert "other" not in app("pages/top_activations.py", layer="conv2").query_params
