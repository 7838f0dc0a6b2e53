"""Adebayo et al.'s sanity check: a network's weights drawn afresh, and how alike two maps are."""

import pytest
import torch

from explorer import models, randomization


def test_a_randomized_network_has_every_layer_redrawn_the_same_way_each_time():
    model = models.build("lenet5", pretrained=True).eval()
    first, again = randomization.randomized(model), randomization.randomized(model)
    before = torch.random.get_rng_state()
    for (name, trained), fresh, same in zip(model.named_parameters(), first.parameters(), again.parameters()):
        assert not torch.equal(trained, fresh), name  # nothing learned is kept
        assert torch.equal(fresh, same)  # seeded: every visitor sees the same check
    assert torch.equal(before, torch.random.get_rng_state())  # the caller's generator is left alone
    assert next(model.parameters()).requires_grad  # the trained network itself is untouched


def test_rank_correlation_is_spearmans_of_the_magnitudes_with_ties_sharing_their_rank():
    up = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0])
    assert randomization.rank_correlation(up, up * 10) == pytest.approx(1.0)
    assert randomization.rank_correlation(up, up.flip(0)) == pytest.approx(-1.0)
    assert randomization.rank_correlation(up, -up) == pytest.approx(1.0)  # magnitudes: the sign does not count
    assert randomization.rank_correlation(up, torch.ones(5)) == 0.0  # a flat map has no order
    # ties share their mean rank: 5, 6, 7, 8, 7 ranks as 1, 2, 3.5, 5, 3.5
    tied = torch.tensor([5.0, 6.0, 7.0, 8.0, 7.0])
    assert randomization.rank_correlation(up, tied) == pytest.approx(0.8207826816681233)
    stats = pytest.importorskip("scipy.stats")
    a, b = torch.rand(2, 8, 8).unbind()
    b[b < 0.3] = 0  # a black background: one large tie
    assert randomization.rank_correlation(a, b) == pytest.approx(stats.spearmanr(a.flatten(), b.flatten()).statistic)
    a_ink, b_ink = torch.zeros(8, 8), torch.zeros(8, 8)  # a background both maps leave at 0: left out, it always
    a_ink[2:5, 2:5], b_ink[2:5, 2:5] = a[:3, :3], b[:3, :3] + 0.1  # agrees
    on_ink = stats.spearmanr(a[:3, :3].flatten(), b[:3, :3].flatten()).statistic
    assert randomization.rank_correlation(a_ink, b_ink) == pytest.approx(on_ink)


def test_the_cascade_draws_layers_afresh_from_the_top_down_one_at_a_time():
    model = models.build("lenet5", pretrained=True)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    names = randomization.cascade_layers(model)
    assert names == ["fc5", "fc4", "fc3", "conv2", "conv1"]
    seen = []
    for name, fresh in randomization.cascade(model):
        drawn = names[:names.index(name) + 1]
        for layer in names:
            same = torch.equal(fresh.get_submodule(layer).weight, model.get_submodule(layer).weight)
            assert same == (layer not in drawn), (name, layer)
        seen.append(name)
    assert seen == names
    for key, value in model.state_dict().items():  # the model itself keeps what it learned
        assert torch.equal(value, before[key])
    again = dict(randomization.cascade(model))  # seeded: the same draws each time (the last state of the copy)
    assert torch.equal(again["conv1"].conv1.weight, fresh.conv1.weight)


def test_a_deep_cascade_stops_at_most_eight_times_top_and_bottom_included():
    assert randomization.cascade_stops(5, 8) == [0, 1, 2, 3, 4]
    assert randomization.cascade_stops(21, 8) == [0, 3, 6, 9, 11, 14, 17, 20]
    model = models.build("resnet18")
    names = randomization.cascade_layers(model)
    stops = [name for name, _ in randomization.cascade(model)]
    assert len(names) == 21 and stops[0] == "fc" and stops[-1] == "conv1" and len(stops) == 8


@pytest.mark.parametrize("name", ["lenet5", "resnet18"])
def test_the_cascades_last_network_is_the_randomized_one_batch_norms_included(name):
    """The pairs drawn all at once and the cascade's last step are one network: their correlations agree."""
    model = models.build(name)
    for module in model.modules():  # learned-looking batch norms: drawn afresh, they are 1 and 0 again
        if isinstance(module, torch.nn.BatchNorm2d):
            module.weight.data.fill_(2.0)
            module.running_var.fill_(3.0)
    *_, (_, last) = randomization.cascade(model)
    drawn = randomization.randomized(model)
    for key, value in drawn.state_dict().items():
        assert torch.equal(last.state_dict()[key], value), key
    if name == "resnet18":  # each batch norm goes with the convolution before it
        steps = randomization.cascade(model, stops=21)
        next(steps)
        lowest, second = next(steps)
        assert lowest == "layer4.1.conv2"
        for key in ("conv2.weight", "bn2.weight", "bn2.running_var"):
            assert torch.equal(second.layer4[1].state_dict()[key], drawn.layer4[1].state_dict()[key]), key
        assert torch.equal(second.layer4[1].bn1.weight, model.layer4[1].bn1.weight)  # not yet drawn


@pytest.mark.parametrize("name", ["lenet5", "tinyvgg", "resnet_small", "resnet18"])
def test_whether_the_random_network_has_biases_is_told_without_drawing_it(name):
    from explorer import cam

    model = models.build(name)
    assert randomization.fresh_biases(model) == cam.has_biases(randomization.randomized(model))
