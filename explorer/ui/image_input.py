"""The image picker every page shares: sample gallery, drawing canvas, upload or camera.

The chosen image becomes the session's *current image*, so the next page starts from it.
Only a sample can be named in a link; a drawing or an upload stays in this browser session.
"""

from __future__ import annotations

import hashlib

import streamlit as st
import torch
from streamlit.runtime.scriptrunner import get_script_run_ctx

from explorer import images, labels
from explorer.ui import state

SOURCES = ("sample", "draw", "upload", "camera")
SOURCE_LABELS = {"sample": "Sample", "draw": "Draw", "upload": "Upload", "camera": "Camera"}
CANVAS_PX = 224  # 8 x 28, and it fits the pages' narrow left column
CURRENT = "current_image"  # session key: (label, (C, H, W) tensor)
_PICKED = "img_sample_picked"  # session key: the visitor chose a sample in the picker
_PAGE = "img_page"  # session key: the page the picker was last drawn on


def settings(default_sample: str | None = None) -> list[state.Setting]:
    """The picker's URL-bound settings: the source and the sample's name (default: the first sample).

    Until the visitor picks a sample, each page shows its own (the link's, or its default): the Kernel Lab's Edges
    picture, carried by the picker's state, opened Layer by layer's LeNet-5 on it rather than on a digit.
    """
    keys = [s.key for s in images.samples()]
    page = getattr(get_script_run_ctx(), "page_script_hash", None)
    if st.session_state.get(_PAGE) != page:  # arrived from another page
        st.session_state[_PAGE] = page
        if not st.session_state.get(_PICKED):
            st.session_state.pop("img_sample", None)
    return [
        state.Setting("img_source", "src", "sample", state.choice(SOURCES), carry=True),
        state.Setting("img_sample", "img", default_sample or keys[0], state.choice(keys), carry=True),
    ]


def follow_model(before: str, after: str) -> None:
    """A new model was chosen: if the picker showed the sample suited to the model before (its
    ``ModelSpec.sample``), show the one suited to the new model, so a shapes network is not handed
    a digit. A sample the user chose on purpose stays."""
    if st.session_state.get("img_source", "sample") != "sample" or before == after:
        return
    if st.session_state.get("img_sample") == before:
        st.session_state.img_sample = after
        title = {s.key: s.title for s in images.samples()}.get(after, after)
        st.toast(f"Sample image: {title}, the kind of image this model was trained on.")


def pick_image() -> tuple[str, torch.Tensor] | None:
    """Draw the picker; returns (label, (C, H, W) image) or None while nothing is chosen."""
    # a radio, not a segmented control: its options wrap in the pages' narrow left column
    source = st.radio("Image source", SOURCES, format_func=SOURCE_LABELS.get, key="img_source", horizontal=True)
    # no frame round the canvas: its padding pushed the 224 px canvas past a model page's controls column (237 px)
    with st.container(border=source != "draw"):
        picked = {"sample": _sample, "draw": _drawing, "upload": _upload, "camera": _camera}[source]()
    if picked is not None:
        st.session_state[CURRENT] = picked
        return picked
    st.caption("A link to this page opens with a sample image: drawings and uploads stay in this session.")
    if CURRENT in st.session_state:  # e.g. a drawing made on another page: the canvas starts empty here
        st.caption(f"Meanwhile this shows your last image ({st.session_state[CURRENT][0]}).")
        return st.session_state[CURRENT]
    if source == "sample":  # a sample that cannot be read: said above
        return None
    # a link to a drawing or an upload, opened elsewhere: the page's sample, not an empty page that ignored the link
    sample = next((s for s in images.samples() if s.key == st.session_state.get("img_sample")), images.samples()[0])
    try:
        shown = f"sample: {sample.title}", _cached_sample(sample.key)
    except images.ImageError:
        return None
    st.caption(f"Meanwhile this shows the sample {sample.title}.")
    return shown


