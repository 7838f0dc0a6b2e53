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
