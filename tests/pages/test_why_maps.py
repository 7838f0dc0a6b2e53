"""The "Why this prediction" page's maps through the entry point: SmoothGrad, guided backprop, the class activation
maps, occlusion, integrated gradients, their scale, the sanity check and which map is right."""

import base64
import re

import numpy as np
import pytest
import torch

from explorer import attribution, cam, export, models
from explorer.ui import cam_controls
from tests.apptest import app, figures, lenet_and_digit, no_crash, text, titles, warnings

PAGE = "pages/why_prediction.py"


def test_smooth_grad_replaces_the_saliency_everywhere_and_goes_into_the_link():
    at = app(PAGE)
    at.toggle(key="why_smooth").set_value(True).run()
    no_crash(at)
    names = titles(at)
    assert "SmoothGrad, 3" in names and names.count("SmoothGrad") == 2 and "Saliency, 3" not in names
    assert at.query_params["smooth"] in ("1", ["1"])


def test_occlusion_and_integrated_gradients_follow_the_link():
    at = app(PAGE)
    no_crash(at)
    assert {"Occlusion, 3", "Integrated gradients, 3"} <= set(titles(at))
    shown = text(at)
    assert "cover a 7 x 7 square" in shown and "slide it by 3 px" in shown  # a quarter of 28 px
    occlusion = next(f for f in figures(at) if f["layout"]["title"]["text"] == "Occlusion, 3")
    assert len(occlusion["layout"]["shapes"]) == 2  # the square that hurts most, in black under white
    assert [t["type"] for t in occlusion["data"]] == ["image", "heatmap"]  # the signed map, with its colour bar
    assert "averaged over 32 images on the way from a black image" in shown
    assert [b.label for b in at.get("download_button")] == ["Download the maps (NumPy .npz)"]  # raw, for Captum users
    fine = app(PAGE, occ="8", steps="128", **{"class": "5"})
    no_crash(fine)
    shown = text(fine)
    assert "cover a 3 x 3 square" in shown and "averaged over 128 images" in shown
    assert {"Occlusion, 5", "Integrated gradients, 5"} <= set(titles(fine))
    assert dict(fine.query_params) in ({"occ": "8", "steps": "128", "class": "5"},
                                       {"occ": ["8"], "steps": ["128"], "class": ["5"]})


def test_occlusions_stride_is_a_setting_in_the_link_and_the_map_is_captums_at_it(monkeypatch):
    saved = {}
    monkeypatch.setattr(export, "arrays_npz", lambda maps, settings: saved.update(maps, settings=settings) or b"")
    at = app(PAGE, ostride="4")
    no_crash(at)
    assert "slide it by 1 px" in text(at) and at.select_slider(key="why_occ_stride").value == 4
    assert saved["settings"]["occlusion"] == {"window": 7, "stride": 1, "fill": "mean"}
    model = models.build("lenet5", pretrained=True)
    expected = attribution.occlusion(model, torch.as_tensor(saved["image"]), 3, 7, 1)
    torch.testing.assert_close(torch.as_tensor(saved["occlusion"]), expected.raw)
    at.select_slider(key="why_occ_stride").set_value(1).run()
    assert "slide it by 7 px" in text(at) and at.query_params["ostride"] in ("1", ["1"])


def test_slides_that_move_a_small_square_alike_are_one_choice():
    """On a 3 px square a quarter and a half of it are both 1 px: two settings had drawn the same map."""
    at = app(PAGE, occ="8", ostride="4")
    no_crash(at)
    slider = at.select_slider(key="why_occ_stride")
    assert list(slider.options) == ["1 px (half a square)", "3 px (a whole square)"] and slider.value == 2
    assert "slide it by 1 px" in text(at)


def test_an_occlusion_where_every_square_raises_the_score_outlines_none():
    at = app(PAGE, model="tinyvgg", img="circles", occ="2", **{"class": "7"})
    no_crash(at)
    occlusion = next(f for f in figures(at) if f["layout"]["title"]["text"].startswith("Occlusion"))
    assert not occlusion["layout"].get("shapes")  # the square that raises it least had been outlined as the worst
    assert "Here covering any square raises the score of" in text(at)


