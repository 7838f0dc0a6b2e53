"""Why this prediction's smallest-change section: where the search runs."""

import torch

from explorer.ui import smallest


def test_a_224_px_network_is_searched_on_a_gpu_but_not_on_a_cpu():
    photo, digit = torch.rand(3, 224, 224), torch.rand(1, 28, 28)
    assert smallest.refusal(photo, torch.device("cpu")).startswith("No search here: L-BFGS takes hundreds")
    assert smallest.refusal(photo, torch.device("cuda", 0)) is None
    assert smallest.refusal(digit, torch.device("cpu")) is None
    assert smallest.refusal(torch.rand(3, 64, 64), torch.device("cpu")) is None  # TinyVGG's shapes


def test_the_search_runs_on_the_gpu_when_the_server_has_one(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert smallest.search_device() == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert smallest.search_device().type == "cuda"


def test_a_model_already_on_the_search_device_is_searched_as_it_is():
    model = torch.nn.Linear(2, 2)
    assert smallest._on(model, torch.device("cpu")) is model
