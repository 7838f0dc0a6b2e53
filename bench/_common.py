"""What the benches share: one JSON line per result (kept in bench/results/), and a device-aware clock."""

from __future__ import annotations

import json
import socket
import time
import urllib.request
from pathlib import Path

import torch

RESULTS = Path(__file__).resolve().parent / "results"


def report(name: str, result: dict) -> None:
    """Print ``result`` as one JSON line and write it to ``bench/results/<name>.json``."""
    line = json.dumps(result)
    print(line)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(line + "\n")


class Clock:
    """Accumulated seconds while running; waits for the device before every reading."""

    def __init__(self, device: torch.device):
        self.device, self.seconds, self._since = device, 0.0, None

    def _now(self) -> float:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        return time.perf_counter()

    def start(self) -> None:
        self._since = self._now()

    def stop(self) -> float:
        if self._since is not None:
            self.seconds += self._now() - self._since
            self._since = None
        return self.seconds

    def read(self) -> float:
        """The total so far, running or not (without a device sync: for budget checks on the CPU)."""
        return self.seconds + (time.perf_counter() - self._since if self._since is not None else 0.0)


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_healthy(url: str, timeout: float = 120.0) -> float:
    """Seconds until the Streamlit server at ``url`` answers its health check."""
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read() == b"ok":
                    return time.perf_counter() - start
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not start within {timeout:.0f} s")
