"""A layer's map over the input, each unit's value at its field's centre: not where a plain resize puts it."""

import pytest
import torch
import torch.nn.functional as F

from explorer import field_overlay, models
from explorer import receptive_field as rf


def test_a_layers_map_is_drawn_on_the_input_at_its_units_field_centres():
    """LeNet-5's conv2 units centre on input pixels 4.5 .. 22.5 (no padding): a resize put them 4 px off."""
    model = models.build("lenet5")
    field = next(f for f in rf.fields(model, (28, 28)) if f.name == "relu2")
    for unit in ((1, 1), (8, 8), (3, 7)):
        one = torch.zeros(10, 10)
        one[unit] = 1.0
        placed = field_overlay.to_input(one, field, (28, 28))
        centre = rf.unit_centre(field, unit)
        row, col = divmod(int(placed.argmax()), 28)
        assert abs(row - centre[0]) <= 0.5 and abs(col - centre[1]) <= 0.5, (unit, (row, col), centre)
        if unit == (3, 7):  # bilinear between the centres: the pixels either side of 10.5 hold the same share
            assert placed[10, 18] == pytest.approx(float(placed.max())) == pytest.approx(float(placed[11, 19]))
    corner = torch.zeros(10, 10)
    corner[0, 0] = 1.0
    assert field_overlay.to_input(corner, field, (28, 28))[0, 0] == 1.0  # the outermost units' values reach the border
    values = torch.rand(5, 5)  # a field starting at 0.5 with a jump of 2 is what a plain resize assumes
    tiled = rf.Field("x", "", (5, 5), (2, 2), (2, 2), (0.5, 0.5))
    resized = F.interpolate(values[None, None], size=(10, 10), mode="bilinear", align_corners=False)
    torch.testing.assert_close(field_overlay.to_input(values, tiled, (10, 10)), resized[0, 0])
