"""A link with a value the page cannot use: the page says which and shows what it can, never silently."""

import pytest

from tests.apptest import app, errors, no_crash, warnings


# the parameters below that the page can use: they set the scene for the one it cannot
USABLE = {("k", "gaussian (choose sigma)"), ("mode", "class"), ("mode", "unit"), ("steps", "8"), ("look", "1"), ("layer", "conv1"), ("layer", "conv2"),
          ("col", "3"), ("shift_x", "0,1"), ("data", "zip"), ("ex", "custom"), ("in", "1"), ("kv", "1"),
          ("tab", "Numbers"), ("k", "custom (edit the grid)")}


@pytest.mark.parametrize(("page", "params", "said"), [
    ("pages/kernel_lab.py", {"dil": "abc"}, "`dil=abc` was ignored: 'abc' is not a whole number"),
    ("pages/kernel_lab.py", {"k": "gaussian (choose sigma)", "ksize": "4"},
     "`ksize=4` was ignored: a gaussian kernel has a centre cell: an odd size, so 5"),
    ("pages/train.py", {"lr": "abc"}, "`lr=abc` was ignored: 'abc' is not a number"),
    ("pages/invariance.py", {"shift_x": "1,2,3"}, "`shift_x=1,2,3` was ignored: '1,2,3' is not two numbers"),
    ("pages/invariance.py", {"shift_x": "5,-5"}, "`shift_x=5,-5` was ignored: its low end, 5, is above its high "
                                                 "end, -5."),
    ("pages/receptive_fields.py", {"layer": "conv2", "unit": "999,999"},
     "`unit=999,999` was ignored: `conv2` has units 0..9, 0..9 (row,column), so its centre is shown"),
    ("pages/layer_by_layer.py", {"layer": "conv1", "look": "1", "closer": "9"},
     "`closer=9` was ignored: `conv1` has maps 0..5, so 5 is shown"),
    ("pages/layer_by_layer.py", {"layer": "conv1", "maps": "9"},
     "`maps=9` was ignored: `conv1`'s 6 maps fill 1 page, so 1 is shown"),
    ("pages/top_activations.py", {"channel": "4000"}, "`channel=4000` was ignored: `conv2` has channels 0..15, so 15"),
    ("pages/top_activations.py", {"channel": "99999"}, "`channel=99999` was ignored: no layer here has 100,000 channels"),
    ("pages/what_excites.py", {"mode": "class", "class": "100000", "steps": "8"},
     "`class=100000` was ignored: no model here has 100,001 classes"),
    ("pages/top_activations.py", {"layer": "conv1", "chpage": "3"},
     "`chpage=3` was ignored: `conv1`'s 6 channels fill 1 page, so 1 is shown"),
    ("pages/top_activations.py", {"layer": "zzz"}, "This model has no layer `zzz`: pick a conv or pooling layer."),
    ("pages/top_activations.py", {"layer": "fc3"}, "`fc3` has no feature maps"),
    ("pages/why_prediction.py", {"layer": "zzz"}, "This model has no layer `zzz`: a class activation map needs one"),
    ("pages/what_excites.py", {"mode": "class", "class": "99999", "steps": "8"},
     "`class=99999` was ignored: this model has classes 0..9, so 9 is shown"),
    ("pages/what_excites.py", {"mode": "unit", "layer": "conv1", "row": "999", "col": "3", "steps": "8"},
     "`row=999` was ignored: `conv1`'s maps have rows 0..27, so the middle one, 14, is shown"),
    ("pages/step_by_step.py", {"step": "5000"}, "`step=5000` was ignored: the output has 6 cells, steps 1..6, so 6 is"),
    ("pages/step_by_step.py", {"ex": "custom", "in": "1", "kv": "1", "step": "5"},
     "`step=5` was ignored: the output has 1 cell, step 1"),
    ("pages/layer_by_layer.py", {"maps": "1e30"}, "`maps=1e30` was ignored: 1e+30 is outside"),
    # pages that stop early still write the link of what they show
    ("pages/invariance.py", {"shift_x": "0,1", "n": "99"}, "`n=99` was ignored"),
    ("pages/top_activations.py", {"data": "zip", "layer": "zzz"}, "This model has no layer `zzz`"),
    ("pages/train.py", {"run": "zzz"}, "There is no run `zzz` on this server"),
    ("pages/train.py", {"run": "a/b"}, "`run=a/b` was ignored: 'a/b' is not a run's id"),
    ("pages/train.py", {"run": "..x"}, "`run=..x` was ignored: '..x' is not a run's id"),
    ("pages/kernel_lab.py", {"tab": "Numbers", "top": "300"},
     "`top=300` was ignored: the image has rows 0..255, so the window is in its middle"),
    ("pages/kernel_lab.py", {"tab": "Numbers", "left": "256"},
     "`left=256` was ignored: the image has columns 0..255, so the window is in its middle"),
    ("pages/kernel_lab.py", {"tab": "Numbers", "ch": "2"}, "`ch=2` was ignored: the image is grey, with one channel"),
    ("pages/kernel_lab.py", {"k": "custom (edit the grid)", "kv": ""},
     "`kv=` was ignored: it has no cells, so the grid starts from the kernel shown last"),
    ("pages/kernel_lab.py", {"k": "custom (edit the grid)", "kv": ";,"},
     "`kv=;,` was ignored: it has no cells, so the grid starts from the kernel shown last"),
])
def test_a_value_the_page_cannot_use_is_named_and_leaves_the_link(page, params, said):
    at = app(page, **params)
    no_crash(at)
    assert said in warnings(at), warnings(at)
    bad = {k: v for k, v in params.items() if (k, v) not in USABLE}
    for param, value in bad.items():  # the link now says what is shown
        assert at.query_params.get(param) not in (value, [value]), (param, at.query_params.get(param))


