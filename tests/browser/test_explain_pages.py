"""Real-browser checks of the pages that ask why a network decides: ascent with Stop, attacks, invariance."""

from __future__ import annotations

import re

import pytest
import torch
from PIL import Image

from . import needs  # noqa: E402, F401  (skips this module without Playwright or Chromium)

from playwright.sync_api import Page, expect  # noqa: E402

from .conftest import figure, open_page, screenshot, wait_for_app  # noqa: E402
from .test_browser import assert_no_exception, draw_strokes, select_option  # noqa: E402

pytestmark = pytest.mark.browser


def test_ascent_forms_an_image_and_plays_it_back(app_url: str, page: Page, request: pytest.FixtureRequest) -> None:
    open_page(page, app_url + "/what_excites?steps=48&channel=5", "Its top 9")
    title, _ = figure(page, "What excites channel 5 of conv2")
    assert title == "What excites channel 5 of conv2"
    expect(page.get_by_text("at the start", exact=False)).to_be_visible()
    page.get_by_text("Play", exact=True).click()  # plotly's animation, in the browser alone
    page.wait_for_timeout(500)
    assert "channel=5" in page.url and "steps=48" in page.url
    with page.expect_download(timeout=30_000) as download:
        page.get_by_role("button", name="Download the image (PNG)").click()
    assert download.value.suggested_filename == "what-excites-channel-5-of-conv2-lenet5.png"
    with Image.open(download.value.path()) as made:
        assert made.size == (28, 28) and made.mode == "L"  # its own pixels, not the picture on the screen
    assert_no_exception(page)
    screenshot(page, request.node.name)


def test_stop_interrupts_a_long_ascent_and_keeps_its_image(app_url: str, page: Page,
                                                             request: pytest.FixtureRequest) -> None:
    """Hundreds of steps on ResNet18 take minutes on a CPU: Stop ends it and shows what was made so far (a CPU server
    takes 256 of the link's 1,024 on a 224 px network, a GPU server all)."""
    page.goto(app_url + "/what_excites?model=resnet18&weights=0&steps=1024&img=coffee", wait_until="domcontentloaded")
    steps = 1024 if torch.cuda.is_available() else 256
    expect(page.get_by_text(re.compile(rf"Gradient ascent: step [1-9]\d* of {steps},"))).to_be_visible(timeout=90_000)
    page.get_by_role("button", name="Stop").click()
    stopped = page.get_by_text(re.compile(rf"Stopped at step \d+ of {steps}"))
    expect(stopped).to_be_visible(timeout=30_000)
    step = int(re.search(r"step (\d+)", stopped.inner_text()).group(1))
    assert 0 < step < steps
    figure(page, "What excites channel")  # the image made so far is drawn
    wait_for_app(page, timeout=60_000)
    screenshot(page, request.node.name)
    page.get_by_role("button", name="Run it to the end").click()  # continues from there, not from noise
    expect(page.get_by_text(re.compile(rf"Gradient ascent: step \d+ of {steps}"))).to_be_visible(timeout=30_000)
    page.get_by_role("button", name="Stop").click()
    again = page.get_by_text(re.compile(rf"Stopped at step (?!{step} )\d+ of {steps}"))  # not the first stop's
    expect(again).to_be_visible(timeout=30_000)
    assert int(re.search(r"step (\d+)", again.inner_text()).group(1)) > step
    wait_for_app(page, timeout=60_000)
    assert_no_exception(page)


def test_a_drawn_digit_is_explained_and_fooled(app_url: str, page: Page, request: pytest.FixtureRequest) -> None:
    open_page(page, app_url + "/why_prediction?src=draw&eps=0.25", "Draw with the mouse")
    draw_strokes(page, [[(0.25, 0.2), (0.75, 0.2), (0.45, 0.85)]])  # a 7
    expect(page.get_by_text("Prediction: 7", exact=False)).to_be_visible(timeout=30_000)
    expect(page.get_by_text("The prediction flips", exact=False)).to_be_visible(timeout=30_000)
    for title in ("Saliency, 7", "Grad-CAM, 7", "Perturbation (±eps)", "Adversarial:", "FGSM: confidence"):
        figure(page, title)
    wait_for_app(page)
    assert "src=draw" in page.url and "eps=0.25" in page.url
    assert_no_exception(page)
    screenshot(page, request.node.name)


def test_a_charts_camera_saves_it_four_times_as_sharp_under_its_title(app_url: str, page: Page) -> None:
    """Plotly's camera had saved a map as it is on the screen, 164 px wide, as "newplot.png"; a screen reader now
    hears each chart's title."""
    open_page(page, app_url + "/why_prediction", "Prediction:")
    chart = page.get_by_role("figure", name="Saliency, 3")
    expect(chart).to_be_visible(timeout=30_000)
    wait_for_app(page)
    on_screen = chart.locator(".main-svg").first.bounding_box()
    chart.hover()
    with page.expect_download(timeout=30_000) as download:  # plotly draws the picture in the browser
        chart.get_by_label("Download plot as a PNG").click()
    saved = download.value
    assert saved.suggested_filename == "saliency-3.png"
    with Image.open(saved.path()) as picture:
        assert picture.size == (round(4 * on_screen["width"]), round(4 * on_screen["height"]))
    assert_no_exception(page)


def test_invariance_switches_transformation(app_url: str, page: Page, request: pytest.FixtureRequest) -> None:
    open_page(page, app_url + "/invariance?kind=rotate&n=9", "versions keep that reading")
    figure(page, "Probability of")
    select_option(page, "Transformation", "scale (factor)")
    expect(page).to_have_url(re.compile(r"kind=scale"), timeout=30_000)
    wait_for_app(page)
    expect(page.get_by_text(re.compile(r"of 9 versions keep that reading"))).to_be_visible()
    axis = page.evaluate("""() => [...document.querySelectorAll('.js-plotly-plot')]
        .map(el => el.layout.xaxis && el.layout.xaxis.title && el.layout.xaxis.title.text).filter(Boolean)""")
    assert "scale (factor)" in axis and "rotate clockwise (°)" not in axis
    figure(page, "Each layer's match")
    assert_no_exception(page)
    screenshot(page, request.node.name)
