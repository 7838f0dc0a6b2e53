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


def test_kpca_cams_pooling_of_a_large_layer_and_a_zero_fem_map_are_explained():
    note = cam_controls.pooled_note("kpcacam", "conv1", (64, 112, 112))
    assert "averages `conv1`'s maps over 2 x 2 squares first: its map is 56 x 56" in note
    assert cam_controls.pooled_note("kpcacam", "relu2", (16, 10, 10)) == ""
    assert cam_controls.pooled_note("eigencam", "conv1", (64, 112, 112)) == ""
    assert cam_controls.zero_cam_note("fem", "conv1", "3").startswith(
        "FEM is zero everywhere at `conv1`: no map has a position more than two standard deviations")
    assert "KPCA-CAM is zero everywhere at `avgpool`: its maps have the same values at every position" in (
        cam_controls.zero_cam_note("kpcacam", "avgpool", "3"))
