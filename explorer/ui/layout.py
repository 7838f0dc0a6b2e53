"""Page scaffolding: the page list, the shared sidebar and the guard that keeps tracebacks off pages.

Pages live in ``pages/`` and Streamlit serves each at ``/<file stem>`` (``/kernel_lab``).
Every page (and the home page, ``streamlit_app.py``) calls :func:`page_setup` first.
"""

from __future__ import annotations

import contextlib
import difflib
import errno
import logging
import re
import urllib.parse
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st
import torch
from PIL import Image

from explorer import explain_figures, figures
from explorer.ui import state

log = logging.getLogger("explorer")


@dataclass(frozen=True)
class PageInfo:
    """A page of the app: its script, sidebar label, icon and one-line pitch."""

    script: str
    label: str
    icon: str
    blurb: str
    takes_model: bool = False  # the page looks at a network of the zoo or a finished training run
    takes_image: bool = False  # the page has the image picker (every page that takes a model has it too)

    @property
    def url_path(self) -> str:
        return self.script.removeprefix("pages/").removesuffix(".py")


# About how wide a page's view (beside the controls, :func:`split`) and the whole main area are drawn in a
# 1400 px window, as measured in Chromium. A figure that is one picture sizes its height from its share
# of these (mosaic.png_figure), so no empty band is left under it.
VIEW_PX = 624
DARK_INK = "#e6e6ea"  # labels drawn on a clear canvas over a dark theme's page


def ink() -> str:
    """The ink for labels a figure draws on a clear canvas: near black on a light page, near white on a dark one
    (plotly's theme grey read at 3.3:1 on white, too faint for 11 px text)."""
    theme = getattr(st.context, "theme", None)
    return DARK_INK if getattr(theme, "type", None) == "dark" else figures.INK_ON_WHITE
VIEW_LEAST_PX = 541  # the view beside the controls at 1280 px (under them at 1024 px, it is 564 px)
MAIN_PX = 1050
# pictures side by side in :func:`cells`: the view is 564 (under the controls), 541 and 624 px wide in 1024,
# 1280 and 1400 px windows, so three pictures fit in a row. Streamlit draws no chart narrower than 150 px
# (a narrower box cuts it off): small pictures are that wide.
PICTURE_PX, SMALL_PICTURE_PX = explain_figures.THIRD_PX, 150  # 164 px
# a setting (a select box, a number) in :func:`cells`: the Train page's settings column is 203, 309.7 and 359.7 px
# wide in those windows, so two settings and their 16 px gap sit side by side from 1280 px (at 147 px they wrapped
# there) and each has a row of its own at 1024.
SETTING_PX = 146
# a picture that should be large (an image and its feature map) in :func:`flow`: the Kernel Lab's view is 315, 473
# and 546 px wide in those windows, so two share a row from 1280 px and each has a row of its own at 1024.
LARGE_PICTURE_PX = 225
# a page's controls and its view in :func:`split`: side by side from 1280 px (the main column is 820 px wide
# there), the controls above the view at 1024 px (564 px)
CONTROLS_PX, VIEW_MIN_PX = 220, 480

