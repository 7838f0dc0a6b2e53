"""CNN Explorer's home page and entry point: ``streamlit run streamlit_app.py``.

Pages live in ``pages/`` and Streamlit serves each at its own path (``/kernel_lab``), so a
link opens that page directly; the shared sidebar comes from ``explorer.ui.layout``.
"""

import streamlit as st

from explorer import labels
from explorer.ui import layout

layout.page_setup(layout.HOME)
st.title("CNN Explorer")
# a page's address mistyped ("/Kernel_Lab?stride=2"): Streamlit says "Page not found" and runs Home with the query
given = sorted(set(st.query_params) - {"embed", "embed_options"})
if (typed := layout.typed_path()) and (meant := layout.closest_page(typed)):
    st.warning(f"There is no page at {labels.code('/' + typed[:60])}: did you mean **{meant.label}**?")
    st.page_link(meant.script, label=f"Open {meant.label}" + (" with the link's settings" if given else ""),
                 icon=meant.icon, query_params={name: st.query_params.get_all(name) for name in given})
elif given:
    st.warning(f"The address gives {labels.listed([labels.code(name[:40]) for name in given], 5)}, but Home has no "
               "settings: was a page's name mistyped? Each page's own address is on its card below, in small "
               "letters with underscores (`/kernel_lab`).")
elif typed:
    st.warning(f"There is no page at {labels.code('/' + typed[:60])}: each page's own address is on its card below, "
               "in small letters with underscores (`/kernel_lab`).")
if given:
    st.query_params.clear()  # a link copied from here would carry them on
st.markdown(
    "See convolutional neural networks at work. Draw or upload an image, apply hand-set kernels "
    "(Sobel, Laplacian, finite differences, Gaussian, Gabor...) or your own, and step through a "
    "convolution one output cell at a time, exactly as the lecture does it. Every setting lives in "
    "the page's address: copy it to share the view."
)
st.markdown(
    "**New here?** Start with **Convolution step by step**: one output cell at a time, as the lecture computes it. "
    "Then the **Kernel Lab** does the same on whole pictures, and **Layer by layer** shows a trained network reading "
    "a digit. The pages after those ask what a unit sees and why a network decides; **Train** makes a network of "
    "your own for every page."
)
st.info(f"**Compute device:** {layout.device_summary()}")

# three cards to a row from 1280 px; two at 1024, where three cut the titles and links mid-word
CARD_PX = 250
# a host serving the app under a path (server.baseUrlPath) puts it before every page's
prefix = "/".join(part for part in str(st.get_option("server.baseUrlPath") or "").split("/") if part)
for cell, page in zip(layout.flow(len(layout.PAGES), CARD_PX, "home_cards", equal_heights=True), layout.PAGES):
    with cell.container(border=True):
        st.subheader(page.label)
        st.write(page.blurb)
        st.page_link(page.script, label=f"Open {page.label}", icon=page.icon)
        st.caption(f"Link: `/{prefix + '/' if prefix else ''}{page.url_path}`")
