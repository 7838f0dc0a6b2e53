"""Real-browser checks of how widgets and layouts behave where Streamlit 1.67 surprises: reworded choices,
help icons, charts re-selected, and pictures in a classroom projector's 1024 px window.

Run with ``python -m pytest tests/browser`` (marked ``browser``).
"""

from __future__ import annotations

import contextlib
import re

import pytest

from . import needs  # noqa: E402, F401  (skips this module without Playwright or Chromium)

from playwright.sync_api import Page, expect  # noqa: E402
from playwright.sync_api import TimeoutError as PlaywrightTimeout  # noqa: E402

from .conftest import open_page, screenshot, wait_for_app  # noqa: E402
from .test_browser import assert_no_exception, expect_selected  # noqa: E402

pytestmark = pytest.mark.browser


def test_a_choice_worded_differently_in_another_mode_stays_the_same_choice(app_url: str, page: Page,
                                                                           request: pytest.FixtureRequest) -> None:
    """Streamlit 1.67 sends a choice back as its displayed text; reworded, that text once became the value."""
    open_page(page, app_url + "/step_by_step", "Step 1 of 6")
    page.locator("[data-testid=stButtonGroup] button").filter(has_text="pooling").first.click()
    wait_for_app(page, "Step 1 of 4")
    page.get_by_role("button", name="Next ▶").click()
    wait_for_app(page, "Step 2 of 4")
    page.locator("[data-testid=stButtonGroup] button").filter(has_text="convolution").first.click()
    wait_for_app(page, "Step 2 of 6")
    expect_selected(page, "Example", "Laplacian, valid padding")
    expect(page.locator("[data-testid=stCode]").first).to_contain_text("= 10")  # the lecture's grid, not another
    assert_no_exception(page)
    open_page(page, app_url + "/kernel_lab?img=astronaut", "The numbers, filled in")
    for colour, shown in (("RGB, summed", "values range"), ("grey", "values range")):
        page.get_by_text(colour, exact=True).first.click()
        wait_for_app(page, shown)
    expect(page.get_by_text("Something went wrong")).to_have_count(0)
    expect(page).not_to_have_url(re.compile(r"ch=grey"))
    screenshot(page, request.node.name)


def test_a_click_on_a_switchs_help_leaves_the_switch_alone(app_url: str, page: Page,
                                                           request: pytest.FixtureRequest) -> None:
    """The help sits beside the switch: inside its label, a click on it flipped "Trained weights"."""
    open_page(page, app_url + "/layer_by_layer", "Prediction")
    switch = page.get_by_role("switch", name="Trained weights")
    expect(switch).to_be_checked()
    box = switch.bounding_box()
    assert box is not None
    icons = [icon for icon in page.locator("[data-testid=stTooltipHoverTarget]").all()
             if (b := icon.bounding_box()) and abs(b["y"] + b["height"] / 2 - box["y"] - box["height"] / 2) < 12
             and b["x"] > box["x"]]
    assert icons, "no help icon beside the switch"
    icons[0].click()
    expect(page.get_by_text("Off: the same architecture with random weights")).to_be_visible()
    page.wait_for_timeout(1500)
    wait_for_app(page)
    expect(switch).to_be_checked()
    expect(page).not_to_have_url(re.compile(r"weights=0"))
    screenshot(page, request.node.name)


_SCROLLED = """(where) => [...document.querySelectorAll(where + ' .dvn-scroller')]
    .map(e => [e.scrollWidth, e.clientWidth])"""


@pytest.mark.parametrize("width", [1024, 1280])
def test_every_column_of_the_layer_editor_is_in_view(app_url: str, page: Page, request: pytest.FixtureRequest,
                                                     width: int) -> None:
    """The eight columns of "Your own layers" fit their box: none hides behind a sideways scroll (in the view's
    310 px at 1024 px they did)."""
    page.set_viewport_size({"width": width, "height": 900})
    open_page(page, app_url + "/train?arch=custom", "parameters in all")
    expect(page.locator("[data-testid=stExpander] .dvn-scroller")).to_have_count(2)  # the editor and the plan
    for scrolled, shown in page.evaluate(_SCROLLED, "[data-testid=stExpander]"):
        assert scrolled <= shown, f"{scrolled} px of columns in a {shown} px box"
    screenshot(page, request.node.name)


