"""The lecture's table of famous networks (SEEDS section 3), beside this app's own measurement of each."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from explorer import inspect, models


@dataclass(frozen=True)
class Famous:
    """A row of the lecture's table (SEEDS section 3): the deck's figures for a network."""

    model: str  # registry name of the network measured here
    network: str
    deck_layers: str
    deck_params: str
    deck_params_value: float
    note: str


FAMOUS: tuple[Famous, ...] = (
    Famous("lenet5", "LeNet", "-", "~60k", 60e3, "28x28 digits (this app's LeNet-5: ReLU and max pooling)."),
    Famous("alexnet", "AlexNet", "8", "60M", 60e6,
           "Ablations in the deck: removing layers 3-4 and 6-7 drops accuracy by 33.5 points."),
    Famous("googlenet", "GoogLeNet", "22", "2M", 2e6,
           "The deck says 2M; measured here 6.6M, of which the 1000-way classifier alone is 1.0M "
           "(the paper claims 12x fewer parameters than AlexNet, about 5M; its own table adds up to about 6.8M, "
           "and torchvision's build has 3x3 where the paper has 5x5, and batch normalisation)."),
    Famous("vgg16", "VGG16", "16", "138M", 138e6, "13 convs of 3x3 and 3 fully connected layers."),
    Famous("resnet18", "ResNet", "-", "-", 0.0, "Skip connections: each block adds its input to its output "
           "(through a 1x1 projection where the shape changes: 3 of ResNet18's 8 blocks)."),
)


def table() -> list[dict]:
    """The deck's figures beside this app's own count of every network (built on the meta device)."""
    rows = []
    for row in FAMOUS:
        with torch.device("meta"):  # shapes and parameter counts without allocating 500 MB
            model = models.build(row.model)
        params = sum(p.numel() for p in model.parameters())
        rows.append({
            # each figure beside the deck's in one cell: seven columns ran past a 1280 px page's table
            "network": row.network, "layers: deck / here": f"{row.deck_layers} / {inspect.depth(model)}",
            "params: deck / here": f"{row.deck_params} / {params:,}",
            "here / deck": f"{params / row.deck_params_value:.2f}x" if row.deck_params_value else "-",
            "note": row.note,
        })
    return rows
