"""Why this prediction's maps under integrated gradients, off until asked for: DeepLIFT from the same baseline, its
exact sum beside the integrated gradients' gap, and GradientSHAP from the data set's images or the four baselines;
each in the curves and in the download."""

import re

import pytest
import torch

from explorer import attribution, data, deeplift, export, gradient_shap
from tests.apptest import app, figures, lenet_and_digit, no_crash, text, titles

PAGE = "pages/why_prediction.py"
NOTE = (r"add up to \*\*(-?[\d.]+)\*\* \(([+-][\d.]+) red, ([+-][\d.]+) blue\); the class score moved (-?[\d.]+) "
        r"\(off by ([\d.]+), where integrated gradients in (\d+) steps? are off by ([\d.]+)\)")


def test_deeplift_and_gradient_shap_are_off_until_asked_for():
    at = app(PAGE)
    no_crash(at)
    assert at.toggle(key="why_deeplift").value is False and at.toggle(key="why_shap").value is False
    assert not any(t.startswith(("DeepLIFT", "GradientSHAP")) for t in titles(at))
    assert not {"deeplift", "shap", "shapn", "shapfrom"} & set(at.query_params)



def test_deeplifts_attributions_add_up_to_the_score_change_where_integrated_gradients_leave_a_gap(monkeypatch):
    saved = {}
    monkeypatch.setattr(export, "arrays_npz", lambda maps, settings: saved.update(maps, settings=settings) or b"")
    at = app(PAGE, deeplift="1", steps="16", faith="1")
    no_crash(at)
    assert "DeepLIFT, 3" in titles(at) and at.query_params["deeplift"] == "1"
    added, red, blue, moved, off, steps, ig_off = map(float, re.search(NOTE, text(at)).groups())
    assert added == pytest.approx(moved, abs=0.001) and off <= 0.001 and steps == 16 and ig_off > 0.01
    assert red > 0 > blue and red + blue == pytest.approx(added, abs=0.002)
    rho = float(re.search(r"order the pixels' magnitudes alike \(Spearman's ρ = ([\d.-]+)\)", text(at)).group(1))
    assert 0.8 <= rho <= 1
    deletion = next(f for f in figures(at) if f["layout"]["title"]["text"].startswith("Deletion"))
    assert [t["name"].split(":")[0] for t in deletion["data"]][-3:] == ["Integrated gradients", "DeepLIFT",
                                                                          "Random order"]
    model, image = lenet_and_digit()
    torch.testing.assert_close(torch.as_tensor(saved["deeplift"]), deeplift.deep_lift(model, image).raw)
    assert saved["settings"]["deeplift"] == {"baseline": "black", "rule": "rescale"}


def test_deeplift_starts_from_the_integrated_gradients_baseline_and_follows_the_class():
    at = app(PAGE, deeplift="1", base="blurred", steps="1", **{"class": "8"})
    no_crash(at)
    assert "DeepLIFT, 8" in titles(at)
    shown = text(at)
    assert "reads your image and your image blurred together" in shown
    assert re.search(NOTE, shown).group(6) == "1"  # "in 1 step are off by"


SHAP_NOTE = (r"add up to \*\*(-?[\d.]+)\*\* \(([+-][\d.]+) red, ([+-][\d.]+) blue\); the class score differs from the "
             r"mean of the \d+ baselines drawn by ([+-][\d.]+) \(off by ([\d.]+):")


def test_gradient_shap_from_the_four_baselines_is_the_librarys_map_on_the_same_draws(monkeypatch):
    saved = {}
    monkeypatch.setattr(export, "arrays_npz", lambda maps, settings: saved.update(maps, settings=settings) or b"")
    at = app(PAGE, shap="1", shapfrom="four", shapn="16", faith="1")
    no_crash(at)
    assert "GradientSHAP, 3" in titles(at)
    assert {k: at.query_params[k] for k in ("shap", "shapfrom", "shapn")} == {"shap": "1", "shapfrom": "four",
                                                                                "shapn": "16"}
    shown = text(at)
    assert "16 draws, each a baseline from the four baselines of this image (black, blurred" in shown
    added, red, blue, moved, off = map(float, re.search(SHAP_NOTE, shown).groups())
    assert off == pytest.approx(abs(added - moved), abs=0.002) and red + blue == pytest.approx(added, abs=0.002)
    model, image = lenet_and_digit()
    four = torch.stack([attribution.baseline_image(image, kind) for kind in attribution.BASELINES])
    expected = gradient_shap.gradient_shap(model, image, four, samples=16)
    torch.testing.assert_close(torch.as_tensor(saved["gradient_shap"]), expected.raw)
    assert added == pytest.approx(float(expected.raw.sum()), abs=0.001)
    assert saved["settings"]["gradient_shap"] == {"draws": 16, "baselines": "four", "baseline_count": 4, "seed": 0}
    deletion = next(f for f in figures(at) if f["layout"]["title"]["text"].startswith("Deletion"))
    assert "GradientSHAP" in [t["name"].split(":")[0] for t in deletion["data"]]


def test_gradient_shap_draws_from_the_data_sets_training_images_where_the_server_has_them():
    at = app(PAGE, shap="1", shapn="8", model="tinyvgg")  # its shapes are built in
    no_crash(at)
    assert "8 draws, each a baseline from 3,000 of the data set's training images" in text(at)
    digits = app(PAGE, shap="1", shapn="8")
    no_crash(digits)
    fallback = any("No training images to draw baselines from" in i.value for i in digits.info)  # no MNIST here
    assert ("the four baselines of this image" if fallback else "3,000 of the data set's training images") in text(digits)
    assert not (fallback and data.shared_root() is not None)
    random = app(PAGE, shap="1", shapn="8", shapfrom="four", model="resnet18", weights="0")
    no_crash(random)
    assert any(t.startswith("GradientSHAP") for t in titles(random))