def test_every_edit_of_the_layer_editor_sticks(app_url: str, page: Page, request: pytest.FixtureRequest) -> None:
    """Given the rows edited so far as its start, the editor lost every second edit (k = 5, 6, 7, 9 gave 5, 5, 7, 7);
    a letter typed into a number cell became 0."""
    page.set_viewport_size({"width": 1280, "height": 900})
    open_page(page, app_url + "/train?arch=custom", "parameters in all")
    box = page.locator("[data-testid=stExpander] [data-testid=stDataFrame]").first.bounding_box()
    x, y = box["x"] + box["width"] * 283 / 786, box["y"] + 53  # the first layer's k, as drawn at 1280 px
    for kernel in ("5", "6", "7", "9", "x"):
        page.mouse.move(x, y)
        page.wait_for_timeout(700)  # the grid takes a click as a cell's selection only after it saw the pointer
        page.mouse.click(x, y)
        page.wait_for_timeout(700)
        page.keyboard.type(kernel)
        page.wait_for_timeout(500)  # the cell's editor opens with the key typed: an Enter at once commits nothing
        page.keyboard.press("Enter")
        page.wait_for_function("(k) => decodeURIComponent(location.search.replaceAll('+', ' '))"
                               ".includes(`layers=conv,out=8,kernel=${k},`)", arg=kernel, timeout=20_000)
        wait_for_app(page)
    # a letter is named, not read as 0 (as a number cell did)
    named = page.locator("[data-testid=stAlert]").filter(has_text="kernel is 'x', which is not a number")
    expect(named.first).to_be_visible()
    assert_no_exception(page)
    screenshot(page, request.node.name)


def test_a_five_by_five_kernel_to_edit_is_in_view_at_1024_px(app_url: str, page: Page,
                                                            request: pytest.FixtureRequest) -> None:
    """In the controls' 185 px a 5 x 5 grid (columns of 50 px at least) scrolled sideways; it gets half the row."""
    page.set_viewport_size({"width": 1024, "height": 900})
    edge, side, middle = "0.003,0.013,0.022,0.013,0.003", "0.013,0.06,0.098,0.06,0.013", "0.022,0.098,0.162,0.098,0.022"
    gaussian = ";".join([edge, side, middle, side, edge])  # sigma 1, as the grid starts from it
    open_page(page, app_url + f"/kernel_lab?k=custom+%28edit+the+grid%29&kv={gaussian}", "The numbers, filled in")
    page.locator("[class*=st-key-kl_grid_] .dvn-scroller").wait_for()
    (scrolled, shown), = page.evaluate(_SCROLLED, "[class*=st-key-kl_grid_]")
    assert scrolled <= shown, f"{scrolled} px of columns in a {shown} px box"
    assert_no_exception(page)
    screenshot(page, request.node.name)


@pytest.mark.parametrize(("width", "beside"), [(1024, True), (1280, False)])
def test_the_model_sits_beside_the_image_only_where_the_controls_sit_above_the_view(
        app_url: str, page: Page, request: pytest.FixtureRequest, width: int, beside: bool) -> None:
    """Above the view (1024 px) the model and the image share a row: one under the other, they had pushed Layer by
    layer's slider to y 707 of a 768 px projector. In the narrow column beside the view (1280 px) they stack."""
    page.set_viewport_size({"width": width, "height": 768})
    open_page(page, app_url + "/layer_by_layer", "1 of 13")
    model = page.locator("[data-testid=stSelectbox]").filter(has_text="Model").bounding_box()
    source = page.locator("[data-testid=stRadio]").filter(has_text="Image source").bounding_box()
    assert (abs(model["y"] - source["y"]) < 5) is beside, (model, source)
    if beside:
        slider = page.locator("[data-testid=stSlider]").filter(has_text="Layer").bounding_box()
        assert slider["y"] < 640, slider
    assert_no_exception(page)
    screenshot(page, request.node.name)


_TEXT_ROOM = """([label, names]) => {
    const box = document.querySelector(`input[aria-label="${label}"]`), style = getComputedStyle(box);
    const pen = document.createElement('canvas').getContext('2d');
    pen.font = style.font;
    const room = box.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    return names.filter(name => pen.measureText(name).width > room).map(name => `${name} needs more than ${room} px`);
}"""


