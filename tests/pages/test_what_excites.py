"""The "What excites a unit" page through the entry point: each goal, links, bad input, Stop."""

import threading

import pytest
from streamlit.testing.v1 import AppTest

from tests.apptest import TIMEOUT, app, click_chart, figures, held_sessions, no_crash, text, titles, warnings

PAGE = "pages/what_excites.py"


def _values(at) -> list[float]:
    curve = next(f for f in figures(at) if f["layout"]["title"]["text"] == "Step by step")
    return curve["data"][0]["y"]


def test_defaults_ascend_a_channel_of_lenet5_beside_its_top9():
    at = app(PAGE, steps="32")
    no_crash(at)
    assert at.selectbox(key="wx_layer").value == "conv2"
    shown = titles(at)
    assert "What excites channel 0 of conv2" in shown and "Its top 9" in shown and "The patches they show it" in shown
    animation = next(f for f in figures(at) if f["layout"]["title"]["text"] == "What excites channel 0 of conv2")
    assert [frame["name"] for frame in animation["frames"]][:3] == ["0", "1", "2"]  # 32 steps: every step kept
    values = _values(at)
    assert len(values) == 33 and values[-1] > values[0]
    assert "at the start" in text(at)
    assert at.query_params["steps"] in ("32", ["32"])
    png = next(b for b in at.get("download_button") if b.label == "Download the image (PNG)")
    assert png.help == "The image at step 32, exactly its 28 x 28 pixels."  # Lucent's users save theirs too


def test_a_unit_link_reproduces_the_view():
    at = app(PAGE, mode="unit", layer="conv1", channel="4", row="3", col="20", steps="16", plain="1")
    no_crash(at)
    assert at.number_input(key="wx_row").value == 3 and at.number_input(key="wx_col").value == 20
    assert "What excites unit (3, 20)<br>of channel 4 of conv1" in titles(at)
    assert at.toggle(key="wx_plain").value


def test_an_image_made_of_frequencies_is_named_and_its_pixel_only_settings_are_off():
    at = app(PAGE, model="tinyvgg", layer="relu2b", channel="1", steps="16", param="fourier", blur="8", rho="2")
    no_crash(at)
    assert not warnings(at)
    assert at.segmented_control(key="wx_param").value == "fourier"
    assert at.slider(key="wx_blur").disabled and at.slider(key="wx_norm").disabled
    assert at.slider(key="wx_step_size").label == "Adam's learning rate"
    assert "The image was made of frequencies, not pixels (Olah et al. 2017" in text(at)
    values = _values(at)
    assert len(values) == 17 and values[-1] > values[0]
    assert at.query_params["param"] in ("fourier", ["fourier"])
    pixels = app(PAGE, model="tinyvgg", layer="relu2b", channel="1", steps="16")
    assert pixels.slider(key="wx_step_size").label == "Step size (brightness, 0..1)" and "frequencies" not in text(pixels)


def test_a_class_model_of_a_digit():
    at = app(PAGE, mode="class", **{"class": "7"}, steps="48")
    no_crash(at)
    assert "The network's idea of '7'" in titles(at)
    assert "Its top 9" not in titles(at)  # the class scores have no feature maps to search with
    values = _values(at)
    assert values[-1] > values[0] + 5
    assert "Shown to the network, this image is read as **7** with **" in text(at)  # the class model reads as 7


def test_the_class_and_the_channel_are_kept_apart_in_the_page_and_its_link():
    at = app(PAGE, layer="conv2", channel="5", steps="8")
    at.segmented_control(key="wx_mode").set_value("class").run()
    at.selectbox(key="wx_class").set_value(8).run()
    no_crash(at)
    assert "The network's idea of '8'" in titles(at)
    assert at.query_params["class"] in ("8", ["8"]) and at.query_params["channel"] in ("5", ["5"])
    at.segmented_control(key="wx_mode").set_value("channel").run()
    no_crash(at)
    assert at.number_input(key="wx_channel").value == 5 and "What excites channel 5 of conv2" in titles(at)