def test_a_setting_the_link_gives_twice_is_named_and_the_last_one_used():
    at = app("pages/layer_by_layer.py", model=["tinyvgg", "lenet5"], layer=["conv1", "conv2"])
    no_crash(at)
    assert "`model=tinyvgg` was ignored: the link gives `model` 2 times: the last one, lenet5, is used" in warnings(at)
    assert "`layer=conv1` was ignored: the link gives `layer` 2 times: the last one, conv2, is used" in warnings(at)
    assert at.session_state["net_model"] == "lenet5" and "`conv2`" in at.subheader[0].value
    assert at.query_params.get("layer") in ("conv2", ["conv2"])  # the link now says it once
    same = app("pages/kernel_lab.py", stride=["2", "2"])  # the same value twice: written once, nothing to say
    assert "stride" not in warnings(same) and same.query_params.get("stride") in ("2", ["2"])
    kernel = app("pages/kernel_lab.py", stride=["2", "3"])  # the last one is not the default: written once all the same
    assert "`stride=2` was ignored" in warnings(kernel) and kernel.query_params.get("stride") in ("3", ["3"])
    neither = app("pages/kernel_lab.py", k=["laplacian", "sobel"])  # the last one does not parse: one word, not two
    assert warnings(neither).count("was ignored") == 1
    assert ("`k=laplacian,sobel` was ignored: the link gives `k` 2 times and the last one cannot be used ('sobel' "
            "could be") in warnings(neither)


def test_a_long_value_is_cut_in_the_warning_and_its_reason():
    at = app("pages/kernel_lab.py", border="x" * 5000)
    no_crash(at)
    assert len(warnings(at)) < 300 and f"`border={'x' * 40}…` was ignored: '{'x' * 40}…' is not one of" in warnings(at)


def test_a_links_value_stays_words_in_its_warning_whatever_backticks_it_holds():
    """A value that closes the code span itself must not become a link or an outside image on the page."""
    at = app("pages/layer_by_layer.py", layer="`![i](http://127.0.0.1:9/p.png) [x](https://e.example)")
    no_crash(at)
    shown = warnings(at)
    assert "`` `![i](http://127.0.0.1:9/p.png) [x](http ``: starting at the first one" in shown, shown


@pytest.mark.parametrize("page", ["pages/layer_by_layer.py", "pages/kernel_lab.py", "pages/why_prediction.py"])
def test_a_sample_image_missing_on_the_server_is_named_and_the_page_goes_on(page, tmp_path, monkeypatch):
    """A copy of the app without assets/samples/digit.png had shown Streamlit's bare error box on six pages."""
    import shutil

    from explorer import images
    from explorer.ui import image_input
    from tests.apptest import errors

    shutil.copytree(images.SAMPLES_DIR, tmp_path / "samples")
    for name in ("digit.png", "edges.png"):
        (tmp_path / "samples" / name).unlink()
    monkeypatch.setattr(images, "SAMPLES_DIR", tmp_path / "samples")
    image_input._cached_sample.clear()
    try:
        at = app(page, img="edges" if page.endswith("kernel_lab.py") else "digit")
        no_crash(at)
        said = [e for e in errors(at) if "cannot be read on this server" in e]
        assert len(said) == 1 and said[0].startswith("The sample image ") and "(assets/samples/" in said[0]
        assert said[0].endswith("Pick another sample, or draw or upload an image.")
    finally:
        image_input._cached_sample.clear()  # the real samples for the tests after


