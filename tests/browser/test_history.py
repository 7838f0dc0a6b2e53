"""Real-browser checks of the browser's history: each view one entry, Back to the view before.

Streamlit writes a page's address as an entry of the history when it changes, so a link that opened a page on an
address the page then rewrote (a default it left out, the model the session kept) made two entries for one click,
and the first Back seemed dead.
"""

from __future__ import annotations

import re

import pytest

from . import needs  # noqa: E402, F401  (skips this module without Playwright or Chromium)

from playwright.sync_api import Page, expect  # noqa: E402

from .conftest import SIDEBAR, assert_no_exception, open_page, screenshot, wait_for_app  # noqa: E402

pytestmark = pytest.mark.browser
expect.set_options(timeout=15_000)  # 5 s by default: too short on a loaded 2-core machine


def history_length(page: Page) -> int:
    return page.evaluate("history.length")


def test_the_browsers_back_button_brings_back_the_former_setting(app_url: str, page: Page,
                                                                   request: pytest.FixtureRequest) -> None:
    """Each change is an entry of the browser's history; Back showed the former address and the page wrote the
    later one straight back, so it seemed dead."""
    open_page(page, app_url + "/step_by_step", "Step 1 of 6")
    for step in (2, 3):
        page.get_by_role("button", name="Next ▶").click()
        wait_for_app(page, f"Step {step} of 6")
        expect(page).to_have_url(re.compile(f"step={step}"))
    page.go_back()
    wait_for_app(page, "Step 2 of 6")
    expect(page).to_have_url(re.compile(r"step=2$"))
    page.go_back()
    wait_for_app(page, "Step 1 of 6")
    expect(page).not_to_have_url(re.compile("step="))
    page.go_forward()
    wait_for_app(page, "Step 2 of 6")
    expect(page).to_have_url(re.compile(r"step=2$"))
    assert_no_exception(page)
    screenshot(page, request.node.name)


def test_back_after_a_round_trip_through_the_sidebar_goes_to_the_page_before(app_url: str, page: Page,
                                                                            request: pytest.FixtureRequest) -> None:
    """The sidebar's link to a page seen before carries its last address: a bare one passed through the page's
    defaults first, an entry of the history that Back took for a view and showed, every setting dropped."""
    open_page(page, app_url + "/kernel_lab?k=laplacian&stride=2", "Stride")
    sidebar = page.locator('[data-testid="stSidebar"]')
    sidebar.get_by_role("link", name="Invariance", exact=True).click()
    wait_for_app(page, "Invariance")
    link = sidebar.get_by_role("link", name="Kernel Lab", exact=True)
    assert re.search(r"kernel_lab\?k=laplacian&stride=2$", link.get_attribute("href"))
    link.click()
    page.wait_for_function("() => location.pathname.endsWith('/kernel_lab')")
    wait_for_app(page, "Stride")
    assert page.evaluate("location.search") == "?k=laplacian&stride=2"
    page.go_back()
    page.wait_for_function("() => location.pathname.endsWith('/invariance')")
    assert_no_exception(page)
    screenshot(page, request.node.name)



def test_the_sidebar_opens_a_page_not_seen_yet_on_the_kept_model_in_one_step(app_url: str, page: Page,
                                                                             request: pytest.FixtureRequest) -> None:
    """The sidebar's link to a page not seen yet carries the model and image the session shows: a bare link had
    opened Receptive fields bare, then on the kept TinyVGG, and Back went to the bare address, a view that looked
    the same."""
    open_page(page, app_url + "/layer_by_layer?model=tinyvgg", "Layer by layer")
    link = page.locator(SIDEBAR).get_by_role("link", name="Receptive fields", exact=True)
    assert link.get_attribute("href").endswith("receptive_fields?model=tinyvgg")
    before = history_length(page)
    link.click()
    page.wait_for_function("() => location.pathname.endsWith('/receptive_fields')")
    wait_for_app(page, "What the unit can see")
    assert page.evaluate("location.search") == "?model=tinyvgg" and history_length(page) == before + 1
    page.go_back()
    page.wait_for_function("() => location.pathname.endsWith('/layer_by_layer')")
    wait_for_app(page, "Layer by layer")
    assert_no_exception(page)
    screenshot(page, request.node.name)


def test_a_channels_link_to_another_page_is_one_step(app_url: str, page: Page, request: pytest.FixtureRequest) -> None:
    """A channel's link names the model it shows, the default too (else a model the session kept on the other
    page would show): the page had left the default out of its address, a second entry of the history."""
    open_page(page, app_url + "/top_activations?layer=conv1&channel=2", "What excites it")
    before = history_length(page)
    page.get_by_role("link", name="What excites it").first.click()
    page.wait_for_function("() => location.pathname.endsWith('/what_excites')")
    wait_for_app(page, "What excites a unit")
    assert re.fullmatch(r"\?model=lenet5&src=sample&img=digit&data=[a-z-]+&mode=channel&neg=0&grid=0"
                        r"&layer=conv1&channel=2", page.evaluate("location.search"))
    assert history_length(page) == before + 1
    page.go_back()
    page.wait_for_function("() => location.pathname.endsWith('/top_activations')")
    assert_no_exception(page)
    screenshot(page, request.node.name)
