"""Real-browser checks of CNN Explorer: deep links, the drawing canvas, kernels, bad input, steps.

Run with ``python -m pytest tests/browser`` (marked ``browser``; ``-m "not browser"`` skips them).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from . import needs  # noqa: E402, F401  (skips this module without Playwright or Chromium)

import numpy as np  # noqa: E402
from playwright.sync_api import Page, expect  # noqa: E402

from explorer.ui.layout import PAGES  # noqa: E402

from .conftest import (SIDEBAR, assert_no_exception, figure, open_page, screenshot, wait_for_app,  # noqa: E402
                       wait_for_figure_change)

pytestmark = pytest.mark.browser
expect.set_options(timeout=15_000)  # 5 s by default: too short on a loaded 2-core machine


def select_option(page: Page, label: str, option: str) -> None:
    """Open the selectbox labelled ``label`` and pick ``option``."""
    page.get_by_role("combobox", name=label, exact=True).click()
    page.get_by_role("option", name=option, exact=True).click()


def expect_selected(page: Page, label: str, value: str) -> None:
    """The selectbox labelled ``label`` shows ``value``."""
    expect(page.get_by_role("combobox", name=label, exact=True)).to_have_value(value)


# --- deep links -----------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("path", "title", "tab_title"),
    [
        ("/", "CNN Explorer", "Home · CNN Explorer"),
        ("/kernel_lab", "Kernel Lab", "Kernel Lab · CNN Explorer"),
        ("/step_by_step", "Convolution step by step", "Convolution step by step · CNN Explorer"),
        ("/layer_by_layer?layer=conv2", "Layer by layer", "Layer by layer · CNN Explorer"),
        ("/receptive_fields?layer=pool1&unit=0,0", "Receptive fields", "Receptive fields · CNN Explorer"),
        ("/top_activations?channel=3", "Top activations", "Top activations · CNN Explorer"),
        ("/train?epochs=3", "Train", "Train · CNN Explorer"),
        ("/what_excites?mode=class&steps=16", "What excites a unit", "What excites a unit · CNN Explorer"),
        ("/why_prediction?eps=0.05", "Why this prediction", "Why this prediction · CNN Explorer"),
        ("/invariance?kind=rotate", "Invariance", "Invariance · CNN Explorer"),
    ],
    ids=["home", "kernel_lab", "step_by_step", "layer_by_layer", "receptive_fields", "top_activations", "train",
         "what_excites", "why_prediction", "invariance"],
)
def test_deep_link_renders_page(fresh_app_url: str, new_context, path: str, title: str,
                                tab_title: str, request: pytest.FixtureRequest) -> None:
    """The deep link is the first page request to a new server, in a new browser context."""
    page = new_context().new_page()
    open_page(page, fresh_app_url + path, title)
    expect(page.locator("h1").first).to_have_text(title)
    expect(page).to_have_title(tab_title)
    assert page.url.startswith(fresh_app_url + path.split("?")[0]), page.url
    sidebar = page.locator(SIDEBAR)
    expect(sidebar.locator('[data-testid="stPageLink"]').get_by_text("Kernel Lab", exact=True)).to_be_visible()
    expect(sidebar.locator('[data-testid="stPageLink"]')).to_have_count(len(PAGES) + 1)
    expect(page.locator('[data-testid="stSidebarNav"]')).to_have_count(0)  # the default nav stays hidden
    expect(page.get_by_text("Page not found")).to_have_count(0)
    icon = page.locator("link[rel='shortcut icon']").get_attribute("href")  # served here: no outside request
    assert icon and (icon.startswith(fresh_app_url) or not icon.startswith(("http:", "https:", "//"))), icon
    assert_no_exception(page)
    screenshot(page, request.node.name)


def test_kernel_lab_link_restores_settings(app_url: str, page: Page, request: pytest.FixtureRequest) -> None:
    open_page(page, app_url + "/kernel_lab?k=laplacian&border=valid", "Kernel Lab")
    title, z = figure(page, "Feature map")
    wait_for_app(page)
    expect_selected(page, "Kernel", "laplacian")
    expect_selected(page, "Border (padding)", "valid")
    expect_selected(page, "Sample image", "Edges")
    assert title == "Feature map (254, 254)"
    assert z.shape == (254, 254)
    expect(page.get_by_text("Feature map (254, 254)")).to_be_visible()
    assert_no_exception(page)
    screenshot(page, request.node.name)


def test_a_link_opens_on_its_tab_and_a_click_on_a_tab_goes_into_the_link(app_url: str, page: Page,
                                                                          request: pytest.FixtureRequest) -> None:
    open_page(page, app_url + "/layer_by_layer?layer=conv1&tab=Kernels", "Layer by layer")
    expect(page.get_by_role("tab", name="Kernels")).to_have_attribute("aria-selected", "true")
    expect(page.get_by_text("Which hand-set kernel does each learned filter resemble?")).to_be_visible()
    page.get_by_role("tab", name="Whole network").click()
    expect(page).to_have_url(re.compile(r"tab=Whole\+network"))
    page.get_by_role("tab", name="Output").click()  # the first tab: the link stays short
    expect(page).not_to_have_url(re.compile("tab="))
    assert_no_exception(page)
    screenshot(page, request.node.name)


def test_step_link_restores_settings(app_url: str, page: Page, request: pytest.FixtureRequest) -> None:
    open_page(page, app_url + "/step_by_step?ex=zero_padding&pad=1&step=8", "Step 8 of 25")
    expect_selected(page, "Example", "Zero padding keeps the size")
    equation = page.locator('[data-testid="stCode"]').first
    expect(equation).to_have_text(re.compile(r"= 3\.5\s*$"))
    assert_no_exception(page)
    screenshot(page, request.node.name)


# --- Kernel Lab: drawing and kernels --------------------------------------------------------

def test_kernel_lab_draw_then_switch_kernel(app_url: str, page: Page, request: pytest.FixtureRequest) -> None:
    open_page(page, app_url + "/kernel_lab", "Kernel Lab")
    _, sample_map = figure(page, "Feature map")

    page.locator("[data-testid=\"stRadio\"] label").filter(has_text="Draw").click()  # the label: the input is hidden
    wait_for_app(page, "Draw with the mouse")
    # The canvas is a bidirectional component in a shadow root (no iframe); CSS locators pierce it.
    canvas = page.locator("canvas.upper-canvas")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    assert box is not None and box["width"] > 100
    x0, y0 = box["x"] + box["width"] * 0.25, box["y"] + box["height"] * 0.2
    page.mouse.move(x0, y0)
    page.mouse.down()
    for i in range(1, 13):  # a diagonal stroke, then across
        page.mouse.move(x0 + i * box["width"] * 0.04, y0 + i * box["height"] * 0.05, steps=2)
    page.mouse.move(x0, y0 + box["height"] * 0.6, steps=10)
    page.mouse.up()

    title, drawn_map = wait_for_figure_change(page, "Feature map", sample_map)
    input_title, drawn_input = figure(page, "Input")
    assert input_title == "Input (your drawing)"
    assert drawn_input.min() < 0.5 < drawn_input.max(), "the drawing should hold ink and paper"
    assert np.abs(drawn_map).max() > 0, "the feature map of a drawing should not be all zeros"
    screenshot(page, f"{request.node.name}-drawn")

    select_option(page, "Kernel", "laplacian")
    _, laplacian_map = wait_for_figure_change(page, "Feature map", drawn_map)
    expect_selected(page, "Kernel", "laplacian")
    assert np.abs(laplacian_map).max() > 0
    assert figure(page, "Input")[0] == "Input (your drawing)", "switching the kernel keeps the drawing"
    assert_no_exception(page)
    screenshot(page, f"{request.node.name}-laplacian")


def test_kernel_lab_grid_keeps_typed_cells_through_a_bad_cell_and_a_resize(app_url: str, page: Page,
                                                                           request: pytest.FixtureRequest) -> None:
    open_page(page, app_url + "/kernel_lab?scale=own&k=custom+%28edit+the+grid%29&kv=-1,0,1;-2,0,2;-1,0,1",
              "Kernel Lab")
    figure(page, "Feature map")  # the page has settled: the grid stays where it is

    def type_into(row: int, col: int, text: str, columns: int = 3) -> None:
        # the editor draws on a canvas: a click selects a cell (header and rows are 35 px), typing edits it
        grid = page.locator('[data-testid="stDataFrame"]').first
        grid.scroll_into_view_if_needed()
        box = grid.bounding_box()
        assert box is not None
        page.mouse.click(box["x"] + (col + 0.5) * box["width"] / columns, box["y"] + 35 * (row + 1.5))
        page.wait_for_timeout(300)
        page.keyboard.type(text)
        page.wait_for_timeout(300)  # the cell's editor opens on the first key
        page.keyboard.press("Enter")
        wait_for_app(page)

    def kv(text: str) -> re.Pattern:  # the grid's text in the URL, whether or not "," and ";" are escaped
        return re.compile("kv=" + re.escape(text).replace(",", "(?:,|%2C)").replace(";", "(?:;|%3B)"))

    type_into(0, 1, "5")
    expect(page).to_have_url(kv("-1,5,1;"))
    type_into(1, 1, "abc")
    expect(page.locator('[data-testid="stAlertContentError"]')).to_contain_text("'abc'")
    type_into(1, 1, "7")
    expect(page.locator('[data-testid="stAlertContentError"]')).to_have_count(0)
    expect(page).to_have_url(re.compile(r"scale=own"))  # the map's controls came back as they were
    rows = page.get_by_label("Rows", exact=True)
    rows.fill("4")
    rows.press("Enter")
    expect(page).to_have_url(kv("-1,5,1;-2,7,2;-1,0,1;0,0,0"))
    expect(page).to_have_url(re.compile(r"scale=own"))
    assert_no_exception(page)
    screenshot(page, request.node.name)


# --- bad input ------------------------------------------------------------------------------

def test_step_custom_kernel_names_bad_cell(app_url: str, page: Page, request: pytest.FixtureRequest) -> None:
    open_page(page, app_url + "/step_by_step?ex=custom&kv=1%20x", "line 1, entry 2")
    error = page.locator('[data-testid="stAlertContentError"]')
    expect(error).to_have_count(1)
    expect(error).to_contain_text("line 1, entry 2")
    expect(error).to_contain_text("'x'")
    assert_no_exception(page)
    screenshot(page, request.node.name)


def test_kernel_lab_upload_of_non_image(app_url: str, page: Page, tmp_path: Path,
                                        request: pytest.FixtureRequest) -> None:
    fake = tmp_path / "notes.png"
    fake.write_text("just some text, not a picture\n")
    open_page(page, app_url + "/kernel_lab?src=upload", "Upload an image")
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(fake)
    wait_for_app(page, "cannot be used")
    error = page.locator('[data-testid="stAlertContentError"]')
    expect(error).to_contain_text("cannot be used")
    expect(error).to_contain_text("notes.png")
    assert_no_exception(page)
    screenshot(page, request.node.name)


# --- step by step ---------------------------------------------------------------------------

def test_step_next_button_advances(app_url: str, page: Page, request: pytest.FixtureRequest) -> None:
    open_page(page, app_url + "/step_by_step", "Step 1 of 6")
    expect_selected(page, "Example", "Laplacian, valid padding")
    page.get_by_role("button", name="Next ▶").click()
    wait_for_app(page, "Step 2 of 6")
    expect(page.get_by_text("Step 1 of 6")).to_have_count(0)
    expect(page).to_have_url(re.compile(r"step=2"))  # the link follows the step
    assert_no_exception(page)
    screenshot(page, request.node.name)


def test_a_feature_maps_number_shows_its_sum_on_hover(app_url: str, page: Page, request: pytest.FixtureRequest) -> None:
    """As Setosa's demo: the pixels under the kernel, each times its weight, beside the number they make."""
    open_page(page, app_url + "/kernel_lab?tab=Numbers&k=laplacian", "Pixel values in")
    page.locator(".st-key-kl_region_out").scroll_into_view_if_needed()
    wait_for_app(page)
    x, y = page.wait_for_function(CELL_JS, arg=["The feature map as numbers", 3, 5], timeout=30_000,
                                  polling=200).json_value()
    page.mouse.move(x, y)
    hover = page.locator(".st-key-kl_region_out .hoverlayer")
    expect(hover).to_contain_text("·(-4)", timeout=10_000)  # the Laplacian's centre weight, on the middle line
    lines = page.locator(".st-key-kl_region_out .hoverlayer tspan.line").all_text_contents()
    shown, total = re.search(r": (-?[0-9.]+)$", lines[0]).group(1), re.search(r"= (-?[0-9.]+)$", lines[-1]).group(1)
    assert len(lines) == 4 and float(total) == pytest.approx(float(shown), abs=2e-3)  # its value, and 3 kernel rows
    picture = page.locator("[class*=st-key-kl_overview] .nsewdrag").first  # a click there moves the window there
    picture.scroll_into_view_if_needed()
    area = picture.bounding_box()
    assert area is not None
    page.mouse.click(area["x"] + area["width"] * 0.1, area["y"] + area["height"] * 0.9)  # row 230, column 25 of 256
    wait_for_app(page, "Pixel values in [0, 1] of rows 22")
    page.wait_for_function("() => /top=22[0-9]&left=[12][0-9]/.test(location.search)", timeout=10_000)
    screenshot(page, request.node.name)


