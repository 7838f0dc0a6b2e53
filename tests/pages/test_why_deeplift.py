"""Why this prediction's DeepLIFT, under integrated gradients: off until asked for, then from the same baseline,
with its exact sum beside the integrated gradients' gap, in the curves and in the download."""

import re

import pytest
import torch

from explorer import deeplift, export, images, inputs, models
from tests.apptest import app, figures, no_crash, text, titles

PAGE = "pages/why_prediction.py"
NOTE = (r"add up to \*\*(-?[\d.]+)\*\* \(([+-][\d.]+) red, ([+-][\d.]+) blue\); the class score moved (-?[\d.]+) "
        r"\(off by ([\d.]+), where integrated gradients in (\d+) steps? are off by ([\d.]+)\)")


def test_deeplift_is_off_until_asked_for():
    at = app(PAGE)
    no_crash(at)
    assert at.toggle(key="why_deeplift").value is False
    assert not any(t.startswith("DeepLIFT") for t in titles(at)) and "deeplift" not in at.query_params


def test_deeplifts_attributions_add_up_to_the_score_change_where_integrated_gradients_leave_a_gap(monkeypatch):
    saved = {}
    monkeypatch.setattr(export, "arrays_npz", lambda maps, settings: saved.update(maps, settings=settings) or b"")
    at = app(PAGE, deeplift="1", steps="16", faith="1")
    no_crash(at)
    assert "DeepLIFT, 3" in titles(at) and at.query_params["deeplift"] == "1"
    added, red, blue, moved, off, steps, ig_off = map(float, re.search(NOTE, text(at)).groups())
    assert added == pytest.approx(moved, abs=0.001) and off <= 0.001 and steps == 16 and ig_off > 0.01
    assert red > 0 > blue and red + blue == pytest.approx(added, abs=0.002)
    rho = float(re.search(r"alike at Spearman's ρ = ([\d.-]+)", text(at)).group(1))
    assert 0.5 < rho <= 1
    deletion = next(f for f in figures(at) if f["layout"]["title"]["text"].startswith("Deletion"))
    assert [t["name"].split(":")[0] for t in deletion["data"]][-3:] == ["Integrated gradients", "DeepLIFT",
                                                                          "Random order"]
    model = models.build("lenet5", pretrained=True)
    image = inputs.prepare(models.spec("lenet5"), images.load_sample("digit")).tensor
    torch.testing.assert_close(torch.as_tensor(saved["deeplift"]), deeplift.deep_lift(model, image).raw)
    assert saved["settings"]["deeplift"] == {"baseline": "black", "rule": "rescale"}


def test_deeplift_starts_from_the_integrated_gradients_baseline_and_follows_the_class():
    at = app(PAGE, deeplift="1", base="blurred", steps="1", **{"class": "8"})
    no_crash(at)
    assert "DeepLIFT, 8" in titles(at)
    shown = text(at)
    assert "reads your image and your image blurred together" in shown
    assert re.search(NOTE, shown).group(6) == "1"  # "in 1 step are off by"
