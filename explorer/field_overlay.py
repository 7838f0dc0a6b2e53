"""A layer's map drawn over the input image: each unit's value where its receptive field is centred.

Where a unit's field centres is :mod:`explorer.receptive_field`'s textbook arithmetic (``start + unit * j``);
a class activation map drawn over the image (:mod:`explorer.cam`) is placed so.
"""

from __future__ import annotations

import torch

from explorer.receptive_field import Field


def to_input(values: torch.Tensor, field: Field, input_size: tuple[int, int]) -> torch.Tensor:
    """A layer's (h, w) map drawn over the input (H, W): each unit's value at its field's centre
    (:func:`unit_centre`), bilinear between neighbouring centres, the outermost value out to the border.

    A plain resize spreads the map over the whole image as if each unit saw its own tile: for a network without
    padding (LeNet-5's conv2 units centre on input pixels 4.5 .. 22.5 of 28) that put the evidence 4 px off.
    """
    grid = []
    for axis in range(2):
        pixels = torch.arange(input_size[axis], dtype=torch.float32)
        units = (pixels - field.start[axis]) / field.j[axis]  # a unit's centre at a whole number
        last = values.shape[axis] - 1
        grid.append(units * 2 / last - 1 if last > 0 else torch.zeros_like(units))  # grid_sample's [-1, 1]
    rows, cols = torch.meshgrid(*grid, indexing="ij")
    where = torch.stack([cols, rows], -1)[None]  # (1, H, W, 2) as (x, y)
    placed = torch.nn.functional.grid_sample(values[None, None].float(), where, mode="bilinear",
                                             padding_mode="border", align_corners=True)
    return placed[0, 0].to(values.dtype)
