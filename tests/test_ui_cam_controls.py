"""The class activation map's controls (explorer.ui.cam_controls): which method maps made again take."""

import pytest
import torch

from explorer import cam
from explorer.ui import cam_controls


@pytest.mark.parametrize("method", list(cam.METHODS))
def test_maps_made_again_keep_their_method_but_a_pass_per_map_on_a_large_image(method):
    small, large = torch.zeros(3, 64, 64), torch.zeros(3, 224, 224)
    assert cam_controls.quick_cam(method, small) == method
    assert cam_controls.quick_cam(method, large) == ("gradcam" if method in cam.PASSES else method)
