"""explorer.conv against PyTorch itself and the lecture's worked examples."""

import itertools

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from explorer import conv, examples, kernels


@pytest.mark.parametrize("key", list(examples.EXAMPLES))
def test_worked_examples_exactly(key):
    e = examples.EXAMPLES[key]
    out = conv.conv2d(e.image, e.kernel, padding=e.padding, stride=e.stride).double()
    assert out.shape == e.expected.shape
    assert torch.allclose(out.round(decimals=e.decimals), e.expected, atol=1e-9)


def test_zero_padding_example_cell_1_2_is_3_5():
    e = examples.EXAMPLES["zero_padding"]
    assert conv.conv2d(e.image, e.kernel, padding=1)[1, 2].item() == pytest.approx(3.5)


def _reference(image, kernel, padding, mode, stride, dilation, flip):
    """conv2d composed from F.pad and F.conv2d the way a reader would write it."""
    x = image if image.dim() == 3 else image[None]
    w = kernel if kernel.dim() == 3 else kernel.expand(x.shape[0], *kernel.shape)
    w = w.flip(-1, -2) if flip else w
    if padding == "same":
        total_h, total_w = (dilation * (k - 1) for k in w.shape[-2:])
        pads = (total_w // 2, total_w - total_w // 2, total_h // 2, total_h - total_h // 2)
    else:
        pads = (0 if padding == "valid" else padding,) * 4
    x = F.pad(x[None], pads, mode="constant" if mode == "zeros" else mode)
    return F.conv2d(x, w[None], stride=stride, dilation=dilation)[0, 0]


GRID = list(itertools.product(
    [(7, 9), (12, 10)],  # H, W
    [(3, 3), (2, 3), (5, 1)],  # kernel
    ["valid", "same", 1, 2],  # padding
    conv.PADDING_MODES,
    [1, 2, 3],  # stride
    [1, 2],  # dilation
    [1, 3],  # channels
))


@pytest.mark.parametrize("hw,khw,padding,mode,stride,dilation,channels", GRID)
def test_conv2d_matches_torch_over_grid(hw, khw, padding, mode, stride, dilation, channels):
    image = torch.rand(channels, *hw)
    for kernel in (torch.randn(*khw), torch.randn(channels, *khw)):
        for flip in (False, True):
            options = dict(padding=padding, padding_mode=mode, stride=stride, dilation=dilation, flip=flip)
            try:
                ref = _reference(image, kernel, padding, mode, stride, dilation, flip)
            except RuntimeError:  # PyTorch refuses: so must we, in words
                with pytest.raises(ValueError):
                    conv.conv2d(image, kernel, **options)
                continue
            assert torch.allclose(conv.conv2d(image, kernel, **options), ref, atol=1e-5)


def test_same_padding_matches_torch_same():
    image, kernel = torch.rand(1, 9, 11), torch.randn(4, 4)
    ref = F.conv2d(image[None], kernel[None, None], padding="same", dilation=2)[0, 0]
    assert torch.allclose(conv.conv2d(image, kernel, padding="same", dilation=2), ref, atol=1e-5)


def test_flip_is_true_convolution():
    """True convolution of an impulse reproduces the kernel; correlation gives it rotated."""
    impulse = torch.zeros(5, 5)
    impulse[2, 2] = 1
    kernel = torch.arange(9.0).reshape(3, 3)
    assert torch.equal(conv.conv2d(impulse, kernel, padding=1, flip=True)[1:4, 1:4], kernel)
    assert torch.equal(conv.conv2d(impulse, kernel, padding=1)[1:4, 1:4], kernel.flip(0, 1))


def test_per_channel_matches_grouped_conv():
    image, kernel = torch.rand(3, 8, 8), torch.randn(3, 3)
    ours = conv.conv2d_per_channel(image, kernel, padding="same", padding_mode="reflect")
    ref = F.conv2d(F.pad(image[None], (1, 1, 1, 1), mode="reflect"), kernel.expand(3, 1, 3, 3), groups=3)[0]
    assert torch.allclose(ours, ref, atol=1e-6)


@pytest.mark.parametrize("bad", [
    dict(padding="full"), dict(padding=-1), dict(padding_mode="mirror", padding=1),
])
def test_bad_settings_are_refused_in_words(bad):
    with pytest.raises(ValueError):
        conv.conv2d(torch.rand(5, 5), torch.ones(3, 3), **bad)


def test_kernel_larger_than_input_is_explained():
    with pytest.raises(ValueError, match="spans 9x9"):
        conv.conv2d(torch.rand(6, 6), torch.ones(3, 3), dilation=4)
    with pytest.raises(ValueError, match="reflect padding"):
        conv.conv2d(torch.rand(3, 3), torch.ones(7, 7), padding="same", padding_mode="reflect")
    # PyTorch's own words were "Padding value causes wrapping around more than once."
    with pytest.raises(ValueError, match=r"^circular padding of 4 px would wrap around the image more than once"):
        conv.conv2d(torch.rand(3, 3), torch.ones(9, 9), padding="same", padding_mode="circular")
    wrapped = conv.conv2d(torch.rand(3, 3), torch.ones(7, 7), padding="same", padding_mode="circular")  # 3 of 3: once
    assert wrapped.shape == (3, 3)


def test_a_signal_too_short_is_explained_in_a_signals_words():
    with pytest.raises(ValueError, match=r"^the kernel spans 5 values \(dilation 2\) but the padded signal has only 4"):
        conv.conv1d(torch.rand(2), torch.ones(3), padding=1, dilation=2)
    with pytest.raises(ValueError, match=r"^reflect padding of 3 needs a signal longer than that \(this one has 3"):
        conv.conv1d(torch.rand(3), torch.ones(7), padding="same", padding_mode="reflect")
    with pytest.raises(ValueError, match=r"^circular padding of 4 would wrap around the signal more than once"):
        conv.conv1d(torch.rand(3), torch.ones(9), padding="same", padding_mode="circular")
    assert conv.conv1d(torch.rand(3), torch.ones(5), padding="same").shape == (3,)  # padded (2, 2): it fits


@pytest.mark.parametrize("n,k,p,s,d", [(10, 3, 0, 1, 1), (11, 4, 1, 2, 1), (9, 3, 2, 3, 2), (16, 5, 0, 1, 3)])
def test_conv1d_matches_torch(n, k, p, s, d):
    signal, kernel = torch.randn(n), torch.randn(k)
    ref = F.conv1d(F.pad(signal[None, None], (p, p)), kernel[None, None], stride=s, dilation=d)[0, 0]
    assert torch.allclose(conv.conv1d(signal, kernel, padding=p, stride=s, dilation=d), ref, atol=1e-5)
    flipped = F.conv1d(F.pad(signal[None, None], (p, p)), kernel.flip(0)[None, None], stride=s, dilation=d)[0, 0]
    assert torch.allclose(conv.conv1d(signal, kernel, padding=p, stride=s, dilation=d, flip=True), flipped, atol=1e-5)


@pytest.mark.parametrize("size,stride", [(2, None), (3, 1), (2, 3), (3, 2)])
def test_pooling_matches_torch(size, stride):
    x = torch.rand(2, 9, 10)
    s = stride or size
    assert torch.allclose(conv.pool2d(x, "max", size, stride), F.max_pool2d(x[None], size, s)[0])
    assert torch.allclose(conv.pool2d(x, "avg", size, stride), F.avg_pool2d(x[None], size, s)[0])
    assert torch.allclose(conv.pool2d(x, "sum", size, stride), F.avg_pool2d(x[None], size, s)[0] * size**2, atol=1e-5)
    assert torch.allclose(conv.pool2d(x, "l2", size, stride), F.lp_pool2d(x[None], 2, size, s)[0], atol=1e-5)


def test_output_size_non_integer_case_of_the_deck():
    assert conv.output_size(6, 3, padding=0, stride=2) == 2.5
    report = conv.size_report(6, 3, 0, 2)
    assert (report.actual, report.exact, report.dropped) == (2, False, 1)
    assert conv.conv2d(torch.rand(6, 6), torch.ones(3, 3), stride=2).shape == (2, 2)


@pytest.mark.parametrize("n,k,p,s,d", itertools.product([5, 8, 13], [1, 3, 4], [0, 1, 2], [1, 2, 3], [1, 2]))
def test_size_formula_floor_is_what_nn_conv2d_returns(n, k, p, s, d):
    formula = conv.output_size(n, k, p, s, d)
    if formula < 1:
        return
    layer = nn.Conv2d(1, 1, k, stride=s, padding=p, dilation=d)
    assert layer(torch.zeros(1, 1, n, n)).shape[-1] == conv.size_report(n, k, p, s, d).actual == int(formula // 1)


@pytest.mark.parametrize("c_in,c_out,k,bias", [(3, 32, 5, True), (1, 6, 5, True), (16, 8, (3, 1), False)])
def test_param_count_equals_nn_conv2d(c_in, c_out, k, bias):
    layer = nn.Conv2d(c_in, c_out, k, bias=bias)
    assert conv.param_count(c_in, c_out, k, bias) == sum(p.numel() for p in layer.parameters())


def test_lecture_parameter_counts():
    assert conv.param_count(3, 32, 5) == 2432
    assert conv.locally_connected_param_count((24, 24), 3, 5, 7) == 423_360
    assert conv.param_count(3, 5, 7) == 740
    assert conv.dense_param_count(256 * 256 * 3, 1000) == 196_608_000
    assert 1920 * 1080 * 3 == 6_220_800
    # two stacked 3x3 convs see 5x5 with fewer weights than one 5x5
    assert 2 * conv.param_count(1, 1, 3, bias=False) < conv.param_count(1, 1, 5, bias=False)


@pytest.mark.parametrize("side,channels,kernel,stride,padding,filters", [
    (30, 3, 7, 1, 0, 5), (32, 3, 5, 1, 0, 32), (6, 1, 3, 2, 0, 1), (28, 1, 5, 2, 2, 6), (256, 3, 3, 1, 1, 1)])
def test_a_layers_counts_are_what_pytorch_holds(side, channels, kernel, stride, padding, filters):
    """Shared: a Conv2d's parameters; unshared: a kernel (no bias) for each window F.unfold cuts; dense: a Linear."""
    counts = conv.layer_counts(side, channels, kernel, stride, padding, filters)
    layer = nn.Conv2d(channels, filters, kernel, stride=stride, padding=padding)
    out = layer(torch.zeros(1, channels, side, side))
    assert out.shape[-1] == counts.size.actual
    assert counts.shared == sum(p.numel() for p in layer.parameters())
    windows = F.unfold(torch.zeros(1, channels, side, side), kernel, stride=stride, padding=padding)
    assert counts.unshared == windows.shape[-1] * filters * windows.shape[1]  # positions x K x (F F C)
    assert counts.dense == nn.Linear(side * side * channels, 1000, bias=False).weight.numel()


def test_the_lectures_counts():
    counts = conv.layer_counts(30, 3, 7, filters=5)
    assert (counts.shared, counts.unshared) == (740, 423_360)
    assert conv.layer_counts(32, 3, 5, filters=32).shared == 2432
    assert conv.layer_counts(256, 3, 3).dense == 196_608_000
    with pytest.raises(ValueError, match="a 9x9 kernel does not fit a 5x5 input with padding 1"):
        conv.layer_counts(5, 1, 9, padding=1)
    frame = conv.layer_counts(1920, 3, 3, padding=1, height=1080)  # an HD frame: 6,220,800 input values
    assert frame.inputs == 6_220_800 and (frame.rows.actual, frame.size.actual) == (1080, 1920)
    assert frame.unshared == 1080 * 1920 * 3 * 3 * 3 and frame.dense == 6_220_800 * 1000


def test_a_non_square_layers_counts_are_what_pytorch_holds():
    counts = conv.layer_counts(12, 2, 3, stride=2, filters=4, height=7)  # W 12, H 7
    out = nn.Conv2d(2, 4, 3, stride=2)(torch.zeros(1, 2, 7, 12))
    assert (counts.rows.actual, counts.size.actual) == tuple(out.shape[-2:]) == (3, 5)
    assert counts.unshared == F.unfold(torch.zeros(1, 2, 7, 12), 3, stride=2).shape[-1] * 4 * 2 * 9


def test_the_rows_left_out_are_those_past_every_windows_last_tap():
    """Counted from the taps themselves (o·S + D·i over every output o and tap i), for dilations too, and the output
    size PyTorch's own."""
    for n, k, p, s, d in itertools.product(range(4, 12), (1, 2, 3, 5), (0, 1, 2), (1, 2, 3), (1, 2, 3)):
        if n + 2 * p < d * (k - 1) + 1:
            continue
        report = conv.size_report(n, k, p, s, d)
        out = torch.nn.functional.conv1d(torch.zeros(1, 1, n), torch.zeros(1, 1, k), padding=p, stride=s, dilation=d)
        last = max(o * s + d * i for o in range(report.actual) for i in range(k))
        assert report.actual == out.shape[-1] and report.dropped == n + 2 * p - 1 - last, (n, k, p, s, d)


@pytest.mark.parametrize("flip", [False, True])
def test_each_channel_on_its_own_is_a_depthwise_conv_with_the_kernel_rotated_when_flipped(flip):
    """Kernel Lab's per-channel maps: nn.Conv2d(groups=C) on each channel, the kernel turned by 180 degrees for true
    convolution (a Sobel, not symmetric top to bottom, tells a 180-degree turn from a mirror)."""
    image, kernel = torch.rand(3, 9, 8), kernels.PRESETS["sobel (horizontal edges)"]
    turned = kernel.flip(0).flip(1) if flip else kernel
    expected = torch.nn.functional.conv2d(image[None], turned.expand(3, 1, 3, 3), groups=3, stride=2, dilation=2)[0]
    torch.testing.assert_close(conv.conv2d_per_channel(image, kernel, stride=2, dilation=2, flip=flip), expected)
    asymmetric = torch.randn(2, 3)
    torch.testing.assert_close(conv.conv2d_per_channel(image, asymmetric, flip=True),
                               torch.stack([conv.conv2d(c, asymmetric, flip=True) for c in image]))


def test_the_largest_pooling_window_and_the_widest_circular_padding_pytorch_takes():
    """At the limits: a window as large as the map (one output), circular padding as long as the signal."""
    image = torch.rand(4, 4)
    torch.testing.assert_close(conv.pool2d(image, "max", 4), F.max_pool2d(image[None, None], 4)[0, 0])
    with pytest.raises(ValueError, match="a 5x5 pooling window does not fit a 4x4 map"):
        conv.pool2d(image, "max", 5)
    signal, kernel = torch.tensor([1.0, 2.0, 3.0]), torch.tensor([1.0, -1.0, 0.5])
    wrapped = F.conv1d(F.pad(signal[None, None], (3, 3), mode="circular"), kernel[None, None])[0, 0]
    torch.testing.assert_close(conv.conv1d(signal, kernel, padding=3, padding_mode="circular"), wrapped)
