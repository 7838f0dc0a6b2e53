"""The shared model chooser's builds (explorer/ui/model_input.py), outside a page."""

import torch

from explorer.ui import model_input


def test_random_weights_are_the_same_at_every_build():
    """A cached network that is evicted and rebuilt must still match what was computed from it."""
    model_input._network.clear()
    first = model_input._network("resnet_small", False).model.state_dict()
    model_input._network.clear()
    torch.manual_seed(123)  # whatever the global generator holds
    second = model_input._network("resnet_small", False).model.state_dict()
    model_input._network.clear()
    assert first.keys() == second.keys() and all(torch.equal(first[k], second[k]) for k in first)