def test_a_class_link_of_the_former_kind_opens_its_class_and_is_rewritten():
    at = app(PAGE, mode="class", channel="7", steps="8")  # when the class shared the channel's name in links
    no_crash(at)
    assert "The network's idea of '7'" in titles(at) and not warnings(at)
    assert at.query_params["class"] in ("7", ["7"]) and "channel" not in at.query_params


def test_a_channel_of_a_layer_linear_in_the_pixels_is_flagged_with_a_way_out():
    """conv1's channel mean rewards the border, not the kernel's pattern (the ascent drew bright bands at the edges)."""
    flagged = app(PAGE, layer="conv1", channel="4", steps="4")
    no_crash(flagged)
    assert "`conv1` is linear in the pixels" in warnings(flagged) and "such as `relu1`" in warnings(flagged)
    for params in ({"layer": "relu1", "channel": "4"}, {"mode": "unit", "layer": "conv1", "channel": "4"}, {}):
        assert "linear in the pixels" not in warnings(app(PAGE, steps="4", **params)), params


def test_inverting_the_image_at_a_layer():
    at = app(PAGE, mode="invert", layer="pool1", steps="48")
    no_crash(at)
    assert "An image that pool1 sees as yours" in titles(at) and "Your image (what is inverted)" in titles(at)
    values = _values(at)
    assert values[-1] < values[0] / 2


def test_dreaming_on_the_image_grows_what_a_layer_sees_in_it():
    """The lecture names DeepDream beside the class models: from your image, the layer's activations grow."""
    at = app(PAGE, mode="dream", layer="relu2", steps="32")
    no_crash(at)
    assert "Your image, as relu2 dreams it" in titles(at) and "Your image (where it started)" in titles(at)
    values = _values(at)
    assert values[-1] > 2 * values[0]
    assert at.query_params["mode"] in ("dream", ["dream"])
    assert not [s for s in at.subheader if "in real images" in s.value]  # no channel: no data set's top 9


def test_an_inversion_that_ends_well_above_its_lowest_error_shows_the_lowest_image():
    at = app(PAGE, mode="invert", layer="pool2")  # jitter 2: the error jumps, 0.21 at the end, 0.08 at its lowest
    no_crash(at)
    assert "The lowest error, at step 51" in titles(at) and "its image is under yours" in text(at)


def test_a_channel_of_a_fully_connected_layer_from_the_image():
    at = app(PAGE, layer="fc4", channel="9", start="1", steps="8")
    no_crash(at)
    assert at.number_input(key="wx_channel").value == 9
    assert "What excites output 9 of fc4" in titles(at)  # one number each: not a channel of maps
    assert "The output's value: **" in text(at)
    assert next(f for f in figures(at) if f["layout"]["title"]["text"] == "Step by step")["layout"]["yaxis"][
        "title"]["text"] == "the output's value"


@pytest.mark.parametrize("params,message", [
    (dict(layer="nope"), "no layer `nope`"),
    (dict(mode="hallucinate"), "mode=hallucinate"),
    (dict(steps="5000"), "steps=5000"),
    (dict(param="wavelets"), "param=wavelets"),
])
def test_bad_links_get_a_warning_and_a_working_page(params, message):
    at = app(PAGE, **{"steps": "8", **params})
    no_crash(at)
    assert message in warnings(at)
    assert any(t.startswith("What excites") for t in titles(at))


def test_a_unit_of_a_fully_connected_layer_falls_back_to_feature_maps():
    at = app(PAGE, mode="unit", layer="fc3", steps="8")
    no_crash(at)
    assert "`fc3` has no feature maps, so no units: showing `conv2`." in " ".join(i.value for i in at.info)
    assert at.selectbox(key="wx_layer").value == "conv2"


