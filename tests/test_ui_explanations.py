"""Sentences of Why this prediction that depend on the numbers (explorer.ui.explanations)."""

import torch

from explorer import attribution, models
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
