"""Why this prediction's row of maps (explorer.ui.map_row): titles that keep the pictures level."""

import torch

from explorer import attribution
from explorer.ui import map_row


def _map(method: str, target: int = 3) -> attribution.Attribution:
    return attribution.Attribution(torch.zeros(2, 2), torch.zeros(1, 2, 2), target, 0.0, torch.zeros(10),
                                   method=method)


def test_the_titles_of_a_row_are_all_on_one_line_or_all_on_two():
    maps = [_map("guided"), _map("gradcam"), _map("guided_x_gradcam")]
    titles = ["Guided backprop", "Grad-CAM", "Guided Grad-CAM"]
    assert map_row.titled(maps, titles, str) == ["Guided backprop, 3", "Grad-CAM, 3", "Guided Grad-CAM, 3"]
    long = map_row.titled(maps, titles, lambda k: "Greater Swiss Mountain dog")  # one needs two lines: all do
    assert all(t.count("<br>") == 1 for t in long) and long[1].startswith("Grad-CAM:<br>")
    blind = map_row.titled([_map("guided"), _map("eigencam"), _map("guided_x_eigencam")],
                           ["Guided backprop", "Eigen-CAM", "Guided Eigen-CAM"], lambda k: "Greater Swiss Mountain dog")
    assert blind[1] == "Eigen-CAM<br> "  # the same map for every class: no class, an empty second line


def test_a_product_too_long_for_its_class_leaves_the_class_to_the_page():
    maps = [_map("guided"), _map("eigengradcam"), _map("guided_x_eigengradcam")]
    titles = map_row.titled(maps, ["Guided backprop", "EigenGrad-CAM", "Guided EigenGrad-CAM"], str)
    assert titles[2] == "Guided<br>EigenGrad-CAM"
    assert titles[0] == "Guided backprop:<br><span style='font-size:14px'>3</span>"
