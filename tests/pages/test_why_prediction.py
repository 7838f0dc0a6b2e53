"""The "Why this prediction" page through the entry point: maps, the attack, links and bad input."""

import base64
import re

import numpy as np
import pytest
import torch

from explorer import attribution, explain_figures, export
from tests.apptest import app, figures, no_crash, text, titles, warnings

PAGE = "pages/why_prediction.py"


def test_defaults_explain_the_digit_and_flip_it():
    at = app(PAGE)
    no_crash(at)
    shown = text(at)
    assert "**Prediction:** 3 (>99.9%)." in shown  # LeNet-5 is 99.999% sure: not "100.0%", as if certain
    assert not any("has not decided" in i.value for i in at.info)
    assert at.selectbox(key="why_layer").value == "relu2"  # the suggested layer: the last convolution's output
    names = titles(at)
    assert {"What the model sees", "Saliency, 3", "Grad-CAM, 3", "Original", "FGSM: confidence against eps"} <= set(names)
    assert "Perturbation (±eps)" in names and explain_figures.perturbation_key(1) in [c.value for c in at.caption]
    assert "The prediction **flips**: 3 (>99.9%) becomes **9" in shown  # eps 0.1 is enough for this digit
    assert "*After:* read as **9**" in shown and names.count("Saliency") == 2 and names.count("Grad-CAM") == 2
    assert "whose maps are 10 x 10" in shown
    named = [c.proto.alt for c in at.get("plotly_chart")]  # a screen reader tells the attack's maps apart
    assert "Saliency, before the attack, read as 3" in named and "Grad-CAM, after the attack, read as 9" in named


def test_the_class_lists_put_the_most_likely_first_with_their_shares():
    """The runner-up had been one of ten (a thousand, for ImageNet) in index order, its probability nowhere."""
    at = app(PAGE)
    no_crash(at)
    explain, target = at.selectbox(key="why_class"), at.selectbox(key="why_target")
    assert explain.options[:3] == ["the predicted one", "3 (>99.9%)", "9 (<0.1%)"] and len(explain.options) == 11
    assert target.options[:2] == ["any other class", "9 (<0.1%)"] and "3 (>99.9%)" not in target.options
    explain.set_value(9).run()
    assert at.query_params["class"] in ("9", ["9"]) and "explaining 9 (<0.1%)" in text(at)


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
    import re

    at = app(PAGE, steps="128")
    found = re.search(r"add up to \*\*(-?[\d.]+)\*\* \(([+-][\d.]+) red, ([+-][\d.]+) blue\); the class score "
                      r"moved (-?[\d.]+) from a black image to your image \(off by ([\d.]+)", text(at))
    added, red, blue, moved, off = map(float, found.groups())
    assert added == pytest.approx(moved, rel=0.02) and off == pytest.approx(abs(added - moved), abs=0.002)
    assert red > 0 > blue and red + blue == pytest.approx(added, abs=0.002)  # evidence for and against, both shown


def test_a_small_eps_holds_and_the_iterated_attack_is_stronger():
    small = app(PAGE, eps="0.08")
    no_crash(small)
    assert "The prediction **holds**" in text(small)
    iterated = app(PAGE, eps="0.08", iterated="1")
    no_crash(iterated)
    assert "The prediction **flips**" in text(iterated)
    assert iterated.toggle(key="why_iterated").value
    assert "Iterated FGSM (10 steps): confidence against eps" in titles(iterated)  # the chart is the same attack
    chart = next(f for f in figures(iterated) if f["layout"]["title"]["text"].startswith("Iterated FGSM"))
    assert len(chart["data"][0]["x"]) == 31  # every 0.01 for a small network
    slight = re.search(r"goes from ([\d.]+%) to \*\*([\d.]+%)\*\*", text(app(PAGE, eps="0.01")))
    assert slight and slight[1] != slight[2]  # as many decimals as it takes to show the change
    assert "FGSM: confidence against eps" in titles(small)


def test_a_chosen_class_and_layer_from_the_link():
    at = app(PAGE, **{"class": "8", "layer": "conv1"})
    no_crash(at)
    assert "explaining 8 (" in text(at)
    assert "Saliency, 8" in titles(at) and "Grad-CAM, 8" in titles(at)
    assert at.selectbox(key="why_layer").value == "conv1"


@pytest.mark.parametrize("params,message", [
    (dict(layer="fc3"), "`fc3` has no feature maps (a fully connected layer sees the whole image): a class activation "
                        "map needs one"),
    (dict(eps="0.9"), "eps=0.9"),
    (dict(eps="nan"), "eps=nan"),
    (dict(**{"class": "12"}), "class 12 is not one of this model's (0..9)"),
    (dict(occ="3"), "`occ=3` was ignored: the square's side is 1/8, 1/4, 1/2 of the image's side: occ=8, 4, 2"),
])
def test_bad_links_get_a_message_and_a_working_page(params, message):
    at = app(PAGE, **params)
    no_crash(at)
    assert message in warnings(at)
    assert "**Prediction:**" in text(at) and "FGSM: confidence against eps" in titles(at)


