"""Shapley values of image regions: against every order written out, against Captum, and KernelSHAP's estimate."""

import itertools
import math

import pytest
import torch
from torch import nn

from explorer import attribution, models, shapley


@pytest.fixture(scope="module")
def lenet() -> nn.Module:
    return models.build("lenet5", seed=2)


@pytest.fixture(scope="module")
def digit() -> torch.Tensor:
    return torch.rand(1, 28, 28, generator=torch.Generator().manual_seed(7))


def _by_every_order(model: nn.Module, image: torch.Tensor, target: int, grid: int, baseline: str) -> torch.Tensor:
    """Each square's contribution averaged over all n! orders of putting the squares back, as Shapley defined it."""
    cut, start = shapley.regions(tuple(image.shape[-2:]), grid), attribution.baseline_image(image, baseline)
    n = grid * grid

    def value(kept: set[int]) -> float:
        mask = torch.isin(cut, torch.tensor(sorted(kept), dtype=torch.long))
        with torch.no_grad():
            return float(model(torch.where(mask, image, start)[None])[0, target].double())

    totals = torch.zeros(n, dtype=torch.float64)
    for order in itertools.permutations(range(n)):
        kept: set[int] = set()
        before = value(kept)
        for player in order:
            kept.add(player)
            after = value(kept)
            totals[player] += after - before
            before = after
    return totals / math.factorial(n)


@pytest.mark.parametrize("baseline", attribution.BASELINES)
def test_exact_values_are_the_mean_over_every_order(lenet: nn.Module, digit: torch.Tensor, baseline: str):
    result = shapley.region_shapley(lenet, digit, 3, grid=2, baseline=baseline)
    assert result.exact and result.coalitions == 16 and result.target == 3
    torch.testing.assert_close(result.values, _by_every_order(lenet, digit, 3, 2, baseline), rtol=1e-5, atol=1e-6)


def test_exact_values_equal_captums_shapley_values(lenet: nn.Module, digit: torch.Tensor):
    from captum.attr import ShapleyValues

    result = shapley.region_shapley(lenet, digit, None, grid=2, baseline="blurred")
    theirs = ShapleyValues(lenet).attribute(digit[None], baselines=attribution.baseline_image(digit, "blurred")[None],
                                            target=result.target, feature_mask=result.regions[None, None])
    torch.testing.assert_close(result.square_map, theirs[0, 0], rtol=1e-4, atol=1e-5)  # each pixel: its square's


@pytest.mark.parametrize("grid", [2, 3, 4])
def test_the_values_add_up_to_the_scores_change_exactly(lenet: nn.Module, digit: torch.Tensor, grid: int):
    result = shapley.region_shapley(lenet, digit, 5, grid=grid, coalitions=2 ** 16)
    with torch.no_grad():
        moved = lenet(digit[None])[0, 5] - lenet(torch.zeros(1, 1, 28, 28))[0, 5]
    assert abs(float(result.values.sum()) - float(moved)) < 1e-4
    assert abs(float(result.raw.double().sum()) - float(moved)) < 1e-4  # spread over the pixels, the same sum
    assert result.exact and result.coalitions == 2 ** (grid * grid)


def test_kernel_shap_is_exact_on_a_network_adding_up_its_squares():
    """A linear network scores the sum of its squares' parts: every coalition's value is additive, so least
    squares on any coalitions finds each square's part exactly."""
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.Flatten(), nn.Linear(2 * 28 * 28, 4)).eval()
    image = torch.rand(1, 28, 28, generator=torch.Generator().manual_seed(1))
    exact = shapley.region_shapley(model, image, 1, grid=4, coalitions=2 ** 16)
    estimated = shapley.region_shapley(model, image, 1, grid=4, coalitions=256)
    assert not estimated.exact and estimated.draws == estimated.coalitions == 256  # a set drawn again is not added
    torch.testing.assert_close(estimated.values, exact.values, rtol=1e-6, atol=1e-6)


def test_kernel_shap_comes_close_to_the_exact_values_and_adds_up(lenet: nn.Module, digit: torch.Tensor):
    exact = shapley.region_shapley(lenet, digit, 3, grid=4, coalitions=2 ** 16)
    estimated = shapley.region_shapley(lenet, digit, 3, grid=4, coalitions=4096)
    assert abs(float(estimated.values.sum() - exact.values.sum())) < 1e-6
    spread = float(exact.values.abs().max())
    assert float((estimated.values - exact.values).abs().max()) < 0.1 * spread
    assert torch.corrcoef(torch.stack([estimated.values, exact.values]))[0, 1] > 0.98


def test_a_square_the_network_never_reads_gets_nothing():
    class TopLeft(nn.Module):  # reads only the top-left quarter
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.stack([x[:, :, :14, :14].pow(2).sum((1, 2, 3)), x.new_zeros(len(x))], 1)

    result = shapley.region_shapley(TopLeft(), torch.rand(1, 28, 28), 0, grid=2)
    assert result.values[0] > 0 and result.values[1:].abs().max() == 0