def test_a_channel_beyond_the_layer_is_kept_within_it():
    at = app(PAGE, layer="conv1", channel="50", steps="8")
    no_crash(at)
    assert at.number_input(key="wx_channel").value == 5


@pytest.mark.usefixtures("nameless_resnet_small")
def test_a_model_without_class_names_asks_for_a_number():
    at = app(PAGE, model="resnet_small", mode="class", **{"class": "3"}, steps="8")
    no_crash(at)
    assert "no class names" in " ".join(i.value for i in at.info)
    assert "The network's idea of 'class 3'" in titles(at)
    assert "class 3 gets" in text(at) or "read as **class 3** with" in text(at)  # named as the picker names it


def _script():
    """A page of one optimisation of 6 frames (steps 0..5); the test may plant one under way."""
    import torch
    import streamlit as st

    from explorer import visualize
    from explorer.ui import optimisation

    def frames(first: int = 0):
        for step in range(first, 6):
            yield visualize.Frame(step, float(step), float(step), torch.full((1, 4, 4), step / 5))

    if "plant" in st.session_state:  # an optimisation interrupted after step 1, as a rerun leaves it
        made = []
        for frame in frames():
            visualize.keep(made, frame)
            if frame.step == 1:
                break
        st.session_state["opt_partial"] = {"key": ("test", 1), "frames": made, "source": frames(2),
                                           "stopped": False}
        del st.session_state["plant"]

    def start():
        st.session_state["started"] = st.session_state.get("started", 0) + 1
        return frames()

    outcome = optimisation.run(("test", st.session_state.get("round", 0)), start, 5, "Testing")
    st.markdown(f"frames {[f.step for f in outcome.frames]} stopped {outcome.stopped}")


def _planted(stop: bool) -> AppTest:
    at = AppTest.from_function(_script, default_timeout=TIMEOUT)
    at.session_state["round"], at.session_state["plant"] = 1, True
    if stop:
        at.session_state["opt_stop"] = True  # the Stop click whose rerun interrupted the loop
    return at.run()


def test_stop_keeps_what_was_made_and_run_to_the_end_continues_from_there():
    at = _planted(stop=True)
    assert not at.exception
    assert at.markdown[0].value == "frames [0, 1] stopped True" and "started" not in at.session_state
    at.button(key="opt_resume").click().run()
    assert at.markdown[0].value == "frames [0, 1, 2, 3, 4, 5] stopped False"
    assert not [b for b in at.button if b.key == "opt_resume"]  # run to its end: the button is gone
    assert "started" not in at.session_state  # continued, not started again
    at.run()  # kept on the server: not computed again
    assert at.markdown[0].value == "frames [0, 1, 2, 3, 4, 5] stopped False" and "started" not in at.session_state


def test_any_other_rerun_continues_an_interrupted_optimisation():
    at = _planted(stop=False)
    assert not at.exception
    assert at.markdown[0].value == "frames [0, 1, 2, 3, 4, 5] stopped False" and "started" not in at.session_state


def test_other_settings_start_a_new_optimisation():
    at = _planted(stop=False)
    at.session_state["round"] = 2
    at.run()
    assert at.markdown[0].value == "frames [0, 1, 2, 3, 4, 5] stopped False" and at.session_state["started"] == 1


def test_switching_model_picks_the_new_models_layer_without_a_warning():
    at = app(PAGE, layer="conv2", channel="5", steps="8")
    at.selectbox(key="net_model").set_value("tinyvgg").run()
    no_crash(at)
    assert not warnings(at) and at.selectbox(key="wx_layer").value in at.selectbox(key="wx_layer").options
    assert at.number_input(key="wx_channel").value == 0


