"""What every bench does with its figures: print one JSON line and keep it in bench/results/."""

from __future__ import annotations

import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def report(name: str, result: dict) -> None:
    """Print ``result`` as one JSON line and write it to ``bench/results/<name>.json``."""
    line = json.dumps(result)
    print(line)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(line + "\n")