def test_another_pages_settings_under_this_pages_path_are_named_and_left_out():
    at = app("pages/layer_by_layer.py", k="laplacian", stride="2", relu="1", model="tinyvgg")
    no_crash(at)
    assert "The link's `k`, `relu` and `stride` are not settings of this page: left out." in warnings(at)
    assert at.session_state["net_model"] == "tinyvgg" and dict(at.query_params) == {"model": "tinyvgg"}
    grid = app("pages/kernel_lab.py", k="custom (edit the grid)", kv="0,1,0;1,-4,1;0,1,0")  # the page's own extra
    assert "not a setting" not in warnings(grid)


@pytest.mark.parametrize(("page", "params", "chosen", "kept"), [
    ("pages/step_by_step.py", {"in": "1 2\n3 4", "kv": "1"}, ("sb_example", "custom"), "in"),
    ("pages/step_by_step.py", {"ex": "zzz", "kv": "1 -1"}, ("sb_example", "custom"), "kv"),
    ("pages/kernel_lab.py", {"kv": "1,2;3,4"}, ("kl_kernel", "custom (edit the grid)"), "kv"),
    ("pages/train.py", {"layers": "conv,out=4,kernel=5;relu;flatten"}, ("tr_arch", "custom"), "layers"),
    ("pages/train.py", {"arch": "zzz", "layers": "conv,out=4,kernel=5;relu;flatten"}, ("tr_arch", "custom"), "layers"),
])
def test_a_links_own_grid_or_layers_without_their_choice_mean_it(page, params, chosen, kept):
    """A grid of one's own (or layers) in a link that leaves out the choice that uses it (or misspells it): the page
    had shown its default without a word, the numbers left in the address."""
    at = app(page, **params)
    no_crash(at)
    assert at.session_state[chosen[0]] == chosen[1]
    assert at.query_params.get(kept) == params[kept] or at.query_params.get(kept) == [params[kept]]
    assert ("`zzz`" in warnings(at) or "zzz" in warnings(at)) if "zzz" in params.values() else not warnings(at)


def test_a_grid_kept_under_an_example_names_the_example_in_the_link():
    """The example is written out beside the grids, even the default one: without it the link would mean the grids
    (and Back to it must find them: they are the session's only copy)."""
    at = app("pages/step_by_step.py", ex="custom", **{"in": "1 2\n3 4"}, kv="1")
    at.selectbox(key="sb_example").set_value("laplacian").run()
    assert at.query_params.get("ex") in ("laplacian", ["laplacian"]) and at.query_params.get("kv") in ("1", ["1"])
    again = app("pages/step_by_step.py", **dict(at.query_params))
    assert again.session_state["sb_example"] == "laplacian" and not warnings(again)
    at.selectbox(key="sb_example").set_value("custom").run()
    assert at.query_params.get("in") in ("1 2\n3 4", ["1 2\n3 4"]) and at.text_area(key="sb_input").value == "1 2\n3 4"
    pooled = app("pages/step_by_step.py", mode="pooling", kv="1 0\n0 1")  # pooling reads no kernel
    assert pooled.session_state["sb_example"] == "laplacian"
    blank = app("pages/step_by_step.py", kv=" ")
    assert blank.session_state["sb_example"] == "laplacian"


def test_a_ragged_grid_says_its_zeros_and_a_unit_written_loosely_is_that_unit():
    ragged = app("pages/kernel_lab.py", k="custom (edit the grid)", kv="1,2;3")
    no_crash(ragged)
    assert "The kernel's rows have 1 to 2 cells: the shorter ones end in zeros, 2 columns in all." in warnings(ragged)
    blank = app("pages/kernel_lab.py", k="custom (edit the grid)", kv=";,")
    assert not errors(blank) and blank.query_params.get("kv") in ("-1,0,1;-2,0,2;-1,0,1", ["-1,0,1;-2,0,2;-1,0,1"])
    loose = app("pages/receptive_fields.py", layer="conv2", unit="03, 4")
    no_crash(loose)
    assert not warnings(loose) and loose.query_params.get("unit") in ("3,4", ["3,4"])


def test_a_default_written_out_empty_is_the_default_and_an_empty_last_value_is_named():
    run = app("pages/train.py", run="")
    no_crash(run)
    assert "run" not in warnings(run)
    twice = app("pages/layer_by_layer.py", layer=["conv2", ""])
    assert "the link gives `layer` 2 times: the last one, empty, is used" in warnings(twice)


@pytest.mark.parametrize(("page", "key"), [
    ("pages/layer_by_layer.py", "lbl_layer"), ("pages/top_activations.py", "ta_layer"),
    ("pages/why_prediction.py", "why_layer"), ("pages/what_excites.py", "wx_layer"),
    ("pages/receptive_fields.py", "rf_layer"),
])
def test_a_layer_typed_in_other_capitals_is_that_layer(page, key):
    at = app(page, layer="Conv2")
    no_crash(at)
    assert at.session_state[key] == "conv2" and not warnings(at)
    assert at.query_params.get("layer") in (None, "conv2", ["conv2"])  # as the model names it, or the default
