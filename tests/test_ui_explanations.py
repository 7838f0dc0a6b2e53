"""Sentences of Why this prediction that depend on the numbers (explorer.ui.explanations)."""

import torch

from explorer import adversarial, attribution, models
from explorer.ui import explanations


def test_occlusion_of_a_flat_image_says_no_square_changes_the_score():
    model = models.build("lenet5").eval()
    flat = torch.full((1, 28, 28), 0.4)  # every square has the colour of what it covers
    occ = attribution.occlusion(model, flat, None, 7)
    assert occ.changes_nothing  # up to the rounding of a batched forward pass
    assert explanations.occlusion_note(occ, str).endswith("Here no square changes the score: each one is the colour "
                                                          "of what it covers.")
    digit = torch.zeros(1, 28, 28)
    digit[0, 6:22, 12:16] = 1.0
    stroke = attribution.occlusion(model, digit, None, 7)
    assert not stroke.changes_nothing and "no square changes" not in explanations.occlusion_note(stroke, str)


def test_occlusion_where_every_square_raises_the_score_outlines_none_and_says_so():
    model = models.build("lenet5", pretrained=True).eval()
    digit = torch.zeros(1, 28, 28)
    digit[0, 6:22, 12:16] = 1.0  # a "1", explained as a 3: covering any of its quarters makes it more of a 3
    occ = attribution.occlusion(model, digit, 3, 14)
    assert not occ.hurts and occ.worst_drop < 0 and float(occ.raw.max()) < 0
    assert float(occ.heat.min()) == -1.0  # the map keeps its sign: all blue, not blank
    note = explanations.occlusion_note(occ, str)
    assert "covering any square raises the score of 3" in note and "outlined square lowers" not in note
    assert attribution.occlusion(model, digit, 1, 7).hurts  # the class it reads: its stroke speaks for it


def test_shares_no_decimal_tells_apart_say_what_changed_instead():
    """TinyVGG reads its circles as certain before and after: ">99.9% to >99.9%" told nothing."""
    from dataclasses import replace

    model = models.build("lenet5", pretrained=True).eval()
    digit = torch.zeros(1, 28, 28)
    digit[0, 6:22, 12:16] = 1.0
    occ = replace(attribution.occlusion(model, digit, 1, 7), worst_probability=1.0)
    occ = replace(occ, probabilities=torch.ones_like(occ.probabilities))  # certain, covered or not
    note = explanations.occlusion_note(occ, str)
    assert f"it lowers the score of 1 by **{occ.worst_drop:.3g}**, and 1 keeps >99.9%." in note
    held = adversarial.Attack(digit, digit * 0, 1, 0.1, 1, 1.0, 1, 1.0, 1.0)
    assert explanations.attack_reading(held, str) == "The prediction **holds**: 1 keeps **>99.9%**."


def test_a_flip_the_attack_did_not_make_is_not_called_one():
    """With random weights the scores nearly tie: the step raised the class it attacked (0.1117% to 0.1121%) and
    another class rose past it, which the page had called a flip."""
    digit = torch.zeros(1, 28, 28)
    tie = adversarial.Attack(digit, digit * 0, 3, 0.1, 3, 0.101, 5, 0.103, 0.102)
    assert explanations.attack_reading(tie, str) == (
        "The prediction changes, but not by the attack: 3 went from 10.1% up to 10.2%, and **5** rose past it to "
        "**10.3%**. Scores this close reorder at any nudge.")
    real = adversarial.Attack(digit, digit * 0, 3, 0.1, 3, 0.9, 5, 0.6, 0.3)
    assert explanations.attack_reading(real, str) == ("The prediction **flips**: 3 (90.0%) becomes **5 (60.0%)**; 3 "
                                                      "keeps 30.0%.")


def test_a_small_images_attack_says_why_it_shows_and_a_photos_does_not():
    digit = torch.zeros(1, 28, 28)
    flipped = adversarial.Attack(digit, digit * 0, 3, 0.1, 3, 0.9, 5, 0.6, 0.3)
    held = adversarial.Attack(digit, digit * 0, 3, 0.1, 3, 0.9, 3, 0.6, 0.6)
    assert explanations.visible_change(flipped, 28, True).startswith(" A 28 x 28 image has few pixels to spread a "
                                                                     "change over")
    assert explanations.visible_change(flipped, 224, True) == ""  # a photo's change is unseen
    assert explanations.visible_change(flipped, 28, False) == ""  # random weights: a near tie, not a flip
    assert explanations.visible_change(held, 28, True) == ""  # nothing flipped to explain


def test_the_attacks_maps_of_a_photo_on_a_cpu_leave_smoothgrads_copies_out(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    smooth = explanations.Smoothing(copies=100, noise=0.15, guided=True)
    assert explanations.repeated_smoothing(smooth, torch.zeros(3, 224, 224)) == explanations.Smoothing(guided=True)
    assert explanations.repeated_smoothing(smooth, torch.zeros(1, 28, 28)) is smooth  # a digit's copies take a blink
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert explanations.repeated_smoothing(smooth, torch.zeros(3, 224, 224)) is smooth
