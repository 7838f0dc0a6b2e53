"""The "Why this prediction" page through the entry point: the prediction, the attacks, links and bad input (its
maps: test_why_maps.py)."""

import re

import pytest

from explorer import explain_figures
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