def test_a_square_equal_to_the_baseline_is_no_player_and_gets_nothing(lenet: nn.Module):
    digit = torch.zeros(1, 28, 28)
    digit[:, 3:12, 2:25] = torch.rand(1, 9, 23, generator=torch.Generator().manual_seed(0))  # ink in the top row
    result = shapley.region_shapley(lenet, digit, 4, grid=4, coalitions=1024)
    assert result.players == 8 and result.exact and result.coalitions == result.draws == 256  # 2 ** 8, all read
    assert result.values[8:].abs().max() == 0 and result.values[:8].abs().min() > 0
    blank = shapley.region_shapley(lenet, torch.zeros(1, 28, 28), 4, grid=3)
    assert blank.players == 0 and blank.values.abs().max() == 0 and blank.coalitions == 1


def test_spearman_ranks_ties_alike_and_leaves_out_places_both_give_nothing():
    a, b = torch.tensor([0.0, 0.0, 1.0, 2.0, 3.0]), torch.tensor([0.0, 0.0, 1.0, 2.0, 3.0])
    assert shapley.spearman(a, b) == pytest.approx(1.0)
    tied = torch.tensor([1.0, 1.0, 2.0, 3.0])
    assert shapley.spearman(tied, torch.tensor([2.0, 1.0, 3.0, 4.0])) == shapley.spearman(
        tied, torch.tensor([1.0, 2.0, 3.0, 4.0]))  # the tie's order does not count
    assert shapley.spearman(torch.tensor([1.0, 2.0]), torch.tensor([5.0, 5.0])) == 0.0


def test_the_smallest_and_largest_sizes_are_listed_in_full_and_the_rest_drawn_in_complementary_pairs():
    """The shap package's scheme: with 600 of 2 ** 12 coalitions, every set of 1 and of 11 players (24), then of 2
    and 10 (132), then the rest drawn by the kernel over sizes 3 to 9, each with its complement; with 300, the
    sets of 2 and 10 no longer fit."""
    assert shapley.kernel_coalitions(12, 300)[2] == 1
    z, weights, listed = shapley.kernel_coalitions(12, 600)
    assert z.shape == (600, 12) and listed == 2
    sizes = z.sum(1)
    assert sizes[:24].tolist() == [1] * 12 + [11] * 12 and sizes[24:156].tolist() == [2] * 66 + [10] * 66
    assert len({tuple(row) for row in z[:156].tolist()}) == 156  # each listed once
    drawn, row = z[156:], 0
    while row < len(drawn):  # a set of 3 to 5 players, then its complement; a set of 6 is its own pair's size
        size = int(drawn[row].sum())
        assert 3 <= size <= 6
        if size < 6 and row + 1 < len(drawn):
            assert torch.equal(drawn[row + 1], ~drawn[row])
        row += 2 if size < 6 else 1
    assert len({tuple(r) for r in z.tolist()}) == 600  # a set drawn again weighs more, not read again
    kernel = torch.tensor([11 / (s * (12 - s)) for s in range(1, 12)], dtype=torch.float64)
    kernel /= kernel.sum()
    torch.testing.assert_close(weights[:24].sum(), kernel[[0, 10]].sum())  # each size's share of the kernel
    torch.testing.assert_close(weights[156:].sum(), kernel[2:9].sum())  # the drawn ones share what is left


def test_with_every_size_listed_the_weighted_fit_is_exact_for_any_game():
    """Lundberg & Lee's theorem: least squares over all coalitions, each weighing the Shapley kernel, gives the
    Shapley values; with the empty and the full one apart, 1,022 of the 1,024 coalitions of 10 players."""
    z, weights, listed = shapley.kernel_coalitions(10, 1022)
    assert listed == 5 and len(z) == 1022
    v = torch.randn(2 ** 10, dtype=torch.float64, generator=torch.Generator().manual_seed(3))  # any game at all
    index = (z.long() << torch.arange(10)).sum(1)  # a coalition's row in the exact enumeration
    estimated = shapley.kernel_values(z, v[index], float(v[0]), float(v[-1]), weights)
    torch.testing.assert_close(estimated, shapley.exact_values(v, 10), rtol=1e-9, atol=1e-9)
    unweighted = shapley.kernel_values(z, v[index], float(v[0]), float(v[-1]))
    assert not torch.allclose(unweighted, shapley.exact_values(v, 10), atol=1e-3)  # the weights are what does it


def test_squares_cover_the_image_row_by_row_and_bad_grids_are_named():
    cut = shapley.regions((28, 28), 3)
    assert torch.bincount(cut.flatten()).tolist() == [100, 90, 90, 90, 81, 81, 90, 81, 81]
    assert cut[0, 0] == 0 and cut[0, 27] == 2 and cut[27, 0] == 6 and cut[27, 27] == 8
    with pytest.raises(ValueError, match="cannot be cut into 30x30 squares"):
        shapley.regions((28, 28), 30)


@pytest.mark.gpu
def test_the_squares_on_the_gpu_agree_with_the_cpu():
    """TF32 convolutions differ in the last digits: the values still add up, and come out as the CPU's."""
    image = torch.rand(3, 64, 64, generator=torch.Generator().manual_seed(3))
    model = models.build("tinyvgg", seed=1)
    on_cpu = shapley.region_shapley(model, image, 2, grid=3, baseline="blurred")
    on_gpu = shapley.region_shapley(model.cuda(), image, 2, grid=3, baseline="blurred")
    moved = on_gpu.score - on_gpu.baseline_score
    assert abs(float(on_gpu.values.sum()) - moved) <= 1e-3 * max(1.0, abs(moved))
    torch.testing.assert_close(on_gpu.values, on_cpu.values, rtol=0.02, atol=0.02 * float(on_cpu.values.abs().max()))
