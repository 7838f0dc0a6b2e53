"""The "Invariance" page through the entry point: each transformation, links and bad input."""

import pytest

from tests.apptest import app, figures, no_crash, text, titles, warnings

PAGE = "pages/invariance.py"


def _confidence(at) -> dict:
    return next(f for f in figures(at) if f["layout"]["title"]["text"].startswith("Probability of"))


def test_defaults_shift_the_digit_sideways():
    at = app(PAGE)
    no_crash(at)
    assert "The original is read as **3**" in text(at)
    assert ("The reading holds without a break from **-8 px** (the end of the range swept) to **+6 px**; at +7 px it "
            "is read as **5**.") in text(at)
    curve = _confidence(at)
    assert curve["data"][0]["x"] == list(range(-8, 9))  # +-30% of 28 px, whole pixels, each once
    assert curve["data"][0]["y"][8] > 0.99  # unshifted: the original's own confidence
    layers = next(f for f in figures(at) if f["layout"]["title"]["text"].startswith("Each layer's match"))
    assert layers["data"][0]["y"] == ["conv1", "pool1", "conv2", "pool2", "fc3", "fc4", "fc5"]
    assert any(t == "9 of the 17 versions: change → class read" for t in titles(at))
    # the slider stops at the 17 whole-pixel shifts of +-30% of 28 px: past them it changed nothing
    assert at.slider(key="inv_count").value == 17 and at.slider(key="inv_count").max == 17
    assert "n" not in at.query_params and "which holds" not in text(at)
    assert "Shifts move whole pixels: -30% to 30% of 28 px is -8 to 8 px." in text(at)  # the slider's % in the px shown
    linked = app(PAGE, n="41")
    assert "`n=41` was ignored: -30% to 30% of 28 px holds 17 different whole-pixel shifts, so 17 is shown" in warnings(
        linked)
    narrow = app(PAGE, shift_x="0,5", n="5")  # 0 and 1 px: two shifts, said once, no slider
    no_crash(narrow)
    assert "which holds 2 different shifts, so 2 versions" in text(narrow) and not warnings(narrow)
    assert not [s for s in narrow.slider if s.key == "inv_count"]
    still = app(PAGE, kind="shift_y", shift_y="-1,1", n="61")  # -0.28..0.28 px: nothing moves
    no_crash(still)
    assert "-1% to 1% of 28 px rounds to one shift, 0 px. Widen the range to see the image move." in warnings(still)
    assert not [f for f in figures(still) if f["layout"]["title"]["text"].startswith("Probability of")]
    chosen = app(PAGE)
    chosen.slider(key="inv_count").set_value(13).run()
    chosen.slider(key="inv_shift_x").set_value((-5.0, 0.0)).run()  # two shifts: fewer shown...
    chosen.slider(key="inv_shift_x").set_value((-50.0, 50.0)).run()  # ...and the 13 chosen come back (it stayed 3)
    assert chosen.slider(key="inv_count").value == 13 and chosen.query_params["n"] == "13"
    turned = app(PAGE, kind="rotate")
    assert turned.slider(key="inv_count").value == 21 and turned.slider(key="inv_count").max == 61
    assert at.slider(key="inv_shift_x").label == "Range (% of the width of 28 px)"
    thumbnails = next(f for f in figures(at) if f["layout"]["title"]["text"].startswith("9 of the 17 versions"))
    assert [a["text"] for a in thumbnails["layout"]["annotations"]][:2] == ["-8 px<br>→ 3", "-6 px<br>→ 3"]


@pytest.mark.parametrize("params,axis,values", [
    (dict(kind="rotate", rotate="-45,45", n="7"), "rotate clockwise (°)", [-45, -30, -15, 0, 15, 30, 45]),
    (dict(kind="scale", scale="0.5,1.5", n="5"), "scale (factor)", [0.5, 0.75, 1.0, 1.25, 1.5]),
    (dict(kind="shift_y", shift_y="-10,10", n="3"), "shift down (pixels)", [-3, 0, 3]),
])
def test_links_reproduce_each_transformation(params, axis, values):
    at = app(PAGE, **params)
    no_crash(at)
    curve = _confidence(at)
    assert curve["layout"]["xaxis"]["title"]["text"] == axis
    assert curve["data"][0]["x"] == pytest.approx(values)
    assert f"of {len(values)}** versions keep that reading" in text(at)


