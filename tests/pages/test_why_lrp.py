"""Why this prediction's layer-wise relevance propagation, under integrated gradients: off until asked for, its rule
and epsilon in the address, the relevance that reached the pixels, the bars by layer on a chain only, in the curves
and in the download."""

import re

import pytest
import torch

from explorer import export, lrp
from tests.apptest import app, figures, lenet_and_digit, no_crash, text, titles, warnings

PAGE = "pages/why_prediction.py"
NOTE = (r"the class score, (-?[\d.]+), handed back down.*The pixels received \*\*(-?[\d.]+)\*\*, (\d+)% of it "
        r"\(([+-][\d.]+) red, ([+-][\d.]+) blue\)")



def test_lrp_is_off_until_asked_for():
    at = app(PAGE)
    no_crash(at)
    assert at.toggle(key="why_lrp").value is False
    assert not any(t.startswith("LRP") for t in titles(at))
    assert not {"lrp", "lrprule", "lrpeps"} & set(at.query_params)


def test_the_composite_shares_the_score_out_to_the_pixels_and_joins_the_bars_curves_and_download(monkeypatch):
    saved = {}
    monkeypatch.setattr(export, "arrays_npz", lambda maps, settings: saved.update(maps, settings=settings) or b"")
    at = app(PAGE, lrp="1", faith="1")
    no_crash(at)
    assert "LRP, 3" in titles(at) and at.query_params["lrp"] == "1"
    shown = text(at)
    assert "by Montavon et al.'s composite: at the first layer the z-box rule" in shown
    score, kept, percent, red, blue = re.search(NOTE, shown).groups()
    model, image = lenet_and_digit()
    made = lrp.lrp(model, image, None, "composite")
    assert float(score) == pytest.approx(made.score, abs=0.001)
    assert float(kept) == pytest.approx(made.kept, abs=0.001) and float(red) + float(blue) == pytest.approx(
        made.kept, abs=0.002)
    assert int(percent) == round(100 * made.kept / made.score)
    torch.testing.assert_close(torch.as_tensor(saved["lrp"]), made.raw)
    assert saved["settings"]["lrp"] == {"rule": "composite", "epsilon": 0.0, "gamma": 0.25, "stabilizer": 1e-6}
    bars = next(f for f in figures(at) if f["layout"]["title"]["text"] == "Relevance reaching each layer")
    assert list(bars["data"][0]["y"]) == ["class score", "into fc5", "into fc4", "into fc3", "into conv2",
                                          "into conv1: pixels"]
    assert list(bars["data"][0]["x"]) == pytest.approx([made.score, *[t for _, t in reversed(made.layers)]])
    assert "The bars above: how much reached each layer's inputs" in shown
    deletion = next(f for f in figures(at) if f["layout"]["title"]["text"].startswith("Deletion"))
    assert [t["name"].split(":")[0] for t in deletion["data"]][-2:] == ["LRP", "Random order"]


def test_a_larger_epsilon_keeps_more_relevance_in_the_layers():
    at = app(PAGE, lrp="1", lrprule="epsilon", lrpeps="0.1")
    no_crash(at)
    assert "by LRP-ε with ε = 0.1 std of each layer's outputs" in text(at)
    small = float(re.search(NOTE, text(at)).group(2))
    assert not at.select_slider(key="why_lrp_eps").disabled
    at.select_slider(key="why_lrp_eps").set_value(1.0).run()
    no_crash(at)
    large = float(re.search(NOTE, text(at)).group(2))
    assert at.query_params["lrpeps"] == "1.0" and abs(large) < abs(small)
    at.selectbox(key="why_lrp_rule").set_value("zero").run()
    assert "by LRP-0, each input's exact part of the output" in text(at)
    assert at.select_slider(key="why_lrp_eps").disabled and at.query_params["lrprule"] == "zero"


def test_a_branching_network_gets_no_bars_by_layer():
    at = app(PAGE, model="resnet_small", lrp="1")
    no_crash(at)
    assert "This network branches" in text(at)
    assert not any(f["layout"]["title"]["text"] == "Relevance reaching each layer" for f in figures(at))


def test_bad_lrp_settings_in_a_link_are_named():
    at = app(PAGE, lrp="1", lrprule="alpha", lrpeps="0.3")
    no_crash(at)
    said = warnings(at)
    assert "lrprule" in said and "lrpeps" in said
    assert "by Montavon et al.'s composite" in text(at)