HOME = PageInfo("streamlit_app.py", "Home", ":material/home:", "What CNN Explorer is and where to start.")
# in the lecture's order: convolution, layers, what units see, explaining and fooling, then training
PAGES: tuple[PageInfo, ...] = (
    PageInfo(
        "pages/step_by_step.py", "Convolution step by step", ":material/grid_on:",
        "The lecture's worked examples, one output cell at a time: window, products, sum; "
        "flip, padding, stride, dilation, pooling, 1-D signals, and the backward pass of a convolution.",
    ),
    PageInfo(
        "pages/kernel_lab.py", "Kernel Lab", ":material/blur_on:",
        "Draw or upload an image, apply Sobel, Laplacian, Gaussian, Gabor or your own kernel, "
        "and see the feature map with padding, stride, dilation, ReLU and pooling; Canny edges and morphology; "
        "count a layer's parameters, shared, locally connected or fully connected.", takes_image=True,
    ),
    PageInfo(
        "pages/layer_by_layer.py", "Layer by layer", ":material/layers:",
        "Draw a digit and watch a trained LeNet-5 read it, one layer at a time: feature maps, kernels, "
        "shapes, parameters, the prediction, and a linear probe of every layer. Also AlexNet, VGG16, GoogLeNet "
        "and ResNet18, and the lecture's table of famous networks beside their measured sizes.",
        takes_model=True,
    ),
    PageInfo(
        "pages/receptive_fields.py", "Receptive fields", ":material/center_focus_strong:",
        "Click a unit on any layer's feature map and see exactly which input pixels it can see, where its "
        "gradient gathers, how the field grows layer by layer; then predict it yourself.",
        takes_model=True,
    ),
    PageInfo(
        "pages/top_activations.py", "Top activations", ":material/local_fire_department:",
        "For every channel of a layer, the 9 images of a data set that excite it most and the patches they "
        "show it: what each channel looks for, found in seconds.",
        takes_model=True,
    ),
    PageInfo(
        "pages/what_excites.py", "What excites a unit", ":material/auto_awesome:",
        "Gradient ascent from noise: the image a channel, a unit or a class wants to see, forming step by step, "
        "beside the real images that excite it most; invert a layer to see what it kept of yours.",
        takes_model=True,
    ),
    PageInfo(
        "pages/why_prediction.py", "Why this prediction", ":material/psychology:",
        "Saliency, Grad-CAM, occlusion and integrated gradients show which pixels the prediction rests on; "
        "a fast-gradient-sign attack flips it "
        "with a small change (one you cannot see on a 224 px photo), and L-BFGS finds the smallest change that does.",
        takes_model=True,
    ),
    PageInfo(
        "pages/invariance.py", "Invariance", ":material/open_with:",
        "Shift, rotate or scale the image and watch the prediction and every layer's maps: is the network "
        "translation, rotation or scale invariant?",
        takes_model=True,
    ),
    PageInfo(
        "pages/train.py", "Train", ":material/model_training:",
        "Train LeNet-5, TinyVGG, a small ResNet or your own layers on shapes, MNIST, Fashion-MNIST or CIFAR-10, from "
        "scratch or from a trained network, and watch the filters learn; finished runs become models on every page.",
    ),
)


def device_summary() -> str:
    """Which compute device this server has, in words."""
    if torch.cuda.is_available():
        return f"CUDA GPU: {torch.cuda.get_device_name(0)}"
    return (f"CPU only ({torch.get_num_threads()} threads): the small networks answer at once, the ImageNet ones "
            "take seconds to minutes, and the smallest-change search on them needs a GPU")


# plotly's toolbar shows over a figure's top right on hover, where a narrow figure's title runs: on a clear background
# its icons garbled the title; on an opaque one they cover its end until the pointer leaves. Only on hover: the
# toolbar's box stays in place, its icons hidden, while the pointer is elsewhere
# On a touch screen a tap leaves the figure "hovered", so the toolbar stayed over the title for good: there it is
# hidden (a phone zooms with two fingers anyway).
# Its box is the page's own colour (Canvas, under Streamlit's color-scheme): on white, a dark theme's light icons
# vanished.
# On a projector's short screen (1280 x 720) the title, its introduction and the controls filled the first screen: there
# the page starts just under Streamlit's 60 px header (not 96 px down) and its title is smaller. So on a phone (390 px
# wide), where the title took two lines and the first picture lay 1.4 to 1.7 screens down.
# Under 640 px Streamlit stacks every row of columns, so a row of four number boxes took four rows of a phone's screen:
# a row of settings alone (no picture, table, text, slider or row of settings in it: a toggle's row with its help
# icon may be) keeps two a row there.
SETTINGS_ROW = ("[data-testid=stHorizontalBlock]:has(> [data-testid=stColumn] :is([data-testid=stNumberInput], "
                "[data-testid=stSelectbox], [data-testid=stTextInput])):not(:has(.stPlotlyChart, "
                "[data-testid=stImage], "
                "[data-testid=stHorizontalBlock] :is([data-testid=stNumberInput], [data-testid=stSelectbox]), "
                "[data-testid=stDataFrame], [data-testid=stSlider], iframe, [data-testid=stCode], "
                "[data-testid=stRadio], "
                "[data-testid=stColumn] > * > [data-testid=stElementContainer] > [data-testid=stMarkdown], "
                "[data-testid=stAlert], "
                "[data-testid=stExpander]))")
