"""Step-by-step traces: sums equal the real operation, routing equals autograd."""

import itertools

import pytest
import torch
import torch.nn.functional as F

from explorer import conv, examples, export, trace


@pytest.mark.parametrize("key", list(examples.EXAMPLES))
def test_trace_fills_the_worked_examples_cell_by_cell(key):
    e = examples.EXAMPLES[key]
    traced = trace.conv_trace(e.image, e.kernel, padding=e.padding, stride=e.stride)
    assert traced.steps == e.expected.numel()
    for step in range(traced.steps):
        r, c = traced.cell(step)
        assert round(float(traced.terms[step].sum()), e.decimals) == pytest.approx(float(e.expected[r, c]))


def test_zero_padding_products_of_cell_1_2():
    """The deck writes the products into the window: their sum at cell (1, 2) is 3.5."""
    e = examples.EXAMPLES["zero_padding"]
    traced = trace.conv_trace(e.image, e.kernel, padding=1)
    step = 1 * 5 + 2
    assert traced.cell(step) == (1, 2)
    assert torch.allclose(traced.window(step), F.pad(e.image, (1, 1, 1, 1))[1:4, 2:5])
    assert torch.allclose(traced.window_terms(step), traced.window(step) * e.kernel)
    assert trace.equation(traced, step).endswith("= 3.5")


def test_the_lectures_six_by_six_at_stride_two_is_flagged_and_floored_as_pytorch_does():
    """SEEDS 3: a 6x6 input, a 3x3 kernel, stride 2, no padding: (6 - 3) / 2 + 1 = 2.5."""
    grid = torch.arange(36, dtype=torch.float64).reshape(6, 6)
    traced = trace.conv_trace(grid, torch.ones(3, 3), stride=2)
    assert tuple(traced.output.shape) == tuple(F.conv2d(grid[None, None], torch.ones(1, 1, 3, 3).double(),
                                                        stride=2).shape[-2:]) == (2, 2)
    assert trace.size_notes(traced) == [
        f"{axis}: (W - F + 2P) / S + 1 = (6 - 3 + 0) / 2 + 1 = 2.5, not an integer: PyTorch takes the floor, 2, so the "
        f"last {axis.lower()[:-1]} of the input is never under the window (shaded on the input)."
        for axis in ("Rows", "Columns")]
    assert trace.unread(traced) == ([5], [5]) and trace.unread_notes(traced) == []  # past the last window: said above


def test_rows_between_the_taps_are_found_as_pytorch_ignores_them():
    """Whatever an unread input value is, PyTorch's output does not change."""
    grid = torch.rand(7, 7, dtype=torch.float64)
    for stride, dilation, kernel in ((3, 1, 2), (1, 3, 3), (2, 2, 2)):
        traced = trace.conv_trace(grid, torch.ones(kernel, kernel), stride=stride, dilation=dilation)
        rows, cols = trace.unread(traced)
        changed = grid.clone()
        changed[rows, :] += 100
        changed[:, cols] += 100
        outputs = [F.conv2d(g[None, None], torch.ones(1, 1, kernel, kernel).double(), stride=stride, dilation=dilation)
                   for g in (grid, changed)]
        assert torch.equal(*outputs), (stride, dilation)
        read = set(range(7)) - set(rows)
        assert all(not torch.equal(_bumped(grid, r, stride, dilation, kernel), outputs[0]) for r in read)
    assert trace.unread(trace.conv_trace(grid, torch.ones(3, 3))) == ([], [])


def _bumped(grid: torch.Tensor, row: int, stride: int, dilation: int, kernel: int) -> torch.Tensor:
    changed = grid.clone()
    changed[row, :] += 100
    return F.conv2d(changed[None, None], torch.ones(1, 1, kernel, kernel).double(), stride=stride, dilation=dilation)


