"""Deletion and insertion curves (Petsiuk et al. 2018), against sums done by hand and a network that reads only a
known corner of the image."""

import pytest
import torch
from torch import nn

from explorer import faithfulness


class Corner(nn.Module):
    """Two classes; class 0's score is 20 x the mean of the top-left 4 x 4 pixels, class 1's a constant 5: the
    probability of class 0 rests on that corner alone."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        corner = x[:, :, :4, :4].mean((1, 2, 3))
        return torch.stack([20 * corner, torch.full_like(corner, 5.0)], 1)


def test_the_area_under_a_curve_is_the_trapezoid_rules():
    assert faithfulness.area(torch.linspace(0, 1, 21)) == pytest.approx(0.5)
    assert faithfulness.area(torch.tensor([1.0, 1.0, 0.0])) == pytest.approx(0.75)


def test_the_ranking_puts_the_highest_first_and_breaks_ties_the_same_way_each_time():
    importance = torch.tensor([[0.1, 0.9], [0.5, 0.5]])
    order = faithfulness.ranking(importance)
    assert order[0] == 1 and set(order[1:3].tolist()) == {2, 3} and order[3] == 0
    assert torch.equal(order, faithfulness.ranking(importance))
    flat = faithfulness.ranking(torch.zeros(8, 8))
    assert sorted(flat.tolist()) == list(range(64)) and flat[:8].tolist() != list(range(8))  # not read row by row


def test_each_step_moves_its_share_of_the_pixels_in_the_order_given():
    order = torch.tensor([5, 0, 3, 1, 2, 4])
    moved = faithfulness.masks(order, (2, 3), steps=3)
    assert moved.shape == (4, 1, 2, 3)
    assert moved.view(4, -1).sum(1).tolist() == [0, 2, 4, 6]
    assert moved.view(4, -1)[1].nonzero().flatten().tolist() == [0, 5]  # the first two of the order
    assert moved.view(4, -1)[2].nonzero().flatten().tolist() == [0, 1, 3, 5]


def test_a_curve_runs_from_the_start_images_probability_to_the_ends():
    model, image = Corner(), torch.rand(1, 8, 8)
    end = torch.zeros_like(image)
    values = faithfulness.curve(model, image, end, torch.randperm(64), 0, steps=4)
    assert values.shape == (5,)
    assert values[0] == pytest.approx(float(torch.softmax(model(image[None]), 1)[0, 0]))
    assert values[-1] == pytest.approx(float(torch.softmax(model(end[None]), 1)[0, 0]))


def test_a_map_of_the_pixels_the_network_reads_beats_a_random_order_on_both_curves():
    model = Corner()
    image = torch.zeros(1, 8, 8)
    image[:, :4, :4] = 1.0  # class 0: 20 against 5
    right = torch.zeros(8, 8)
    right[:4, :4] = 1.0
    wrong = 1.0 - right
    curves = faithfulness.compare(model, image, 0, {"right": right, "wrong": wrong})
    assert list(curves.deletion) == ["right", "wrong", faithfulness.RANDOM]
    assert curves.deletion_area("right") < curves.deletion_area(faithfulness.RANDOM) < curves.deletion_area("wrong")
    assert curves.insertion_area("right") > curves.insertion_area(faithfulness.RANDOM) > curves.insertion_area("wrong")
    # the corner's 16 pixels greyed within the first quarter: the image's mean, 0.25, scores 20 x 0.25 = 5 for both
    assert float(curves.deletion["right"][5]) == pytest.approx(0.5)
    assert torch.equal(curves.fractions, torch.linspace(0, 1, faithfulness.STEPS + 1))


def test_the_progress_counts_each_order():
    seen = []
    faithfulness.compare(Corner(), torch.rand(1, 8, 8), 0, {"a": torch.rand(8, 8)}, steps=2,
                         progress=lambda done, total: seen.append((done, total)))
    assert seen == [(0, 2), (1, 2), (2, 2)]


def test_road_fills_what_it_takes_away_from_the_neighbours_and_still_ranks_the_right_map_first():
    model = Corner()
    image = torch.zeros(1, 8, 8)
    image[:, :4, :4] = 1.0
    right = torch.zeros(8, 8)
    right[:4, :4] = 1.0
    order = faithfulness.ranking(right)
    taken = faithfulness.road_images(image, order, steps=4)
    assert taken.shape == (5, 1, 8, 8) and torch.equal(taken[0], image)
    # a quarter taken (the corner's 16 pixels): filled from the black around them, the corner is near black
    assert float(taken[1, :, :4, :4].mean()) < 0.1 and torch.equal(taken[1, :, 4:, :], image[:, 4:, :])
    kept = faithfulness.road_images(image, order, steps=4, insertion=True)
    assert torch.equal(kept[-1], image) and torch.equal(kept[1, :, :4, :4], image[:, :4, :4])
    assert float(kept[0].mean()) == pytest.approx(0.25, abs=0.01)  # nothing kept: the mean colour, and noise
    curves = faithfulness.compare(model, image, 0, {"right": right, "wrong": 1.0 - right}, removal="road")
    assert curves.removal == "road"
    assert curves.deletion_area("right") < curves.deletion_area(faithfulness.RANDOM) < curves.deletion_area("wrong")
    assert curves.insertion_area("right") > curves.insertion_area(faithfulness.RANDOM)
    with pytest.raises(ValueError, match="removal 'grey' is none of mean, road"):
        faithfulness.compare(model, image, 0, {}, removal="grey")


@pytest.mark.gpu
@pytest.mark.parametrize("removal", faithfulness.REMOVALS)
def test_the_curves_on_the_gpu_equal_the_cpus(removal: str):
    model, image = Corner(), torch.rand(1, 8, 8)
    maps = {"a": torch.rand(8, 8)}
    on_cpu = faithfulness.compare(model, image, 0, maps, removal=removal)
    on_gpu = faithfulness.compare(model.cuda(), image, 0, maps, removal=removal)
    for name in on_cpu.deletion:
        assert torch.allclose(on_cpu.deletion[name], on_gpu.deletion[name], atol=1e-5)
        assert torch.allclose(on_cpu.insertion[name], on_gpu.insertion[name], atol=1e-5)