def _sample() -> tuple[str, torch.Tensor] | None:
    by_key = {s.key: s for s in images.samples()}
    key = st.selectbox("Sample image", list(by_key), format_func=lambda k: by_key[k].title, key="img_sample",
                       on_change=_picked)
    st.caption(by_key[key].description)
    try:
        return f"sample: {by_key[key].title}", _cached_sample(key)
    except images.ImageError as exc:  # the other samples, a drawing and an upload still work
        st.error(f"{str(exc)[0].upper()}{str(exc)[1:]}. Pick another sample, or draw or upload an image.")
        return None


def _picked() -> None:
    st.session_state[_PICKED] = True


@st.cache_data(show_spinner=False)
def _cached_sample(key: str) -> torch.Tensor:
    return images.load_sample(key)


def _drawing() -> tuple[str, torch.Tensor] | None:
    from streamlit_drawable_canvas import st_canvas  # needs the Streamlit runtime

    row = st.container(horizontal=True, vertical_alignment="bottom")
    width = row.slider("Pen width", 2, 32, 11, key="img_pen")  # 11 of 224 px: an MNIST digit's stroke
    # the canvas's own undo and bin show only while a mouse is over it: a phone had no way to start again
    row.button("Clear", key="img_clear", icon=":material/ink_eraser:", on_click=_clear,
               help="Wipe the canvas and draw again.")
    st.space("small")  # the canvas's toolbar floats above its top edge: it would cover the slider
    wiped = st.session_state.get(_WIPED, 0)
    result = st_canvas(
        stroke_width=width, stroke_color="#000000", background_color="#FFFFFF", height=CANVAS_PX, width=CANVAS_PX,
        drawing_mode="freedraw", return_image_data=True, key=f"img_canvas_{wiped}" if wiped else "img_canvas",
    )
    data = result.image_bytes
    if not data:
        st.info("Draw with the mouse (or a finger): dark ink on white.")
        return None
    return _decode(data, "your drawing", blank_is_none=True)


_WIPED = "img_canvas_wiped"  # how many times Clear was pressed: a new canvas key each time starts it empty


def _clear() -> None:
    """Start the drawing again: a fresh canvas, and the last drawing no longer shown meanwhile."""
    st.session_state[_WIPED] = st.session_state.get(_WIPED, 0) + 1
    st.session_state.pop(CURRENT, None)


def _upload() -> tuple[str, torch.Tensor] | None:
    file = st.file_uploader(
        "Upload an image (PNG, JPEG, WebP, BMP or GIF; at most 20 MB and 16 megapixels)",
        type=["png", "jpg", "jpeg", "webp", "bmp", "gif"], key="img_upload", max_upload_size=images.MAX_BYTES >> 20,
    )
    return None if file is None else _decode(file.getvalue(), labels.plain_name(file.name))


def _camera() -> tuple[str, torch.Tensor] | None:
    photo = st.camera_input("Take a photo", key="img_camera")
    return None if photo is None else _decode(photo.getvalue(), "camera photo")


def _decode(data: bytes, name: str, blank_is_none: bool = False) -> tuple[str, torch.Tensor] | None:
    """Decode with the safe loader (cached by content); a refused file gets a message, not a traceback."""
    try:
        loaded = _cached_load(hashlib.sha256(data).hexdigest(), data, name)
    except images.ImageError as exc:
        st.error(f"This image cannot be used: {exc}.")
        return None
    if blank_is_none and bool((loaded.tensor >= 0.999).all()):
        st.info("The canvas is empty: draw something.")
        return None
    for note in loaded.notes:
        st.info(f"Note: {note}.")
    return name, loaded.tensor


@st.cache_data(show_spinner=False, max_entries=16)
def _cached_load(digest: str, _data: bytes, name: str) -> images.LoadedImage:
    return images.load_bytes(_data, name)  # _data is not hashed: the digest stands for it