def test_a_click_on_an_output_cell_goes_to_its_step(app_url: str, page: Page, request: pytest.FixtureRequest) -> None:
    """The output grid takes a click, as CNN Explainer's does: cell (1, 1) of the 2 x 3 output is step 5."""
    open_page(page, app_url + "/step_by_step", "Step 1 of 6")
    page.locator(".st-key-sb_cells").scroll_into_view_if_needed()
    wait_for_app(page)
    x, y = page.wait_for_function(CELL_JS, arg=["Output:", 1, 1], timeout=30_000, polling=200).json_value()
    page.mouse.move(x, y)
    page.wait_for_timeout(500)
    page.mouse.click(x, y)
    wait_for_app(page, "Step 5 of 6")
    expect(page).to_have_url(re.compile(r"step=5"))
    assert_no_exception(page)
    screenshot(page, request.node.name)


# --- Layer by layer -------------------------------------------------------------------------

def draw_strokes(page: Page, strokes: list[list[tuple[float, float]]]) -> None:
    """Draw polylines on the canvas; points are fractions of its width and height."""
    canvas = page.locator("canvas.upper-canvas")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    assert box is not None and box["width"] > 100
    for stroke in strokes:
        page.mouse.move(box["x"] + stroke[0][0] * box["width"], box["y"] + stroke[0][1] * box["height"])
        page.mouse.down()
        for fx, fy in stroke[1:]:
            page.mouse.move(box["x"] + fx * box["width"], box["y"] + fy * box["height"], steps=12)
        page.mouse.up()


