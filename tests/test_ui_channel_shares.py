"""The note under the channels' shares: the sum, how few carry half, the channel picked; and no red at all."""

import torch

from explorer import explain_figures, layer_attribution
from explorer.ui import channel_shares


def _shares(values: list[float]) -> layer_attribution.ChannelShares:
    shares = torch.tensor(values)
    return layer_attribution.ChannelShares(shares.view(-1, 1, 1), shares, 0, 2.0, 2.0 - float(shares.sum()), "conv2",
                                           32, "black", "riemann")


def test_the_note_counts_the_channels_that_carry_half_of_the_red():
    said = channel_shares.note(_shares([3.0, 1.0, 1.0, -0.5, 1.0]), 0)
    assert "The 5 channels' shares add up to **5.500**; the class score moved 5.500" in said
    assert "Of the red, 1 channel of 5 carries half. Channel 0: **+3.000**, 50% of the red." in said
    assert "Of the red, 2 channels of 4 carry half" in channel_shares.note(_shares([1.0, 1.0, 1.0, 1.0]), 3)
    assert "it speaks against the class" in channel_shares.note(_shares([3.0, 1.0, 1.0, -0.5, 1.0]), 3)


def test_with_no_red_the_note_says_no_channel_speaks_for_the_class_and_the_bars_are_grey():
    said = channel_shares.note(_shares([0.0, 0.0, 0.0]), 0)
    assert "No channel speaks for the class here" in said and "carries half" not in said
    bars = explain_figures.channel_shares_figure(_shares([0.0, -1.0, 0.0]), "3", 0).data[0]
    assert list(bars.marker.color) == ["#999999", "#999999", "#4575b4"]


def test_a_picked_channel_outside_the_largest_and_smallest_is_shown_in_its_place():
    shares = _shares([float(v) for v in range(40)])  # channel k's share is k
    shown = explain_figures.shown_channels(shares, most=16, chosen=20)
    assert shown[:10] == list(range(39, 29, -1)) and shown[10] == 20 and shown[11:] == [5, 4, 3, 2, 1, 0]
    figure = explain_figures.channel_shares_figure(shares, "3", 20)
    assert "the 10 largest and 6 smallest of 40, and 20)" in figure.layout.xaxis.title.text
    assert explain_figures.shown_channels(shares, most=16, chosen=39) == explain_figures.shown_channels(shares)
