"""Why this prediction's Shapley values of squares, under integrated gradients: off until asked for, exact where the
page reads every coalition (KernelSHAP's estimate where not), their sum, in the curves and in the download."""

import re

import pytest
import torch

from explorer import attribution, export, models, shapley
from tests.apptest import app, figures, lenet_and_digit, no_crash, text, titles, warnings

PAGE = "pages/why_prediction.py"
NOTE = (r"add up to \*\*(-?[\d.]+)\*\* \(([+-][\d.]+) red, ([+-][\d.]+) blue\); the class score moved (-?[\d.]+) "
        r"\(off by ([\d.]+)\)")



def test_the_squares_are_off_until_asked_for():
    at = app(PAGE)
    no_crash(at)
    assert at.toggle(key="why_rshap").value is False
    assert not any(t.startswith("Shapley values") for t in titles(at))
    assert not {"rshap", "rgrid", "rn"} & set(at.query_params)


def test_exact_values_of_nine_squares_add_up_to_the_score_change_and_join_the_curves_and_the_download(monkeypatch):
    saved = {}
    monkeypatch.setattr(export, "arrays_npz", lambda maps, settings: saved.update(maps, settings=settings) or b"")
    at = app(PAGE, rshap="1", faith="1")
    no_crash(at)
    assert "Shapley values, 3" in titles(at) and at.query_params["rshap"] == "1"
    shown = text(at)
    assert "your image cut into 3x3 squares, a square left out replaced by a black image" in shown
    assert "exact, from all 512 images with some of the squares kept" in shown
    added, red, blue, moved, off = map(float, re.search(NOTE, shown).groups())
    assert added == pytest.approx(moved, abs=0.001) and off <= 0.001 and red > 0
    model, image = lenet_and_digit()
    made = shapley.region_shapley(model, image, None, 3, "black", 1024)
    torch.testing.assert_close(torch.as_tensor(saved["shapley_squares"]), made.values.view(3, 3))
    assert saved["settings"]["shapley_squares"] == {"grid": 3, "baseline": "black", "images_read": 512,
                                                    "exact": True, "seed": 0}
    top = int(made.values.abs().argmax())
    rows, cols = (torch.nonzero(made.regions == top)[:, k] for k in (0, 1))
    assert (f"rows {int(rows.min())} to {int(rows.max())} and columns {int(cols.min())} to {int(cols.max())}: "
            f"{float(made.values[top]):+.3f}") in shown
    rho = float(re.search(r"rank the squares [a-z ]+ \(Spearman's ρ = ([\d.-]+)\)", shown).group(1))
    ig = attribution.integrated_gradients(model, image).raw.sum(0)
    assert rho == pytest.approx(shapley.spearman(shapley.per_square(ig, made.regions), made.values), abs=0.005)
    squares = next(f for f in figures(at) if f["layout"]["title"]["text"] == "Shapley values, 3")
    assert squares["data"][-1]["colorbar"]["title"]["text"] == "value"  # on one line: the map as wide as its row's
    deletion = next(f for f in figures(at) if f["layout"]["title"]["text"].startswith("Deletion"))
    assert [t["name"].split(":")[0] for t in deletion["data"]][-2:] == ["Shapley values", "Random order"]


def test_more_squares_than_images_read_are_estimated_by_kernel_shap_from_the_same_baseline():
    at = app(PAGE, rshap="1", rgrid="4", rn="1024", base="blurred", **{"class": "8"})
    no_crash(at)
    shown = text(at)
    assert "Shapley values, 8" in titles(at)
    assert "estimated by KernelSHAP (Lundberg & Lee 2017) from 1,024 of the 65,536 sets of squares" in shown
    assert "picked as the shap package picks them: every set of 1 or 2 squares and of all but 1 or 2, the others " \
        "drawn" in shown
    assert "a square left out replaced by your image blurred" in shown
    added, _, _, moved, off = map(float, re.search(NOTE, shown).groups())
    assert off <= 0.001  # KernelSHAP's fit keeps the sum
    at.select_slider(key="why_rn").set_value(65536).run()
    no_crash(at)
    assert "exact, from all 65,536 images" in text(at) and at.query_params["rn"] == "65536"


def test_three_maps_beside_integrated_gradients_sit_two_to_a_row():
    at = app(PAGE, deeplift="1", shap="1", shapfrom="four", rshap="1")
    no_crash(at)
    keys = [c.proto.id for c in at.get("plotly_chart")]
    named = [t for t in titles(at) if t.startswith(("DeepLIFT", "GradientSHAP", "Shapley"))]
    assert named == ["DeepLIFT, 3", "GradientSHAP, 3", "Shapley values, 3"] and len(keys) == len(set(keys))


def test_bad_square_settings_in_a_link_are_named():
    at = app(PAGE, rshap="1", rgrid="7", rn="5")
    no_crash(at)
    said = warnings(at)
    assert "rgrid" in said and "rn" in said
    assert "your image cut into 3x3 squares" in text(at)


def test_a_large_network_on_a_cpu_reads_at_most_a_thousand_images(monkeypatch):
    from explorer.ui import beside_ig

    read = []
    monkeypatch.setattr(beside_ig, "_squares", lambda *args: read.append(args[-1]) or shapley.region_shapley(
        models.build("lenet5"), torch.rand(1, 28, 28), None, 2))
    at = app(PAGE, model="resnet18", weights="0", rshap="1", rgrid="4", rn="65536")
    no_crash(at)
    assert read == [1024] and "reads at most 1,024 images of this size, not 65,536" in " ".join(
        i.value for i in at.info)
    at = app(PAGE, model="tinyvgg", rshap="1", rgrid="4", rn="65536")
    assert read[-1] == 16384
    at = app(PAGE, model="tinyvgg", rshap="1", rgrid="3", rn="65536")  # 512 images for all 9 squares: no cap to say
    assert read[-1] == 65536 and not any("reads at most" in i.value for i in at.info)