def test_integrated_gradients_start_from_the_baseline_the_link_names():
    at = app(PAGE, base="blurred", steps="16")
    no_crash(at)
    assert at.selectbox(key="why_ig_base").value == "blurred" and at.query_params["base"] in ("blurred",
                                                                                                   ["blurred"])
    shown = text(at)
    assert "on the way from your image blurred to yours" in shown and "Only what blurring takes away" in shown
    bad = app(PAGE, base="grey")
    assert "`base=grey` was ignored" in warnings(bad) and bad.selectbox(key="why_ig_base").value == "black"


def test_integrated_gradients_add_up_to_the_score_change_on_the_page():
    at = app(PAGE, steps="128")
    found = re.search(r"add up to \*\*(-?[\d.]+)\*\* \(([+-][\d.]+) red, ([+-][\d.]+) blue\); the class score "
                      r"moved (-?[\d.]+) from a black image to your image \(off by ([\d.]+)", text(at))
    added, red, blue, moved, off = map(float, found.groups())
    assert added == pytest.approx(moved, rel=0.02) and off == pytest.approx(abs(added - moved), abs=0.002)
    assert red > 0 > blue and red + blue == pytest.approx(added, abs=0.002)  # evidence for and against, both shown


def test_the_sanity_check_compares_each_map_with_random_weights_only_when_unfolded():
    folded = app(PAGE)
    assert not any("random" in t for t in titles(folded))  # nothing computed while folded
    at = app(PAGE, sanity="1")
    no_crash(at)
    names = titles(at)
    for method in ("Saliency", "Grad-CAM", "Integr. gradients"):
        assert f"{method}:<br>trained" in names and f"{method}:<br>random" in names
    scores = [float(c.value.split("**")[1]) for c in at.caption if c.value.startswith("**")]
    assert len(scores) == 3 and all(-1 <= s <= 1 for s in scores)
    # on the digit, saliency follows what was learned (0.21); integrated gradients from black, on the ink (the
    # background is 0 for any weights, left out), mostly the ink's own brightness (0.80, not a tie's 0.98)
    assert scores[0] < 0.5 and 0.6 < scores[2] < 0.95
    assert "hardly changed: it shows the image" in " ".join(c.value for c in at.caption)
    random = app(PAGE, sanity="1", weights="0")
    assert any("This network has random weights already" in i.value for i in random.info)


def test_which_map_is_right_draws_each_maps_deletion_and_insertion_curve_only_when_unfolded():
    folded = app(PAGE)
    assert not any(t.startswith("Deletion") for t in titles(folded))  # nothing computed while folded
    at = app(PAGE, faith="1", cam="gradcampp")
    no_crash(at)
    drawn = {f["layout"]["title"]["text"]: f for f in figures(at)}
    deletion, insertion = drawn["Deletion: area lower is better"], drawn["Insertion: area higher is better"]
    names = [trace["name"].split(":")[0] for trace in deletion["data"]]
    assert names == ["Saliency", "Grad-CAM++", "Occlusion", "Integrated gradients", "Random order"]
    assert "**Prediction:** 3 (>99.9%)." in text(at)
    for trace in deletion["data"]:  # every order starts from the image itself, and ends with it all grey
        assert trace["y"][0] > 0.999 and len(trace["y"]) == 21
        assert trace["y"][-1] == pytest.approx(deletion["data"][0]["y"][-1])
    assert len({trace["y"][0] for trace in insertion["data"]}) == 1  # each from the same blurred image
    verdict = next(c.value for c in at.caption if c.value.startswith("On this image"))
    assert "takes the probability of 3 away fastest" in verdict and "a random order's" in verdict
    assert at.query_params["faith"] == "1"