@pytest.mark.parametrize("params", [dict(model="tinyvgg", img="circles"), dict(model="resnet18", weights="0", img="coffee")])
def test_other_models(params):
    at = app(PAGE, **params)
    no_crash(at)
    assert "**Prediction:**" in text(at) and "FGSM: confidence against eps" in titles(at)


@pytest.mark.usefixtures("nameless_resnet_small")
def test_a_model_without_class_names_shows_numbers():
    at = app(PAGE, model="resnet_small", img="coffee")
    no_crash(at)
    assert "no class names" in " ".join(i.value for i in at.info)
    assert "**Prediction:** class " in text(at)
    advice = " ".join(i.value for i in at.info)  # its switch is greyed out: the advice says where weights come from
    assert "No trained weights ship with" in advice and "Switch on **Trained weights**" not in advice

def test_one_pattern_for_every_image_is_searched_only_when_asked_and_kept_in_the_link():
    at = app(PAGE, model="tinyvgg")
    no_crash(at)
    assert "One pattern (±eps)" not in titles(at)
    at.slider(key="why_uni_eps").set_value(0.1)
    at.toggle(key="why_universal").set_value(True).run()
    no_crash(at)
    shown = text(at)
    found = re.search(r"changes \*\*(\d+)%\*\* of the predictions; random noise of the same size \(±0.1 on every "
                      r"pixel\) changes (\d+)%", shown)
    assert found and int(found[1]) > 40 and int(found[2]) < 5  # measured: 72% against 0%
    assert "One pattern (±eps)" in titles(at) and "→" in " ".join(titles(at))  # changed examples, titled "a → b"
    assert at.query_params["uni"] in ("1", ["1"]) and at.query_params["ueps"] in ("0.1", ["0.1"])


def test_an_imagenet_network_with_random_weights_says_why_it_has_no_universal_pattern_and_no_decision():
    at = app(PAGE, model="alexnet", weights="0", uni="1")
    no_crash(at)
    assert any(i.value.startswith("No universal perturbation: it needs labelled images of ImageNet") for i in at.info)
    assert any(i.value.startswith("With random weights the network has not decided anything: its top class gets 0.1")
               and "chance is 0.10%" in i.value for i in at.info)  # a near-tie: nothing to explain or fool


def test_the_smallest_change_is_searched_only_when_asked_and_compared_with_fgsm():
    at = app(PAGE)
    no_crash(at)
    assert "Change (±" not in " ".join(titles(at))
    at.toggle(key="why_smallest").set_value(True).run()
    no_crash(at)
    shown, names = text(at), titles(at)
    assert "The smallest change that makes it read each class" in names  # every other digit searched
    found = re.search(r"The nearest other class is \*\*(\w+)\*\*: a change of L2 norm \*\*([\d.]+)\*\* is enough, "
                      r"([\d.]+) per pixel .*FGSM first changes the prediction at eps ([\d.]+) .* an L2 norm of "
                      r"([\d.]+), \*\*([\d. to]+) times\*\*", shown)
    assert found, shown
    norm, rms, fgsm_norm = float(found[2]), float(found[3]), float(found[5])
    assert abs(rms - norm / 28) < 0.001 and fgsm_norm > 1.5 * norm  # measured: 1.05 against 2.07
    assert f"Reads: {found[1]} (" in " ".join(names) and any(t.startswith("Change (±") for t in names)
    assert "Original: 3 (>99.9%)" in names  # not "100%": a softmax is never certain
    assert at.query_params["small"] in ("1", ["1"])
    at.toggle(key="why_iterated").set_value(True).run()
    no_crash(at)
    assert "Iterated FGSM (10 steps) first changes the prediction at eps" in text(at)


def test_the_smallest_change_follows_the_target_and_the_network():
    at = app(PAGE, small="1", target="8")
    no_crash(at)
    assert "To read as **8**, a change of L2 norm" in text(at) and "FGSM first makes it read 8 at eps" in text(at)
    assert "The smallest change that makes it read each class" not in titles(at)  # one class asked for
    shapes = app(PAGE, small="1", model="tinyvgg")
    no_crash(shapes)
    shown = text(shapes)
    assert "For the strongest other class, **" in shown and "per pixel value" in shown
    assert "Only this class was searched" in shown
    assert re.search(r"\*\*[\d.]+ to [\d.]+ times\*\* as large \(the chart tries eps in steps: the exact eps lies "
                     r"between [\d.]+ and [\d.]+\)", shown)  # the flip at 0.015, beyond 0.01: 2.0 to 3.0 times
    imagenet = app(PAGE, small="1", model="alexnet", weights="0")
    no_crash(imagenet)
    assert any(i.value.startswith("No search here: L-BFGS takes hundreds") for i in imagenet.info)


