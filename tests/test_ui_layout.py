"""The pages' scaffolding (explorer.ui.layout): errors inside a guarded part become a message that says what to do."""

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from explorer.ui import layout
from tests.apptest import TIMEOUT, app


def _script():
    import streamlit as st
    import torch

    from explorer.ui import layout

    errors = {"gpu": torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"),
              "ram": MemoryError(), "other": ValueError("the layer has no maps"),
              "file": PermissionError(13, "Permission denied", "/srv/app/.cache"),
              "full": OSError(28, "No space left on device")}  # a full disk's write names no file
    with layout.guard("finding the top activations"):
        raise errors[st.query_params["error"]]
    st.write("the rest of the page")


@pytest.mark.parametrize(("error", "said"), [
    ("gpu", "The server's GPU ran out of memory while finding the top activations; training runs may be using it"),
    ("ram", "The server ran out of memory while finding the top activations. Pick a smaller network"),
    ("other", "Something went wrong while finding the top activations: the layer has no maps."),
    ("file", "The server stopped while finding the top activations: it could not read or write a file it needs. "
             "Changing a setting will not help"),
    ("full", "The server stopped while finding the top activations: its disk is full. Changing a setting will not"),
])
def test_an_error_in_a_guarded_part_is_said_in_words_and_the_page_goes_on(error, said):
    at = AppTest.from_function(_script, default_timeout=TIMEOUT)
    at.query_params["error"] = error
    at.run()
    assert not at.exception and said in at.error[0].value
    assert at.markdown[0].value == "the rest of the page"
    assert any("/srv/app" in c.value for c in at.code) == (error == "file") and "/srv" not in at.error[0].value
    assert any("No space left" in c.value for c in at.code) == (error == "full")


def _needed_script():
    import streamlit as st

    from explorer.ui import layout

    with layout.guard("explaining the prediction", needed=True):
        raise ValueError("element 0 of tensors does not require grad")
    st.write(before)  # noqa: F821 - never reached: the part that sets it failed


def test_a_part_the_rest_of_the_page_reads_stops_the_page_after_its_message():
    at = AppTest.from_function(_needed_script, default_timeout=TIMEOUT).run()
    assert not at.exception and len(at.error) == 1 and not at.markdown
    assert "Something went wrong while explaining the prediction: element 0" in at.error[0].value


def _page():
    from explorer.ui import layout

    layout.page_setup(layout.HOME)


def test_a_server_older_than_the_code_on_disk_says_so_on_every_page(monkeypatch):
    """A page runs afresh from disk while the library stays as the server imported it: a page calling a newer
    function failed with Streamlit's bare error box."""
    from explorer.ui import layout

    at = AppTest.from_function(_page, default_timeout=TIMEOUT).run()
    assert not at.warning
    monkeypatch.setattr(layout, "LOADED", layout.library_stamp() - 1)
    assert "The app's code changed after this server started" in AppTest.from_function(
        _page, default_timeout=TIMEOUT).run().warning[0].value


def test_each_page_sets_itself_up_with_its_own_entry():
    """Pages name their entry by its place in PAGES: reordering the sidebar must move every index with it."""
    from explorer.ui import layout
    import re

    from tests.conftest import ROOT

    for info in layout.PAGES:
        (index,) = re.findall(r"layout\.page_setup\(layout\.PAGES\[(\d+)\]\)", (ROOT / info.script).read_text())
        assert layout.PAGES[int(index)].script == info.script


def test_the_tabs_icon_is_drawn_here_a_kernels_taps_on_a_clear_ground():
    """Streamlit has the browser fetch a material icon from Google's fonts: an offline server showed none."""
    from explorer.ui import layout

    icon = np.asarray(layout.app_icon(48))
    assert icon.shape == (48, 48, 4)
    assert tuple(icon[24, 24]) == (255, 140, 40, 255)  # the centre tap
    assert icon[0, 0, 3] == 0 and icon[16, 24, 3] == 0  # the border and the gap between taps see through
    assert tuple(icon[8, 8]) == (90, 120, 200, 255)


def _sidebar_queries(at: AppTest) -> dict[str, str]:
    return {link.value: link.proto.query_string for link in at.sidebar.get("page_link")}


def test_the_sidebar_opens_a_page_not_seen_yet_on_the_model_and_image_this_session_shows():
    """A page that takes a model, not seen yet, opens on the kept one: its bare link had passed through its bare
    address first, an entry of the browser's history that Back took for a view. The links are drawn again once the
    page's widgets said the model, so a model picked in this run is the one carried."""
    at = app("pages/layer_by_layer.py", model="tinyvgg")
    links = _sidebar_queries(at)
    assert links["Receptive fields"] == links["Why this prediction"] == "model=tinyvgg"
    assert links["Kernel Lab"] == links["Train"] == ""  # pages without a model start as they do
    at.selectbox(key="net_model").set_value("lenet5").run()
    assert _sidebar_queries(at)["Receptive fields"] in ("", "img=digit")  # the default model (left out), its digit
    at.radio(key="img_source").set_value("draw").run()
    assert "src=draw" in _sidebar_queries(at)["Invariance"]
    at.switch_page("pages/receptive_fields.py").run()  # as the link opens it (no query: the bare address)
    assert at.session_state["img_source"] == "draw" and "src" in at.query_params


def test_a_picked_image_that_is_another_pages_default_still_goes_back_with_the_sidebar():
    """Edges picked on Layer by layer, then the Kernel Lab, whose own default Edges is: the Kernel Lab had forgotten
    the choice, the sidebar's link went bare, and Layer by layer opened on Edges after a bare address, two entries
    of the browser's history. The Kernel Lab's own default goes to no other page."""
    at = app("pages/kernel_lab.py")
    assert _sidebar_queries(at)["Layer by layer"] == ""  # Edges unpicked: Layer by layer keeps its digit
    at.switch_page("pages/layer_by_layer.py").run()
    at.selectbox(key="img_sample").set_value("edges").run()
    at.query_params.clear()
    at.switch_page("pages/kernel_lab.py").run()
    assert at.session_state["img_sample"] == "edges"
    assert _sidebar_queries(at)["Layer by layer"] == "img=edges"


@pytest.mark.parametrize(("typed", "meant"), [
    ("Kernel_Lab", "kernel_lab"), ("kernel-lab", "kernel_lab"), ("KernelLab", "kernel_lab"),
    ("kernal_lab", "kernel_lab"),
    ("why", "why_prediction"), ("Why%20this%20prediction", "why_prediction"), ("layer_by_layers", "layer_by_layer"),
    ("receptive_field", "receptive_fields"), ("step-by-step", "step_by_step"), ("Train", "train"),
])
def test_a_mistyped_address_finds_the_page_it_meant(typed, meant):
    from urllib.parse import unquote

    assert layout.closest_page(unquote(typed)).url_path == meant


@pytest.mark.parametrize("typed", ["", "favicon", "admin/login", "t"])
def test_an_address_like_no_page_finds_none(typed):
    assert layout.closest_page(typed) is None