def test_size_notes_name_what_is_left_out_and_only_when_something_is():
    for e in examples.EXAMPLES.values():  # the lecture's examples all tile, but its stride example
        notes = trace.size_notes(trace.conv_trace(e.image, e.kernel, padding=e.padding, stride=e.stride))
        assert (notes == []) == (e.key != "stride_2") and len(notes) in (0, 2)
    box = examples.EXAMPLES["box"].image
    assert trace.size_notes(trace.conv_trace(box, torch.ones(3, 3), padding=1, stride=2)) == []  # (5 - 3 + 2) / 2 + 1
    padded = trace.size_notes(trace.conv_trace(box, torch.ones(2, 2), padding=1, stride=3))  # (5 - 2 + 2) / 3 + 1
    assert "= 2.67, not an integer: PyTorch takes the floor, 2, so the last 2 rows of the padded input are" in padded[0]
    dilated = trace.size_notes(trace.conv_trace(torch.zeros(6, 7), torch.ones(3, 3), dilation=2, stride=2))
    assert [n.split(":")[0] for n in dilated] == ["Rows"]  # (7 - 5) / 2 + 1 = 2 columns tile
    assert "(6 - 5 + 0) / 2 + 1 = 1.5 (the dilated window spans 2·(3-1)+1 = 5)" in dilated[0]
    pooled = trace.size_notes(trace.pool_trace(examples.EXAMPLES["laplacian"].image, "max", 2))  # 4 x 5, 2 x 2
    assert [n.split(":")[0] for n in pooled] == ["Columns"] and "(5 - 2 + 0) / 2 + 1 = 2.5" in pooled[0]
    signal = trace.size_notes(trace.conv1d_trace(torch.arange(10.0), torch.tensor([1.0, 0, -1]), stride=2))
    assert signal == ["Positions: (W - F + 2P) / S + 1 = (10 - 3 + 0) / 2 + 1 = 4.5, not an integer: PyTorch takes "
                      "the floor, 4, so the last position of the input is never under the window (shaded on the input)."]


def test_a_box_blur_is_written_in_ninths_as_the_lecture_writes_it():
    e = examples.EXAMPLES["box"]
    traced = trace.conv_trace(e.image, e.kernel)
    assert export.common_fraction(traced.weights) == 9
    assert trace.equation(traced, 0) == "(3 + 3 + 2 + 0 + 0 + 1 + 3 + 1 + 2) / 9 = 15 / 9 = 1.67"  # the deck's 1.7
    assert export.common_fraction(torch.tensor([0.5, 0.5])) == 2
    for other in (torch.ones(3, 3), torch.tensor([[0.5, 0.25]]), torch.tensor([[-0.5, -0.5]]), torch.tensor([0.5])):
        assert export.common_fraction(other) is None
    assert trace.equation(trace.conv_trace(e.image, torch.ones(3, 3)), 0).startswith("3·1 + 3·1 + 2·1")


@pytest.mark.parametrize("padding,mode,stride,dilation,flip", itertools.product(
    [0, 1, 2, "same"], conv.PADDING_MODES, [1, 2, 3], [1, 2], [False, True]))
def test_trace_equals_conv2d(padding, mode, stride, dilation, flip):
    image, kernel = torch.rand(8, 9), torch.randn(3, 2)
    traced = trace.conv_trace(image, kernel, padding=padding, padding_mode=mode, stride=stride,
                              dilation=dilation, flip=flip)
    ref = conv.conv2d(image, kernel, padding=padding, padding_mode=mode, stride=stride, dilation=dilation, flip=flip)
    assert torch.allclose(traced.output.float(), ref, atol=1e-5)
    # positions really are where the values come from
    assert torch.equal(traced.padded[traced.rows, traced.cols], traced.values)


def test_dilation_spreads_the_taps():
    traced = trace.conv_trace(torch.rand(7, 7), torch.ones(3, 3), dilation=2)
    assert traced.rows[0].unique().tolist() == [0, 2, 4]
    assert traced.cols[0].unique().tolist() == [0, 2, 4]


def test_stride_moves_the_window_by_s():
    traced = trace.conv_trace(torch.rand(7, 7), torch.ones(3, 3), stride=2)
    centres = trace.window_centres(traced)
    assert centres[:3, 1].tolist() == [1.0, 3.0, 5.0]


@pytest.mark.parametrize("n,p,s,d,flip", [(9, 0, 1, 1, False), (10, 2, 2, 1, True), (12, 1, 1, 3, False)])
def test_conv1d_trace_equals_conv1d(n, p, s, d, flip):
    signal, kernel = torch.randn(n), torch.randn(3)
    traced = trace.conv1d_trace(signal, kernel, padding=p, stride=s, dilation=d, flip=flip)
    ref = conv.conv1d(signal, kernel, padding=p, stride=s, dilation=d, flip=flip)
    assert torch.allclose(traced.output[0].float(), ref, atol=1e-5)
    assert traced.padding == (p, p, 0, 0)
    assert torch.equal(traced.unpadded[0], signal.double())  # the export's "input" is the signal as typed


