"""The Kernel Lab's numbers window (explorer.ui.numbers_view): centred by default, never past the image."""

import pytest

from explorer.ui import numbers_view


@pytest.mark.parametrize(("size", "first"), [(256, 122), (28, 8), (13, 0), (12, 0), (5, 0)])
def test_the_window_is_centred_and_starts_inside_the_image(size, first):
    assert numbers_view.middle(size) == first
    if size >= numbers_view.SIDE:
        assert first + numbers_view.SIDE <= size  # the whole window fits
        middle = size // 2
        assert first <= middle - 1 and middle + 1 < first + numbers_view.SIDE  # the middle's neighbours show
