"""Integrated gradients at a layer, per channel: against Captum's LayerIntegratedGradients, and their sum."""

import pytest
import torch

from explorer import attribution, explain_figures, inspect, layer_attribution, models

CASES = [("lenet5", 28, True, "relu2"), ("lenet5", 28, True, "fc3"), ("tinyvgg", 64, True, "pool2"),
         ("resnet18", 64, False, "layer3.0.conv1")]  # Captum hooks a module that runs once


@pytest.mark.parametrize("name, size, pretrained, layer", CASES, ids=[f"{c[0]}-{c[3]}" for c in CASES])
def test_channel_shares_equal_captums_layer_integrated_gradients(name, size, pretrained, layer):
    from captum.attr import LayerIntegratedGradients  # a test-only dependency

    torch.manual_seed(0)
    model = models.build(name, pretrained=pretrained)
    image = torch.rand(models.spec(name).channels, size, size)
    ours = layer_attribution.channel_shares(model, image, layer, None, 16, "blurred", batch=5)
    start = attribution.baseline_image(image, "blurred")[None]
    theirs = LayerIntegratedGradients(model, model.get_submodule(layer)).attribute(
        image[None], baselines=start, target=ours.target, n_steps=16, method="riemann_right")[0]
    torch.testing.assert_close(ours.raw, theirs, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(ours.shares, theirs.flatten(1).sum(1) if theirs.dim() > 1 else theirs)
    assert ours.target == int(model(image[None]).argmax()) and inspect.hooks_on(model) == 0


@pytest.mark.parametrize("rule", ["riemann_trapezoid", "gauss"])
def test_on_a_chain_of_layers_the_shares_add_up_to_the_score_change_from_the_baseline(rule):
    model = models.build("lenet5", pretrained=True)
    torch.manual_seed(1)
    image = torch.rand(1, 28, 28)
    shares = layer_attribution.channel_shares(model, image, "relu1", 3, 128, "black", rule)
    with torch.no_grad():
        scores = model(torch.stack([image, torch.zeros_like(image)]))[:, 3]
    assert shares.score == pytest.approx(float(scores[0]), abs=1e-4)
    assert shares.start_score == pytest.approx(float(scores[1]), abs=1e-4)
    moved = shares.score - shares.start_score
    assert float(shares.shares.sum()) == pytest.approx(moved, rel=0.05)  # a sum on a kinked path
    assert shares.shares.shape == (6,) and shares.raw.shape == (6, 28, 28) and shares.target == 3


def test_around_a_residual_branch_only_the_layers_maps_move():
    """ResNet's skip connection reads the image itself (as in Captum): the shares add up to the change the layer's
    maps make, not to the whole change from the baseline."""
    model = models.build("resnet18")
    torch.manual_seed(2)
    image = torch.rand(3, 64, 64)
    shares = layer_attribution.channel_shares(model, image, "layer3.0.conv1", None, 64, "black", "gauss")
    moved = shares.score - shares.start_score
    assert float(shares.shares.sum()) == pytest.approx(moved, rel=0.02, abs=1e-3)
    with torch.no_grad():
        whole = float((model(image[None]) - model(torch.zeros(1, 3, 64, 64)))[0, shares.target])
    assert abs(whole - moved) > 0.1


def test_the_ranking_and_the_bars_show_the_largest_and_the_smallest_shares():
    shares = layer_attribution.ChannelShares(torch.zeros(40, 2, 2), torch.arange(40.0) - 10, 1, 3.0, 1.0, "conv",
                                             8, "black", "riemann")
    assert shares.ranked()[:3] == [39, 38, 37] and shares.ranked()[-1] == 0
    shown = explain_figures.shown_channels(shares, most=16)
    assert shown == [39, 38, 37, 36, 35, 34, 33, 32, 31, 30, 5, 4, 3, 2, 1, 0]
    fig = explain_figures.channel_shares_figure(shares, "cat", chosen=38)
    bar = fig.data[0]
    assert list(bar.x) == [str(c) for c in shown] and [d[0] for d in bar.customdata] == shown
    assert list(bar.marker.line.color).count("rgba(0,0,0,0)") == 15  # the chosen channel alone outlined
    assert bar.marker.color[0] == "#d73027" and bar.marker.color[-1] == "#4575b4"
    assert "the 10 largest and 6 smallest of 40" in fig.layout.xaxis.title.text
    assert fig.layout.title.text == "What each channel of conv adds to the score of cat"
    assert fig.layout.title.y == pytest.approx(1 - explain_figures.TOOLBAR_PX / 300)  # under the toolbar's band
    narrow = explain_figures.channel_shares_figure(shares, "cat", chosen=38, width_px=300)
    assert narrow.layout.title.text == "What each channel of conv adds<br>to the score of cat"
    assert narrow.layout.margin.t > fig.layout.margin.t
    few = layer_attribution.ChannelShares(torch.zeros(3), torch.tensor([0.5, -1.0, 2.0]), 0, 1.0, 0.0, "fc", 8,
                                          "black", "riemann")
    assert explain_figures.shown_channels(few) == [2, 0, 1]
    assert "all 3" in explain_figures.channel_shares_figure(few, "3", 2).layout.xaxis.title.text


def test_a_layer_past_the_output_is_refused():
    with pytest.raises(ValueError, match="not a layer"):
        layer_attribution.channel_shares(models.build("lenet5"), torch.rand(1, 28, 28), "fc5")
