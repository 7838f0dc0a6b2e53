"""Real-browser checks on touch screens (a classroom's phones and tablets), emulated by Chromium: a tap on a chart
picks what is under it, and the sidebar keeps out of the page (``explorer/ui/touch.js``).

Run with ``python -m pytest tests/browser`` (marked ``browser``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from . import needs  # noqa: E402, F401  (skips this module without Playwright or Chromium)

from playwright.sync_api import Browser, Page, expect  # noqa: E402

from .conftest import open_page, screenshot, wait_for_app  # noqa: E402
from .test_browser import assert_no_exception  # noqa: E402

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
TABLET = {"width": 1024, "height": 768}  # landscape
SIDEBAR_OPEN = "[data-testid=stSidebarCollapseButton] button[aria-expanded=true]"


@pytest.fixture
def touch(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A page on an emulated touch screen of the size the test is parametrised with."""
    context = browser.new_context(viewport=request.param, has_touch=True, is_mobile=True, device_scale_factor=2)
    yield context.new_page()
    context.close()


def _tap_chart(page: Page, chart: str, across: float, down: float) -> None:
    """A finger's tap on the plotting area of the chart whose Streamlit key is ``chart``, at fractions of its size."""
    area = page.locator(f".st-key-{chart} .nsewdrag").first
    area.scroll_into_view_if_needed()
    box = area.bounding_box()
    page.touchscreen.tap(box["x"] + box["width"] * across, box["y"] + box["height"] * down)


@pytest.mark.parametrize("touch", [PHONE], indirect=True)
def test_a_tap_on_a_map_picks_the_unit_under_the_finger(app_url: str, touch: Page,
                                                        request: pytest.FixtureRequest) -> None:
    """plotly.js selects the point its last hover found, and a finger makes no hover before it lands: on a phone a
    tap on Receptive fields' map (or Top activations' channels, Step by step's output) changed nothing."""
    open_page(touch, app_url + "/receptive_fields", "What the unit can see")
    _tap_chart(touch, "rf_map", 0.15, 0.85)  # conv2's 10 x 10 map: row 8, column 1
    touch.wait_for_url("**/receptive_fields?unit=8%2C1", timeout=30_000)
    wait_for_app(touch, "conv2, unit (8, 1)")
    assert_no_exception(touch)
    screenshot(touch, request.node.name)


@pytest.mark.parametrize("touch", [TABLET], indirect=True)
def test_on_a_tablet_the_sidebar_starts_shut_and_shuts_once_a_page_is_picked(app_url: str, touch: Page,
                                                                             request: pytest.FixtureRequest) -> None:
    """Open, it left a landscape tablet too little room for the controls beside the view, and on a phone it covered
    the page just picked in it."""
    open_page(touch, app_url + "/layer_by_layer", "1 of 13")
    expect(touch.locator(SIDEBAR_OPEN)).to_have_count(0)
    touch.locator("[data-testid=stExpandSidebarButton]").tap()
    expect(touch.locator(SIDEBAR_OPEN)).to_have_count(1)
    touch.locator("[data-testid=stSidebarUserContent] a", has_text="Kernel Lab").tap()
    touch.wait_for_url("**/kernel_lab", timeout=30_000)
    expect(touch.locator(SIDEBAR_OPEN)).to_have_count(0)
    assert_no_exception(touch)
    screenshot(touch, request.node.name)


def test_with_a_mouse_the_sidebar_stays_open(app_url: str, page: Page) -> None:
    """A projector's 1024 px window with a mouse keeps its sidebar: only touch screens shut it."""
    page.set_viewport_size(TABLET)
    open_page(page, app_url + "/layer_by_layer", "1 of 13")
    page.wait_for_timeout(600)  # past the moment a touch screen's sidebar shuts
    expect(page.locator(SIDEBAR_OPEN)).to_have_count(1)


@pytest.mark.parametrize("touch", [PHONE], indirect=True)
def test_on_a_phone_a_row_of_settings_keeps_two_a_row_and_the_title_one_line(app_url: str, touch: Page,
                                                                              request: pytest.FixtureRequest) -> None:
    """Under 640 px Streamlit stacks every row of columns: Step by step's four number boxes took four rows of the
    phone's screen, and its title two lines, so the grids began 1.4 screens down."""
    open_page(touch, app_url + "/step_by_step", "Step 1 of 6")
    tops = {label: touch.get_by_label(label, exact=True).bounding_box()["y"]
            for label in ("Padding", "Stride", "Dilation")}
    assert tops["Stride"] == pytest.approx(tops["Dilation"], abs=2)
    assert tops["Stride"] > tops["Padding"] + 30  # the second row
    title = touch.locator("h1").first.bounding_box()
    assert title["height"] < 70, title  # one line (two were 96 px)
    assert_no_exception(touch)
    screenshot(touch, request.node.name)
    open_page(touch, app_url + "/why_prediction", "Prediction:")  # a toggle's row with its help icon: paired too
    assert touch.get_by_role("combobox", name="Explain the class").bounding_box()["y"] == pytest.approx(
        touch.get_by_role("combobox", name="CAM layer").bounding_box()["y"], abs=2)
    open_page(touch, app_url + "/layer_by_layer", "1 of 13")
    picker = touch.locator(".st-key-lbl_layer")
    for _ in range(20):  # the row settles after the page's text: measured at once in a busy full run, it was 294 px
        if picker.bounding_box()["width"] > 300:
            break
        touch.wait_for_timeout(500)
    assert picker.bounding_box()["width"] > 300  # beside Previous and Next: 149 px
