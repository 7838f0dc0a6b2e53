"""Start the app with its libraries already imported, so that the first visitor does not wait for them.

``python -m explorer.ui.serve [options]`` is ``streamlit run streamlit_app.py [options]``, after
importing torch, torchvision, plotly and the library modules the pages use: on a cold machine
that is several seconds a first visitor would otherwise spend looking at an empty page.
Streamlit runs the pages in this process, so they find these modules already loaded.
"""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path

APP = Path(__file__).resolve().parents[2] / "streamlit_app.py"
# plain library modules only: explorer.ui's modules create Streamlit caches, which need the running server
WARM = ("torch", "torchvision", "torchvision.models.feature_extraction", "plotly.graph_objects", "pandas",
        "explorer.models", "explorer.inspect", "explorer.famous", "explorer.mosaic", "explorer.figures",
        "explorer.filtering", "explorer.receptive_field", "explorer.top_activations", "explorer.visualize",
        "explorer.worker")


def warm() -> float:
    """Import the heavy modules; returns the seconds it took."""
    start = time.perf_counter()
    for name in WARM:
        importlib.import_module(name)
    return time.perf_counter() - start


def main(argv: list[str]) -> None:
    print(f"Libraries loaded in {warm():.1f} s; starting the app.", flush=True)
    from streamlit.web import cli

    sys.argv = ["streamlit", "run", str(APP), *argv]
    cli.main()


if __name__ == "__main__":
    main(sys.argv[1:])
