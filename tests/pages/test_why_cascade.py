"""Why this prediction's sanity check, layer by layer: the cascade's lines, each map's rank correlation with the
trained one as the layers are drawn afresh from the top down, the same as the library's."""

import pytest
import torch

from explorer import attribution, gradient_shap, inspect, lrp, randomization, shapley
from explorer.ui import sanity
from tests.apptest import app, figures, lenet_and_digit, no_crash, text, titles

PAGE = "pages/why_prediction.py"


def _cascade(at) -> dict:
    return next(f for f in figures(at) if f["layout"]["title"]["text"] == "Layers drawn afresh from the top down")


def test_the_cascade_is_off_until_asked_for_and_only_in_the_open_fold():
    at = app(PAGE, sanity="1")
    no_crash(at)
    assert at.toggle(key="why_cascade").value is False
    assert not any(f["layout"]["title"]["text"].startswith("Layers drawn") for f in figures(at))
    folded = app(PAGE, cascade="1")
    no_crash(folded)
    assert not any(f["layout"]["title"]["text"].startswith("Layers drawn") for f in figures(folded))


def test_each_maps_line_follows_the_layers_drawn_afresh_from_the_top_down():
    at = app(PAGE, sanity="1", cascade="1")
    no_crash(at)
    lines = {trace["name"]: trace for trace in _cascade(at)["data"]}
    assert list(lines) == ["Saliency", "Grad-CAM", "Integrated gradients"]
    assert list(lines["Saliency"]["x"]) == ["trained", "fc5", "fc4", "fc3", "conv2", "conv1"]
    model, image = lenet_and_digit()
    trained = attribution.integrated_gradients(model, image, 3)
    expected = [randomization.rank_correlation(trained.heat, attribution.integrated_gradients(fresh, image, 3).heat)
                for _, fresh in randomization.cascade(model)]
    assert list(lines["Integrated gradients"]["y"]) == pytest.approx([1.0, *expected], abs=1e-6)
    shown = text(at)
    assert "Adebayo et al. 2018's cascade: the network's weights drawn afresh from the output down, all 5" in shown
    assert "Grad-CAM, once `" in shown or "Grad-CAM changes once `" in shown  # its weights are the top's gradients
    assert "Integrated gradients stays at least partly alike (ρ ≥ 0.5) to the end" in shown  # from black: the ink
    assert "batch norm" not in shown  # LeNet-5 has none
    assert at.query_params["cascade"] == "1"


def test_guided_backprop_stays_alike_longer_than_saliency():
    """Adebayo et al.'s finding: guided backprop hardly changes while only the top layers are drawn afresh."""
    at = app(PAGE, sanity="1", cascade="1", guided="1")
    no_crash(at)
    lines = {trace["name"]: list(trace["y"]) for trace in _cascade(at)["data"]}
    guided, plain = lines["Guided backprop"], app(PAGE, sanity="1", cascade="1")
    saliency = {t["name"]: list(t["y"]) for t in _cascade(plain)["data"]}["Saliency"]
    assert all(g >= s - 0.02 for g, s in zip(guided, saliency)) and guided[2] > saliency[2] + 0.2
    assert list(lines) == ["Guided backprop", "Grad-CAM", "Integrated gradients", "Guided Grad-CAM"]
    assert guided[-1] < 0.8  # drawing the first convolution afresh changes it too


def test_deeplift_and_lrp_join_the_check_and_the_cascade_where_the_page_shows_them():
    """Sixt et al. 2020: LRP's composite rules, as guided backprop, stay alike while the top layers change."""
    at = app(PAGE, sanity="1", cascade="1", deeplift="1", lrp="1")
    no_crash(at)
    names = [t for t in titles(at) if t.endswith(("trained", "random"))]
    assert {"DeepLIFT:<br>trained", "DeepLIFT:<br>random", "LRP:<br>trained", "LRP:<br>random"} <= set(names)
    lines = {trace["name"]: list(trace["y"]) for trace in _cascade(at)["data"]}
    assert list(lines) == ["Saliency", "Grad-CAM", "Integrated gradients", "DeepLIFT", "LRP"]
    model, image = lenet_and_digit()
    trained = lrp.lrp(model, image, 3, "composite")
    fresh = lrp.lrp(randomization.randomized(model), image, 3, "composite")
    scores = {c.value for c in at.caption if c.value.startswith("**")}
    assert f"**{randomization.rank_correlation(trained.heat, fresh.heat):.2f}**: partly changed." in scores
    assert lines["LRP"][-1] > 0.5 > lines["Grad-CAM"][-1]
    pair = randomization.rank_correlation(trained.heat, fresh.heat)
    assert lines["LRP"][-1] == pytest.approx(pair, abs=1e-6)  # the cascade ends at the pair's random network
    assert "Integrated gradients, DeepLIFT and LRP stay at least partly alike (ρ ≥ 0.5) to the end" in text(at)
    assert inspect.hooks_on(model) == 0


def test_gradient_shap_and_the_squares_join_the_check_and_the_cascade_with_the_pages_draws():
    at = app(PAGE, sanity="1", cascade="1", shap="1", shapfrom="four", rshap="1")
    no_crash(at)
    names = [t for t in titles(at) if t.endswith(("trained", "random"))]
    assert {"GradientSHAP:<br>trained", "GradientSHAP:<br>random", "Shapley values:<br>trained",
            "Shapley values:<br>random"} <= set(names)
    model, image = lenet_and_digit()
    fresh = randomization.randomized(model)
    four = torch.stack([attribution.baseline_image(image, kind) for kind in attribution.BASELINES])
    pairs = {"GradientSHAP": (gradient_shap.gradient_shap(model, image, four, 3, 32),
                              gradient_shap.gradient_shap(fresh, image, four, 3, 32)),
             "Shapley values": (shapley.region_shapley(model, image, 3, 3, "black", 1024),
                                shapley.region_shapley(fresh, image, 3, 3, "black", 1024))}
    scores = {c.value for c in at.caption if c.value.startswith("**")}
    lines = {trace["name"]: list(trace["y"]) for trace in _cascade(at)["data"]}
    assert list(lines) == ["Saliency", "Grad-CAM", "Integrated gradients", "GradientSHAP", "Shapley values"]
    for method, (trained, random) in pairs.items():
        rho = randomization.rank_correlation(trained.heat, random.heat)
        assert f"**{rho:.2f}**: {sanity.words(rho)}." in scores
        assert lines[method][-1] == pytest.approx(rho, abs=1e-6)  # the cascade ends at the pair's random network
