"""Fixtures and helpers for the real-browser tests: a Streamlit server per session, Chromium, waits.

The app runs as a subprocess (``python -m streamlit run streamlit_app.py``) on a free local port;
pytest-playwright drives Debian's Chromium (``/usr/bin/chromium``; Playwright's own browser
download does not work here). Screenshots go to ``tests/artifacts/`` (git-ignored).
"""

from __future__ import annotations

import base64
import contextlib
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "tests" / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
HEALTH_TIMEOUT_S = 60.0
VIEWPORT = {"width": 1400, "height": 1000}

# The app root carries the script state: "initial", "running", "notRunning", ...
APP = '[data-testid="stApp"]'
IDLE_JS = """(ms) => {
    const app = document.querySelector('[data-testid="stApp"]');
    const idle = !!app
        && app.getAttribute('data-test-script-state') === 'notRunning'
        && app.getAttribute('data-test-connection-state') === 'CONNECTED'
        && !document.querySelector('[data-testid="stStatusWidget"]');
    const now = performance.now();
    if (!idle) { window.__appIdleSince = null; return false; }
    if (window.__appIdleSince == null) window.__appIdleSince = now;
    return now - window.__appIdleSince >= ms;
}"""


# --- the app server -------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_healthy(url: str, process: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read().decode().strip() == "ok":
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url}/_stcore/health did not answer ok within {timeout:.0f} s:\n"
                       f"{log.read_text()[-3000:]}")


def _stop(process: subprocess.Popen) -> None:
    """Stop the server we started, by its PID: terminate, wait, then kill."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@contextlib.contextmanager
def running_app(name: str = "session") -> Iterator[str]:
    """Start the app as ``make run`` does (``explorer.ui.serve``) on a free port; yield its base URL; stop it."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    log = ARTIFACTS / f"streamlit-{_slug(name)}.log"
    command = [
        sys.executable, "-m", "explorer.ui.serve",
        "--server.headless", "true", "--server.address", "127.0.0.1", "--server.port", str(port),
        "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, process, log, HEALTH_TIMEOUT_S)
        yield url
    finally:
        _stop(process)


@pytest.fixture(scope="session")
def app_url() -> Iterator[str]:
    """Base URL of one app server shared by the session's tests."""
    with running_app("session") as url:
        yield url


@pytest.fixture
def fresh_app_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """Base URL of a server started for this test alone (no session has reached it yet)."""
    with running_app(request.node.name) as url:
        yield url


# --- pytest-playwright configuration -------------------------------------------------------

@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing (make chromium installs it)")
    return {**browser_type_launch_args, "executable_path": str(CHROMIUM), "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_context_args, "viewport": VIEWPORT}


# --- helpers --------------------------------------------------------------------------------

def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")[:120] or "test"


def wait_for_app(page, text: str | None = None, timeout: float = 60_000, quiet_ms: int = 300) -> None:
    """Wait until the script has finished (idle for ``quiet_ms``), and ``text`` is visible.

    Right after a click the app may still look idle for a moment before the rerun starts, so
    pass the ``text`` the new state shows (or wait for a figure with :func:`wait_for_figure`).
    A minute: a page that builds a network took over 30 s on a 2-core machine busy with other browsers.
    """
    page.wait_for_selector(APP, timeout=timeout)
    page.evaluate("() => { window.__appIdleSince = null; }")  # count quiet time from now
    if text is not None:
        page.get_by_text(text).first.wait_for(state="visible", timeout=timeout)
    page.wait_for_function(IDLE_JS, arg=quiet_ms, timeout=timeout, polling=100)


EXCEPTION = '[data-testid="stException"]'
SIDEBAR = '[data-testid="stSidebar"]'


def assert_no_exception(page) -> None:
    """No exception box on the page (pages catch errors and explain them)."""
    from playwright.sync_api import expect

    expect(page.locator(EXCEPTION)).to_have_count(0)


def open_page(page, url: str, text: str | None = None) -> None:
    """Go to ``url`` and wait until the app is idle and ``text`` is shown."""
    page.goto(url, wait_until="domcontentloaded")
    wait_for_app(page, text)


FIGURE_JS = """(prefix) => {
    const strip = (t) => (t || '').replace(/<[^>]*>/g, '').trim();
    for (const el of document.querySelectorAll('.js-plotly-plot')) {
        const title = el.layout && el.layout.title && strip(el.layout.title.text || el.layout.title);
        if (!title || !title.startsWith(prefix) || !el.data || !el.data.length) continue;
        const z = el.data[0].z;
        if (z == null) return {title, z: null};
        if (z.bdata !== undefined) return {title, dtype: z.dtype, bdata: z.bdata, shape: String(z.shape || '')};
        return {title, z: JSON.parse(JSON.stringify(z, (k, v) => ArrayBuffer.isView(v) ? Array.from(v) : v))};
    }
    return null;
}"""


def figure(page, prefix: str, timeout: float = 30_000) -> tuple[str, Any]:
    """(title, z as a numpy array) of the first plotly chart whose title starts with ``prefix``."""
    import numpy as np

    handle = page.wait_for_function(FIGURE_JS, arg=prefix, timeout=timeout, polling=100)
    found = handle.json_value()
    if found.get("bdata") is not None:
        z = np.frombuffer(base64.b64decode(found["bdata"]), dtype=np.dtype(found["dtype"]))
        shape = tuple(int(s) for s in found["shape"].split(",") if s.strip())
        z = z.reshape(shape) if shape else z
    else:
        z = np.asarray(found["z"], dtype=float)
    return found["title"], z


def wait_for_figure_change(page, prefix: str, before, timeout: float = 30_000) -> tuple[str, Any]:
    """Poll until the chart ``prefix`` shows data different from ``before``; return the new one."""
    import numpy as np

    deadline = time.monotonic() + timeout / 1000
    while True:
        with contextlib.suppress(Exception):
            title, z = figure(page, prefix, timeout=2_000)
            if z.shape != before.shape or not np.array_equal(z, before):
                wait_for_app(page)
                return figure(page, prefix)
        if time.monotonic() > deadline:
            raise AssertionError(f"the chart {prefix!r} did not change within {timeout / 1000:.0f} s")
        page.wait_for_timeout(200)


def screenshot(page, name: str) -> Path:
    """Save the whole page (the main area scrolls inside the window) as tests/artifacts/<name>.png."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{_slug(name)}.png"
    size = page.viewport_size or VIEWPORT
    height = page.evaluate("""() => {
        const main = document.querySelector('[data-testid="stMain"]');
        return main ? main.scrollHeight : document.documentElement.scrollHeight;
    }""")
    tall = min(max(int(height), size["height"]), 6000)
    try:
        if tall > size["height"]:
            page.set_viewport_size({"width": size["width"], "height": tall})
            page.wait_for_timeout(300)
        page.screenshot(path=str(path), animations="disabled")
    finally:
        if tall > size["height"]:
            page.set_viewport_size(size)
    return path
