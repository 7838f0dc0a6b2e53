"""What a layer's maps share, for no class (explorer.map_components): KPCA-CAM's kernel component, its solvers and
its pooling of large layers, and FEM's weights. Their maps against pytorch-grad-cam's formulas: tests/test_cam.py."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from explorer import map_components
from tests import test_cam


def _maps(size: int, channels: int = 8, seed: int = 0) -> torch.Tensor:
    return torch.rand(1, channels, size, size, generator=torch.Generator().manual_seed(seed)) ** 3


@pytest.mark.parametrize("size", [12, 20])  # 144 positions: scikit-learn's dense solver; 400: ARPACK's
def test_the_kernel_component_is_scikit_learns_kernel_pca_as_written_out(size):
    maps = _maps(size)
    expected = torch.from_numpy(test_cam._kernel_principal(maps.numpy())[0]).float()
    made = map_components.kernel_component(maps)
    assert made.shape == (1, 1, size, size)
    torch.testing.assert_close(made[0, 0], expected, rtol=1e-5, atol=1e-6 * float(expected.abs().max()))
    assert float(made.flatten()[made.abs().argmax()]) > 0  # the sign: its largest value in size above zero


def test_maps_alike_at_every_position_have_no_component():
    for maps in (torch.full((1, 4, 5, 5), 3.0), torch.rand(1, 4, 1, 1)):
        assert torch.equal(map_components.kernel_component(maps), torch.zeros(1, 1, *maps.shape[-2:]))
        assert torch.equal(map_components.first_component(maps), torch.zeros(1, 1, *maps.shape[-2:]))


def test_a_layer_beyond_the_kernels_positions_is_averaged_over_squares_and_brought_back(monkeypatch):
    assert [map_components.kernel_pooling(s) for s in ((64, 64), (65, 64), (112, 112), (224, 224), (7, 7))] == [
        1, 2, 2, 4, 1]
    monkeypatch.setattr(map_components, "MOST_POSITIONS", 36)
    maps = _maps(11)  # 121 positions: 2 x 2 squares, 6 x 6 of them, the last row and column of one pixel
    assert map_components.kernel_pooling((11, 11)) == 2
    pooled = F.avg_pool2d(maps, 2, ceil_mode=True)
    torch.testing.assert_close(pooled[0, :, -1, -1], maps[0, :, -1, -1])  # a cut square averages what it has
    expected = torch.from_numpy(test_cam._kernel_principal(pooled.numpy())).float()[None]
    made = map_components.kernel_component(maps)
    assert made.shape == (1, 1, 11, 11)
    torch.testing.assert_close(made, F.interpolate(expected, size=(11, 11), mode="bilinear"), rtol=1e-5, atol=1e-6)


def test_fems_weights_are_each_maps_share_of_positions_beyond_two_standard_deviations():
    maps = torch.zeros(1, 3, 5, 5)
    maps[0, 0, 2, 2] = 10  # one spike: mean 0.4, std 1.96, so 10 > 4.32 at 1 of 25 positions
    maps[0, 1] = 7  # the same everywhere: no position stands out
    maps[0, 2] = torch.arange(25.0).reshape(5, 5)  # evenly spread: none beyond two deviations (24 < 12 + 2 * 7.2)
    weights = map_components.fem_weights(maps)
    assert weights.shape == (1, 3, 1, 1)
    torch.testing.assert_close(weights.flatten(), torch.tensor([1 / 25, 0.0, 0.0]))
    torch.testing.assert_close(map_components.fem_weights(maps, k=1.0)[0, 2, 0, 0], torch.tensor(5 / 25))  # 20..24


def test_a_nan_counts_as_zero_and_the_first_component_follows_the_strong_positions():
    maps = _maps(6)
    holed = maps.clone()
    holed[0, 0, 0, 0] = float("nan")
    filled = maps.clone()
    filled[0, 0, 0, 0] = 0
    torch.testing.assert_close(map_components.kernel_component(holed), map_components.kernel_component(filled))
    torch.testing.assert_close(map_components.first_component(holed), map_components.first_component(filled))
    bright = torch.zeros(1, 4, 6, 6)
    bright[0, :, 1:3, 1:3] = torch.tensor([1.0, 2.0, 3.0, 4.0])[:, None, None]
    component = map_components.first_component(bright)[0, 0]
    assert float(component[1:3, 1:3].min()) > float(component.max()) * 0.99 > 0  # lit where the maps are strong
    assert not np.isnan(component.numpy()).any()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_the_components_keep_the_maps_dtype(dtype):
    maps = _maps(9).to(dtype)
    assert map_components.kernel_component(maps).dtype == map_components.first_component(maps).dtype == dtype


def test_fem_lights_nothing_on_maps_the_same_everywhere_as_numpy_finds():
    maps = torch.full((1, 3, 16, 16), 0.3)  # float32's mean of these falls just below 0.3
    assert not map_components.fem_weights(maps).any()
