"""Backpropagation through a convolution: cell by cell, as a transposed convolution, as a correlation,
and against autograd."""

import itertools

import pytest
import torch

from explorer import backprop, conv, examples, trace


@pytest.mark.parametrize("padding,mode,stride,dilation,flip", itertools.product(
    [0, 1, 2], conv.PADDING_MODES, [1, 2, 3], [1, 2], [False, True]))
def test_every_reading_of_the_backward_pass_equals_autograd(padding, mode, stride, dilation, flip):
    torch.manual_seed(0)
    traced = trace.conv_trace(torch.rand(8, 9), torch.randn(3, 2), padding=padding, padding_mode=mode,
                              stride=stride, dilation=dilation, flip=flip)
    grad = torch.randn(traced.output.shape, dtype=torch.float64)
    dx, dw = backprop.autograd(traced, grad)
    done = backprop.backward(traced, grad)
    assert torch.allclose(done.input_grad, dx) and torch.allclose(done.weight_grad, dw)
    assert torch.allclose(backprop.input_grad_transposed(traced, grad), dx)
    assert torch.allclose(backprop.input_grad_by_flipped_kernel(traced, grad), dx)
    assert torch.allclose(backprop.weight_grad_by_correlation(traced, grad), dw)
    assert done.bias_grad == pytest.approx(float(grad.sum()))


def test_autograd_here_is_autograd_of_the_real_layer():
    """The reference itself: nn.Conv2d's own gradients on the unpadded input, through the padding."""
    torch.manual_seed(1)
    image, kernel = torch.rand(6, 7, dtype=torch.float64), torch.randn(3, 3, dtype=torch.float64)
    layer = torch.nn.Conv2d(1, 1, 3, stride=2, padding=1, padding_mode="reflect", dtype=torch.float64)
    layer.weight.data = kernel[None, None].clone()
    x = image[None, None].clone().requires_grad_(True)
    out = layer(x)
    grad = torch.randn(out.shape[-2:], dtype=torch.float64)
    out.backward(grad[None, None])
    traced = trace.conv_trace(image, kernel, padding=1, padding_mode="reflect", stride=2)
    done = backprop.backward(traced, grad)
    assert torch.allclose(done.weight_grad, layer.weight.grad[0, 0])
    assert torch.allclose(backprop.fold_padding(traced, done.input_grad, "reflect"), x.grad[0, 0])
    assert done.bias_grad == pytest.approx(float(layer.bias.grad))


@pytest.mark.parametrize("mode", conv.PADDING_MODES)
def test_folding_the_ring_back_gives_the_inputs_own_gradient(mode):
    torch.manual_seed(2)
    image = torch.rand(5, 6, dtype=torch.float64, requires_grad=True)
    kernel = torch.randn(3, 3, dtype=torch.float64)
    out = conv.conv2d(image, kernel, padding=1, padding_mode=mode)
    grad = torch.randn(out.shape, dtype=torch.float64)
    out.backward(grad)
    traced = trace.conv_trace(image.detach(), kernel, padding=1, padding_mode=mode)
    folded = backprop.fold_padding(traced, backprop.backward(traced, grad).input_grad, mode)
    assert torch.allclose(folded, image.grad, atol=1e-5)  # conv.conv2d computes in float32
    if mode == "zeros":  # the ring's gradient is dropped, not moved
        assert torch.allclose(folded, backprop.backward(traced, grad).input_grad[1:-1, 1:-1])


def test_cells_hand_back_one_at_a_time_and_add_up():
    e = examples.EXAMPLES["laplacian"]
    traced = trace.conv_trace(e.image, e.kernel)
    grad = torch.tensor([[1.0, 2.0, 0.0], [-1.0, 0.0, 3.0]], dtype=torch.float64)
    first = backprop.backward_until(traced, grad, 0)
    assert torch.equal(first.weight_grad, traced.window(0))  # dy = 1 times the first window
    assert torch.equal(first.input_grad[:3, :3], e.kernel.double()) and first.input_grad[:, 3:].abs().sum() == 0
    second = backprop.backward_until(traced, grad, 1)
    assert torch.equal(second.weight_grad, traced.window(0) + 2 * traced.window(1))  # shared weights add up
    assert second.bias_grad == 3.0
    overlap = backprop.backward_until(traced, grad, 1).input_grad[1, 2]  # under both windows: w[1,2] + 2 w[1,1]
    assert float(overlap) == float(e.kernel[1, 2] + 2 * e.kernel[1, 1])


def test_all_ones_on_the_lectures_laplacian():
    """L = sum of the outputs: dw[a, b] sums the input under tap (a, b) over the six windows."""
    e = examples.EXAMPLES["laplacian"]
    traced = trace.conv_trace(e.image, e.kernel)
    done = backprop.backward(traced, backprop.upstream_grid("", (2, 3)))
    assert done.weight_grad.tolist() == [[26, 13, 9], [28, 26, 25], [24, 35, 35]]
    assert done.input_grad.tolist() == [[0, 1, 1, 1, 0], [1, -2, -1, -2, 1], [1, -2, -1, -2, 1], [0, 1, 1, 1, 0]]
    assert done.bias_grad == 6


def test_step_text_writes_out_the_cell():
    e = examples.EXAMPLES["laplacian"]
    traced = trace.conv_trace(e.image, e.kernel)
    grad = torch.tensor([[1.0, 2.0, 0.0], [-1.0, 0.0, 3.0]], dtype=torch.float64)
    text = backprop.step_text(traced, backprop.backward_until(traced, grad, 1))
    assert text.splitlines() == ["dL/dy(0, 1) = 2", "dx[window] += 2 · w",
                                 "dw += 2 · x[window] = 2 · [2 3 1; 5 1 1; 6 5 8]", "db += 2  (db so far: 3)"]


def test_spread_upstream_puts_a_stride_between_entries_and_a_ring_around():
    traced = trace.conv_trace(torch.rand(7, 7), torch.ones(3, 3), stride=2)
    spread = backprop.spread_upstream(traced, torch.tensor([[1.0, 2.0, 3.0]] * 3, dtype=torch.float64))
    assert spread.shape == (9, 9)  # 3 entries 2 apart span 5, plus a ring of 2
    assert spread[2, 2:7].tolist() == [1, 0, 2, 0, 3] and spread[:2].abs().sum() == 0


@pytest.mark.parametrize("text,message", [
    ("1 2\n3 4", "2 rows of 3, not 2 of 2"),
    ("1 2 x\n1 1 1", "upstream gradient line 1, entry 3"),
    ("1 2 nan\n1 1 1", "upstream gradient line 1, entry 3"),
])
def test_a_bad_upstream_gradient_is_refused_in_words(text, message):
    with pytest.raises(ValueError, match=message):
        backprop.upstream_grid(text, (2, 3))


def test_pooling_traces_are_refused():
    with pytest.raises(ValueError, match="pooling"):
        backprop.backward(trace.pool_trace(torch.rand(4, 4), "max", 2), torch.ones(2, 2))


def test_transposed_convolution_matches_the_layer_that_upsamples():
    """nn.ConvTranspose2d with the same kernel and stride spreads dy exactly as the backward pass does."""
    traced = trace.conv_trace(torch.rand(7, 7), torch.randn(3, 3), stride=2)
    grad = torch.randn(traced.output.shape, dtype=torch.float64)
    up = torch.nn.ConvTranspose2d(1, 1, 3, stride=2, bias=False, dtype=torch.float64)
    up.weight.data = traced.weights[None, None].clone()
    with torch.no_grad():
        assert torch.allclose(up(grad[None, None])[0, 0], backprop.backward(traced, grad).input_grad)