def test_where_fgsm_never_succeeds_the_smallest_change_says_so_with_fgsms_largest_change():
    at = app(PAGE, small="1", img="tshirt")  # LeNet-5 reads the T-shirt as 8 whatever FGSM's eps up to 0.3
    no_crash(at)
    found = re.search(r"FGSM never changes the prediction on the chart above, not even at eps 0.3, whose change has "
                      r"an L2 norm of ([\d.]+): \*\*([\d.]+) times\*\* this one", text(at))
    assert found and float(found[2]) > 2


def test_a_target_class_from_the_link_is_what_the_attack_makes_it_read():
    at = app(PAGE, eps="0.2", iterated="1", target="8")
    no_crash(at)
    assert at.selectbox(key="why_target").value == 8 and "3" not in at.selectbox(key="why_target").options
    shown = text(at)
    assert "It now reads **8 (" in shown and "3 keeps" in shown  # the sample 3, made to read 8
    chart = next(f for f in figures(at) if f["layout"]["title"]["text"].startswith("Iterated FGSM"))
    assert chart["data"][1]["name"] == "8 (target)"
    assert any(a["text"].startswith("reads 8 at ") for a in chart["layout"]["annotations"])
    small = app(PAGE, eps="0.01", target="8")
    assert "Not yet: 8 gets" in text(small) and "Try a larger eps or the iterated attack." in text(small)
    small = app(PAGE, eps="0.01", target="8", iterated="1")  # already iterated: only eps is left to raise
    assert "Not yet: 8 gets" in text(small) and "Try a larger eps. No pixel" in text(small)
    for bad in ("12", "3"):  # not a class of LeNet-5's; the class it already reads
        other = app(PAGE, target=bad)
        no_crash(other)
        assert other.selectbox(key="why_target").value == -1 and "target" not in other.query_params
        assert ("The link's target 12 is not one of this model's classes" in warnings(other)) == (bad == "12")
        assert ("The network already reads 3: attacking towards any other class." in warnings(other)) == (bad == "3")


def test_random_weights_are_named_even_when_one_class_happens_to_stand_out():
    at = app(PAGE, model="tinyvgg", weights="0")
    no_crash(at)
    assert any(i.value.startswith("With random weights the network has not decided anything")
               and i.value.endswith("Switch on **Trained weights** to see a real decision explained and fooled.")
               for i in at.info)


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
    bad = app(PAGE, cam="fullgrad")
    no_crash(bad)
    assert "cam=fullgrad" in warnings(bad) and "Grad-CAM, 3" in titles(bad)
    blind = app(PAGE, cam="eigencam", **{"class": "5"})
    no_crash(blind)
    assert "Eigen-CAM" in titles(blind) and "Saliency, 5" in titles(blind)  # the class only where the map has one
    assert "The same map for every class" in " ".join(c.value for c in blind.caption)


def test_score_and_ablation_cam_on_a_large_image_leave_the_attacks_maps_to_grad_cam_and_a_zero_map_says_why():
    """Score-CAM's pass per map, again for every eps, had taken minutes on a 224 px network."""
    at = app(PAGE, model="resnet18", weights="0", img="coffee", cam="scorecam", layer="layer4.1.conv2")
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
    assert "as guided backprop, it changes little while only the top layers' weights" in text(at)
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
    assert "guided SmoothGrad's map times Grad-CAM's" in words and "Guided Grad-CAM" not in words
    assert "G. SG × Grad-CAM:<br>random" in titles(smooth)  # "Guided SG × Grad-CAM:" is cut in 150 px


@pytest.mark.parametrize("page, model", [("pages/why_prediction.py", "lenet5"), ("pages/layer_by_layer.py", "tinyvgg")])
def test_a_link_to_a_drawing_opened_elsewhere_shows_the_models_sample(page, model):
    """A drawing stays in its session: its link, opened in another browser, had shown an empty page that ignored the
    rest of the link."""
    at = app(page, model=model, src="draw")
    no_crash(at)
    sample = "Digit 3" if model == "lenet5" else "Triangle"
    assert f"Meanwhile this shows the sample {sample}." in text(at)
    assert not any(i.value == "Choose an image to start." for i in at.info)
    assert at.query_params["src"] in ("draw", ["draw"])  # the link stays a drawing's


def test_clipping_draws_every_map_with_its_largest_values_at_full_colour_and_goes_into_the_link():
    at = app(PAGE, clip="1")
    no_crash(at)
    assert at.toggle(key="why_clip").value and "Each map's largest values, 2% of its total" in text(at)
    charts = {f["layout"]["title"]["text"]: f for f in figures(at)}
    assert "the largest 2% of the map all 100%" in charts["Saliency, 3"]["data"][1]["hovertemplate"]
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