def test_layer_page_reads_a_drawn_digit(app_url: str, page: Page, request: pytest.FixtureRequest) -> None:
    """Draw a 7, step with Next to the last layer, read the prediction."""
    open_page(page, app_url + "/layer_by_layer?src=draw", "Draw with the mouse")
    draw_strokes(page, [[(0.25, 0.2), (0.75, 0.2), (0.45, 0.85)]])
    wait_for_app(page, "inverted to light ink")  # a drawing is dark on white: MNIST is the other way
    heading = page.locator("h3").filter(has_text=re.compile(r"^\d+ of 13"))
    expect(heading).to_contain_text("1 of 13: normalize")
    for n in range(2, 14):
        page.get_by_role("button", name="Next").click()
        expect(heading).to_contain_text(f"{n} of 13")
    wait_for_app(page)
    expect(heading).to_contain_text("13 of 13: fc5")
    expect(page.get_by_text("Prediction: 7", exact=False)).to_be_visible()
    title, _ = figure(page, "Prediction")
    assert title == "Prediction (softmax of the last layer)"
    assert "layer=fc5" in page.url and "src=draw" in page.url
    assert_no_exception(page)
    screenshot(page, request.node.name)


# --- Receptive fields -----------------------------------------------------------------------

CELL_JS = """([prefix, row, col]) => {
    for (const el of document.querySelectorAll('.js-plotly-plot')) {
        const title = (el.layout && el.layout.title && (el.layout.title.text || el.layout.title)) || '';
        if (!String(title).replace(/<[^>]*>/g, '').trim().startsWith(prefix)) continue;
        const xa = el._fullLayout.xaxis, ya = el._fullLayout.yaxis, box = el.getBoundingClientRect();
        return [box.x + xa._offset + xa.l2p(col), box.y + ya._offset + ya.l2p(row)];
    }
    return null;
}"""


