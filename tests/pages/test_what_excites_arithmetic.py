"""What excites' objective arithmetic through the entry point: a channel less another, a class less another."""

import pytest

from tests.apptest import app, figures, no_crash, titles, warnings

PAGE = "pages/what_excites.py"


def _named(at) -> list[str]:
    return [t.replace("<br>", " ") for t in titles(at)]  # a long title wraps in the chart


def _curve(at) -> list[float]:
    return next(f for f in figures(at) if f["layout"]["title"]["text"] == "Step by step")["data"][0]["y"]


def test_a_channel_less_another_climbs_their_difference_and_goes_into_the_link():
    at = app(PAGE, layer="conv2", channel="5", minus="3", steps="16")
    no_crash(at)
    assert at.selectbox(key="wx_minus").value == 3 and not warnings(at)
    assert "What excites channel 5 less channel 3 of conv2" in _named(at)
    curve = next(f for f in figures(at) if f["layout"]["title"]["text"] == "Step by step")
    axis = curve["layout"]["yaxis"]["title"]["text"]
    assert axis.replace("<br>", " ") == "channel 5's mean activation less channel 3's"
    values = _curve(at)
    assert values[-1] > values[0] + 0.5
    assert at.query_params["minus"] in ("3", ["3"])
    at.selectbox(key="wx_minus").set_value(-1).run()
    assert "minus" not in at.query_params and "What excites channel 5 of conv2" in _named(at)


@pytest.mark.parametrize(("params", "said"), [({"minus": "16"}, "`minus=16` was ignored: there are channels 0..15"),
                                              ({"minus": "5"}, None)])
def test_a_channel_subtracted_from_itself_or_off_the_layer_is_none(params, said):
    at = app(PAGE, layer="conv2", channel="5", steps="8", **params)
    no_crash(at)
    assert at.selectbox(key="wx_minus").value == -1 and "What excites channel 5 of conv2" in _named(at)
    assert (said in warnings(at)) if said else not warnings(at)


def test_a_class_less_another_shows_what_tells_them_apart():
    at = app(PAGE, mode="class", **{"class": "3"}, vs="8", steps="16")
    no_crash(at)
    assert "What tells '3' from '8'" in _named(at) and at.query_params["vs"] in ("8", ["8"])
    values = _curve(at)
    assert values[-1] > values[0] + 1
    assert "What tells" not in " ".join(_named(app(PAGE, mode="class", **{"class": "3"}, steps="8")))