STYLE = (".js-plotly-plot .plotly:hover .modebar { background: Canvas !important; "
         "border-radius: 4px; } "
         # text a student must read at 4.5:1 (WCAG AA) or more: captions (Streamlit fades them to 3.9:1 on white) and,
         # on a light page, the charts' axes and legends in plotly's theme grey (3.7:1; a dark page's is light)
         "[data-testid=stCaptionContainer] { opacity: 0.8 !important; } "
         ".js-plotly-plot text[style*='fill: rgb(128, 132, 149)'] { fill: rgb(84, 87, 101) !important; } "
         # a wide Markdown table (Layer by layer's) scrolls on its own on a phone, not the whole page
         "[data-testid=stMarkdownContainer] table { display: block; overflow-x: auto; } "
         # on a touch screen nothing hovers: the chart's and the table's toolbars stood over the text above them
         "@media (hover: none) { .js-plotly-plot .modebar-container, [data-testid=stElementToolbar] "
         "{ display: none !important; } } "
         "@media (max-height: 800px), (max-width: 640px) { "
         "[data-testid=stMainBlockContainer] { padding-top: 3.75rem !important; } "
         "[data-testid=stMainBlockContainer] h1 { font-size: 2rem !important; padding-top: 0.5rem !important; } } "
         f"@media (max-width: 640px) {{ {SETTINGS_ROW} > [data-testid=stColumn] {{ min-width: 9rem !important; }} "
         # a slider in a row of buttons (Layer by layer's Previous, Next, Layer) takes a line of its own: beside
         # them it had 140 px for 13 layers
         "[data-testid=stHorizontalBlock] > [data-testid=stElementContainer]:has([data-testid=stSlider]) "
         "{ min-width: 100% !important; } "
         "[data-testid=stMainBlockContainer] h1 { font-size: 1.6rem !important; } }")
TOUCH_SCRIPT = f"<script>{(Path(__file__).parent / 'touch.js').read_text()}</script>"  # our own file, no user text
NO_TOOLBAR = {"displayModeBar": False}  # for a grid of numbers: zoom shows nothing more, and the bar hid its title


def library_stamp() -> float:
    """When the library's newest file was last changed: compared with :data:`LOADED`, whether the server runs the code
    on disk."""
    return max(path.stat().st_mtime for path in Path(__file__).resolve().parents[1].rglob("*.py"))


LOADED = library_stamp()  # the library this server imported


def app_icon(side: int = 48) -> Image.Image:
    """The tab's icon: a 3x3 kernel, the Laplacian's centre warm among blue taps, drawn here so that an offline
    server shows one (for a material icon the browser asks Google's font server)."""
    cell, gap = side // 3, max(1, side // 24)
    colours = np.array([[(90, 120, 200), (40, 80, 180), (90, 120, 200)],
                        [(40, 80, 180), (255, 140, 40), (40, 80, 180)],
                        [(90, 120, 200), (40, 80, 180), (90, 120, 200)]], dtype=np.uint8)
    pixels = np.full((side, side, 4), 0, dtype=np.uint8)  # transparent gaps between the taps
    for row in range(3):
        for col in range(3):
            pixels[row * cell + gap:(row + 1) * cell - gap, col * cell + gap:(col + 1) * cell - gap] = (
                *colours[row, col], 255)
    return Image.fromarray(pixels, "RGBA")


ICON = app_icon()


def typed_path() -> str:
    """The address's path past the host's prefix (server.baseUrlPath), as the browser holds it: "" at Home's own
    address, "Kernel_Lab" where Streamlit found no page for it and runs Home instead ("Page not found")."""
    url = st.context.url
    if not url:
        return ""
    path = urllib.parse.unquote(urllib.parse.urlparse(url).path).strip("/")
    prefix = str(st.get_option("server.baseUrlPath") or "").strip("/")
    return path.removeprefix(prefix).strip("/") if prefix and (path + "/").startswith(prefix + "/") else path


