"""Why this prediction's smallest-change section: where the search runs."""

import torch

from explorer.ui import smallest


def test_a_224_px_network_is_searched_on_a_gpu_but_not_on_a_cpu():
    photo, digit = torch.rand(3, 224, 224), torch.rand(1, 28, 28)
    assert smallest.refusal(photo, torch.device("cpu")).startswith("No search here: L-BFGS takes hundreds")
    assert smallest.refusal(photo, torch.device("cuda", 0)) is None
    assert smallest.refusal(digit, torch.device("cpu")) is None
    assert smallest.refusal(torch.rand(3, 64, 64), torch.device("cpu")) is None  # TinyVGG's shapes
