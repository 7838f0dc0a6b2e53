"""Tiling: tiles laid out row by row with gaps, near-square grids, values scaled for colouring."""

import math

import numpy as np
import torch

from explorer import tiling


def test_tile_places_maps_row_by_row_with_gaps():
    tiles = np.zeros((5, 2, 3, 3), dtype=np.uint8)
    for i in range(5):
        tiles[i] = i * 40
    out = tiling.tile(tiles, cols=3)
    gap = tiling.gap_for(2, 3)
    assert gap == 1 and out.shape == (2 * 2 + gap, 3 * 3 + 2 * gap, 3)
    assert (out[0, 3 + gap] == 40).all() and (out[2 + gap, 0] == 120).all()
    assert (out[0, 3] == tiling.GAP).all() and (out[2, 0] == tiling.GAP).all()
    assert (out[2 + gap:, 2 * (3 + gap) - gap:] == 255).all()  # the empty sixth slot and its gaps: background


def test_grids_leave_as_few_empty_slots_as_they_can():
    assert [tiling.columns_for(n) for n in (1, 2, 3, 6, 10, 16, 64)] == [1, 2, 3, 3, 5, 4, 8]
    for n in range(1, 300):  # never taller than wide, never a strip
        cols = tiling.columns_for(n)
        assert math.ceil(n / cols) <= cols <= 3 * math.ceil(n / cols), n


def test_scaled_is_diverging_for_signed_maps_and_per_map_when_asked():
    maps = torch.tensor([[[-2.0, 0.0]], [[1.0, 0.5]]])
    shared, scale, (low, high) = tiling.scaled(maps, per_map=False)
    assert scale == "RdBu_r" and (low, high) == (-2.0, 2.0) and shared[0, 0, 1] == 0.5
    own, _, _ = tiling.scaled(maps, per_map=True)
    assert own[1, 0, 0] == 1.0 and own[0, 0, 0] == 0.0
    positive, scale, _ = tiling.scaled(maps.abs(), per_map=False)
    assert scale == "Viridis" and positive.max() == 1.0
