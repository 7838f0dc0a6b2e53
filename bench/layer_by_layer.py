"""Layer by layer speed: median milliseconds of an AppTest rerun while stepping through a network.

Prints one JSON line (and writes bench/results/layer_by_layer.json):
``{"lenet5_rerun_ms": .., "resnet18_rerun_ms": .., ...}``
Each figure is the median over pressing *Next* through the first ``steps`` layers (a rerun that
draws a new layer: its maps, kernels, formulas and tables) on the CPU. LeNet-5 uses its shipped
weights on the 28x28 digit sample; ResNet18 uses random weights (no download here) on the astronaut
photo, prepared to 224x224. The first run (model build, trace, every activation; cached afterwards)
is reported apart, as ``*_first_run_ms``; the LeNet-5 one also measures the famous-network table.
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


def stepping_ms(steps: int, **params: str) -> tuple[float, float]:
    """(ms of the first run: build, trace, every activation; median ms of a rerun after pressing Next)."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=120)
    for key, value in params.items():
        at.query_params[key] = value
    at.switch_page("pages/layer_by_layer.py")
    start = time.perf_counter()
    at.run()
    first = (time.perf_counter() - start) * 1000
    assert not at.exception, at.exception
    times = []
    for _ in range(min(steps, len(at.select_slider(key="lbl_layer").options) - 1)):
        at.button(key="lbl_next").click()
        start = time.perf_counter()
        at.run()
        times.append((time.perf_counter() - start) * 1000)
        assert not at.exception, at.exception
    return round(first, 1), round(statistics.median(times), 1)


def main() -> None:
    lenet_first, lenet = stepping_ms(12, img="digit")
    resnet_first, resnet = stepping_ms(30, model="resnet18", weights="0", img="astronaut")
    result = {
        "lenet5_rerun_ms": lenet, "resnet18_rerun_ms": resnet,
        "lenet5_first_run_ms": lenet_first, "resnet18_first_run_ms": resnet_first,
        "threads": torch.get_num_threads(), "device": "cpu",
    }
    report("layer_by_layer", result)


if __name__ == "__main__":
    main()
