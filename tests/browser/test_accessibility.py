"""Real-browser checks of what a student using a screen reader, a keyboard or a low-contrast projector meets: text
read at 4.5:1 or more (WCAG AA), measured on the colours the browser computes.

Run with ``python -m pytest tests/browser`` (marked ``browser``).
"""

from __future__ import annotations

import pytest

from . import needs  # noqa: E402, F401  (skips this module without Playwright or Chromium)

from playwright.sync_api import Page  # noqa: E402

from .conftest import open_page  # noqa: E402

pytestmark = pytest.mark.browser


READ_COLOURS_JS = """() => {
    const rgb = text => text.match(/[\\d.]+/g).slice(0, 3).map(Number);
    const caption = document.querySelector('[data-testid=stCaptionContainer]');
    const tick = document.querySelector('.js-plotly-plot .xtick text');
    return {caption: rgb(getComputedStyle(caption).color), opacity: Number(getComputedStyle(caption).opacity),
            tick: rgb(getComputedStyle(tick).fill)};
}"""


def _contrast_on_white(colour: list[float]) -> float:
    def channel(c: float) -> float:
        c /= 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in colour)
    return 1.05 / (0.2126 * r + 0.7152 * g + 0.0722 * b + 0.05)


def test_captions_and_chart_axes_read_at_four_and_a_half_to_one_on_a_light_page(app_url: str, page: Page) -> None:
    """WCAG AA: Streamlit's faded captions had read at 3.9:1, plotly's theme grey on the axes at 3.7:1."""
    open_page(page, app_url + "/invariance", "Each layer")
    page.wait_for_selector(".js-plotly-plot .xtick text")
    read = page.evaluate(READ_COLOURS_JS)
    caption = [read["opacity"] * c + (1 - read["opacity"]) * 255 for c in read["caption"]]  # faded over white
    assert _contrast_on_white(caption) >= 4.5 and _contrast_on_white(read["tick"]) >= 4.5, read
