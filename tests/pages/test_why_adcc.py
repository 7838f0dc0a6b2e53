"""Why this prediction's "Which class activation map?": every method checked by ADCC, the same as the library's,
the method picked above marked, and the methods left out on a large image without a GPU."""

import pytest

from explorer import adcc, cam, models
from explorer.ui import cam_ranking
from tests.apptest import app, lenet_and_digit, no_crash, text

PAGE = "pages/why_prediction.py"


def test_nothing_is_computed_while_folded():
    at = app(PAGE)
    no_crash(at)
    assert not at.dataframe and "adcc" not in at.query_params


def test_every_method_on_the_digit_is_checked_as_the_library_does_the_best_first():
    at = app(PAGE, adcc="1", cam="layercam", **{"class": "8"})
    no_crash(at)
    expected = adcc.check_all(*lenet_and_digit(), "relu2", 8, list(cam.METHODS), models.spec("lenet5").mean)
    table = at.dataframe[0].value
    assert list(table["Method"]) == [cam.METHODS[c.method] + (" (above)" if c.method == "layercam" else "")
                                     for c in expected]
    assert list(table["ADCC"]) == pytest.approx([c.adcc for c in expected], abs=1e-6)
    assert list(table["Average drop"]) == pytest.approx([c.drop for c in expected], abs=1e-6)
    assert list(table["Coherency"]) == pytest.approx([c.coherency for c in expected], abs=1e-6)
    assert list(table["Complexity"]) == pytest.approx([c.complexity for c in expected], abs=1e-6)
    assert "Each class activation map of **8** at `relu2` is checked three ways" in text(at)
    said = next(c.value for c in at.caption if c.value.startswith("Best here"))
    assert said.startswith(f"Best here: {cam.METHODS[expected[0].method]} (ADCC {expected[0].adcc:.3f})")
    assert at.query_params["adcc"] in ("1", ["1"])


def test_the_summary_says_where_the_method_picked_ranks_and_what_is_left_out():
    checked = [adcc.Checked(m, 0.1 * i, 0.9, 0.2, 0.8 - 0.1 * i, 0.99, 0.5) for i, m in enumerate(
        ["gradcampp", "gradcam", "eigencam"])]
    said = cam_ranking.summary(checked, "eigencam", "coffee mug", ["Score-CAM", "Ablation-CAM"])
    assert said.startswith("Best here: Grad-CAM++ (ADCC 0.800): the image it fades keeps 50.0% of coffee mug's 99.0%.")
    assert "Eigen-CAM, picked above, ranks 3 of 3." in said
    assert "Score-CAM and Ablation-CAM are left out at this image size on a server without a GPU" in said
    assert "ranks" not in cam_ranking.summary(checked, "gradcampp", "mug", [])