def closest_page(typed: str) -> PageInfo | None:
    """The page a mistyped address meant: "Kernel_Lab", "kernel-lab", "why" (the start of one page's name alone),
    "kernal_lab" (misspelled, by difflib's likeness); None where none is near. Case, spaces and marks aside."""
    def bare(text: str) -> str:
        return re.sub(r"[^a-z0-9]", "", text.lower())

    names = {bare(name): page for page in PAGES for name in (page.url_path, page.label)}
    wanted = bare(typed)
    starting = {page for name, page in names.items() if wanted and name.startswith(wanted)}
    if len(starting) == 1:
        return starting.pop()
    near = difflib.get_close_matches(wanted, list(names), n=1, cutoff=0.7)
    return names[near[0]] if near else None


def page_setup(page: PageInfo) -> None:
    """Page config, the shared sidebar (navigation and the device in use) and the app's style rules."""
    st.set_page_config(page_title=f"{page.label} · CNN Explorer", page_icon=ICON, layout="wide")
    st.html(f"<style>{STYLE}</style>")
    if library_stamp() > LOADED:  # a page runs afresh from disk, the library stays as imported: a new page can fail
        st.warning("The app's code changed after this server started: a page may fail until the server is "
                   "restarted. Whoever runs it: restart it (README: after updating the code).")
    state.enter_page(page.script)
    # the app's name, as large as a heading but not one: a screen reader's outline starts at the page's own title
    st.sidebar.html('<p style="font-size: 1.25rem; font-weight: 600; margin: 0.5rem 0 0 0">CNN Explorer</p>')
    if page.takes_model or page.takes_image:  # its links carry the model and image this run is about to restore
        state.links_after_restore(_sidebar_rest)
    else:
        _sidebar_rest()


def _sidebar_rest() -> None:
    """The sidebar under its title: the links to the pages, each to the address the page had, on the model and image
    this session shows, and the device. Drawn once the page's settings are known (state.restore), nothing of the
    run before is replaced until then: an empty box drawn first had made the links blink out at every rerun, and
    links redrawn in an st.empty had left one load in five blank."""
    with st.sidebar:
        for p in (HOME, *PAGES):
            st.page_link(p.script, label=p.label, icon=p.icon,
                         query_params=state.link_query(p.script, p.takes_model) or None)
        st.divider()
        st.caption(f"Device: {device_summary()}")
        st.html(TOUCH_SCRIPT, unsafe_allow_javascript=True)


def cells(count: int, width: int | Sequence[int], parent: Any = st) -> list[Any]:
    """``count`` containers ``width`` px wide (one width, or one each) side by side, wrapping onto the next line
    where the page is narrower (a 1024 px projector). Columns would squeeze pictures below their smallest width,
    and the browser would cut them off."""
    widths = [width] * count if isinstance(width, int) else width
    row = parent.container(horizontal=True, wrap=True, gap="small")
    return [row.container(width=w) for w in widths]


def _flex_row(key: str, sizes: Sequence[tuple[int, int]], gap: str, parent: Any = st,
              equal_heights: bool = False) -> list[Any]:
    """Containers in a wrapping row, one per ``(grow, basis px)``: each at least ``basis`` wide where the row
    holds them all, sharing what is left over in the ratio of ``grow``, else wrapped onto the next line.
    ``equal_heights``: each container's one inner container (a bordered card) as tall as the line's tallest.

    Streamlit 1.67 gives a stretched container no smallest width, so a rule of CSS sets each one's flex.
    """
    rules = " ".join(f".st-key-{key} > div:nth-child({i + 1}) {{ flex: {grow} 1 {basis}px !important; }}"
                     for i, (grow, basis) in enumerate(sizes))
    if equal_heights:  # the line's cells stretch, and down each cell's wrappers to the card: it grows with them
        rules += (f" .st-key-{key} {{ align-items: stretch !important; }} "
                  + ", ".join(f".st-key-{key}" + " > div" * depth for depth in (2, 3, 4)) + " { flex-grow: 1; }")
    parent.html(f"<style>{rules}</style>")
    row = parent.container(horizontal=True, wrap=True, gap=gap, key=key)
    return [row.container() for _ in sizes]