def test_smoothgrads_copies_and_noise_are_settings_in_the_link():
    at = app(PAGE, smooth="1", sgn="10", sgsd="0.3")
    no_crash(at)
    assert at.select_slider(key="why_sg_n").value == 10 and at.slider(key="why_sg_sd").value == pytest.approx(0.3)
    assert "SmoothGrad, 3" in titles(at)
    at.select_slider(key="why_sg_n").set_value(50).run()
    assert at.query_params["sgn"] in ("50", ["50"]) and at.query_params["sgsd"] in ("0.3", ["0.3"])
    plain = app(PAGE)
    assert not [s for s in plain.slider if s.key == "why_sg_sd"]  # shown only with SmoothGrad on


def test_what_is_taken_over_the_noisy_copies_names_every_map_made_of_them_and_goes_into_the_link(monkeypatch):
    saved = {}
    monkeypatch.setattr(export, "arrays_npz", lambda maps, settings: saved.update(maps, settings=settings) or b"")
    at = app(PAGE, smooth="1", sgn="10", nt="vargrad", guided="1", sanity="1")
    no_crash(at)
    assert at.selectbox(key="why_sg_kind").value == "vargrad"
    named = [c.proto.alt for c in at.get("plotly_chart")]  # whole names: the titles wrap in a 164 px picture
    assert {"Guided VarGrad, 3", "Guided VarGrad × Grad-CAM, 3", "Guided VarGrad: random"} <= set(named), named
    assert saved["settings"]["smoothgrad"]["nt_type"] == "vargrad" and "guided_vargrad_grad_cam" in saved
    assert saved["guided_vargrad"].shape == (1, 28, 28) and float(saved["guided_vargrad"].min()) >= -1e-6  # Captum's
    assert "G. VarGrad ×<br>Grad-CAM: random" in titles(at)  # "G. VarGrad × Grad-CAM:" is cut in 150 px
    at.selectbox(key="why_sg_kind").set_value("smoothgrad_sq").run()
    assert "Guided SmoothGrad², 3" in [c.proto.alt for c in at.get("plotly_chart")]
    assert "Guided SG²:<br>random" in titles(at)
    assert at.query_params["nt"] in ("smoothgrad_sq", ["smoothgrad_sq"])
    assert "nt" not in app(PAGE, smooth="1", sgn="10").query_params  # the default stays out of the link


def test_the_class_activation_map_follows_the_method_picked_and_the_link():
    at = app(PAGE)
    no_crash(at)
    assert "Grad-CAM: each map weighed by its gradient averaged" in " ".join(c.value for c in at.caption)
    at.button_group(key="why_cam").set_value("layercam").run()
    no_crash(at)
    names = titles(at)
    assert "Layer-CAM, 3" in names and "Grad-CAM, 3" not in names and names.count("Layer-CAM") == 2  # the attack's too
    assert at.query_params["cam"] in ("layercam", ["layercam"])
    assert "Layer-CAM at `relu2`, whose maps are 10 x 10" in text(at)
    linked = app(PAGE, cam="scorecam", sanity="1")
    no_crash(linked)
    assert "Score-CAM, 3" in titles(linked) and "Score-CAM:<br>random" in titles(linked)
    assert "no gradients: each map" in " ".join(c.value for c in linked.caption)
    bad = app(PAGE, cam="finercam")
    no_crash(bad)
    assert "cam=finercam" in warnings(bad) and "Grad-CAM, 3" in titles(bad)
    blind = app(PAGE, cam="eigencam", **{"class": "5"})
    no_crash(blind)
    assert "Eigen-CAM" in titles(blind) and "Saliency, 5" in titles(blind)  # the class only where the map has one
    assert "The same map for every class" in " ".join(c.value for c in blind.caption)


