"""Links that open one channel of the network shown on the other pages that look at channels: what excites it, the
images that excite it most, its map on your image. Microscope keeps a unit's views on one page; here each view is a
click away, with the model, the layer and the channel already chosen."""

from __future__ import annotations

import streamlit as st

from explorer.ui import layout, model_input

def _channel(layer: str, c: int) -> dict[str, str]:
    return {"layer": layer, "channel": str(c)}


VIEWS = (  # page, link label, its settings for a layer's channel
    ("pages/what_excites.py", "What excites it", _channel),
    ("pages/top_activations.py", "The images that excite it most", _channel),
    ("pages/layer_by_layer.py", "Its map on your image",
     lambda layer, c: {"layer": layer, "look": "1", "closer": str(c)}),
)


def targets(layer: str, channel: int, here: str) -> list[tuple[str, str, dict[str, str]]]:
    """(page, label, query) of each view but the page ``here``, for the network the session shows."""
    model = {"model": st.session_state.get("net_model", model_input.DEFAULT)}
    weights = {} if st.session_state.get("net_pretrained", True) else {"weights": "0"}
    return [(page, label, model | weights | query(layer, channel)) for page, label, query in VIEWS if page != here]


def draw(layer: str, channel: int, here: str) -> None:
    """A row of links to channel ``channel`` of ``layer`` on the other pages (``here``: this page's script)."""
    icons = {page.script: page.icon for page in layout.PAGES}
    row = st.container(horizontal=True, wrap=True, gap="small", vertical_alignment="center")
    row.markdown(f"**Channel {channel} of `{layer}` elsewhere:**", width="content")
    for page, label, query in targets(layer, channel, here):
        row.page_link(page, label=label, icon=icons[page], query_params=query)
