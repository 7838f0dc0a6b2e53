"""Labelled images of a model's own data set, fitted to its input: what probes and universal perturbations learn from."""

from __future__ import annotations

import streamlit as st
import torch

from explorer import data, inputs
from explorer.ui.model_input import Network

TRAIN_IMAGES, TEST_IMAGES = 3000, 1000
PICK = "pick LeNet-5, TinyVGG or a run trained on the Train page"


class Unavailable(Exception):
    """No labelled images for this model here; the message says why, ``details`` what whoever runs the server can
    do about it (None: nothing)."""

    def __init__(self, message: str, details: str | None = None) -> None:
        super().__init__(message)
        self.details = details


@st.cache_resource(show_spinner="Loading the images...", max_entries=2)
def _splits(data_name: str, input_shape: tuple[int, int, int], _network: Network) -> tuple[tuple, tuple, int]:
    train = data.load(data_name).subset(TRAIN_IMAGES)
    test = data.load(data_name, train=False).subset(TEST_IMAGES)
    fitted = [(inputs.fit_batch(split.images, _network.spec), split.labels) for split in (train, test)]
    return fitted[0], fitted[1], len(train.classes)


def splits(network: Network) -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor], int]:
    """(train images uint8, labels), (test images, labels) of the model's data set at its input size, and the
    class count: ``TRAIN_IMAGES`` and ``TEST_IMAGES`` of them, cached per server. Unavailable when there are none."""
    name = network.spec.data
    if name not in data.NAMES:
        raise Unavailable(f"it needs labelled images of ImageNet, which this network was trained on and which is "
                          f"not on this server: {PICK}." if network.spec.weights == "torchvision" else
                          f"it needs labelled images of the data set the model learns from, and this one has none "
                          f"until you train it: {PICK}.")
    try:
        return _splits(name, network.spec.input_shape, network)
    except data.DataUnavailable as exc:
        raise Unavailable(exc.summary, str(exc)) from None
