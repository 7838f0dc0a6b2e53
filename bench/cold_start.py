"""How long the first visitor of a fresh server waits for a page: `streamlit run` against `make run`'s launcher.

Each way starts a new server, waits for its health check, then opens ``/layer_by_layer`` in
Debian's Chromium and times until the page's title and then its prediction are drawn. Needs the
test tools (Playwright, ``make test`` installs them). Prints one JSON line (bench/results/cold_start.json).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import free_port, report, wait_healthy
from playwright.sync_api import sync_playwright

REPO = Path(__file__).resolve().parent.parent
WAYS = {"streamlit_run": ["-m", "streamlit", "run", "streamlit_app.py"], "make_run": ["-m", "explorer.ui.serve"]}
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"]


def first_visit(way: list[str], browser) -> dict:
    """Seconds until the server answers, then until the first page's title and its prediction show."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as runs:
        server = subprocess.Popen([sys.executable, *way, "--server.headless", "true", "--server.address", "127.0.0.1",
                                   "--server.port", str(port), "--browser.gatherUsageStats", "false",
                                   "--server.fileWatcherType", "none"], cwd=REPO, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, env={**os.environ, "EXPLORER_RUNS": runs})
        try:
            healthy = wait_healthy(url)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            start = time.perf_counter()
            page.goto(url + "/layer_by_layer")
            page.locator("h1").first.wait_for(timeout=120_000)
            title = time.perf_counter() - start
            page.get_by_text("Prediction:").first.wait_for(timeout=120_000)
            return {"server_up_s": round(healthy, 1), "title_s": round(title, 1),
                    "prediction_s": round(time.perf_counter() - start, 1)}
        finally:
            server.terminate()
            server.wait(timeout=30)


def main() -> None:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        result = {way: first_visit(command, browser) for way, command in WAYS.items()}
        browser.close()
    report("cold_start", result)


if __name__ == "__main__":
    main()