def test_one_unit_is_explained_as_one_unit_and_random_weights_are_named():
    at = app("pages/what_excites.py", mode="unit", row="5", col="5", steps="4")
    no_crash(at)
    assert "only its receptive field (outlined in orange) matters to it" in text(at)
    assert "everywhere at once" not in text(at)
    animation = next(f for f in figures(at) if f["layout"]["title"]["text"].startswith("What excites unit (5, 5)"))
    box = animation["layout"]["shapes"][0]  # conv2's unit (5, 5) sees rows and columns 8..21 of the 28 x 28 digit,
    assert (box["x0"], box["x1"], box["y0"], box["y1"]) == (7.5, 21.5, 7.5, 21.5)  # in the image's pixels
    untrained = app("pages/what_excites.py", weights="0", steps="4")
    no_crash(untrained)
    assert any("Random weights: the image shows" in i.value for i in untrained.info)


STARTED: list[str] = []  # the sessions that started the shared optimisation below
GATE = threading.Event()  # holds the first session's optimisation at step 2


def _shared_script():
    """One optimisation of 6 frames whose first run is held at step 2 until the test lets it go."""
    import torch
    import streamlit as st

    from explorer import visualize
    from explorer.ui import optimisation
    from tests.pages.test_what_excites import GATE, STARTED

    def frames():
        for step in range(6):
            if step == 2 and len(STARTED) == 1:
                GATE.wait(30)
                if st.query_params["cut"] == "1":
                    raise RuntimeError("the first visitor's run broke off")
            yield visualize.Frame(step, float(step), float(step), torch.full((1, 4, 4), step / 5))

    def start():
        STARTED.append(st.query_params["who"])
        return frames()

    outcome = optimisation.run(("shared", st.query_params["cut"]), start, 5, "Testing")
    st.markdown(f"frames {[f.step for f in outcome.frames]} stopped {outcome.stopped}")


def test_a_session_asking_for_an_optimisation_another_runs_waits_for_it():
    first, second = held_sessions(_shared_script, STARTED, GATE, cut="0")
    assert STARTED == ["a"]  # made once
    assert first.markdown[0].value == second.markdown[0].value == "frames [0, 1, 2, 3, 4, 5] stopped False"


def test_when_the_running_session_breaks_off_the_waiting_one_runs_it():
    first, second = held_sessions(_shared_script, STARTED, GATE, cut="1")
    assert STARTED == ["a", "b"] and first.exception
    assert second.markdown[0].value == "frames [0, 1, 2, 3, 4, 5] stopped False"


def test_the_image_picker_is_folded_away_where_the_optimisation_does_not_use_the_image():
    folded = {"mode": "class", "class": "7"}, {}, {"mode": "unit"}
    for params in folded:
        at = app(PAGE, steps="2", **params)
        no_crash(at)
        assert "Your own image (optional)" in [e.label for e in at.expander], params
    for params in ({"mode": "invert", "layer": "pool1"}, {"start": "1"}):
        at = app(PAGE, steps="2", **params)
        no_crash(at)
        assert "Your own image (optional)" not in [e.label for e in at.expander], params


def test_a_negative_visualisation_drives_the_channel_down():
    at = app(PAGE, neg="1", steps="16")
    no_crash(at)
    assert "What drives channel<br>0 of conv2 down" in titles(at) and at.toggle(key="wx_negative").value
    values = _values(at)
    assert values[-1] < values[0]
    assert "the other side of what it detects" in text(at) and "Its lowest 9" in titles(at)
    assert "What drives channel 0 of `conv2` down in real images" in [h.value for h in at.subheader]
    stopped = app(PAGE, neg="1", layer="relu2", channel="5", grid="1")  # 0.366 at the start, then 0: a ReLU's least
    no_crash(stopped)
    assert _values(stopped)[0] > 0 and _values(stopped)[-1] == 0
    assert "the least a ReLU's output can be" in text(stopped)
    assert "these are a tie of zeros" in text(stopped)  # its lowest 9 in the data set: 0 each
    assert "What drives each channel of relu2 down" in titles(stopped)


