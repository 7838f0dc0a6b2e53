"""How long a Train click waits for its first step: a fresh worker process against the spare started ahead.

Each way submits the Train page's default run (LeNet-5 on the built-in shapes) to a LocalBackend of its own
and times from the submit until the run's first training record is written; the spare is timed once it is
ready (waiting on its input). Prints one JSON line (bench/results/first_step.json).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from _common import report  # noqa: E402

from explorer.backends import LocalBackend  # noqa: E402

DEFAULT = {"data": "shapes", "model": "lenet5", "shapes_size": 28, "shapes_channels": 1, "optimizer": "adamw",
           "lr": 0.003, "batch_size": 128, "epochs": 1, "seed": 0, "augment": True}


def _ready(backend: LocalBackend, timeout: float = 180) -> None:
    """Until the backend's spare waits on its input (its warm-up done)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        spare = backend._spare
        if spare is not None and "pipe" in Path(f"/proc/{spare.pid}/wchan").read_text():
            return
        time.sleep(0.1)
    raise TimeoutError("the spare worker did not get ready")


def first_step(spare: bool) -> float:
    """Seconds from submit to the first training record."""
    with tempfile.TemporaryDirectory() as runs:
        backend = LocalBackend(Path(runs), poll_s=0.1, spare=spare)
        try:
            if spare:
                _ready(backend)
            start = time.monotonic()
            run_id = backend.submit(DEFAULT)
            while not any(r["phase"] == "train" for r in backend.progress(run_id)):
                time.sleep(0.02)
            waited = time.monotonic() - start
            backend.cancel(run_id)
            backend.result(run_id, 30)
            return waited
        finally:
            backend.close(kill_workers=True)


if __name__ == "__main__":
    report("first_step", {"fresh_worker_s": round(first_step(False), 2), "spare_worker_s": round(first_step(True), 2)})
