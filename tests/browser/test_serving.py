"""Real-browser check of what the server sends: the pages' messages go compressed (a classroom's shared Wi-Fi).

A page's charts reach the browser as JSON over one websocket: the Kernel Lab's first view is 858 KB of it, and
1.7% of that once compressed (``.streamlit/config.toml``: ``enableWebsocketCompression``).
"""

from __future__ import annotations

from . import needs  # noqa: E402, F401  (skips this module without Playwright or Chromium)

from playwright.sync_api import Page  # noqa: E402

from tests.browser.conftest import assert_no_exception, open_page  # noqa: E402


def test_the_browser_and_the_server_agree_to_compress_the_pages_messages(app_url: str, page: Page) -> None:
    session = page.context.new_cdp_session(page)
    session.send("Network.enable")
    agreed: list[str] = []
    session.on("Network.webSocketHandshakeResponseReceived", lambda event: agreed.append(
        {name.lower(): value for name, value in event["response"]["headers"].items()}.get(
            "sec-websocket-extensions", "")))
    open_page(page, app_url + "/kernel_lab", "Feature map")
    assert agreed and all("permessage-deflate" in extensions for extensions in agreed), agreed
    assert_no_exception(page)
