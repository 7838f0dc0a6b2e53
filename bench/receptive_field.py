"""Receptive-field analysis speed: milliseconds to analyse every layer of ResNet18 and GoogLeNet.

Prints one JSON line (and writes bench/results/receptive_field.json):
``{"resnet18_ms": .., "googlenet_ms": .., "resnet18_trace_ms": .., "googlenet_trace_ms": ..}``
``*_ms``: median time of ``receptive_field.fields`` (the textbook size, jump and start of every
layer) plus the exact box of every unit of the last feature map, at 224x224, on an already traced
model (the app traces a model once and keeps it). ``*_trace_ms``: that one-off trace.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._common import report  # noqa: E402
from explorer import models  # noqa: E402
from explorer import receptive_field as rf  # noqa: E402


def analyse_ms(name: str, repeats: int = 7) -> tuple[float, float]:
    """(median ms of analysing every layer, ms of the one-off trace)."""
    with torch.device("meta"):  # the analysis reads the graph only
        model = models.build(name)
    start = time.perf_counter()
    rf.graph_of(model)
    trace_ms = (time.perf_counter() - start) * 1000
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        layers = rf.fields(model, (224, 224))
        last = [f for f in layers if f.size is not None][-1]
        units = torch.cartesian_prod(torch.arange(last.size[0]), torch.arange(last.size[1]))
        rf.boxes(model, last.name, units, (224, 224))
        times.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(times), 1), round(trace_ms, 1)


def main() -> None:
    resnet, resnet_trace = analyse_ms("resnet18")
    googlenet, googlenet_trace = analyse_ms("googlenet")
    result = {"resnet18_ms": resnet, "googlenet_ms": googlenet,
              "resnet18_trace_ms": resnet_trace, "googlenet_trace_ms": googlenet_trace,
              "input": "224x224", "threads": torch.get_num_threads()}
    report("receptive_field", result)


if __name__ == "__main__":
    main()
