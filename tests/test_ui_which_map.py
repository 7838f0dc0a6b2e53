"""Which map is right: the page's maps ranked, and the curves' verdict in words (explorer.ui.which_map)."""

import torch

from explorer import attribution, faithfulness
from explorer.ui import which_map


def _curves(deletion: dict[str, list[float]], insertion: dict[str, list[float]]) -> faithfulness.Curves:
    return faithfulness.Curves(3, torch.linspace(0, 1, 3), {k: torch.tensor(v) for k, v in deletion.items()},
                               {k: torch.tensor(v) for k, v in insertion.items()})


def test_the_verdict_names_the_fastest_maps_beside_the_random_order_and_those_no_better():
    curves = _curves({"Saliency": [1, 0.2, 0], "Grad-CAM": [1, 1, 0.9], faithfulness.RANDOM: [1, 0.8, 0]},
                     {"Saliency": [0, 0.5, 1], "Grad-CAM": [0, 0.9, 1], faithfulness.RANDOM: [0, 0.6, 1]})
    said = which_map.verdict(curves, "3")
    assert said.startswith("On this image, **Saliency** takes the probability of 3 away fastest (deletion area 0.35, "
                           "a random order's 0.65), and **Grad-CAM** brings it back fastest (insertion area 0.70, a "
                           "random order's 0.55).")
    assert "no better" not in said  # Grad-CAM loses at deletion but wins at insertion
    worse = _curves({"Saliency": [1, 0.2, 0], "Grad-CAM": [1, 1, 0.9], faithfulness.RANDOM: [1, 0.8, 0]},
                    {"Saliency": [0, 0.9, 1], "Grad-CAM": [0, 0.1, 1], faithfulness.RANDOM: [0, 0.6, 1]})
    said = which_map.verdict(worse, "3")
    assert "**Saliency** takes the probability of 3 away fastest (deletion area 0.35, a random order's 0.65) and " \
           "brings it back fastest" in said
    assert said.endswith("Grad-CAM does no better than a random order on either curve.")


def test_maps_within_a_tie_of_the_fastest_are_named_together():
    """A drawn 7: saliency's insertion area 0.97, integrated gradients' 0.97, Grad-CAM's 0.96; one had been named
    the winner."""
    curves = _curves({"Saliency": [1, 0.2, 0], "Grad-CAM": [1, 0.6, 0], "IG": [1, 0.22, 0],
                      faithfulness.RANDOM: [1, 0.8, 0]},
                     {"Saliency": [0, 0.9, 1], "Grad-CAM": [0, 0.88, 1], "IG": [0, 0.7, 1],
                      faithfulness.RANDOM: [0, 0.6, 1]})
    assert which_map.verdict(curves, "7") == (
        "On this image, **Saliency** and **IG** take the probability of 7 away fastest (deletion areas 0.35 and 0.36, "
        "a tie; a random order's 0.65), and **Saliency** and **Grad-CAM** bring it back fastest (insertion areas "
        "0.70 and 0.69, a tie; a random order's 0.55).")


def test_a_map_no_better_than_random_is_in_no_tie_and_one_pair_is_named_once():
    behind = _curves({"Saliency": [1, 0.1, 0], "Occlusion": [1, 0.14, 0], faithfulness.RANDOM: [1, 0.16, 0]},
                     {"Saliency": [0, 0.9, 1], "Occlusion": [0, 0.1, 1], faithfulness.RANDOM: [0, 0.12, 1]})
    said = which_map.verdict(behind, "3")
    assert said.startswith("On this image, **Saliency** takes the probability of 3 away fastest (deletion area 0.30")
    assert said.endswith("Occlusion does no better than a random order on either curve.")
    pair = _curves({"A": [1, 0.2, 0], "B": [1, 0.22, 0], faithfulness.RANDOM: [1, 0.8, 0]},
                   {"A": [0, 0.88, 1], "B": [0, 0.9, 1], faithfulness.RANDOM: [0, 0.6, 1]})
    assert which_map.verdict(pair, "3").startswith("On this image, **A** and **B** take the probability of 3 away "
                                                   "fastest (deletion areas 0.35 and 0.36, a tie; a random order's "
                                                   "0.65) and bring it back fastest (insertion areas 0.69 and 0.70")
    one_curve = _curves({"A": [0.7] * 3, "B": [0.6] * 3, faithfulness.RANDOM: [0.5] * 3},
                        {"A": [0.9] * 3, "B": [0.5] * 3, faithfulness.RANDOM: [0.5] * 3})
    assert which_map.verdict(one_curve, "cat") == (  # A is slower than random at deletion: not "fastest" there
        "On this image, no map takes the probability of cat away faster than a random order (its deletion area "
        "0.50), and **A** brings it back fastest (insertion area 0.90, a random order's 0.50). B does no better than "
        "a random order on either curve.")


def test_signed_maps_rank_evidence_for_the_class_first_and_the_others_by_their_heat():
    heat = torch.rand(4, 4)
    plain = attribution.Attribution(heat, torch.rand(1, 4, 4), 3, 1.0, torch.rand(10))
    occ = attribution.Occlusion(heat, -heat, 3, 1.0, torch.rand(10), worst=(0, 0), worst_drop=1.0, window=2,
                                stride=1, worst_probability=0.5, worst_reading=3)
    ig = attribution.IntegratedGradients(heat, torch.stack([heat, -2 * heat]), 3, 1.0, torch.rand(10),
                                         baseline_score=0.0, steps=8)
    ranked = which_map.importance({"a": plain, "b": occ, "c": ig})
    assert torch.equal(ranked["a"], heat) and torch.equal(ranked["b"], -heat) and torch.allclose(ranked["c"], -heat)
    assert list(which_map.page_maps(plain, None, "Grad-CAM", occ, ig)) == ["Saliency", "Occlusion",
                                                                           "Integrated gradients"]


def test_maps_within_a_tie_of_the_random_order_are_said_to_find_nothing():
    """Random weights: every area 0.11, and the verdict had named winners."""
    flat = _curves({"Saliency": [0.11, 0.11, 0.11], "Grad-CAM": [0.12, 0.11, 0.1], faithfulness.RANDOM: [0.11] * 3},
                   {"Saliency": [0.11, 0.11, 0.11], "Grad-CAM": [0.1, 0.11, 0.12], faithfulness.RANDOM: [0.11] * 3})
    assert which_map.verdict(flat, "9").startswith("On this image no map takes the probability of 9 away or brings "
                                                   "it back faster than a random order")


def test_a_class_the_network_does_not_believe_is_said_to_leave_nothing_to_delete():
    unsure = _curves({"Saliency": [0.001, 0.05, 0.1], faithfulness.RANDOM: [0.001, 0.02, 0.1]},
                     {"Saliency": [0.1, 0.05, 0.001], faithfulness.RANDOM: [0.1, 0.09, 0.001]})
    assert which_map.verdict(unsure, "5").startswith("The network gives 5 0.1% on this image: deletion has no "
                                                     "evidence to take away")