def test_fullgrad_takes_every_biased_layer_whichever_is_picked_and_says_so(monkeypatch):
    saved = {}
    monkeypatch.setattr(export, "arrays_npz", lambda maps, settings: saved.update(maps, settings=settings) or b"")
    at = app(PAGE, cam="fullgrad", depth="1")
    no_crash(at)
    expected = cam.class_map(*lenet_and_digit(), "", 3, "fullgrad")
    z = next(f for f in figures(at) if f["layout"]["title"]["text"] == "FullGrad, 3")["data"][1]["z"]
    shown = np.frombuffer(base64.b64decode(z["bdata"]), dtype=z["dtype"]).reshape(28, 28)
    np.testing.assert_allclose(shown, np.round(100 * expected.heat.numpy()), atol=1)
    assert "FullGrad takes every layer with a bias" in text(at) and "FullGrad at `relu2`" not in text(at)
    assert "no layer to pick: every convolution and batch norm with a bias" in text(at)
    assert "FullGrad adds up every layer with a bias at once" in " ".join(i.value for i in at.info)
    assert "Through the layers: a class activation map stage by stage" in [e.label for e in at.expander]
    assert saved["settings"]["cam"]["layer"] == "" and saved["settings"]["cam"]["method"] == "fullgrad"
    assert cam_controls.NO_BIASES not in text(at)  # LeNet-5's convolutions have biases
    fresh = app(PAGE, model="resnet_small", cam="fullgrad")  # no biases, and batch norms that add nothing yet
    no_crash(fresh)
    assert cam_controls.NO_BIASES in text(fresh)


def test_pytorch_grad_cams_smoothings_are_toggles_in_the_link_that_every_map_of_the_method_follows(monkeypatch):
    saved = {}
    monkeypatch.setattr(export, "arrays_npz", lambda maps, settings: saved.update(maps, settings=settings) or b"")
    plain = app(PAGE, guided="1")
    at = app(PAGE, guided="1", eigen="1", aug="1", sanity="1")
    no_crash(at)
    assert at.toggle(key="why_eigen").value and at.toggle(key="why_aug").value
    assert "Smoothed: the weighed maps' first principal component in place of their sum and the mean of six" in text(at)
    assert saved["settings"]["cam"] == {"method": "gradcam", "layer": "relu2", "eigen_smooth": True,
                                        "aug_smooth": True, "score": "logit"}
    expected = cam.class_map(models.build("lenet5", pretrained=True), torch.as_tensor(saved["image"]), "relu2", 3,
                             eigen_smooth=True, aug_smooth=True)
    torch.testing.assert_close(torch.as_tensor(saved["grad_cam"]), expected.raw)
    assert "Guided Grad-CAM: random" in [c.proto.alt for c in at.get("plotly_chart")]  # the check made them too
    assert figures(at)[2]["data"][1]["z"] != figures(plain)[2]["data"][1]["z"]  # the map drawn is the smoothed one
    at.segmented_control(key="why_cam").set_value("eigencam").run()
    shown = at.toggle(key="why_eigen_always")  # Eigen-CAM is a principal component already: shown on, not a choice
    assert shown.disabled and shown.value and at.query_params["eigen"] in ("1", ["1"])
    assert "Smoothed: the mean of six copies' maps" in text(at) and "first principal" not in text(at).split("Smoothed")[1]


def test_score_and_ablation_cam_on_a_large_image_leave_the_attacks_maps_to_grad_cam_and_a_zero_map_says_why():
    """Score-CAM's pass per map, again for every eps, had taken minutes on a 224 px network. Its 512 passes alone take
    half a minute on two cores: a busy machine had run past the usual minute."""
    at = app(PAGE, model="resnet18", weights="0", img="coffee", cam="scorecam", layer="layer4.1.conv2", timeout=180)
    no_crash(at)
    names = titles(at)
    assert any(n.startswith("Score-CAM") for n in names) and names.count("Grad-CAM") == 2  # before and after
    assert "the maps before and after the attack use Grad-CAM" in " ".join(c.value for c in at.caption)
    at.button_group(key="why_cam").set_value("ablationcam").run()  # the network run on once per map, too
    no_crash(at)
    names = titles(at)
    assert any(n.startswith("Ablation-CAM") for n in names) and names.count("Grad-CAM") == 2
    assert "Ablation-CAM runs the network once per map" in " ".join(c.value for c in at.caption)
    zero = app(PAGE, model="tinyvgg", cam="scorecam", layer="conv2b", **{"class": "7"})  # before conv2b's ReLU
    no_crash(zero)
    notes = " ".join(i.value for i in zero.info)
    assert "Score-CAM is zero everywhere at `conv2b`: its weights are never below zero" in notes