def test_every_kernel_name_fits_its_box_at_1024_px(app_url: str, page: Page, request: pytest.FixtureRequest) -> None:
    """The Kernel box is 135 px wide for the names at 1024 px: "derivative [-1, 0, 1] (horizontal)" showed as
    "derivative [-1, 0, 1] (hor"."""
    from explorer.ui import kernel_input

    page.set_viewport_size({"width": 1024, "height": 900})
    open_page(page, app_url + "/kernel_lab", "The numbers, filled in")
    names = [kernel_input.SHOWN.get(name, name) for name in kernel_input.CHOICES]
    box = page.get_by_label("Kernel", exact=True)
    box.wait_for()
    assert page.evaluate(_TEXT_ROOM, ["Kernel", names]) == []
    box.click()
    page.get_by_role("option", name="gaussian (set sigma)").click()  # its shown name; the link keeps its name
    page.wait_for_function("() => new URLSearchParams(location.search).get('k') === 'gaussian (choose sigma)'",
                           timeout=20_000)
    wait_for_app(page, "Sigma")
    expect(box).to_have_value("gaussian (set sigma)")
    assert_no_exception(page)
    screenshot(page, request.node.name)


def test_a_channel_tile_clicked_again_after_typing_opens_it(app_url: str, page: Page,
                                                            request: pytest.FixtureRequest) -> None:
    """Typing a channel leaves the grid's old selection behind: a click on that same tile must count again."""
    open_page(page, app_url + "/top_activations", "Their patches (receptive fields)")

    def click_tile(channel: int, shown: str) -> None:
        area = page.locator("[data-testid=stPlotlyChart]").first.locator(".nsewdrag").first.bounding_box()
        assert area is not None
        row, col = divmod(channel, 4)  # conv2's 16 channels: a 4 x 4 grid
        page.mouse.click(area["x"] + area["width"] * (col + 0.5) / 4, area["y"] + area["height"] * (row + 0.4) / 4)
        wait_for_app(page, shown)

    click_tile(6, "Channel 6: its top 9")
    field = page.get_by_label("Channel", exact=True)
    field.fill("2")
    field.press("Enter")
    wait_for_app(page, "Channel 2: its top 9")
    click_tile(6, "Channel 6: its top 9")
    assert_no_exception(page)
    screenshot(page, request.node.name)


# each chart's drawing against the box the page gives it (Streamlit draws none narrower than 150 px)
_WIDTHS = """() => [...document.querySelectorAll('[data-testid=stPlotlyChart]')].map(chart => {
    const svg = chart.querySelector('.main-svg');
    return [chart.getBoundingClientRect().width, svg ? parseFloat(svg.getAttribute('width')) : 0];
})"""


@pytest.mark.parametrize("path,shown,charts", [
    ("/why_prediction", "FGSM: confidence against eps", 9), ("/top_activations", "Their patches (receptive fields)", 3)])
def test_pictures_wrap_whole_in_a_1024_px_window(app_url: str, page: Page, request: pytest.FixtureRequest,
                                                 path: str, shown: str, charts: int) -> None:
    """Side by side in columns, pictures were squeezed below their smallest width and cut off; now they wrap."""
    page.set_viewport_size({"width": 1024, "height": 1000})
    open_page(page, app_url + path, shown)
    widths = page.evaluate(_WIDTHS)
    assert len(widths) >= charts
    cut = [(box, drawn) for box, drawn in widths if drawn > box + 1]
    assert not cut, f"charts drawn wider than their box (box, drawn): {cut}"
    assert_no_exception(page)
    screenshot(page, request.node.name)


_BOXES = """() => [...document.querySelectorAll('.st-key-kl_pictures [data-testid=stPlotlyChart]')].map(chart => {
    const box = chart.getBoundingClientRect();
    return [Math.round(box.x), Math.round(box.y), Math.round(box.width)];
})"""


