"""The notes under DeepLIFT's, GradientSHAP's and the squares' maps: their sums, and words that follow the numbers."""

import torch

from explorer import attribution, deeplift, gradient_shap, shapley
from explorer.ui import beside_ig


def _ig(raw: torch.Tensor, gap: float = 0.2) -> attribution.IntegratedGradients:
    return attribution.IntegratedGradients(raw[0], raw, 3, 5.0, torch.ones(10) / 10, 5.0 - float(raw.sum()) - gap,
                                           16, "black", "riemann")


def _lifted(raw: torch.Tensor) -> deeplift.DeepLift:
    return deeplift.DeepLift(raw[0], raw, 3, 5.0, torch.ones(10) / 10, 5.0 - float(raw.sum()), "black")


def test_deeplifts_note_calls_the_maps_alike_only_where_they_rank_the_pixels_alike():
    torch.manual_seed(0)
    raw = torch.rand(1, 8, 8)
    same = beside_ig.deeplift_note(_lifted(raw), _ig(raw * 1.1))
    assert "alike (Spearman's ρ = 1.00)" in same and "(off by 0.000, where integrated gradients in 16 steps are " \
                                                       "off by 0.200)" in same
    unlike = beside_ig.deeplift_note(_lifted(raw), _ig(torch.rand(1, 8, 8)))
    assert "order the pixels' magnitudes differently (Spearman's ρ = " in unlike and " alike" not in unlike
    from_blur = beside_ig.deeplift_note(_lifted(raw), attribution.IntegratedGradients(
        raw[0], raw, 3, 5.0, torch.ones(10) / 10, 4.0, 16, "blurred", "riemann"))
    assert "Spearman" not in from_blur  # another baseline: no comparison of the two


def test_gradient_shaps_note_names_the_baselines_drawn_and_why_its_sum_is_off():
    raw = torch.tensor([[[1.0, -0.5], [0.25, 0.0]]])
    made = gradient_shap.GradientShap(raw[0], raw, 3, 2.0, torch.ones(10) / 10, 0.5, 8, 3000, "data")
    said = beside_ig.shap_note(made)
    assert "8 draws, each a baseline from 3,000 of the data set's training images" in said
    assert "add up to **0.750** (+1.250 red, -0.500 blue)" in said
    assert "differs from the mean of the 8 baselines drawn by +1.500 (off by 0.750:" in said
    assert "only on average over many draws" in said and "what your image lacks counts too" in said
    four = beside_ig.shap_note(gradient_shap.GradientShap(raw[0], raw, 3, 2.0, torch.ones(10) / 10, 0.5, 8, 4,
                                                          "four"))
    assert "the four baselines of this image" in four and "lacks" not in four


def _squares(values: list[float], exact: bool = True, baseline: str = "black",
             listed: int = 0) -> shapley.RegionShapley:
    grid = int(len(values) ** 0.5)
    cut = shapley.regions((8, 8), grid)
    v = torch.tensor(values, dtype=torch.float64)
    read = 2 ** len(values) if exact else 200
    return shapley.RegionShapley(v.float()[cut], v.float()[cut], 3, 5.0, torch.ones(10) / 10, v, cut, grid,
                                 baseline, 5.0 - float(v.sum()), read, exact, read if exact else 256,
                                 int((v != 0).sum()), listed)


def test_the_squares_note_says_how_they_were_read_and_ranks_them_beside_integrated_gradients():
    values = [4.0, -1.0, 0.5, 2.0]
    cut = shapley.regions((8, 8), 2)
    alike = torch.tensor(values)[cut] / 16  # integrated gradients sharing each square as the Shapley values do
    note = beside_ig.squares_note(_squares(values), _ig(alike[None]))
    assert "exact, from all 16 images" in note and "**5.500** (+6.500 red, -1.000 blue)" in note
    assert "off by 0.000" in note and "rows 0 to 3 and columns 0 to 3: +4.000" in note
    assert "rank the squares alike (Spearman's ρ = 1.00)" in note
    nine = [3.0, 2.0, 1.0, 0.5, 0.0, -0.5, -1.0, -2.0, -3.0]
    cut = shapley.regions((8, 8), 3)
    # integrated gradients ranking the squares the other way
    against = torch.tensor(nine[::-1])[cut] / cut.flatten().bincount()[cut]
    note = beside_ig.squares_note(_squares(nine, exact=False), _ig(against[None]))
    assert "estimated by KernelSHAP (Lundberg & Lee 2017) from 256 of the 256 sets of squares" in note
    assert "(200 images), picked as the shap package picks them: all drawn by the Shapley kernel" in note
    assert "1 square equal to the baseline gets 0" in note
    assert "rank the squares differently (Spearman's ρ = -1.00)" in note
    listed = beside_ig.squares_note(_squares(nine, exact=False, listed=1), _ig(against[None]))
    assert "every set of 1 square and of all but 1, the others drawn by the Shapley kernel" in listed
    other = beside_ig.squares_note(_squares(values, baseline="blurred"), _ig(alike[None]))
    assert "Spearman" not in other  # integrated gradients from another baseline answer another question