def test_rf_page_click_on_a_unit_moves_its_box(app_url: str, page: Page, request: pytest.FixtureRequest) -> None:
    """A real click on a cell of the feature map picks that unit; the box on the input follows."""
    open_page(page, app_url + "/receptive_fields", "What the unit can see")
    expect(page.get_by_text("Unit (5, 5) of conv2")).to_be_visible()
    page.locator(".js-plotly-plot").first.scroll_into_view_if_needed()
    wait_for_app(page)
    x, y = page.wait_for_function(CELL_JS, arg=["conv2, unit", 1, 8], timeout=30_000, polling=200).json_value()
    page.mouse.click(x, y)
    expect(page.get_by_text("Unit (1, 8) of conv2")).to_be_visible(timeout=30_000)
    expect(page.get_by_text("sees rows 0..13 and columns 14..27", exact=False)).to_be_visible()
    expect(page).to_have_url(re.compile(r"unit=1(%2C|,)8"))
    assert_no_exception(page)
    screenshot(page, request.node.name)


# --- Top activations ------------------------------------------------------------------------

def _zip_of_images(path: Path) -> Path:
    """Six drawn squares of different sizes, and a text file that is not an image."""
    import io
    import zipfile

    from PIL import Image, ImageDraw

    with zipfile.ZipFile(path, "w") as archive:
        for i in range(6):
            image = Image.new("L", (40, 40), 0)
            ImageDraw.Draw(image).rectangle([5 + i, 5 + i, 30 - i, 30 - i], outline=255, width=2)
            buffer = io.BytesIO()
            image.save(buffer, format="PNG")
            archive.writestr(f"square{i}.png", buffer.getvalue())
        archive.writestr("notes.txt", "not an image")
    return path