@pytest.mark.parametrize("width,side_by_side", [(1024, False), (1400, True)])
def test_kernel_lab_pictures_keep_a_useful_size(app_url: str, page: Page, request: pytest.FixtureRequest,
                                                width: int, side_by_side: bool) -> None:
    """Two columns squeezed the image and its feature map to about 96 px at 1024 px, and thin edges vanished.
    Now they share a row where both get 225 px or more, and take a row each where not."""
    page.set_viewport_size({"width": width, "height": 1000})
    open_page(page, app_url + "/kernel_lab", "The numbers, filled in")
    page.locator(".st-key-kl_pictures .main-svg").nth(1).wait_for()  # plotly.js draws after the page settles
    (x1, y1, w1), (x2, y2, w2) = page.evaluate(_BOXES)
    assert min(w1, w2) >= 225
    assert (y1 == y2 and x2 > x1) if side_by_side else (x1 == x2 and y2 > y1 and w1 >= 300)
    assert_no_exception(page)
    screenshot(page, request.node.name)


_CUT_OR_OUT = """() => {
    const main = document.querySelector('[data-testid=stMain]');
    const cut = [...main.querySelectorAll('*')].filter(e => getComputedStyle(e).textOverflow === 'ellipsis'
        && e.scrollWidth > e.clientWidth + 1 && e.textContent.trim()).map(e => e.textContent.trim().slice(0, 40));
    const out = [];
    const parts = '[data-testid=stTooltipHoverTarget], [data-testid=stCheckbox], button:not([role=tab]), '
        + '[data-testid=stWidgetLabel], [data-testid=stPlotlyChart]';
    for (const e of main.querySelectorAll(`[data-testid=stColumn] :is(${parts})`)) {
        const column = e.closest('[data-testid=stColumn]').getBoundingClientRect(), box = e.getBoundingClientRect();
        if (box.width > 0 && (box.right > column.right + 2 || box.left < column.left - 2)) {
            out.push(e.textContent.trim().slice(0, 40) || e.dataset.testid);
        }
    }
    const tabs = [...new Set([...main.querySelectorAll('[role=tab]')].map(t => t.parentElement))]
        .filter(row => row.scrollWidth > row.clientWidth + 1).map(row => row.textContent.trim().slice(0, 40));
    const alone = [...main.querySelectorAll('[data-testid=stCheckbox]')]  // a help icon wrapped under its toggle
        .map(t => t.closest('[data-testid=stElementContainer]')).filter(box => {
            const icon = box && box.parentElement.dataset.testid === 'stHorizontalBlock' && box.nextElementSibling;
            return icon && icon.querySelector('[data-testid=stTooltipHoverTarget]')
                && Math.abs(icon.getBoundingClientRect().top - box.getBoundingClientRect().top) > 8;
        }).map(box => box.textContent.trim().slice(0, 40));
    // a figure's SVG cuts what passes its edge, and a column what passes its own (a figure is 150 px at least)
    const titles = [...main.querySelectorAll('.js-plotly-plot')].flatMap(plot => {
        const edge = plot.querySelector('.main-svg').getBoundingClientRect(), column = plot.closest('[data-testid=stColumn]');
        const right = Math.min(edge.right, column ? column.getBoundingClientRect().right : Infinity);
        return [...plot.querySelectorAll('.gtitle')].filter(t => {
            const box = t.getBoundingClientRect();
            return box.width > 0 && (box.right > right + 1 || box.left < edge.left - 1);
        }).map(t => t.textContent.trim().slice(0, 40));
    });
    return {cut, out, tabs, alone, titles};
}"""


@pytest.mark.parametrize("width", [1024, 1280])
@pytest.mark.parametrize("path,title", [
    ("/", "CNN Explorer"), ("/kernel_lab?pool=max", "Kernel Lab"), ("/kernel_lab?tab=Beyond+one+kernel", "Canny"),
    ("/step_by_step", "Convolution step by step"),
    ("/step_by_step?mode=backward", "Convolution step by step"), ("/layer_by_layer?layer=conv1", "Layer by layer"),
    ("/receptive_fields", "Receptive fields"), ("/top_activations", "Top activations"), ("/train", "Train"),
    ("/what_excites", "What excites a unit"), ("/what_excites?mode=unit&row=5&col=5", "What excites a unit"),
    ("/why_prediction", "Why this prediction"), ("/why_prediction?model=tinyvgg&small=1", "Reads:"),
    ("/invariance", "Invariance"),
], ids=["home", "kernel_lab", "canny", "step_by_step", "backward", "layer_by_layer", "receptive_fields", "top_activations",
        "train", "what_excites", "one_unit", "why_prediction", "smallest_change", "invariance"])
