"""The Kernel Lab's compute path end to end."""

import math
import re

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from explorer import filtering, kernels
from explorer.filtering import FilterSettings


def test_grey_path_equals_nn_conv2d_with_same_padding():
    image = torch.rand(3, 20, 24)
    kernel = kernels.PRESETS["sobel (vertical edges)"]
    result = filtering.apply_filter(image, kernel, FilterSettings(border="zeros"))
    grey = (image * torch.tensor([0.299, 0.587, 0.114]).reshape(3, 1, 1)).sum(0, keepdim=True)
    ref = F.conv2d(grey[None], kernel[None, None], padding=1)[0]
    assert torch.allclose(result.output, ref, atol=1e-5)
    assert result.params == 10


def test_sum_mode_is_one_rgb_kernel_and_counts_like_nn_conv2d():
    image, kernel = torch.rand(3, 16, 16), torch.randn(5, 5)
    result = filtering.apply_filter(image, kernel, FilterSettings(border="valid", colour="sum", stride=2))
    layer = nn.Conv2d(3, 1, 5, stride=2)
    with torch.no_grad():
        layer.weight.copy_(kernel.expand(1, 3, 5, 5))
        layer.bias.zero_()
        assert torch.allclose(result.output, layer(image[None])[0], atol=1e-5)
    assert result.params == sum(p.numel() for p in layer.parameters()) == 76
    assert result.sizes[0].formula == 6.5 and not result.sizes[0].exact


def test_relu_and_pooling_after():
    image, kernel = torch.rand(1, 12, 12), torch.randn(3, 3)
    s = FilterSettings(border="reflect", relu=True, pool="max", pool_size=2)
    result = filtering.apply_filter(image, kernel, s)
    assert torch.allclose(result.output, F.max_pool2d(result.conv.clamp_min(0)[None], 2)[0])
    assert result.output.shape == (1, 6, 6) and result.output.min() >= 0


def test_per_channel_gives_one_map_per_colour():
    result = filtering.apply_filter(torch.rand(3, 9, 9), torch.ones(3, 3), FilterSettings(colour="per-channel"))
    assert result.output.shape == (3, 9, 9) and result.params == 30


def test_even_kernel_same_padding_keeps_the_size_and_formula_agrees():
    result = filtering.apply_filter(torch.rand(1, 10, 11), kernels.PRESETS["derivative [-1, 1]"], FilterSettings())
    assert result.output.shape == (1, 10, 11)
    assert [r.formula for r in result.sizes] == [10, 11]


def test_explanation_fills_the_formulas_with_this_views_numbers():
    result = filtering.apply_filter(torch.rand(1, 6, 6), torch.ones(3, 3), FilterSettings(border="valid", stride=2))
    text = "\n".join(filtering.explain(result, torch.ones(3, 3), FilterSettings(border="valid", stride=2)))
    assert "= 2.5" in text and "PyTorch takes the floor, **2**" in text
    assert "the last row of the padded input is never covered" in text  # 6 rows, 3x3 windows 2 apart
    wide = filtering.apply_filter(torch.rand(1, 8, 8), torch.ones(3, 3), FilterSettings(border="valid", stride=3))
    words = "\n".join(filtering.explain(wide, torch.ones(3, 3), FilterSettings(border="valid", stride=3)))
    assert "the last 2 columns of the padded input are never covered" in words
    assert "(3\\cdot3\\cdot1 + 1)\\cdot 1 = 10" in text


def test_the_fully_connected_count_is_the_lectures_for_a_256px_rgb_image():
    result = filtering.apply_filter(torch.rand(3, 256, 256), torch.ones(3, 3), FilterSettings(colour="sum"))
    text = "\n".join(filtering.explain(result, torch.ones(3, 3), FilterSettings(colour="sum")))
    assert "196{,}608\\cdot 1{,}000 = 196{,}608{,}000$ weights" in text  # 256 * 256 * 3 inputs, 1,000 neurons