def test_guided_backprop_is_a_toggle_in_the_link_with_smoothgrad_too_and_in_the_sanity_check():
    at = app(PAGE, guided="1", sanity="1")
    no_crash(at)
    assert "Guided backprop, 3" in titles(at) and "Guided backprop:<br>random" in titles(at)
    assert "Guided Grad-CAM, 3" in titles(at) and "Guided Grad-CAM:<br>random" in titles(at)
    assert "guided backprop's map times Grad-CAM's, pixel by pixel" in " ".join(c.value for c in at.caption)
    assert "found that Guided Grad-CAM, as guided backprop, changes little while only the top layers'" in text(at)
    both = app(PAGE, guided="1", smooth="1", sgn="10")
    no_crash(both)
    assert "Guided SmoothGrad, 3" in titles(both)
    assert "Guided SG × Grad-CAM" in titles(both)  # the class would take a second line
    both.toggle(key="why_guided").set_value(False).run()
    assert "SmoothGrad, 3" in titles(both) and "guided" not in both.query_params
    assert not any(t.startswith("Guided") for t in titles(both))


def test_guided_grad_cam_is_the_product_of_the_two_maps_beside_it_in_the_curves_and_the_download(monkeypatch):
    saved = {}
    monkeypatch.setattr(export, "arrays_npz", lambda maps, settings: saved.update(maps) or b"")
    at = app(PAGE, guided="1", cam="eigengradcam", faith="1")
    no_crash(at)
    assert "Guided<br>EigenGrad-CAM" in titles(at)  # too wide for one line: on two, without the class
    assert "Guided EigenGrad-CAM" in text(at)  # a curve of its own in "Which map is right?"
    assert {"guided", "eigengrad_cam", "eigengrad_cam_at_image_size", "guided_eigengrad_cam"} <= set(saved)
    assert saved["guided_eigengrad_cam"].shape == saved["guided"].shape == (1, 28, 28)
    assert 0 < int((saved["guided_eigengrad_cam"] != 0).sum()) < int((saved["guided"] != 0).sum())
    # what a student checks the product against: the map as drawn over the image, in the file too
    torch.testing.assert_close(saved["guided_eigengrad_cam"], saved["guided"] * saved["eigengrad_cam_at_image_size"])
    smooth = app(PAGE, guided="1", smooth="1", sgn="10", sanity="1")
    words = text(smooth)
    assert "guided SmoothGrad's map times Grad-CAM's" in words and "Guided Grad-CAM:" not in " ".join(titles(smooth))
    assert "G. SG × Grad-CAM:<br>random" in titles(smooth)  # "Guided SG × Grad-CAM:" is cut in 150 px


def test_clipping_draws_every_map_with_its_largest_values_at_full_colour_and_goes_into_the_link():
    at = app(PAGE, clip="1")
    no_crash(at)
    assert at.toggle(key="why_clip").value and "Each map's largest values, 2% of its total" in text(at)
    charts = {f["layout"]["title"]["text"]: f for f in figures(at)}
    assert "the largest values, 2% of the map's total, all 100%" in charts["Saliency, 3"]["data"][1]["hovertemplate"]
    occlusion = charts["Occlusion, 3"]["data"][1]
    drops = np.frombuffer(base64.b64decode(occlusion["z"]["bdata"]), dtype=occlusion["z"]["dtype"])
    assert occlusion["zmax"] == pytest.approx(attribution.clip_level(torch.from_numpy(drops.copy())))
    assert occlusion["zmax"] < np.abs(drops).max()  # beyond it: full colour
    at.toggle(key="why_clip").set_value(False).run()
    assert "clip" not in at.query_params and "Each map is scaled to its largest value" in text(at)


def test_one_integration_step_from_black_is_named_gradient_times_input():
    at = app(PAGE, steps="1")
    no_crash(at)
    assert at.select_slider(key="why_ig_steps").value == 1
    assert "in one step, the gradient at your image alone (from black this is **gradient × input**" in text(at)
    at.selectbox(key="why_ig_base").set_value("blurred").run()
    assert "gradient × input" not in text(at) and "in one step, the gradient at your image alone, times" in text(at)