def test_every_channel_at_once_lays_out_the_layer():
    at = app(PAGE, grid="1", steps="4", channel="9")  # conv2: 16 channels, one page
    no_crash(at)
    grid = next(f for f in figures(at) if f["layout"]["title"]["text"] == "What excites each channel of conv2")
    assert [a["text"].split(":")[0] for a in grid["layout"]["annotations"]] == [str(c) for c in range(16)]
    assert at.toggle(key="wx_grid").label == "Every channel at once (all 16 channels of conv2)"
    assert at.query_params["grid"] in ("1", ["1"]) and "What excites channel 9 of conv2" in titles(at)
    click_chart(at, "wx_grid_9", {"selection": {"points": [{"customdata": 4, "curve_number": 1}]}})  # tile 4
    no_crash(at)
    assert at.query_params["channel"] in ("4", ["4"]) and "What excites channel 4 of conv2" in titles(at)


def test_every_channel_at_once_on_a_cpu_takes_fewer_steps_a_channel_and_says_so(monkeypatch):
    from explorer.ui import channel_grid

    monkeypatch.setattr(channel_grid, "CPU_STEPS", 2)  # 128 in use: a page of 16 LeNet-5 channels in seconds
    at = app(PAGE, grid="1", steps="4", channel="9")
    no_crash(at)
    assert "On this server's CPU each channel here takes 2 steps, not 4" in text(at)
    assert at.query_params["steps"] in ("4", ["4"])  # the image above takes them all


def test_several_images_at_once_made_to_differ_side_by_side():
    at = app(PAGE, layer="relu2", channel="5", steps="16", imgs="3", div="1.5")
    no_crash(at)
    assert not warnings(at)
    assert at.number_input(key="wx_images").value == 3 and not at.slider(key="wx_diversity").disabled
    animation = next(f for f in figures(at) if f["layout"]["title"]["text"] == "What excites channel 5 of relu2")
    (left, right), (bottom, top) = animation["layout"]["xaxis"]["range"], animation["layout"]["yaxis"]["range"]
    assert right - left > 3 * (bottom - top)  # three images side by side
    assert "The 3 images, left to right: **" in text(at) and "diversity 1.5." in text(at)
    assert at.query_params["imgs"] in ("3", ["3"]) and at.query_params["div"] in ("1.5", ["1.5"])
    classes = app(PAGE, mode="class", **{"class": "7"}, steps="16", imgs="2")
    assert "**2 of the 2** images are read as **7** (" in text(classes)
    inverted = app(PAGE, mode="invert", layer="conv2", steps="8", imgs="3")  # an inversion makes one image
    no_crash(inverted)
    assert at.number_input(key="wx_images").disabled is False and inverted.number_input(key="wx_images").disabled
    assert "images, left to right" not in text(inverted)


def test_lucents_transforms_from_a_link_and_off_in_a_plain_ascent():
    at = app(PAGE, layer="relu2", channel="5", steps="16", warp="1")
    no_crash(at)
    assert at.toggle(key="wx_warp").value and not at.toggle(key="wx_warp").disabled and not warnings(at)
    values = _values(at)
    assert values[-1] > values[0] and at.query_params["warp"] in ("1", ["1"])
    plain = app(PAGE, layer="relu2", channel="5", steps="16", warp="1", plain="1")
    assert plain.toggle(key="wx_warp").disabled


def test_charts_alike_in_title_are_named_by_their_channel_layer_and_model():
    """'Its top 9' and 'Step by step' had named every channel's charts alike, and their saved pictures too."""
    at = app(PAGE, steps="8", channel="5", data="shapes")  # the test set is the default where it is on the server
    no_crash(at)
    named = [c.proto.alt for c in at.get("plotly_chart")]
    assert "What excites channel 5 of conv2: mean activation of the channel step by step" in named
    assert "Its top 9: channel 5 of conv2, LeNet-5 (MNIST digits), 10,000 built-in shapes" in named
