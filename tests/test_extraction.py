"""Feature extraction: an in-place layer refused, traces that leave the model and other sessions alone, and what is
made per model made again when the model changes."""

import threading
import time

import pytest
import torch
from torch import nn

from explorer import extraction, models


def test_an_inplace_module_outside_the_registry_is_refused():
    with pytest.raises(ValueError, match="in place"):
        extraction.extractor(nn.Sequential(nn.Conv2d(1, 1, 3), nn.ReLU(inplace=True)))


class _Spy(torch.nn.Dropout):
    """A dropout that notes every switch of its mode (in training mode it would zero half the values)."""

    switched: list = []

    def train(self, mode: bool = True):
        _Spy.switched.append((id(self), mode))
        return super().train(mode)


def test_tracing_never_switches_the_model_itself_to_training_mode():
    """A cached model runs in other sessions meanwhile: only a twin sharing its weights is traced."""
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), _Spy(0.5), torch.nn.ReLU()).eval()
    spy = model[1]
    _Spy.switched.clear()
    graph = extraction.extractor(model)
    names = extraction.node_names(model)
    assert names[-1] in graph(torch.rand(2, 1, 8, 8)) and _Spy.switched  # the twin was traced in both modes
    assert all(who != id(spy) for who, _ in _Spy.switched) and not model.training
    x = torch.rand(2, 1, 8, 8)
    torch.testing.assert_close(graph(x)[names[-1]], model(x))  # the same weights and statistics
    assert graph.get_submodule(names[0]).weight is model[0].weight


def test_tracing_in_one_session_leaves_the_others_forward_passes_and_traces_alone():
    # the server runs sessions in threads; torch.fx patches nn.Module for the whole process while it traces
    lenet, tinyvgg = (models.build(name).requires_grad_(False) for name in ("lenet5", "tinyvgg"))
    own_call, failures, until = nn.Module.__call__, [], time.monotonic() + 2.0
    expected = lenet(torch.ones(2, 1, 28, 28))

    def repeat(work) -> None:
        while time.monotonic() < until:
            try:
                work()
            except Exception as exc:  # noqa: BLE001 - any failure in another thread is the finding
                failures.append(repr(exc)[:120])

    def forward() -> None:  # the traced model's own parameters, run by another session
        assert torch.equal(lenet(torch.ones(2, 1, 28, 28)), expected)

    threads = [threading.Thread(target=repeat, args=(work,)) for work in
               (lambda: extraction.extractor(lenet, ["conv1"]), lambda: extraction.extractor(tinyvgg), forward)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == [] and nn.Module.__call__ is own_call, sorted(set(failures))[:3]


def test_what_is_made_per_model_is_made_again_once_the_model_moves_or_changes():
    made = extraction.PerModel()
    model = models.build("lenet5")
    first = made.get(model, "twin", object)
    assert made.get(model, "twin", object) is first and made.get(model, "other", object) is not first
    with torch.no_grad():
        model.conv1.weight.mul_(2)  # trained or loaded in place: the same tensors, another version
    second = made.get(model, "twin", object)
    assert second is not first and made.get(model, "twin", object) is second
    model.double()  # moved: new buffers, which an earlier twin would never see
    assert made.get(model, "twin", object) is not second
