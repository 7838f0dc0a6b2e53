"""Real-browser checks at a classroom projector's 1024 px: pictures wrap onto new lines instead of being cut.

Run with ``python -m pytest tests/browser`` (marked ``browser``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("playwright", reason="playwright is not installed")
pytest.importorskip("pytest_playwright", reason="pytest-playwright is not installed")
if not Path("/usr/bin/chromium").exists():
    pytest.skip("/usr/bin/chromium is missing (make chromium installs it)", allow_module_level=True)

from playwright.sync_api import Page  # noqa: E402

from .conftest import open_page, screenshot  # noqa: E402
from .test_browser import assert_no_exception  # noqa: E402

pytestmark = pytest.mark.browser

# each chart's drawing against the box the page gives it
_WIDTHS = """() => [...document.querySelectorAll('[data-testid=stPlotlyChart]')].map(chart => {
    const svg = chart.querySelector('.main-svg');
    return [chart.getBoundingClientRect().width, svg ? parseFloat(svg.getAttribute('width')) : 0];
})"""


def test_why_this_predictions_pictures_are_whole_in_a_1024_px_window(app_url: str, page: Page,
                                                                     request: pytest.FixtureRequest) -> None:
    page.set_viewport_size({"width": 1024, "height": 1000})
    open_page(page, app_url + "/why_prediction", "FGSM: confidence against eps")
    widths = page.evaluate(_WIDTHS)
    assert len(widths) >= 9
    cut = [(box, drawn) for box, drawn in widths if drawn > box + 1]
    assert not cut, f"charts drawn wider than their box (box, drawn): {cut}"
    assert_no_exception(page)
    screenshot(page, request.node.name)


def test_top_activations_pictures_are_whole_in_a_1024_px_window(app_url: str, page: Page,
                                                                 request: pytest.FixtureRequest) -> None:
    page.set_viewport_size({"width": 1024, "height": 1000})
    open_page(page, app_url + "/top_activations", "Their patches (receptive fields)")
    widths = page.evaluate(_WIDTHS)
    assert len(widths) >= 3
    cut = [(box, drawn) for box, drawn in widths if drawn > box + 1]
    assert not cut, f"charts drawn wider than their box (box, drawn): {cut}"
    assert_no_exception(page)
    screenshot(page, request.node.name)
