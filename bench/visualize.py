"""Gradient-ascent speed: seconds for 256 steps on LeNet-5 and on ResNet18, on the CPU and on CUDA.

Prints one JSON line (and writes bench/results/visualize.json):
``{"lenet5_cpu_s": .., "resnet18_cpu_s": .., "lenet5_cuda_s": .. or null, "resnet18_cuda_s": .. or null, ...}``
Each figure is the wall time of ``visualize.run(visualize.ascend(...))`` with the page's default
regularisers (``visualize.READABLE``: L2, total variation, jitter, a blur every 4 steps) for 256
steps on the page's default goal: a channel of the middle convolution (LeNet-5 ``conv2`` with the
shipped weights at 28x28; ResNet18 ``layer3.0.conv1`` with random weights at 224x224, as offline).
The time includes tracing the feature extractor and keeping the animation's frames, as on the page.
LeNet-5: median of 3 runs after a warm-up; ResNet18: one run after a short warm-up (about 20 s on 2
CPU cores). Goal: LeNet-5 <= 2 s on the CPU, so the page feels interactive.
Imports only explorer modules free of streamlit, so it runs wherever torch does.
"""

from __future__ import annotations

import dataclasses
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._common import report  # noqa: E402
from explorer import models, visualize  # noqa: E402  (after the path is set)

STEPS = 256
CASES = {"lenet5": ("conv2", True, 3), "resnet18": ("layer3.0.conv1", False, 1)}  # layer, shipped weights, runs


def seconds(name: str, device: str) -> float:
    """Wall time of 256 ascent steps of ``name``'s default goal on ``device`` (median over the case's runs)."""
    layer, pretrained, runs = CASES[name]
    model = models.build(name, pretrained=pretrained).requires_grad_(False).to(device)
    config = dataclasses.replace(visualize.READABLE, steps=STEPS, record_every=STEPS // 32)
    target, shape = visualize.Target(layer, 0), models.spec(name).input_shape

    def once(steps: int) -> float:
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        visualize.run(visualize.ascend(model, target, dataclasses.replace(config, steps=steps), shape))
        if device == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - start

    once(8)  # warm-up: kernels, allocator, oneDNN plans
    return round(statistics.median(once(STEPS) for _ in range(runs)), 3)


def main() -> None:
    cuda = torch.cuda.is_available()
    result = {f"{name}_{device}_s": seconds(name, device) if device == "cpu" or cuda else None
              for device in ("cpu", "cuda") for name in CASES}
    result.update(steps=STEPS, threads=torch.get_num_threads(), gpu=torch.cuda.get_device_name() if cuda else None,
                  torch=torch.__version__)
    report("visualize", result)


if __name__ == "__main__":
    main()