def test_impossible_settings_raise_value_error():
    with pytest.raises(ValueError):
        filtering.apply_filter(torch.rand(1, 5, 5), torch.ones(7, 7), FilterSettings(border="valid"))
    with pytest.raises(ValueError):
        filtering.apply_filter(torch.rand(1, 4, 4), torch.ones(3, 3), FilterSettings(pool="max", pool_size=8))


@pytest.mark.parametrize("side,kernel,stride,pool,window", [
    (12, 3, 1, "max", 2), (13, 5, 2, "avg", 3), (31, 4, 3, "l2", 4), (9, 3, 1, "sum", 5)])
def test_the_size_lines_need_no_convolution_and_agree_with_the_maps(side, kernel, stride, pool, window):
    settings = FilterSettings(border="valid", stride=stride, pool=pool, pool_size=window)
    result = filtering.apply_filter(torch.rand(1, side, side), torch.ones(kernel, kernel), settings)
    lines = filtering.size_lines((side, side), (kernel, kernel), settings)
    for line, size in zip(lines[1:3], result.conv.shape[-2:]):
        _assert_size_line_adds_up(line, size)
    assert lines[-1].endswith(f"{tuple(result.conv.shape[-2:])} → {tuple(result.output.shape[-2:])}")


def _assert_size_line_adds_up(line: str, size: int) -> None:
    """The numbers a size line writes give its result, whose floor is the map's ``size`` along that axis."""
    n, two_p, d, k, s, value = re.search(
        r"\\frac\{(\d+) \+ (\d+) - (\d+)\\cdot\((\d+)-1\) - 1\}\{(\d+)\} \+ 1 = ([\d.]+)\$", line).groups()
    formula = (int(n) + int(two_p) - int(d) * (int(k) - 1) - 1) / int(s) + 1
    assert float(value) == pytest.approx(formula, rel=1e-5) and math.floor(formula) == size, line


@pytest.mark.parametrize("side,kernel,stride,dilation,border", [
    (28, 1, 7, 1, "valid"), (28, 1, 7, 1, "zeros"), (64, 4, 3, 1, "zeros"), (33, 5, 6, 3, "reflect"),
    (7, 2, 1, 1, "replicate"), (512, 7, 8, 2, "zeros")])
def test_each_size_line_writes_the_padding_used_and_adds_up_to_the_map(side, kernel, stride, dilation, border):
    """2P was worked back from the result, a float: 28 + 3.55271e-15 for a 1x1 kernel at stride 7, with a note that
    an even kernel has no centre."""
    settings = FilterSettings(border=border, stride=stride, dilation=dilation)
    result = filtering.apply_filter(torch.rand(1, side, side), torch.ones(kernel, kernel), settings)
    for line, size in zip(filtering.size_lines((side, side), (kernel, kernel), settings)[1:3], result.conv.shape[-2:]):
        _assert_size_line_adds_up(line, size)
        assert "e-" not in line and ("even kernel" in line) == (kernel % 2 == 0 and border != "valid")


def test_the_size_lines_say_why_impossible_settings_fail():
    lines = filtering.size_lines((5, 5), (7, 7), FilterSettings(border="valid"))
    assert "\\frac{5 + 0 - 1\\cdot(7-1) - 1}{1} + 1 = -1$ — less than one: not a single window fits" in lines[1]
    pooled = filtering.size_lines((4, 4), (3, 3), FilterSettings(border="zeros", pool="max", pool_size=8))
    assert pooled[-1] == "- after max pooling 8x8 (stride 8): (4, 4) → nothing: the window is larger than the map"


@pytest.mark.parametrize("border,stride,dilation,kernel", [
    ("zeros", 1, 1, 3), ("valid", 1, 1, 3), ("valid", 2, 1, 5), ("replicate", 3, 2, 3), ("zeros", 2, 1, 4),
    ("zeros", 1, 2, 3), ("valid", 1, 3, 3)])