def test_no_label_is_cut_in_a_projector_or_laptop_window(app_url: str, page: Page, request: pytest.FixtureRequest,
                                                        path: str, title: str, width: int) -> None:
    """At 1024 px (a projector), narrow columns cut labels, buttons and page links short ("True co...", "P.",
    "Open Layer by lay"), pushed help icons and grids past their column's edge, out of sight, and hid the Kernel
    Lab's last tab behind the tab bar's scroll arrow; at 1280 px (a laptop), Layer by layer's "Previ...", help
    icons wrapped alone under their toggles ("Start from my image", "SmoothGrad"), and figure titles ran past their
    figure's edge ("What the model sees")."""
    page.set_viewport_size({"width": width, "height": 1000})
    open_page(page, app_url + path, title)
    # a layout's CSS arrives with the page: for a moment the view is narrow (266 px, then 564 px at 1024)
    settled = f"() => {{ const found = ({_CUT_OR_OUT})(); return Object.values(found).every(e => !e.length); }}"
    page.wait_for_timeout(1500)  # figures mount a moment after the script's end, and plotly.js draws them later
    page.wait_for_function("() => [...document.querySelectorAll('[data-testid=stPlotlyChart]')]"
                           ".every(chart => chart.querySelector('.main-svg'))", timeout=20_000)
    with contextlib.suppress(PlaywrightTimeout):  # a lasting cut is reported below, with what it cut
        page.wait_for_function(settled, timeout=10_000, polling=250)
    found = page.evaluate(_CUT_OR_OUT)
    assert found == {"cut": [], "out": [], "tabs": [], "alone": [], "titles": []}, found
    assert_no_exception(page)
    screenshot(page, request.node.name)


_CARDS = """() => [...document.querySelectorAll('.st-key-home_cards [data-testid=stVerticalBlock]')]
    .filter(e => getComputedStyle(e).borderTopWidth === '1px')
    .map(e => { const box = e.getBoundingClientRect(); return [Math.round(box.top), Math.round(box.height)]; })"""


@pytest.mark.parametrize("width,lines", [(1024, 5), (1280, 3)])
def test_the_home_cards_of_one_line_are_equally_tall(app_url: str, page: Page, width: int, lines: int) -> None:
    """A card with a short blurb ended above its neighbours' bottom edge, a ragged line of boxes."""
    page.set_viewport_size({"width": width, "height": 1000})
    open_page(page, app_url + "/", "Open Kernel Lab")
    cards, heights = page.evaluate(_CARDS), {}
    for top, height in cards:
        heights.setdefault(top, set()).add(height)
    assert len(cards) == 9 and len(heights) == lines, cards
    assert all(len(line) == 1 for line in heights.values()), heights


def test_plotlys_toolbar_covers_a_narrow_figures_title_cleanly(app_url: str, page: Page,
                                                                request: pytest.FixtureRequest) -> None:
    """On hover the toolbar shows over the figure's top right, where a narrow figure's title runs: its icons
    drawn on a clear background garbled the title. Away from the figure its box stays, icons hidden: clear then."""
    open_page(page, app_url + "/what_excites", "Step by step")
    chart = page.locator("[data-testid=stPlotlyChart]").filter(has_text="Step by step").first
    bar = chart.locator(".modebar").first
    page.mouse.move(5, 5)
    away = bar.evaluate("e => getComputedStyle(e).backgroundColor")
    assert away == "rgba(0, 0, 0, 0)", away  # every title readable
    for attempt in range(3):  # it fades in; under load a redraw can take the pointer's target away: away, hover again
        page.mouse.move(5, 5)
        chart.hover()
        try:
            expect(bar).to_be_visible(timeout=10_000)
            page.wait_for_function("e => getComputedStyle(e).backgroundColor === 'rgba(255, 255, 255, 0.95)'",
                                   arg=bar.element_handle(), timeout=10_000)
            break
        except (PlaywrightTimeout, AssertionError):  # expect's timeout is an AssertionError
            if attempt == 2:  # 15 s in one wait had run out once in a full run on two busy cores; it failed there
                raise  # again later, its message lost: the whole hover is tried again, the bar's showing too
    title, box = chart.locator(".gtitle").first.bounding_box(), bar.bounding_box()
    assert box["x"] < title["x"] + title["width"] and box["y"] < title["y"] + title["height"]  # they meet
    screenshot(page, request.node.name)


