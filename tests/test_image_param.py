"""The optimised image's parameterisations: the Fourier one against Lucid's formula, written out with NumPy."""

import numpy as np
import pytest
import torch

from explorer import image_param as P


def _lucid(spectrum: np.ndarray, h: int, w: int) -> np.ndarray:
    """Lucid's ``fft_image`` then ``to_valid_rgb(decorrelate=True)``: scaled coefficients, an orthonormal inverse
    real FFT over 4, ImageNet's colour square root (its largest column 1) for three channels, a sigmoid."""
    fy, fx = np.fft.fftfreq(h)[:, None], np.fft.rfftfreq(w)[None, :]
    scale = 1.0 / np.maximum(np.sqrt(fx * fx + fy * fy), 1.0 / max(h, w))
    image = np.fft.irfft2(spectrum * scale, s=(h, w), norm="ortho") / 4.0
    if image.shape[0] == 3:
        root = np.array([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]])
        root = root / np.linalg.norm(root, axis=0).max()
        image = np.einsum("chw,dc->dhw", image, root)
    return 1 / (1 + np.exp(-image))


@pytest.mark.parametrize("shape", [(3, 32, 32), (3, 31, 29), (1, 28, 28), (3, 64, 48)])
def test_a_fourier_image_is_lucids(shape):
    c, h, w = shape
    generator = torch.Generator().manual_seed(0)
    spectrum = torch.view_as_complex(torch.randn(c, h, w // 2 + 1, 2, generator=generator) * 0.5)
    ours = P.fourier_image(spectrum, (h, w))
    assert ours.shape == shape and float(ours.min()) > 0 and float(ours.max()) < 1
    np.testing.assert_allclose(ours.numpy(), _lucid(spectrum.numpy().astype(np.complex128), h, w), atol=2e-6)


def test_a_zero_spectrum_is_an_even_grey_and_the_colour_matrix_keeps_its_largest_column_whole():
    assert torch.equal(P.fourier_image(torch.zeros(3, 8, 5, dtype=torch.complex64), (8, 8)), torch.full((3, 8, 8), 0.5))
    assert float(P.COLOUR.norm(dim=0).max()) == pytest.approx(1.0)
    columns = np.array([0, 1 / 6, 1 / 3, 1 / 2])  # cycles per pixel across a width of 6, up to its Nyquist
    rows = np.array([0, 1 / 4, 1 / 2, 1 / 4])  # and down a height of 4 (fftfreq's -1/2 and -1/4, as lengths)
    np.testing.assert_allclose(P.frequencies(4, 6).numpy(), np.hypot(rows[:, None], columns[None]), atol=1e-7)
    assert float(P.spectrum_scale(4, 6)[0, 0]) == pytest.approx(6.0)  # the constant weighs as the lowest frequency


@pytest.mark.parametrize("shape", [(3, 32, 32), (1, 28, 28), (3, 31, 29)])
def test_the_spectrum_of_an_image_gives_the_image_back(shape):
    image = torch.rand(shape, generator=torch.Generator().manual_seed(1)).clamp(0.01, 0.99)
    assert float((P.fourier_image(P.spectrum_of(image), shape[1:]) - image).abs().max()) < 1e-5
    ends = torch.tensor([[[0.0, 1.0]]])  # the sigmoid never reaches 0 or 1: kept 0.001 inside
    assert float((P.fourier_image(P.spectrum_of(ends), (1, 2)) - ends).abs().max()) <= 1.001e-3


def test_a_fourier_image_starts_from_smooth_blobs_or_from_the_image_and_adam_climbs_it():
    config = type("Config", (), {"seed": 3, "step_size": 0.05})()
    start = P.FourierImage(None, (3, 32, 32), config, torch.device("cpu")).image().detach()
    assert 0.05 < float(start.std()) < 0.25 and 0.1 < float(start.min()) and float(start.max()) < 0.9
    image = torch.rand(3, 32, 32, generator=torch.Generator().manual_seed(2)) * 0.9 + 0.05
    made = P.FourierImage(image, (3, 32, 32), config, torch.device("cpu"))
    assert float((made.image().detach() - image).abs().max()) < 1e-5
    for done in range(20):  # brighter and brighter
        made.step(made.image().mean(), done)
    assert float(made.image().detach().mean()) > float(image.mean()) + 0.05


def test_a_pixel_image_is_blurred_after_every_kth_step_and_not_before():
    """blur_every=4: steps 1 to 3 are the plain ones, the 4th is blurred."""
    from explorer import visualize

    start = torch.rand(1, 1, 12, 12, generator=torch.Generator().manual_seed(0))
    mean, std = torch.zeros(1, 1, 1), torch.ones(1, 1, 1)
    blurred, plain = (P.PixelImage(start, visualize.AscentConfig(blur_every=k), mean, std) for k in (4, 0))
    for done in range(4):
        for made in (blurred, plain):
            x = made.image()
            made.step((x * torch.linspace(0, 1, 12)).sum(), done)
        assert torch.equal(blurred.x, plain.x) == (done < 3), done


def test_a_warp_scales_and_turns_each_image_about_its_centre_by_lucents_draws():
    """A dot 8 pixels right of the centre lands at s·R(-angle)·(8, 0) (x right, y down), with the scale and angle
    drawn from Lucent's lists in order (scale, then angle, one each per image); grey stays grey."""
    import math

    images = torch.zeros(3, 1, 33, 33)
    images[:, :, 15:18, 23:26] = 1  # a 3 x 3 dot centred at x = +8
    generator = torch.Generator().manual_seed(7)
    moved = P.warped(images, generator)
    again = torch.Generator().manual_seed(7)
    scales = [P.SCALES[i] for i in torch.randint(len(P.SCALES), (3,), generator=again)]
    angles = [P.ANGLES[i] for i in torch.randint(len(P.ANGLES), (3,), generator=again)]
    ys, xs = torch.meshgrid(torch.arange(33.0) - 16, torch.arange(33.0) - 16, indexing="ij")
    for image, scale, angle in zip(moved, scales, angles):
        weight = (image[0] - 0.5).clamp_min(0)  # the dot, not the black ground or the grey border
        centre = (float((weight * xs).sum() / weight.sum()), float((weight * ys).sum() / weight.sum()))
        turn = math.radians(angle)
        expected = (scale * 8 * math.cos(turn), -scale * 8 * math.sin(turn))
        assert abs(centre[0] - expected[0]) < 0.3 and abs(centre[1] - expected[1]) < 0.3, (centre, expected)
    grey = torch.full((2, 3, 16, 16), 0.5)
    torch.testing.assert_close(P.warped(grey, torch.Generator().manual_seed(0)), grey)
    x = torch.rand(1, 1, 16, 16, requires_grad=True)
    P.warped(x, torch.Generator().manual_seed(1)).sum().backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0
