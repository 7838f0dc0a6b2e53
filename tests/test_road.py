"""ROAD's noisy linear imputation against pytorch-grad-cam's system (written out here as it builds it), and what
the filled pixels must satisfy."""

import numpy as np
import pytest
import torch
from scipy.sparse import csc_matrix, lil_matrix
from scipy.sparse.linalg import spsolve

from explorer import road

# pytorch-grad-cam 1.5's neighbors_weights: ((dy, dx), weight)
WEIGHTS = [((1, 1), 1 / 12), ((0, 1), 1 / 6), ((-1, 1), 1 / 12), ((1, -1), 1 / 12), ((0, -1), 1 / 6),
           ((-1, -1), 1 / 12), ((1, 0), 1 / 6), ((-1, 0), 1 / 6)]


def _theirs(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """pytorch-grad-cam's ``NoisyLinearImputer`` with no noise: its ``setup_sparse_system`` one equation at a time
    (``mask``: 1 kept, 0 removed)."""
    channels, height, width = image.shape
    flat_mask, flat = mask.flatten(), image.reshape(channels, -1)
    indices = np.argwhere(flat_mask == 0).flatten()
    to_variable = np.zeros(len(flat_mask), dtype=int)
    to_variable[indices] = np.arange(len(indices))
    a, b = lil_matrix((len(indices), len(indices))), np.zeros((len(indices), channels))
    neighbours = np.ones(len(indices))
    for (dy, dx), weight in WEIGHTS:
        ys, xs = indices // width + dy, indices % width + dx
        valid = (ys >= 0) & (ys < height) & (xs >= 0) & (xs < width)
        for equation in np.argwhere(valid).flatten():
            other = ys[equation] * width + xs[equation]
            if flat_mask[other] == 1:
                b[equation] -= weight * flat[:, other]
            else:
                a[equation, to_variable[other]] = weight
        neighbours[~valid] -= weight
    a[np.arange(len(indices)), np.arange(len(indices))] = -neighbours
    filled = flat.copy()
    filled[:, indices] = np.asarray(spsolve(csc_matrix(a), b)).reshape(len(indices), -1).T
    return filled.reshape(image.shape)


@pytest.mark.parametrize(("channels", "share"), [(1, 0.3), (3, 0.7), (3, 0.05)])
def test_the_filled_pixels_are_pytorch_grad_cams(channels: int, share: float):
    generator = torch.Generator().manual_seed(channels)
    image = torch.rand(channels, 12, 17, generator=generator)
    kept = torch.rand(12, 17, generator=generator) > share
    ours = road.impute(image, kept, noise=0.0)
    torch.testing.assert_close(ours.double(), torch.from_numpy(_theirs(image.double().numpy(),
                                                                       kept.numpy().astype(int))))
    assert torch.equal(ours[:, kept], image[:, kept])  # what is kept stays as it was


def test_a_filled_pixel_is_the_weighted_mean_of_its_neighbours():
    image = torch.rand(1, 9, 9, generator=torch.Generator().manual_seed(3))
    kept = torch.ones(9, 9, dtype=torch.bool)
    kept[3:6, 3:6] = False
    filled = road.impute(image, kept, noise=0.0)[0].double()
    y, x = 4, 4  # the middle of the hole: all 8 neighbours inside the image
    mean = sum(w * filled[y + dy, x + dx] for dy, dx, w in road.NEIGHBOURS)  # the weights add up to 1
    assert float(filled[y, x]) == pytest.approx(float(mean), abs=1e-6)  # solved in float64, kept in float32
    flat = torch.full((1, 9, 9), 0.4)
    torch.testing.assert_close(road.impute(flat, kept, noise=0.0), flat)  # a flat image is filled flat


def test_the_noise_is_seeded_and_only_on_the_filled_pixels():
    image = torch.rand(3, 10, 10, generator=torch.Generator().manual_seed(0))
    kept = torch.rand(10, 10, generator=torch.Generator().manual_seed(1)) > 0.5
    once, again = road.impute(image, kept), road.impute(image, kept)
    torch.testing.assert_close(once, again)
    quiet = road.impute(image, kept, noise=0.0)
    assert torch.equal(once[:, kept], image[:, kept])
    assert 0.005 < float((once - quiet)[:, ~kept].std()) < 0.015


def test_nothing_kept_is_the_mean_colour_and_everything_kept_the_image():
    image = torch.rand(3, 6, 6, generator=torch.Generator().manual_seed(2))
    blank = road.impute(image, torch.zeros(6, 6, dtype=torch.bool), noise=0.0)
    torch.testing.assert_close(blank, image.mean((1, 2), keepdim=True).expand_as(image))
    torch.testing.assert_close(road.impute(image, torch.ones(6, 6, dtype=torch.bool)), image)
