"""Why this prediction's "This class, not the ones most like it": Finer-CAM's map and each class's own, the same as
the library's, the classes compared from a link, the picker and the class explained."""

import numpy as np
import pytest
import torch

from explorer import cam, cam_layers, images, inputs, models, targets
from tests.apptest import app, lenet_and_digit, no_crash, overlay_shares, text, titles, warnings

PAGE = "pages/why_prediction.py"
NEAREST = [9, 8, 5]  # the classes whose scores are nearest the digit's 3


def _maps(target=3, versus=NEAREST, alpha=1.0, method="gradcam", layer="relu2"):
    model, digit = lenet_and_digit()
    return (cam.class_map(model, digit, layer, target, method),
            cam.class_map(model, digit, layer, target, method, of=targets.Score(versus=tuple(versus), alpha=alpha)),
            [cam.class_map(model, digit, layer, c, method) for c in versus])


def test_nothing_is_computed_while_folded():
    at = app(PAGE)
    no_crash(at)
    assert not any("not the others" in t for t in titles(at))
    assert "finer" not in at.query_params and "vs" not in at.query_params


def test_the_digit_against_the_three_nearest_classes_and_the_score_worked_out():
    at = app(PAGE, finer="1")
    no_crash(at)
    assert at.multiselect(key="why_vs").value == NEAREST
    shown = [t for t in titles(at) if t.endswith(("alone", "not the others"))]
    assert shown == ["3<br>alone", "3<br>not the others", "9<br>alone", "8<br>alone", "5<br>alone"]
    alone, finer, others = _maps()
    for title, made in zip(shown, [alone, finer, *others]):
        np.testing.assert_allclose(overlay_shares(at, title), np.round(100 * made.heat.numpy()), atol=1)
    said = f"Score explained: 3's {alone.score:.2f}, less 1 × (0.93 × {others[0].score:.2f} (9) + 0.04 × "
    assert said in text(at)
    assert f"= {finer.score:.2f}; the weights" in text(at) and finer.score < alone.score
    assert f"not the others {cam_layers.lit_share(finer.heat):.0%}" in text(at)
    assert "vs" not in at.query_params and "alpha" not in at.query_params  # the page's own pick stays out of the link


def test_a_links_classes_and_alpha_and_the_classes_it_cannot_compare():
    at = app(PAGE, finer="1", vs="8,3,12", alpha="0.5")
    no_crash(at)
    assert "vs=3,12" in warnings(at)  # the class explained itself, and a class LeNet-5 does not have
    assert at.multiselect(key="why_vs").value == [8]
    _, finer, _ = _maps(versus=[8], alpha=0.5)
    np.testing.assert_allclose(overlay_shares(at, "3<br>not the others"), np.round(100 * finer.heat.numpy()), atol=1)
    assert "less 0.5 × (1.00 × " in text(at) and at.query_params["vs"] == "8"
    at = app(PAGE, finer="1", vs="3", alpha="0")  # none left: the nearest; alpha 0: the class alone
    assert at.multiselect(key="why_vs").value == NEAREST and "vs=3" in warnings(at)
    np.testing.assert_array_equal(overlay_shares(at, "3<br>not the others"), overlay_shares(at, "3<br>alone"))
    assert "not a list of class numbers" in warnings(app(PAGE, finer="1", vs="eight"))


def test_another_class_explained_is_compared_with_its_own_nearest_and_an_emptied_picker_stays_empty():
    at = app(PAGE, finer="1")
    at.selectbox(key="why_class").set_value(8).run()
    no_crash(at)
    compared = at.multiselect(key="why_vs").value
    assert len(compared) == 3 and 8 not in compared and "8<br>not the others" in titles(at)
    at.multiselect(key="why_vs").set_value([2]).run()
    _, finer, _ = _maps(target=8, versus=[2])
    np.testing.assert_allclose(overlay_shares(at, "8<br>not the others"), np.round(100 * finer.heat.numpy()), atol=1)
    at.multiselect(key="why_vs").set_value([]).run()
    no_crash(at)
    assert "Pick classes to compare with." in text(at) and not any("not the others" in t for t in titles(at))


@pytest.mark.parametrize("method", ["scorecam", "fullgrad", "eigencam"])
def test_the_method_picked_above_is_the_one_compared(method):
    at = app(PAGE, finer="1", cam=method)
    no_crash(at)
    if method in cam.CLASS_BLIND:
        assert "follows no class, so it cannot tell one class from another" in " ".join(i.value for i in at.info)
        return
    _, finer, _ = _maps(method=method)
    np.testing.assert_allclose(overlay_shares(at, "3<br>not the others"), np.round(100 * finer.heat.numpy()), atol=1)


def test_a_model_switch_compares_with_the_new_models_nearest_classes():
    at = app(PAGE, finer="1", vs="2")
    at.selectbox(key="net_model").set_value("tinyvgg").run()
    no_crash(at)
    model = models.build("tinyvgg", pretrained=True)
    with torch.no_grad():
        logits = model(inputs.prepare(models.spec("tinyvgg"), images.load_sample("triangle")).tensor[None])[0]
    assert at.multiselect(key="why_vs").value == targets.nearest_classes(logits, int(logits.argmax()))
    assert "vs" not in at.query_params


def test_the_nearest_classes_come_from_the_scores_where_the_probabilities_are_zero():
    """TinyVGG on the digit: scores 100 below the top one are 0 in the softmax; the nearest are the scores'."""
    at = app(PAGE, model="tinyvgg", img="digit", finer="1", cam="gradcam")
    no_crash(at)
    model = models.build("tinyvgg", pretrained=True)
    with torch.no_grad():
        logits = model(inputs.prepare(models.spec("tinyvgg"), images.load_sample("digit")).tensor[None])[0]
    explained = int(logits.argmax())
    compared = at.multiselect(key="why_vs").value
    assert compared == targets.nearest_classes(logits, explained) and explained not in compared
    assert "vs" not in at.query_params and not warnings(at)


def test_the_captions_say_why_a_contrast_falls_below_zero_or_rises_and_a_link_past_four_classes_is_named():
    at = app(PAGE, finer="1", **{"class": "7"}, vs="4", alpha="0.5")  # 7's score -4.55, 4's -7.96: still below zero
    assert "Below zero: 7's score is less than 0.5 × the compared classes' weighed score" in text(at)
    assert "With alpha 0 nothing is taken away" in text(app(PAGE, finer="1", alpha="0"))
    ablated = app(PAGE, finer="1", **{"class": "8"}, cam="ablationcam")  # 8 against 3, 9 and 5: below zero
    assert "pytorch-grad-cam divides by the score itself, which turns every weight round below zero" in text(ablated)
    assert "Above the class's own score: the compared classes score below zero" in text(app(PAGE, model="tinyvgg",
                                                                                                finer="1"))
    at = app(PAGE, finer="1", vs="9,8,5,2,1")
    assert "vs=1" in warnings(at) and "at most 4 classes are compared" in warnings(at)
    assert at.multiselect(key="why_vs").value == [9, 8, 5, 2]
