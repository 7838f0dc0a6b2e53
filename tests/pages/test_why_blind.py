"""The "Why this prediction" page's maps that follow no class: KPCA-CAM and FEM beside Eigen-CAM, through the entry
point."""

import numpy as np
import pytest

from explorer import cam, export
from tests.apptest import app, lenet_and_digit, no_crash, overlay_shares, text, titles

PAGE = "pages/why_prediction.py"


@pytest.mark.parametrize("method, name, saved_as, words", [
    ("kpcacam", "KPCA-CAM", "kpca_cam", "taken after a sigmoid kernel"),
    ("fem", "FEM", "fem", "more than two standard deviations above")])
def test_a_class_blind_map_from_a_link_is_the_librarys_for_every_class_and_its_score_is_greyed_out(
        monkeypatch, method, name, saved_as, words):
    saved = {}
    monkeypatch.setattr(export, "arrays_npz", lambda maps, settings: saved.update(maps, settings=settings) or b"")
    at = app(PAGE, cam=method, camscore="probability", **{"class": "5"})
    no_crash(at)
    assert name in titles(at) and "Saliency, 5" in titles(at)  # the class only where the map has one
    expected = cam.class_map(*lenet_and_digit(), "relu2", 5, method, eigen_smooth=method in cam.PRINCIPAL)
    assert float(expected.heat.max()) == pytest.approx(1.0) and float(expected.heat.std()) > 0.1  # a real map
    np.testing.assert_allclose(overlay_shares(at, name), np.round(100 * expected.heat.numpy()), atol=1)
    captions = " ".join(c.value for c in at.caption)
    assert f"{name}: no class and no gradients" in captions and words in captions
    assert "The same map for every class" in captions
    assert at.segmented_control(key="why_cam_score").disabled
    assert saved["settings"]["cam"]["method"] == method and saved["settings"]["cam"]["score"] is None
    np.testing.assert_allclose(saved[saved_as], expected.raw.numpy(), rtol=1e-5, atol=1e-6)
    other = app(PAGE, cam=method, **{"class": "7"})
    np.testing.assert_array_equal(overlay_shares(other, name), overlay_shares(at, name))


def test_kpca_cam_is_always_a_principal_component_and_fem_takes_eigen_smooth_as_the_others_do():
    at = app(PAGE, cam="kpcacam", depth="1")
    no_crash(at)
    shown = at.toggle(key="why_eigen_always")
    assert shown.disabled and shown.value
    assert "KPCA-CAM follows no class: each map is what its layer sees most" in text(at)  # the stages' fold
    at.segmented_control(key="why_cam").set_value("fem").run()
    assert not at.toggle(key="why_eigen").disabled and at.query_params["cam"] in ("fem", ["fem"])
    at.toggle(key="why_eigen").set_value(True).run()
    no_crash(at)
    expected = cam.class_map(*lenet_and_digit(), "relu2", None, "fem", eigen_smooth=True)
    np.testing.assert_allclose(overlay_shares(at, "FEM"), np.round(100 * expected.heat.numpy()), atol=1)
