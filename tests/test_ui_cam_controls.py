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


def test_a_map_that_takes_no_layer_is_cached_once_for_every_layer():
    assert cam_controls.layer_key("relu2", "fullgrad") == cam_controls.layer_key("conv1", "fullgrad") == "*"
    assert cam_controls.layer_key("relu2", "gradcam") == "relu2" and cam_controls.layer_key("", "fullgrad") == ""