def test_the_output_block_holds_the_outputs_centred_on_the_input_block(border, stride, dilation, kernel):
    settings = FilterSettings(border=border, stride=stride, dilation=dilation)
    result = filtering.apply_filter(torch.rand(1, 40, 40), torch.randn(kernel, kernel), settings)
    top, left = 10, 17
    rows_a, rows_b, cols_a, cols_b = filtering.output_block(result, (kernel, kernel), settings, top, left)
    pad_top, pad_left = result.padding[2], result.padding[0]
    for axis, (first, last, start, pad) in enumerate([(rows_a, rows_b, top, pad_top), (cols_a, cols_b, left, pad_left)]):
        centre = [o * stride - pad + dilation * (kernel - 1) / 2 for o in range(result.conv.shape[1 + axis])]
        inside = [o for o, c in enumerate(centre) if start <= c < start + 12]
        assert (first, last) == (inside[0], inside[-1] + 1), axis


def test_the_output_block_is_the_pixel_block_itself_at_same_padding_and_empty_past_the_maps_end():
    same = FilterSettings(border="zeros")
    result = filtering.apply_filter(torch.rand(1, 20, 20), torch.ones(3, 3), same)
    assert filtering.output_block(result, (3, 3), same, 4, 9) == (4, 16, 9, 20)  # cut at the map's 20 columns
    settings = FilterSettings(border="valid")
    result = filtering.apply_filter(torch.rand(1, 20, 20), torch.ones(5, 5), settings)
    rows_a, rows_b, _, _ = filtering.output_block(result, (5, 5), settings, 19, 0)  # no window is centred on row 19
    assert rows_a == rows_b


def test_an_even_kernels_odd_total_padding_is_explained():
    settings = filtering.FilterSettings(border="zeros", stride=1, dilation=1, colour="grey", flip=False, relu=False,
                                        pool="none", pool_size=2)
    result = filtering.apply_filter(torch.rand(32, 32), torch.ones(4, 4), settings)
    text = "\n".join(filtering.explain(result, torch.ones(4, 4), settings))
    assert "$\\frac{32 + 3 - 1\\cdot(4-1) - 1}{1} + 1 = 32$ (2P is both sides' padding together: 1 + 2" in text
    assert result.output.shape[-2:] == (32, 32)
    assert "= 16{,}384$ weights" in text  # a bare comma in a formula would print as "16, 384"


@pytest.mark.parametrize("settings", [
    filtering.FilterSettings(),
    filtering.FilterSettings(border="reflect", stride=2, flip=True),
    filtering.FilterSettings(border="valid", dilation=2),
    filtering.FilterSettings(border="circular", colour="per-channel"),
])
def test_each_outputs_sum_written_out_adds_up_to_pytorchs_value(settings):
    """The hover beside a feature map's number: its window times the kernel, as Setosa's demo shows it."""
    torch.manual_seed(0)
    image = torch.rand(3, 20, 24)
    kernel = torch.tensor([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]])
    result = filtering.apply_filter(image, kernel, settings)
    channel = 2 if settings.colour == "per-channel" else 0
    sums = filtering.window_sums(result, kernel, settings, (1, 4, 2, 6), channel)
    assert len(sums) == 3 and len(sums[0]) == 4
    for i, row in enumerate(sums):
        for j, text in enumerate(row):
            assert float(text.rsplit("= ", 1)[1]) == pytest.approx(float(result.conv[channel, 1 + i, 2 + j]), abs=2e-3)
            assert text.count("<br>") == 2 and text.count("·") == 9  # one kernel row a line
    first = sums[0][0].split(" +<br>")[0]
    assert first.endswith("·1" if settings.flip else "·(-1)")  # the kernel as applied: turned when flipped


def test_no_sum_is_written_for_rgb_summed_or_a_kernel_too_big_to_read():
    image = torch.rand(3, 20, 20)
    summed = filtering.FilterSettings(colour="sum")
    assert filtering.window_sums(filtering.apply_filter(image, torch.ones(3, 3), summed), torch.ones(3, 3), summed,
                                 (0, 2, 0, 2)) is None
    big = filtering.FilterSettings()
    assert filtering.window_sums(filtering.apply_filter(image, torch.ones(9, 9), big), torch.ones(9, 9), big,
                                 (0, 2, 0, 2)) is None