def test_top_page_searches_an_uploaded_zip(app_url: str, page: Page, tmp_path: Path,
                                            request: pytest.FixtureRequest) -> None:
    open_page(page, app_url + "/top_activations?data=zip", "Upload a zip of your own images")
    upload = page.locator('[data-testid="stFileUploaderDropzoneInput"]')
    upload.set_input_files(str(_zip_of_images(tmp_path / "mine.zip")))
    expect(page.get_by_text("Channel 0: its top 6 of 6 images of mine.zip")).to_be_visible(timeout=30_000)
    expect(page.get_by_text("skipped notes.txt", exact=False)).to_be_visible()
    page.wait_for_function(CELL_JS, arg=["Their patches (receptive fields)", 0, 0], timeout=30_000, polling=200)
    wait_for_app(page)
    assert_no_exception(page)
    screenshot(page, request.node.name)


def test_top_page_searches_an_uploaded_folder(app_url: str, page: Page, tmp_path: Path,
                                               request: pytest.FixtureRequest) -> None:
    import zipfile

    folder = tmp_path / "my pictures"
    with zipfile.ZipFile(_zip_of_images(tmp_path / "mine.zip")) as archive:
        archive.extractall(folder)
    open_page(page, app_url + "/top_activations?data=folder", "Pick a folder of your own images")
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(folder))
    expect(page.get_by_text("Channel 0: its top 6 of 6 images of your folder")).to_be_visible(timeout=30_000)
    expect(page.get_by_text("notes.txt: the file is not an image", exact=False)).to_be_visible()
    assert_no_exception(page)


def test_a_mistyped_address_offers_the_page_it_meant_with_the_links_settings(app_url: str, page: Page,
                                                                              request: pytest.FixtureRequest) -> None:
    """Streamlit runs Home for "/Kernel_Lab" ("Page not found"); Home names the page and keeps the settings."""
    open_page(page, app_url + "/Kernel_Lab?stride=2", "did you mean")
    expect(page.get_by_text("There is no page at /Kernel_Lab: did you mean Kernel Lab?")).to_be_visible()
    link = page.locator('[data-testid="stMainBlockContainer"] [data-testid="stPageLink"] a').first
    expect(link).to_have_text(re.compile("Open Kernel Lab with the link's settings"))
    screenshot(page, request.node.name)
    page.keyboard.press("Escape")  # Streamlit's own "Page not found" dialog, over the page until closed
    expect(page.get_by_role("dialog")).to_have_count(0)
    link.click()
    wait_for_app(page, "Kernel Lab")
    expect(page).to_have_url(re.compile(r"/kernel_lab\?(.*&)?stride=2"))
    expect(page.locator("h1").first).to_have_text("Kernel Lab")
    assert_no_exception(page)
