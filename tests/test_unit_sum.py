"""One output value of a convolution, term by term: the terms add up to PyTorch's output."""

import pytest
import torch
from torch import nn

from explorer import unit_sum


@pytest.mark.parametrize("options", [
    dict(),
    dict(stride=2, padding=1),
    dict(padding=2, dilation=2),
    dict(padding=1, padding_mode="reflect"),
    dict(groups=2, padding=1),
    dict(bias=False, stride=(1, 2), padding=(0, 1)),
])
def test_the_terms_add_up_to_pytorchs_output_at_every_position(options):
    torch.manual_seed(0)
    conv = nn.Conv2d(4, 6, 3, **options).double()
    x = torch.randn(4, 7, 8, dtype=torch.float64)
    out = conv(x[None])[0].detach()
    for m, r, c in [(0, 0, 0), (5, out.shape[1] - 1, out.shape[2] - 1), (3, out.shape[1] // 2, 1)]:
        parts = unit_sum.conv_unit(conv, x, m, r, c)
        assert parts.total == pytest.approx(float(out[m, r, c]), abs=1e-9)
        assert len(parts.channels) == 4 // conv.groups and parts.windows.shape == (len(parts.channels), 3, 3)
    grouped = unit_sum.conv_unit(conv, x, 5, 0, 0)
    assert grouped.channels == ([2, 3] if conv.groups == 2 else [0, 1, 2, 3])


def test_the_taps_positions_and_padding():
    conv = nn.Conv2d(1, 1, 3, padding=1, bias=True)
    with torch.no_grad():
        conv.weight.fill_(1.0)
        conv.bias.fill_(0.5)
    x = torch.arange(16.0).view(1, 4, 4)
    parts = unit_sum.conv_unit(conv, x, 0, 0, 0)
    assert parts.rows == [-1, 0, 1] and parts.cols == [-1, 0, 1]  # the top-left unit: a ring of zeros
    assert parts.windows[0].tolist() == [[0, 0, 0], [0, 0, 1], [0, 4, 5]] and parts.total == 10.5
    with pytest.raises(ValueError, match="rows 0..3 and columns 0..3"):
        unit_sum.conv_unit(conv, x, 0, 4, 0)


def test_same_padding_is_read_as_numbers():
    conv = nn.Conv2d(2, 3, 5, padding="same").double()
    x = torch.randn(2, 6, 6, dtype=torch.float64)
    assert unit_sum.conv_unit(conv, x, 2, 0, 5).total == pytest.approx(float(conv(x[None])[0, 2, 0, 5].detach()), abs=1e-9)


def test_a_dilated_strided_units_taps_and_every_maps_group():
    """Rows r·S - P + D·i, the window read from the padded input at exactly those places; out maps 0..2 of two groups
    read input maps 0, 1 and maps 3..5 read 2, 3."""
    conv = nn.Conv2d(4, 6, 3, stride=2, padding=2, dilation=2, groups=2).double()
    x = torch.randn(4, 9, 9, dtype=torch.float64)
    padded = nn.functional.pad(x, (2, 2, 2, 2))
    parts = unit_sum.conv_unit(conv, x, 4, 2, 1)
    assert parts.rows == [2 * 2 - 2 + 2 * i for i in range(3)] and parts.cols == [1 * 2 - 2 + 2 * j for j in range(3)]
    expected = padded[parts.channels][:, [r + 2 for r in parts.rows]][:, :, [c + 2 for c in parts.cols]]
    assert torch.equal(parts.windows, expected)
    assert [unit_sum.conv_unit(conv, x, m, 0, 0).channels for m in range(6)] == [[0, 1]] * 3 + [[2, 3]] * 3
