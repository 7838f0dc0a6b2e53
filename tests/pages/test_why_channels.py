"""Why this prediction's "Which channels carry it?": integrated gradients at the CAM layer, each channel's share as a
bar, computed only when unfolded; a click or the menu picks a channel, whose views on the other pages are linked."""

import re

import pytest

from explorer import images, inputs, layer_attribution, models
from tests.apptest import app, click_chart, figures, no_crash, text, titles, warnings

PAGE = "pages/why_prediction.py"
NOTE = (r"The (\d+) channels' shares add up to \*\*(-?[\d.]+)\*\*; the class score moved (-?[\d.]+) when only "
        r"`(\w+)`'s maps changed \(off by ([\d.]+): (\d+) steps?")


def _bar(channel: int) -> dict:
    """What a click on a channel's bar sends."""
    return {"selection": {"points": [{"x": str(channel), "y": 1.0, "customdata": [channel, 0.1], "curve_number": 0}],
                          "point_indices": [0], "box": [], "lasso": []}}


def test_nothing_is_computed_while_folded():
    at = app(PAGE)
    no_crash(at)
    assert not any(t.startswith("What each channel") for t in titles(at)) and "chan" not in at.query_params


def test_each_channel_of_the_cam_layer_gets_its_share_of_the_score_with_links_to_the_largest():
    at = app(PAGE, chan="1", steps="16", base="blurred")
    no_crash(at)
    assert "What each channel of relu2 adds to the score of 3" in titles(at)
    count, added, moved, layer, off, steps = re.search(NOTE, text(at)).groups()
    assert (count, layer, steps) == ("16", "relu2", "16") and float(off) == pytest.approx(
        abs(float(added) - float(moved)), abs=0.002)
    model = models.build("lenet5", pretrained=True)
    image = inputs.prepare(models.spec("lenet5"), images.load_sample("digit")).tensor
    expected = layer_attribution.channel_shares(model, image, "relu2", None, 16, "blurred")
    assert float(added) == pytest.approx(float(expected.shares.sum()), abs=0.001)
    bars = next(f for f in figures(at) if f["layout"]["title"]["text"].startswith("What each channel"))
    assert [int(x) for x in bars["data"][0]["x"]] == expected.ranked()
    largest = expected.ranked()[0]
    links = {link.proto.label: link.proto.query_string for link in at.get("page_link")}
    assert links["The images that excite it most"].endswith(f"&low=0&layer=relu2&channel={largest}")
    assert f"Channel {largest}: **+" in text(at)


def test_a_click_on_a_bar_picks_its_channel_and_the_link_keeps_it():
    at = app(PAGE, chan="1")
    first = layer_attribution.channel_shares(
        models.build("lenet5", pretrained=True),
        inputs.prepare(models.spec("lenet5"), images.load_sample("digit")).tensor, "relu2").ranked()[0]
    click_chart(at, f"why_chan_bars_{first}", _bar(7))
    no_crash(at)
    assert at.query_params["chanpick"] in ("7", ["7"]) and at.selectbox(key="why_chan_pick").value == 7
    links = {link.proto.label: link.proto.query_string for link in at.get("page_link")}
    assert links["What excites it"].endswith("&layer=relu2&channel=7")
    again = app(PAGE, chan="1", chanpick="7")
    assert "Channel 7: **" in text(again)
    bad = app(PAGE, chan="1", chanpick="99")
    assert "Channel 99 is not one of relu2's (0..15)" in warnings(bad)
    assert bad.selectbox(key="why_chan_pick").value == -1
    negative = app(PAGE, chan="1", chanpick="-5")
    assert "`chanpick=-5` was ignored" in warnings(negative) and "-1" not in warnings(negative)
    again.selectbox(key="why_layer").set_value("relu1").run()  # channel 7 of relu2 is no channel of relu1
    assert at.selectbox(key="why_chan_pick").value == 7 and again.selectbox(key="why_chan_pick").value == -1
    assert not warnings(again) and "chanpick" not in again.query_params


def test_another_cam_layer_and_class_share_their_own_score():
    at = app(PAGE, chan="1", layer="relu1", **{"class": "8"})
    no_crash(at)
    assert "What each channel of relu1 adds to the score of 8" in titles(at)
    assert re.search(NOTE, text(at)).group(1) == "6"
