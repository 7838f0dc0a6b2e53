"""Top-9 speed: seconds to find the top-9 images of every channel of LeNet-5's conv2 over 10,000 digits.

Prints one JSON line (and writes bench/results/top_activations.json):
``{"top9_cpu_s": .., "top9_cuda_s": .. or null, "images": 10000, "data": "mnist test" | "shapes (offline)", ...}``
Each figure is the median of 3 uncached runs of ``top_activations.compute`` (after one warm-up)
with the shipped weights over the MNIST test set; without MNIST files, over 10,000 generated
shapes. Goals: <= 1 s on the CPU, <= 0.1 s on CUDA (timed with ``torch.cuda.synchronize``).
Imports only explorer modules free of streamlit, so it runs wherever torch does.
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
from explorer import data, models, top_activations  # noqa: E402  (after the path is set)

LAYER = "conv2"
N = 10_000


def digits() -> tuple[torch.Tensor, str]:
    """The MNIST test images (10000, 1, 28, 28) uint8, or as many generated shapes when offline."""
    try:
        return data.load("mnist", train=False).images[:N], "mnist test"
    except data.DataUnavailable:
        return data.shapes(N, size=28, channels=1, seed=1).images, "shapes (offline)"


def seconds(model: torch.nn.Module, images: torch.Tensor, device: str, runs: int = 3) -> float:
    """Median wall time of ``compute`` over ``runs`` after a warm-up (CUDA kernels, oneDNN plans)."""
    def synchronize() -> None:
        if device == "cuda":
            torch.cuda.synchronize()

    top_activations.compute(model, LAYER, images, device=device)
    times = []
    for _ in range(runs):
        synchronize()
        start = time.perf_counter()
        top_activations.compute(model, LAYER, images, device=device)
        synchronize()
        times.append(time.perf_counter() - start)
    return round(statistics.median(times), 4)


def main() -> None:
    model = models.build("lenet5", pretrained=True)
    images, source = digits()
    cuda = torch.cuda.is_available()
    result = {
        "top9_cpu_s": seconds(model, images, "cpu"),
        "top9_cuda_s": seconds(model, images, "cuda") if cuda else None,
        "images": len(images), "data": source, "layer": LAYER,
        "threads": torch.get_num_threads(), "gpu": torch.cuda.get_device_name() if cuda else None,
        "torch": torch.__version__,
    }
    report("top_activations", result)


if __name__ == "__main__":
    main()