@pytest.mark.parametrize(("query", "side_by_side"), [("ex=zero_padding", False), ("ex=laplacian", True)])
def test_the_window_and_the_output_cell_share_a_line_on_a_1280_px_projector(
        app_url: str, page: Page, request: pytest.FixtureRequest, query: str, side_by_side: bool) -> None:
    """The padded 7x7 input had pushed the output under it, off a 720 px screen: the kernel and the products now
    share one place between them, side by side where it has room (the Laplacian's 4x5 input), else stacked."""
    page.set_viewport_size({"width": 1280, "height": 720})
    open_page(page, f"{app_url}/step_by_step?{query}&step=2", "Step 2 of")
    tops = page.evaluate("""() => ['.st-key-sb_fig_0', '.st-key-sb_fig_1', '.st-key-sb_fig_2', '.st-key-sb_cells']
        .map(key => Math.round(document.querySelector(key).getBoundingClientRect().top))""")
    inputs, kernel, products, output = tops
    assert output == inputs, f"the output at {output} px, the input at {inputs} px"
    assert kernel == inputs and (products == kernel) == side_by_side, tops
    screenshot(page, request.node.name)


def test_play_beside_the_steps_plays_and_stops(app_url: str, page: Page, request: pytest.FixtureRequest) -> None:
    """Play sits in the steps' row, inside the part of the page that reruns each second: switched there, the whole
    page runs again to start that clock (and to stop it)."""
    open_page(page, app_url + "/step_by_step", "Step 1 of 6")
    play, label = page.get_by_role("switch", name="Play"), page.locator(".st-key-sb_play label")
    label.click()
    # the steps' text, not an idle app: while it plays, a busy machine left no quiet moment before the last step
    expect(page.get_by_text("Step 3 of 6")).to_be_visible(timeout=60_000)  # a step a second, without another click
    expect(play).to_be_checked()
    expect(page.get_by_text("Step 6 of 6")).to_be_visible(timeout=60_000)
    expect(play).not_to_be_checked(timeout=15_000)  # at the end Play turns itself off
    wait_for_app(page)
    label.click()  # from the last step, Play starts again from the first
    expect(page.get_by_text("Step 2 of 6")).to_be_visible(timeout=60_000)
    label.click()
    expect(play).not_to_be_checked()
    wait_for_app(page)  # a step a busy machine had under way as Play went off is drawn before the step is read
    shown = page.get_by_text(re.compile(r"Step \d of 6")).first.inner_text()
    page.wait_for_timeout(2500)
    assert page.get_by_text(re.compile(r"Step \d of 6")).first.inner_text() == shown  # stopped where it was
    assert_no_exception(page)
    screenshot(page, request.node.name)


def test_a_click_on_a_channels_bar_picks_it_and_its_links_follow(app_url: str, page: Page,
                                                                 request: pytest.FixtureRequest) -> None:
    """Why this prediction's channel shares: plotly reports the bar clicked, only in a browser."""
    open_page(page, app_url + "/why_prediction?chan=1", "carry half")
    chart = page.locator("[data-testid=stPlotlyChart]").filter(has_text="What each channel of relu2")
    chart.scroll_into_view_if_needed()
    second = chart.locator(".xtick text").nth(1).text_content()  # the second largest share's channel
    area = chart.locator(".nsewdrag").first.bounding_box()
    assert area is not None and second is not None
    page.mouse.click(area["x"] + area["width"] * 1.5 / 16, area["y"] + area["height"] * 0.5)  # 16 bars
    wait_for_app(page, f"Channel {second} of")
    assert f"chanpick={second}" in page.url
    link = page.get_by_role("link", name="The images that excite it most")
    assert link.get_attribute("href").endswith(f"layer=relu2&channel={second}")
    assert_no_exception(page)
    screenshot(page, request.node.name)
