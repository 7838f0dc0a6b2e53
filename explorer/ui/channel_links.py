"""Links that open one channel of the network shown on the other pages that look at channels: what excites it, the
images that excite it most, its map on your image. Microscope keeps a unit's views on one page; here each view is a
click away, with the model, the layer and the channel already chosen."""

from __future__ import annotations

import streamlit as st

from explorer.ui import image_sets, layout, model_input


def _channel(layer: str, c: int) -> dict[str, str]:
    return {"layer": layer, "channel": str(c)}


VIEWS = (  # page, link label, its settings for a layer's channel: each view named whole, as settings kept on
    # that page (a class's ascent, the lowest 9, the Kernels tab) had shown another view
    ("pages/what_excites.py", "What excites it",
     lambda layer, c: {"mode": "channel", "neg": "0", "grid": "0", **_channel(layer, c)}),
    ("pages/top_activations.py", "The images that excite it most", lambda layer, c: {"low": "0", **_channel(layer, c)}),
    ("pages/layer_by_layer.py", "Its map on your image",
     lambda layer, c: {"layer": layer, "tab": "Output", "look": "1", "closer": str(c)}),
)
SEARCHED = ("pages/what_excites.py", "pages/top_activations.py")  # the pages that search a data set's images


def _shown() -> dict[str, str]:
    """The model, image and data set this session shows, so that the link opens them in a new tab too (a drawing
    or an upload stays in this browser; a zip or folder of images, too)."""
    shown = {"model": st.session_state.get("net_model", model_input.DEFAULT)}
    if not st.session_state.get("net_pretrained", True):
        shown["weights"] = "0"
    shown["src"] = source = st.session_state.get("img_source", "sample")
    if source == "sample" and st.session_state.get("img_sample"):
        shown["img"] = st.session_state["img_sample"]
    if st.session_state.get("ta_data") in image_sets.SERVER_SETS:
        shown["data"] = st.session_state["ta_data"]
    return shown


def targets(layer: str, channel: int, here: str) -> list[tuple[str, str, dict[str, str]]]:
    """(page, label, query) of each view but the page ``here``, for the network, image and data the session shows."""
    shown = _shown()
    return [(page, label, {k: v for k, v in shown.items() if k != "data" or page in SEARCHED} | query(layer, channel))
            for page, label, query in VIEWS if page != here]


def draw(layer: str, channel: int, here: str) -> None:
    """A row of links to channel ``channel`` of ``layer`` on the other pages (``here``: this page's script)."""
    icons = {page.script: page.icon for page in layout.PAGES}
    row = st.container(horizontal=True, wrap=True, gap="small", vertical_alignment="center")
    row.markdown(f"**Channel {channel} of `{layer}` elsewhere:**", width="content")
    for page, label, query in targets(layer, channel, here):
        row.page_link(page, label=label, icon=icons[page], query_params=query)