def flow(count: int, basis: int, key: str, parent: Any = st, equal_heights: bool = False) -> list[Any]:
    """``count`` containers side by side that share the row's width, each at least ``basis`` px wide, or
    one under the other where the page is narrower (a 1024 px projector): a picture keeps a useful size.
    ``equal_heights``: cards side by side (one bordered container in each cell) are as tall as each other."""
    return _flex_row(key, [(1, basis)] * count, "small", parent, equal_heights)


def split(key: str, left_px: int, right_px: int, grow: tuple[int, int] = (4, 9)) -> tuple[Any, Any]:
    """A page's controls and its view: side by side where the row holds ``left_px`` and ``right_px``, sharing
    what is left over in the ratio ``grow``; else the controls above the view (a 1024 px projector, where
    columns left the controls 140 px and cut the model's name)."""
    left, right = _flex_row(key, [(grow[0], left_px), (grow[1], right_px)], "medium")
    return left, right


def layer_fold_open(key: str, layer: str, missing: str) -> bool:
    """Whether a fold about the page's layer draws: not while closed (``key`` off: nothing is computed), and not where
    the model has no layer with feature maps (``layer`` ""), said in its place with what is ``missing`` (", so no
    map to compare")."""
    if not st.session_state[key]:
        return False
    if not layer:
        st.info(f"This model has no layer with feature maps{missing}.")
        return False
    return True


def toggle(where: Any, label: str, *, key: str, help: str, width: str = "stretch", **kwargs: Any) -> bool:
    """``where.toggle`` with its help beside it rather than in its label; ``width="content"`` for toggles that share
    a row (stretched, they share it equally and a long label's help wraps under it).

    Streamlit 1.67 puts a toggle's help icon inside the label, so a click on the icon (a tap on a classroom
    tablet) also flips the switch: a student asking what "Trained weights" means lost the trained network.
    """
    # the icon goes under the label where a narrow column has no room beside it, rather than out of sight
    row = where.container(horizontal=True, wrap=True, gap="xsmall", vertical_alignment="center",  # 8 px, as a label's
                          width=width)
    value = row.toggle(label, key=key, **kwargs)
    row.markdown("", help=help, width="content")
    return value


def server_details(details: str | None) -> None:
    """Paths and settings that only whoever runs the server can act on, folded away under what the page said in
    words: not for a classroom. Nothing for None."""
    if details:
        with st.expander("Details for whoever runs this server"):
            st.code(details, language=None, wrap_lines=True)


_DISK_ERRORS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM)


@contextlib.contextmanager
def guard(what: str, needed: bool = False) -> Iterator[None]:
    """Turn an unexpected error inside ``what`` into a clear message; the rest of the page goes on, or where it
    reads what this part makes (``needed``), stops there: each later part had failed on a name never set.

    Streamlit's own control flow (``st.stop``, ``st.rerun``) derives from BaseException and passes.
    """
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - the point is that nothing reaches the page raw
        _said(exc, what)
        if needed:
            st.stop()


def _said(exc: Exception, what: str) -> None:
    """:func:`guard`'s words for ``exc``, raised while ``what``."""
    if isinstance(exc, torch.OutOfMemoryError):
        log.exception("GPU out of memory while %s", what)
        st.error(f"The server's GPU ran out of memory while {what}; training runs may be using it. Try again when "
                 "they end, or pick a smaller network.")
    elif isinstance(exc, MemoryError):
        log.exception("out of memory while %s", what)
        st.error(f"The server ran out of memory while {what}. Pick a smaller network or fewer images, or try again "
                 "when fewer visitors are on it.")
    elif isinstance(exc, OSError) and (exc.filename or exc.errno in _DISK_ERRORS):
        log.exception("error while %s", what)  # a read-only or full disk: paths for the server's keeper
        full = exc.errno in (errno.ENOSPC, errno.EDQUOT)  # a full disk's write names no file
        cause = "its disk is full" if full else "it could not read or write a file it needs"
        st.error(f"The server stopped while {what}: {cause}. Changing a setting will not help; whoever runs it can "
                 "see the details below.")
        server_details(f"{type(exc).__name__}: {exc}")
    else:
        log.exception("error while %s", what)
        st.error(f"Something went wrong while {what}: {exc}. Change a setting and try again.")
