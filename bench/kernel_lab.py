"""Kernel Lab speed: server-side milliseconds of the compute path and of a whole page rerun.

Prints one JSON line (and writes it to bench/results/kernel_lab.json):
``{"compute_ms": {"3x3": .., "7x7": .., "15x15": .., "7x7_stride2": .., "7x7_dilation2": ..}, "rerun_ms_7x7": ..}``
Compute: ``explorer.filtering.apply_filter`` on a 512x512 RGB image (RGB summed, zero "same" border),
median of repeated runs. Rerun: median AppTest rerun of the whole Kernel Lab page with a 7x7 kernel
on the 512 px astronaut photo, RGB summed.
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
from explorer import filtering, images, kernels  # noqa: E402


def _median_ms(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(times), 2)


def compute_figures(repeats: int = 30) -> dict[str, float]:
    """Median ms of the compute path for each kernel size and setting."""
    image = images.resize(images.load_sample("astronaut"), 512)  # (3, 512, 512)
    assert image.shape == (3, 512, 512), image.shape
    cases = {
        "3x3": (3, filtering.FilterSettings(colour="sum")),
        "7x7": (7, filtering.FilterSettings(colour="sum")),
        "15x15": (15, filtering.FilterSettings(colour="sum")),
        "7x7_stride2": (7, filtering.FilterSettings(colour="sum", stride=2)),
        "7x7_dilation2": (7, filtering.FilterSettings(colour="sum", dilation=2)),
    }
    return {
        name: _median_ms(lambda k=size, s=settings: filtering.apply_filter(image, kernels.gaussian(k, 2.0), s), repeats)
        for name, (size, settings) in cases.items()
    }


def rerun_ms(repeats: int = 15) -> float:
    """Median ms of a whole Kernel Lab rerun (AppTest) with a 7x7 kernel."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60)
    for key, value in dict(k="gaussian (choose sigma)", ksize="7", img="astronaut", size="512", colour="sum").items():
        at.query_params[key] = value
    at.switch_page("pages/kernel_lab.py")
    at.run()
    assert not at.exception, at.exception
    return _median_ms(at.run, repeats)


def main() -> None:
    torch.set_grad_enabled(False)
    result = {"compute_ms": compute_figures(), "rerun_ms_7x7": rerun_ms(),
              "threads": torch.get_num_threads(), "image": "512x512 RGB (astronaut sample)"}
    report("kernel_lab", result)


if __name__ == "__main__":
    main()
