"""Bytes a classroom's Wi-Fi carries: what each page's first view sends over the websocket, compressed or not.

Starts a fresh server with the project's settings (websocket compression on), then one with it off, each behind a
counting TCP proxy, and opens every page of ``PAGES`` in a new Chromium context (nothing cached) until the view has
been quiet for 3 s. Counts the bytes the server sent on the wire: the websocket's (the pages' charts and text) and
the rest (Streamlit's scripts and styles, which a browser then caches). Needs the test tools (Playwright, ``make
test`` installs them). Prints one JSON line (bench/results/page_bytes.json).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from _common import free_port, report, wait_healthy
from playwright.sync_api import sync_playwright

REPO = Path(__file__).resolve().parent.parent
PAGES = [  # a link, and a text its view shows once drawn
    ("/", "Kernel Lab"),
    ("/kernel_lab", "Feature map"),
    ("/kernel_lab?img=camera", "Feature map"),
    ("/kernel_lab?img=camera&tab=Beyond+one+kernel", "Hysteresis kept"),
    ("/layer_by_layer", "Layer by layer"),
    ("/top_activations", "Their patches"),
    ("/what_excites", "Mean activation of the channel"),
    ("/why_prediction?faith=1", "Two more ways to ask"),
]
QUIET_S = 3.0


class CountingProxy:
    """A TCP proxy on a free port in front of ``upstream``, counting the bytes the server sends: on the websocket
    (the connection whose request asks for ``/_stcore/stream``) and on the rest."""

    def __init__(self, upstream: int):
        self.upstream, self.port = upstream, free_port()
        self.sent = {"websocket": 0, "files": 0}
        self._loop = asyncio.new_event_loop()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(asyncio.start_server(self._connect, "127.0.0.1", self.port))
        self._loop.run_forever()

    async def _connect(self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter) -> None:
        server_in, server_out = await asyncio.open_connection("127.0.0.1", self.upstream)
        request = await client_in.read(65536)
        kind = "websocket" if b"/_stcore/stream" in request.split(b"\r\n", 1)[0] else "files"
        server_out.write(request)
        await asyncio.gather(self._pipe(client_in, server_out, None), self._pipe(server_in, client_out, kind))

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, kind: str | None) -> None:
        try:
            while data := await source.read(65536):
                if kind:
                    self.sent[kind] += len(data)
                sink.write(data)
                await sink.drain()
        except ConnectionError:
            pass
        finally:
            sink.close()

    def reset(self) -> None:
        self.sent = {"websocket": 0, "files": 0}


def first_views(browser, compress: bool) -> list[dict]:
    """Each page of ``PAGES`` opened afresh on a new server: KB sent on the websocket and as files."""
    port = free_port()
    with tempfile.TemporaryDirectory() as scratch:
        env = {**os.environ, "EXPLORER_RUNS": f"{scratch}/runs", "EXPLORER_CACHE": f"{scratch}/cache"}
        server = subprocess.Popen([sys.executable, "-m", "explorer.ui.serve", "--server.headless", "true",
                                   "--server.address", "127.0.0.1", "--server.port", str(port),
                                   "--server.enableWebsocketCompression", str(compress).lower(),
                                   "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
                                  cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        try:
            wait_healthy(f"http://127.0.0.1:{port}")
            proxy, views = CountingProxy(port), []
            for link, shown in PAGES:
                context = browser.new_context(viewport={"width": 1280, "height": 1000})
                proxy.reset()
                page = context.new_page()
                page.goto(f"http://127.0.0.1:{proxy.port}{link}")
                page.get_by_text(shown).first.wait_for(timeout=300_000)
                before = -1
                while proxy.sent["websocket"] != before:
                    before = proxy.sent["websocket"]
                    time.sleep(QUIET_S)
                views.append({"link": link, "websocket_kb": round(proxy.sent["websocket"] / 1000, 1),
                              "files_kb": round(proxy.sent["files"] / 1000, 1)})
                context.close()
            return views
        finally:
            server.terminate()
            server.wait(timeout=30)


def main() -> None:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium")
        compressed, plain = first_views(browser, True), first_views(browser, False)
        browser.close()
    report("page_bytes", {"pages": [
        {"link": c["link"], "websocket_kb": c["websocket_kb"], "uncompressed_kb": u["websocket_kb"],
         "files_kb": u["files_kb"]} for c, u in zip(compressed, plain)]})


if __name__ == "__main__":
    main()
