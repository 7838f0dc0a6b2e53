"""Canny's detector stage by stage, and morphology against scipy.ndimage."""

import numpy as np
import pytest
import scipy.ndimage
import torch
import torch.nn.functional as F

from explorer import classic


def _square(side: int = 40, start: int = 10, stop: int = 30) -> torch.Tensor:
    image = torch.zeros(side, side)
    image[start:stop, start:stop] = 1
    return image


@pytest.mark.parametrize("bright_right", [True, False])
def test_a_step_gives_one_line_one_pixel_wide_on_its_bright_side(bright_right):
    image = torch.zeros(32, 32)
    image[:, 16:] = 1
    image = image if bright_right else 1 - image
    stages = classic.canny(image)
    columns = stages.edges.any(0).nonzero().flatten().tolist()
    assert columns == [16 if bright_right else 15]
    assert stages.edges.sum() == 32  # every row, once
    rows = classic.canny(image.T).edges.any(1).nonzero().flatten().tolist()  # the same edge lying down
    assert rows == columns


def test_a_square_is_outlined_by_its_own_border_pixels():
    edges = classic.canny(_square()).edges
    outline = torch.zeros_like(edges)
    outline[10:30, 10:30] = True
    outline[11:29, 11:29] = False
    assert torch.equal(edges, outline)


def test_sobel_and_blur_are_the_lectures_kernels():
    torch.manual_seed(0)
    image = torch.rand(12, 13)
    gx, gy = classic.sobel(image)
    padded = F.pad(image[None, None], (1, 1, 1, 1), mode="replicate")
    sobel_x = torch.tensor([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]])
    assert torch.allclose(gx, F.conv2d(padded, sobel_x[None, None])[0, 0], atol=1e-6)
    assert torch.allclose(gy, F.conv2d(padded, sobel_x.T[None, None])[0, 0], atol=1e-6)
    blurred = classic.gaussian_blur(torch.full((9, 9), 0.5), 1.4)
    assert torch.allclose(blurred, torch.full((9, 9), 0.5), atol=1e-6)  # a blur keeps a flat image


def test_the_blur_reaches_three_sigmas_and_the_gradient_length_is_the_hypotenuse():
    """An impulse blurred is the Gaussian itself, 2 ceil(3 sigma) + 1 wide (sigma 1.4: 11), as F.conv2d draws it;
    on a diagonal edge the gradient's length is sqrt(gx^2 + gy^2), not |gx| + |gy|."""
    impulse = torch.zeros(21, 21)
    impulse[10, 10] = 1
    x = torch.arange(11.0) - 5
    g = torch.exp(-x ** 2 / (2 * 1.4 ** 2))
    gaussian = torch.outer(g, g) / torch.outer(g, g).sum()
    expected = F.conv2d(F.pad(impulse[None, None], (5, 5, 5, 5), mode="replicate"), gaussian[None, None])[0, 0]
    torch.testing.assert_close(classic.gaussian_blur(impulse, 1.4), expected, atol=1e-7, rtol=0)
    diagonal = (torch.arange(16.0)[:, None] + torch.arange(16.0)[None, :] > 15).float()
    stages = classic.canny(diagonal)
    gx, gy = classic.sobel(stages.blurred)
    torch.testing.assert_close(stages.magnitude, torch.sqrt(gx ** 2 + gy ** 2))


def test_thinning_keeps_a_ridges_crest_only():
    magnitude = torch.tensor([[0.0, 1, 3, 1, 0]] * 3)
    gx, gy = torch.ones(3, 5), torch.zeros(3, 5)  # the gradient points along the rows
    thinned = classic.thin(magnitude, gx, gy)
    assert thinned.tolist() == [[0, 0, 3, 0, 0]] * 3