@pytest.mark.parametrize("params,message", [
    (dict(kind="rotate", rotate="500,3"), "rotate=500,3"), (dict(kind="flip"), "kind=flip"), (dict(n="1000"), "n=1000"),
])
def test_bad_links_get_a_warning_and_the_defaults(params, message):
    at = app(PAGE, **params)
    no_crash(at)
    assert message in warnings(at)
    assert any(t.startswith("Probability of") for t in titles(at))


def test_an_even_count_from_a_link_is_the_next_odd_one_so_the_middle_is_a_version():
    at = app(PAGE, kind="scale", scale="0.5,1.5", n="6")  # 0.5, 0.7, ... 1.5 has no 1.0; the slider gives 7
    no_crash(at)
    assert "`n=6` was ignored: the Versions slider takes odd counts, so 7" in warnings(at)
    assert _confidence(at)["data"][0]["x"] == pytest.approx([0.5, 2 / 3, 5 / 6, 1.0, 7 / 6, 4 / 3, 1.5])
    thumbnails = next(f for f in figures(at) if f["layout"]["title"]["text"] == "The 7 versions: change → class read")
    assert [a["text"].split("<br>")[0] for a in thumbnails["layout"]["annotations"]][:3] == ["0.5x", "0.67x", "0.83x"]
    assert at.query_params["n"] == "7"  # the link says what is shown


def test_an_imagenet_network_on_a_photo():
    at = app(PAGE, model="resnet18", weights="0", img="coffee", kind="rotate", n="5")
    no_crash(at)
    layers = next(f for f in figures(at) if f["layout"]["title"]["text"].startswith("Each layer's match"))
    assert "layer4.1.add" in layers["data"][0]["y"] and "fc" in layers["data"][0]["y"]


def test_random_weights_are_not_taken_for_invariance():
    at = app(PAGE, weights="0", model="tinyvgg")
    no_crash(at)
    assert "this says nothing about invariance" in warnings(at) and "(chance is 12.50%)" in warnings(at)
    assert "says nothing about invariance" not in warnings(app(PAGE))


def test_a_lopsided_range_still_runs_and_shows_the_original():
    at = app(PAGE, kind="scale", scale="0.25,3", n="3")
    no_crash(at)
    assert _confidence(at)["data"][0]["x"] == [0.25, 1.0, 3.0]
    strip = next(f for f in figures(at) if f["layout"]["title"]["text"] == "The 3 versions: change → class read")
    assert [a["text"].split("<br>")[0] for a in strip["layout"]["annotations"]] == ["0.25x", "1x", "3x"]
    away = app(PAGE, kind="scale", scale="1.5,3")
    no_crash(away)
    assert "This range leaves out the original (1x): every version is compared with it all the same." in text(away)


@pytest.mark.parametrize("params", [{"shift_x": "30,30"}, {"kind": "rotate", "rotate": "90,90"},
                                    {"kind": "scale", "scale": "1.5,1.5"}])
def test_a_range_with_both_ends_on_one_spot_is_a_link_the_page_keeps(params):
    """The slider's two thumbs may meet; the link it then wrote had been refused on a reload."""
    at = app(PAGE, **params)
    no_crash(at)
    assert "was ignored" not in warnings(at) and all(at.query_params[k] in (v, [v]) for k, v in params.items())
    assert "Widen the range" in warnings(at) or "is one version: widen the range" in warnings(at)
    assert "inv_count" not in [s.key for s in at.slider]  # one version: no Versions slider to move


def test_the_count_the_page_set_coming_back_from_a_run_cut_short_is_not_taken_for_a_choice():
    """Fast moves of the range: a run cut short had set Versions lower, the browser sent that count back as a change,
    and a wider range then kept it (7 versions of 9 shifts)."""
    at = app(PAGE, shift_x="-10,15")  # -3..4 px: 8 shifts, so 7
    assert at.slider(key="inv_count").value == 7
    at.session_state["inv_count_set"] = 5  # what a run cut short had put in the slider
    at.slider(key="inv_count").set_value(5).run()  # ... coming back from the browser
    at.slider(key="inv_shift_x").set_value((-15, 15)).run()
    no_crash(at)
    assert at.slider(key="inv_count").value == 9 and "n" not in at.query_params  # -4..4 px: all 9, the default
    at.slider(key="inv_count").set_value(5).run()  # a count the visitor chose stays chosen
    at.slider(key="inv_shift_x").set_value((-30, 30)).run()
    assert at.slider(key="inv_count").value == 5
