"""A class opening one link at once: how long until every visitor sees the view, against one visitor alone.

Starts a fresh server (empty run store and top-activations cache), opens ``LINK`` in ``--visitors``
Chromium pages at the same moment and times until each shows its channel's top 9 (the page's
longest step: every image of the set through the network). Then the same link for one visitor on
another fresh server. Needs the test tools (Playwright, ``make test`` installs them). Prints one JSON
line (bench/results/classroom.json).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import free_port, report, wait_healthy
from playwright.sync_api import sync_playwright

REPO = Path(__file__).resolve().parent.parent
LINK = "/top_activations?model=resnet_small&weights=0&n=10000"
SHOWN = "its top 9 of"  # the channel's subheader, drawn once the whole set went through
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"]


def visit(visitors: int, browser) -> list[float]:
    """Seconds until each of ``visitors`` pages, opened at once on a fresh server, shows the top 9 (sorted)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as scratch:
        env = {**os.environ, "EXPLORER_RUNS": f"{scratch}/runs", "EXPLORER_CACHE": f"{scratch}/cache"}
        server = subprocess.Popen([sys.executable, "-m", "explorer.ui.serve", "--server.headless", "true",
                                   "--server.address", "127.0.0.1", "--server.port", str(port),
                                   "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
                                  cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        try:
            wait_healthy(url)
            pages = [browser.new_page(viewport={"width": 1280, "height": 900}) for _ in range(visitors)]
            start = time.perf_counter()
            for page in pages:
                page.goto(url + LINK, wait_until="commit")
            seen: dict[int, float] = {}
            while len(seen) < visitors and time.perf_counter() - start < 600:
                for i, page in enumerate(pages):
                    if i not in seen and page.get_by_text(SHOWN).count():
                        seen[i] = time.perf_counter() - start
                time.sleep(0.2)
            for page in pages:
                page.close()
            if len(seen) < visitors:
                raise RuntimeError(f"{visitors - len(seen)} of {visitors} visitors saw no top 9 within 600 s")
            return sorted(round(s, 1) for s in seen.values())
        finally:
            server.terminate()
            server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visitors", type=int, default=4)
    args = parser.parse_args()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        together = visit(args.visitors, browser)
        alone = visit(1, browser)
        browser.close()
    report("classroom", {"link": LINK, "visitors": args.visitors, "together_s": together, "alone_s": alone[0]})


if __name__ == "__main__":
    main()