def test_occlusion_covers_with_the_fill_chosen_and_the_link_keeps_it():
    at = app(PAGE)
    no_crash(at)
    assert at.selectbox(key="why_occ_fill").value == "mean" and "square with the image's own mean colour" in text(at)
    at.selectbox(key="why_occ_fill").set_value("blurred").run()
    assert "cover a 7 x 7 square with the same square of the image blurred" in text(at)
    assert at.query_params["fill"] in ("blurred", ["blurred"])
    black = app(PAGE, fill="black")
    assert "cover a 7 x 7 square with black, slide it" in text(black)


def test_gauss_legendres_points_sum_the_path_as_captum_does_and_close_the_gap_on_the_digit():
    gaps = {}
    for rule in ("riemann", "gauss"):
        at = app(PAGE, steps="64", rule=rule)
        no_crash(at)
        gaps[rule] = float(re.search(r"off by ([\d.]+)", text(at)).group(1))
    assert at.selectbox(key="why_ig_rule").value == "gauss"
    assert "weighed by Gauss-Legendre's rule (Captum's default)" in text(at)
    assert gaps == {"riemann": 0.280, "gauss": 0.031}  # the same integral, summed another way
    at.selectbox(key="why_ig_rule").set_value("riemann").run()
    assert "rule" not in at.query_params and "averaged over 64 images" in text(at)


def test_a_link_from_before_the_rules_menu_opens_gauss_legendre_and_is_written_anew():
    at = app(PAGE, steps="64", gauss="1")
    no_crash(at)
    assert at.selectbox(key="why_ig_rule").value == "gauss" and "Gauss-Legendre's rule" in text(at)
    assert at.query_params["rule"] in ("gauss", ["gauss"]) and "gauss" not in at.query_params and not warnings(at)
    named = app(PAGE, gauss="1", rule="riemann_left")  # a rule the link names itself wins
    assert named.selectbox(key="why_ig_rule").value == "riemann_left" and "gauss" not in named.query_params


@pytest.mark.parametrize(("rule", "says"), [
    ("riemann_left", "each at its start (the first at a black image itself, your image left out)"),
    ("riemann_middle", "over 16 equal parts of the way from a black image to yours, each at its middle"),
    ("riemann_trapezoid", "the gradient at 17 images from a black image to yours, both ends included"),
])
def test_the_other_riemann_rules_say_where_they_take_the_gradient_and_keep_the_completeness_check(rule, says):
    at = app(PAGE, steps="16", rule=rule)
    no_crash(at)
    assert says in text(at) and at.query_params["rule"] in (rule, [rule])
    gap = float(re.search(r"off by ([\d.]+)", text(at)).group(1))
    assert 0 <= gap < 2
    one = app(PAGE, steps="1", rule=rule)
    assert "in one step, the" in text(one)


def test_element_wise_grad_cam_is_a_method_of_its_own_in_the_link_titles_and_download(monkeypatch):
    saved = {}
    monkeypatch.setattr(export, "arrays_npz", lambda maps, settings: saved.update(maps, settings=settings) or b"")
    at = app(PAGE, cam="gradcamelementwise", guided="1", sanity="1")
    no_crash(at)
    shown = [c.proto.alt for c in at.get("plotly_chart")]  # whole names: titles are cut in the narrow pictures
    assert "Grad-CAM EW, 3" in shown
    assert "element-wise: gradient times map at each position, negatives cut" in " ".join(c.value for c in at.caption)
    expected = cam.class_map(models.build("lenet5", pretrained=True), torch.as_tensor(saved["image"]), "relu2", 3,
                             "gradcamelementwise")
    torch.testing.assert_close(torch.as_tensor(saved["grad_cam_elementwise"]), expected.raw)
    assert "guided_grad_cam_elementwise" in saved and saved["settings"]["cam"]["method"] == "gradcamelementwise"
    assert "Grad-CAM EW: random" in shown and "Guided Grad-CAM EW, 3" in shown