def test_hysteresis_keeps_weak_pixels_only_when_they_touch_a_strong_one():
    thinned = torch.zeros(6, 8)
    thinned[1, 1:6] = torch.tensor([0.9, 0.3, 0.3, 0.3, 0.3])  # a strong pixel leading a weak chain
    thinned[4, 2:7] = 0.3  # a weak chain alone
    thinned[2, 6] = 0.3  # touches the first chain's end diagonally
    edges = classic.hysteresis(thinned, low=0.2, high=0.8)
    assert edges[1, 1:6].all() and edges[2, 6]
    assert not edges[4].any()
    assert edges.sum() == 6


def test_counts_and_decisions_agree():
    torch.manual_seed(1)
    image = classic.gaussian_blur(torch.rand(48, 48), 2.0)
    stages = classic.canny(image, sigma=1.0, low=0.2, high=0.6)
    n = classic.canny_counts(stages)
    decided = classic.decisions(stages)
    assert n["strong"] == int((decided == 3).sum()) > 0
    assert n["kept"] == int((decided == 2).sum()) and n["dropped"] == int((decided == 1).sum())
    assert n["edges"] == n["strong"] + n["kept"] == int(stages.edges.sum())
    assert not (stages.strong & stages.weak).any() and (stages.thinned[stages.edges] >= stages.low).all()


def test_a_flat_image_has_no_edges():
    stages = classic.canny(torch.full((16, 16), 0.3))
    assert not stages.edges.any() and classic.canny_counts(stages)["edges"] == 0


@pytest.mark.parametrize("low,high,sigma,message", [
    (0.5, 0.2, 1.0, "low <= high"), (-0.1, 0.2, 1.0, "low <= high"), (0.1, 0.2, 0.0, "sigma must be above 0")])
def test_bad_settings_are_refused_in_words(low, high, sigma, message):
    with pytest.raises(ValueError, match=message):
        classic.canny(torch.rand(8, 8), sigma, low, high)


@pytest.mark.parametrize("size", [1, 3, 5, 7])
def test_morphology_equals_scipys_window_minimum_and_maximum(size):
    torch.manual_seed(size)
    image = torch.rand(3, 11, 14)
    as_numpy = image.numpy()

    def window(name: str) -> torch.Tensor:
        filtered = getattr(scipy.ndimage, f"{name}_filter")(as_numpy, size=(1, size, size), mode="nearest")
        return torch.from_numpy(np.ascontiguousarray(filtered))

    eroded, dilated = window("minimum"), window("maximum")
    assert torch.allclose(classic.morphology(image, "erosion", size), eroded)
    assert torch.allclose(classic.morphology(image, "dilation", size), dilated)
    assert torch.allclose(classic.morphology(image, "gradient", size), dilated - eroded)
    opened = scipy.ndimage.grey_opening(as_numpy, size=(1, size, size), mode="nearest")
    closed = scipy.ndimage.grey_closing(as_numpy, size=(1, size, size), mode="nearest")
    assert np.allclose(classic.morphology(image, "opening", size).numpy(), opened)
    assert np.allclose(classic.morphology(image, "closing", size).numpy(), closed)


def test_opening_removes_a_speck_and_keeps_a_square():
    image = _square()[None]
    image[0, 2, 2] = 1  # a bright speck smaller than the window
    opened = classic.morphology(image, "opening", 3)
    assert opened[0, 2, 2] == 0 and torch.equal(opened[0, 10:30, 10:30], torch.ones(20, 20))


def test_dilation_is_max_pooling_with_stride_one():
    torch.manual_seed(3)
    image = torch.rand(1, 9, 9)
    inner = F.max_pool2d(image[None], 3, stride=1)[0]  # where the window fits, no padding is needed
    assert torch.equal(classic.morphology(image, "dilation", 3)[:, 1:-1, 1:-1], inner)


@pytest.mark.parametrize("operation,size,message", [("blur", 3, "one of erosion"), ("erosion", 4, "odd side")])
def test_bad_morphology_is_refused(operation, size, message):
    with pytest.raises(ValueError, match=message):
        classic.morphology(torch.rand(1, 5, 5), operation, size)
