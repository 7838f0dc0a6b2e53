"""Why this prediction's choice of the class's score a class activation map explains (the logit, the probability or
ReST) and ShapleyCAM, the same as the library's, from a link as from the control, in every map of the method."""

import numpy as np
import torch

from explorer import cam, export, targets
from tests.apptest import app, lenet_and_digit, no_crash, overlay_shares, text, titles, warnings

PAGE = "pages/why_prediction.py"


def test_the_probabilitys_map_from_a_link_is_the_librarys_and_goes_into_the_download(monkeypatch):
    saved = {}
    monkeypatch.setattr(export, "arrays_npz", lambda maps, settings: saved.update(maps, settings=settings) or b"")
    at = app(PAGE, camscore="probability")
    no_crash(at)
    assert at.segmented_control(key="why_cam_score").value == "probability"
    model, digit = lenet_and_digit()
    made = cam.class_map(model, digit, "relu2", 3, of=targets.Score("probability"))
    np.testing.assert_allclose(overlay_shares(at, "Grad-CAM, 3"), np.round(100 * made.heat.numpy()), atol=1)
    torch.testing.assert_close(torch.as_tensor(saved["grad_cam"]), made.raw)
    assert saved["settings"]["cam"]["score"] == "probability"
    assert "Explaining the class's probability, not its score" in text(at)
    assert not np.array_equal(overlay_shares(at, "Grad-CAM, 3"), overlay_shares(app(PAGE), "Grad-CAM, 3"))


def test_shapley_cam_is_grad_cam_of_a_relu_networks_score_and_not_of_rest():
    at = app(PAGE, cam="shapleycam")
    no_crash(at)
    plain = overlay_shares(app(PAGE), "Grad-CAM, 3")
    np.testing.assert_array_equal(overlay_shares(at, "ShapleyCAM, 3"), plain)
    assert "piecewise linear in the maps, so there it is Grad-CAM" in text(at)
    at.segmented_control(key="why_cam_score").set_value("rest").run()
    no_crash(at)
    model, digit = lenet_and_digit()
    made = cam.class_map(model, digit, "relu2", 3, "shapleycam", of=targets.Score("rest"))
    np.testing.assert_allclose(overlay_shares(at, "ShapleyCAM, 3"), np.round(100 * made.heat.numpy()), atol=1)
    assert at.query_params["camscore"] in ("rest", ["rest"]) and "Explaining ReST" in text(at)


def test_the_stages_follow_the_score_and_finer_cam_keeps_to_the_logits():
    at = app(PAGE, camscore="probability", depth="1", finer="1")
    no_crash(at)
    model, digit = lenet_and_digit()
    staged = cam.class_map(model, digit, "relu1", None, of=targets.Score("probability"))
    np.testing.assert_allclose(overlay_shares(at, "relu1<br>28 x 28"), np.round(100 * staged.heat.numpy()), atol=1)
    alone = cam.class_map(model, digit, "relu2", 3)
    np.testing.assert_allclose(overlay_shares(at, "3<br>alone"), np.round(100 * alone.heat.numpy()), atol=1)
    assert "Finer-CAM compares the classes' scores before the softmax" in text(at)


def test_shapley_cam_of_a_resnets_score_where_nothing_bends_the_gradient():
    at = app(PAGE, model="resnet_small", cam="shapleycam")
    no_crash(at)
    assert "ShapleyCAM" in " ".join(t for t in titles(at))
    assert "Score-CAM softmaxes the masked images' probabilities" in text(app(PAGE, cam="scorecam",
                                                                              camscore="probability"))


def test_a_class_blind_map_takes_no_score_and_a_bad_link_is_named(monkeypatch):
    saved = {}
    monkeypatch.setattr(export, "arrays_npz", lambda maps, settings: saved.update(maps, settings=settings) or b"")
    at = app(PAGE, cam="eigencam", camscore="rest")
    no_crash(at)
    assert at.segmented_control(key="why_cam_score").disabled and "Explaining ReST" not in text(at)
    assert saved["settings"]["cam"]["score"] is None
    assert "camscore=odds" in warnings(app(PAGE, camscore="odds"))