@pytest.mark.parametrize("kind,size,stride", itertools.product(conv.POOL_KINDS, [2, 3], [None, 1, 2]))
def test_pool_trace_equals_pool2d(kind, size, stride):
    image = torch.rand(7, 8)
    traced = trace.pool_trace(image, kind, size, stride)
    assert torch.allclose(traced.output.float(), conv.pool2d(image, kind, size, stride), atol=1e-5)


def test_a_pooling_step_is_written_out_rounded_as_its_grid():
    image = torch.tensor([[9.0, 5, 1], [2, 6, 5], [3, 4, 4]])
    traced = trace.pool_trace(image, "l2", 3)
    assert trace.pool_equation(traced, "l2", 0) == "l2(9, 5, 1, 2, 6, 5, 3, 4, 4) = 14.59"  # sqrt(213): 14.5945
    assert trace.pool_equation(trace.pool_trace(image / 3, "max", 3), "max", 0).endswith(" = 3")


@pytest.mark.parametrize("kind,size,stride", itertools.product(conv.POOL_KINDS, [2, 3], [None, 1]))
def test_pool_routing_equals_autograd(kind, size, stride):
    """Max routes to the max only, average 1/(rc) to each input, sum 1, L2 x/||x||; overlaps add."""
    image = torch.rand(6, 7, dtype=torch.float64, requires_grad=True)
    upstream = torch.randn_like(trace.pool_trace(image.detach(), kind, size, stride).output)
    out = {"max": lambda x: F.max_pool2d(x, size, stride or size),
           "avg": lambda x: F.avg_pool2d(x, size, stride or size),
           "sum": lambda x: F.avg_pool2d(x, size, stride or size, divisor_override=1),
           "l2": lambda x: F.lp_pool2d(x, 2, size, stride or size)}[kind](image[None, None])[0, 0]
    (expected,) = torch.autograd.grad(out, image, upstream)
    traced = trace.pool_trace(image.detach(), kind, size, stride)
    ours = trace.input_gradient(traced, trace.pool_routing(traced, kind), upstream)
    assert torch.allclose(ours, expected, atol=1e-9)


def test_conv_routing_is_the_transposed_conv():
    """dx = dy * flip(w): routing each output's gradient through the kernel equals autograd."""
    image = torch.rand(6, 6, dtype=torch.float64, requires_grad=True)
    kernel = torch.randn(3, 3, dtype=torch.float64)
    out = F.conv2d(image[None, None], kernel[None, None], stride=2)[0, 0]
    upstream = torch.randn_like(out)
    (expected,) = torch.autograd.grad(out, image, upstream)
    traced = trace.conv_trace(image.detach(), kernel, stride=2)
    routing = kernel.flatten().expand(traced.steps, -1)
    assert torch.allclose(trace.input_gradient(traced, routing, upstream), expected)


def test_bad_pool_kind_and_oversized_window():
    with pytest.raises(ValueError):
        trace.pool_trace(torch.rand(4, 4), "median", 2)
    with pytest.raises(ValueError, match="does not fit"):
        trace.pool_trace(torch.rand(2, 4), "max", 3)


@pytest.mark.parametrize(("stride", "dilation", "padding", "flip"),
                         [(2, 1, 0, False), (3, 1, 1, True), (2, 2, 2, False)])
def test_a_strided_convolution_is_the_stride_1_one_subsampled(stride, dilation, padding, flip):
    """The lecture: strided convolution = convolution followed by subsampling, checked against PyTorch both ways."""
    image, kernel = torch.randn(9, 8, dtype=torch.float64), torch.randn(3, 3, dtype=torch.float64)
    traced = trace.conv_trace(image, kernel, padding=padding, stride=stride, dilation=dilation, flip=flip)
    full, rows, cols = trace.as_subsampling(traced)
    applied = (kernel.flip(0, 1) if flip else kernel)[None, None]
    torch.testing.assert_close(full, F.conv2d(image[None, None], applied, padding=padding, dilation=dilation)[0, 0])
    torch.testing.assert_close(full[rows][:, cols], traced.output)
    assert rows == list(range(0, full.shape[0], stride)) and cols == list(range(0, full.shape[1], stride))


def test_stride_1_and_pooling_have_no_subsampling_to_show():
    assert trace.as_subsampling(trace.conv_trace(torch.ones(4, 4), torch.ones(2, 2))) is None
    assert trace.as_subsampling(trace.pool_trace(torch.ones(4, 4), "max", 2)) is None
