"""The image-set chooser of the top-activations page: a test set, the built-in shapes, or the user's zip.

Every set is fitted to the model's input (channels and size) and cached per server; results of
the top-9 search are kept in memory here and on disk by :mod:`explorer.top_activations`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import streamlit as st
import torch

from explorer import data, deconvnet, inputs, labels, models, mosaic, top_activations, user_images
from explorer.ui import charts, layout, memo, state

TOP9_PX = 256  # two 3 x 3 grids side by side from a 1280 px window on
THREE_PX = 168  # three of them: the whole images, their patches and the units projected back onto them
PROJECTED_TITLES = {"deconvnet": "Deconvnet projections", "guided": "Guided projections",  # fit THREE_PX
                    "gradient": "Gradient projections"}
PROJECTED_ABOUT = {
    "deconvnet": "Zeiler & Fergus's deconvnet: the unit alone passed back down, through each max pool to where its "
                 "maximum came from, each ReLU keeping what comes back above 0, each convolution's filters transposed. "
                 "Apart from which unit it starts from, the image enters only through the max pools' choices.",
    "guided": "Guided backpropagation (Springenberg et al.): as the deconvnet, but each ReLU also passes only where "
              "its input was above 0: what the unit used of this image.",
    "gradient": "The unit's gradient: each ReLU passes only where its input was above 0, and what comes back keeps "
                "both signs: how a small change of each pixel would move the unit.",
}
SOURCES = ("shapes", "mnist", "fashion-mnist", "cifar10", "zip", "folder")
LABELS = {"shapes": "Built-in shapes (works offline)", "mnist": "MNIST test set",
          "fashion-mnist": "Fashion-MNIST test set", "cifar10": "CIFAR-10 test set", "zip": "Your images (a zip)",
          "folder": "Your images (a folder)"}
SERVER_SETS = ("shapes", "mnist", "fashion-mnist", "cifar10")  # the others are a visitor's own, in their browser
COUNTS = ("auto", "100", "500", "2000", "10000")


@dataclass(frozen=True)
class ImageSet:
    """Images fitted to a model: (N, C, S, S) uint8, what they are, and a cache id."""

    images: torch.Tensor
    about: str
    data_id: str  # the caches' key: the images' source, how many were read and the shape they were fitted to

    @property
    def size(self) -> tuple[int, int]:
        return tuple(self.images.shape[-2:])


def default_source(spec: models.ModelSpec) -> str:
    """The test set of the model's own data set when it is on this server, else the built-in shapes."""
    if spec.data in SOURCES and spec.data != "shapes":
        try:
            data.load(spec.data, train=False, download=False)
            return spec.data
        except data.DataUnavailable:
            pass
    return "shapes"


def follow_model(before: models.ModelSpec, after: models.ModelSpec) -> None:
    """A new model was chosen: a search over the old model's own data moves to the new model's, so a
    shapes network is not searched on digits; a set the user chose on purpose stays."""
    old, new = default_source(before), default_source(after)
    if st.session_state.get("ta_data") == old and new != old:
        st.session_state.ta_data = new
        st.toast(f"Images to search: {LABELS[new]}, the kind this model was trained on.")


def settings(default_data: str = "shapes") -> list[state.Setting]:
    return [
        state.Setting("ta_data", "data", default_data, state.choice(SOURCES)),
        state.Setting("ta_count", "n", "auto", state.choice(COUNTS)),
    ]


LARGE_MOST = 500  # images one search of an ImageNet-size network takes on a CPU: VGG16's 10,000 passes are hours


def _count(spec: models.ModelSpec) -> int:
    """How many images to search: "auto" is 10,000 for small inputs and 200 for ImageNet-size ones; without a GPU an
    ImageNet-size network searches at most :data:`LARGE_MOST` (a shared link must not hold a class's server)."""
    chosen = st.session_state.ta_count
    count = int(chosen) if chosen != "auto" else (10_000 if spec.input_size <= 64 else 200)
    if spec.input_size > 64 and count > LARGE_MOST and not torch.cuda.is_available():
        st.caption(f"{count:,} images are too many for a {spec.input_size} px network on this server's CPU (each is "
                   f"a forward pass: hours for VGG16): the first {LARGE_MOST} are searched.")
        return LARGE_MOST
    return count


def pick_images(spec: models.ModelSpec) -> ImageSet | None:
    """Draw the chooser; returns the fitted set, or None with a message (missing data, a bad zip)."""
    source = st.selectbox("Images to search", SOURCES, key="ta_data", format_func=LABELS.get)
    st.selectbox("How many", COUNTS, key="ta_count",
                 help="auto: 10,000 for small models, 200 for ImageNet-size ones (each image is a forward pass).")
    count = _count(spec)
    if source == "zip":
        return _from_zip(spec, count)
    if source == "folder":
        return _from_folder(spec, count)
    try:
        return _load(source, count, spec.name, spec)
    except data.DataUnavailable as exc:
        st.warning(f"{exc.summary} Download them, or search the built-in shapes or your own images.")
        layout.server_details(str(exc))
        if source != "shapes" and st.button(f"Download {LABELS[source]}", key="ta_download"):
            with st.status(f"Downloading {LABELS[source]}...") as status:
                try:
                    data.load(source, train=False, download=True)
                except data.DataUnavailable as again:
                    status.update(label="The download failed", state="error")
                    st.error(again.summary)
                    layout.server_details(str(again))
                    return None
            st.rerun()
        return None


@st.cache_resource(show_spinner="Loading the images...", max_entries=3)
def _load(source: str, count: int, model: str, _spec: models.ModelSpec) -> ImageSet:
    spec = _spec  # ``model`` (its name) is the cache key
    if source == "shapes":
        shapes = data.shapes(count, size=spec.input_size, channels=spec.channels, seed=1)
        return ImageSet(shapes.images, f"{count:,} built-in shapes", f"shapes:{count}:{spec.input_shape}")
    split = data.load(source, train=False, download=False).subset(count)
    return ImageSet(inputs.fit_batch(split.images, spec), f"{len(split):,} {LABELS[source]} images",
                    f"{source}:test:{len(split)}:{spec.input_shape}")


ZIP_MB = 20  # an uploaded zip of images (the server takes larger uploads: a run's zip on the Train page)


def _from_zip(spec: models.ModelSpec, count: int) -> ImageSet | None:
    file = st.file_uploader(f"A zip of images ({user_images.FORMATS}; {ZIP_MB} MB at most here)", type=["zip"],
                            key="ta_zip", max_upload_size=ZIP_MB)
    if file is None:
        st.info("Upload a zip of your own images: the search finds which of them each channel likes best.")
        return None
    raw = file.getvalue()
    try:
        images_set, notes = _unzip(hashlib.sha256(raw).hexdigest(), raw, labels.plain_name(file.name), spec.name, count, spec)
    except data.DataUnavailable as exc:
        st.error(f"This zip cannot be used: {exc}.")
        return None
    for note in notes[:5]:
        st.caption(labels.md_text(note))  # the zip's own file names
    return images_set


def _from_folder(spec: models.ModelSpec, count: int) -> ImageSet | None:
    files = st.file_uploader(f"A folder of images ({user_images.FORMATS})", accept_multiple_files="directory",
                             key="ta_folder", max_upload_size=user_images.MAX_FILE_BYTES >> 20)
    if not files:
        st.info("Pick a folder of your own images: the search finds which of them each channel likes best.")
        return None
    pairs = [(f.name, f.getvalue()) for f in files]
    try:
        images_set, notes = _read_folder(folder_digest(pairs), pairs, spec.name, count, spec)
    except data.DataUnavailable as exc:
        st.error(f"This folder cannot be used: {exc}.")
        return None
    for note in notes[:5]:
        st.caption(labels.md_text(note))
    return images_set


def folder_digest(pairs: list[tuple[str, bytes]]) -> str:
    """What stands for a folder's files in the caches: their names and contents (the names order the images and
    fill the notes: with the contents alone, a classmate's folder of the same pictures read out this one's names)."""
    parts = (hashlib.sha256(name.encode("utf-8", "replace")).digest() + hashlib.sha256(raw).digest()
             for name, raw in pairs)
    return hashlib.sha256(b"".join(parts)).hexdigest()


@st.cache_data(show_spinner="Reading your images...", max_entries=4)
def _read_folder(digest: str, _pairs: list[tuple[str, bytes]], model: str, count: int,
                 _spec: models.ModelSpec) -> tuple[ImageSet, list[str]]:
    """A folder's files decoded once (``digest`` stands for them), not on every rerun of the page."""
    found, notes = user_images.from_files(_pairs, "your folder", _spec.input_size, _spec.channels, max_images=count)
    data_id = f"folder:{digest}:{len(found)}:{_spec.input_shape}"
    return ImageSet(found.images, f"{len(found):,} images of your folder", data_id), notes


@st.cache_data(show_spinner="Reading your images...", max_entries=4)
def _unzip(digest: str, _raw: bytes, name: str, model: str, count: int,
           _spec: models.ModelSpec) -> tuple[ImageSet, list[str]]:
    spec = _spec
    found, notes = user_images.from_archive(_raw, name, spec.input_size, spec.channels, max_images=count)
    data_id = f"zip:{digest}:{len(found)}:{spec.input_shape}"
    return ImageSet(found.images, f"{len(found):,} images of {name}", data_id), notes


def draw_top9(network, result: top_activations.TopActivations, images_set: ImageSet, channel: int,
              titles: tuple[str, str], key: str, lowest: bool = False, projected: str | None = None,
              explained: bool = True) -> None:
    """A channel's top images, whole (with their activations) and as the receptive-field patches they show it,
    side by side (one above the other in a narrow window); charts keyed ``<key>_top9`` and ``<key>_patches``, named
    with the channel, layer and model (their titles alone are alike for every channel). ``projected``: a rule of
    :mod:`explorer.deconvnet`, whose projection of each unit onto its patch is drawn beside (``<key>_projected``),
    its caption naming the rule unless ``explained`` above."""
    width = THREE_PX if projected else TOP9_PX
    whole, patched, *beside = layout.cells(3 if projected else 2, width)
    about = f"channel {channel} of {result.layer}{' at its lowest' if lowest else ''}, {network.spec.title}, " \
            f"{images_set.about}"
    chosen = [images_set.images[i].float() / 255 for i in result.indices[channel].tolist()]
    boxes = top_activations.patch_boxes(result, network.model, images_set.size, channel)
    charts.show(whole, mosaic.images_figure(chosen, tile_numbers(result.values[channel].tolist()), titles[0],
                                            cols=3, side=96, width_px=width, boxes=boxes, ink=layout.ink()),
                key=f"{key}_top9", name=f"{titles[0]}: {about}")
    crops = top_activations.patches(result, images_set.images, network.model, images_set.size, channel)
    charts.show(patched, mosaic.images_figure(crops, [f"{c.shape[1]}x{c.shape[2]}" for c in crops], titles[1],
                                              cols=3, side=96, width_px=width, ink=layout.ink()),
                key=f"{key}_patches", name=f"{titles[1]}: {about}")
    if lowest:
        whole.caption("Under each image: the channel's lowest response in it (its minimum over positions); outlined in "
                      "orange, the part of the image that unit sees (its patch, beside)."
                      + (" None is below 0, as after a ReLU: these are a tie of zeros, picked by their place in the "
                         "set. The layer before the ReLU shows what drives the channel below 0."
                         if float(result.values[channel, -1]) >= 0 else ""))
    else:
        whole.caption("Under each image: the channel's strongest response in it (its maximum over positions); "
                      "outlined in orange, the part of the image that strongest unit sees (its patch, beside).")
    unit = "lowest" if lowest else "strongest"
    patched.caption(f"Under each patch: its size in pixels, the part of the image that {unit} unit sees.")
    if projected:
        largest = _draw_projections(beside[0], network, result, images_set, channel, projected, lowest, about, key,
                                    width)
        st.caption(projection_words(projected, lowest, result.values[channel].tolist(), largest, explained))


def _draw_projections(where, network, result: top_activations.TopActivations, images_set: ImageSet, channel: int,
                      rule: str, lowest: bool, about: str, key: str, width: int) -> list[float]:
    """Each top image's unit projected back onto its patch by ``rule`` (Zeiler & Fergus's figures), each drawn on
    its own scale (grey is 0); each projection's largest magnitude."""
    images = images_set.images[result.indices[channel]]
    projections = memo.computed(  # the 9 in one batch: three batches of 3 took twice as long (ResNet18, 2 cores)
        "projections", (network.key, result.layer, images_set.data_id, channel, lowest, rule),
        lambda report: deconvnet.project(network.model, result.layer, images, channel, result.positions[channel],
                                         rule=rule, sign=-1.0 if lowest else 1.0, progress=report),
        lambda done, total: memo.counted("Projecting the units back onto the pixels", done, total, "units"), keep=32)
    boxes = top_activations.patch_boxes(result, network.model, images_set.size, channel)
    crops = [deconvnet.picture(p[:, top:bottom, left:right])
             for p, (top, left, bottom, right) in zip(projections, boxes)]
    title = PROJECTED_TITLES[rule]
    largest = projections.flatten(1).abs().amax(1).tolist()
    charts.show(where, mosaic.images_figure(crops, tile_numbers(largest), title, cols=3, side=96, width_px=width,
                                            ink=layout.ink()),
                key=f"{key}_projected", name=f"{title}: {about}")
    return largest


def tile_numbers(values: list[float]) -> list[str]:
    """Numbers under a grid's tiles, short enough for a narrow grid: with the same decimals where the largest is
    between 0.01 and 10,000, else in three significant digits (2.83e-08, not 0.00000002833)."""
    largest = max((abs(v) for v in values), default=0.0)
    return list(labels.alike(*values)) if largest == 0 or 0.01 <= largest < 1e4 else [f"{v:.3g}" for v in values]


def projection_words(rule: str, lowest: bool, values: list[float], largest: list[float], explained: bool = True) -> str:
    """The projections' caption: the rule (where ``explained``), the sign a lowest unit goes back with, and why
    tiles are blank (``largest``: each projection's largest magnitude) or drawn for units at 0 (``values``: the
    units' activations)."""
    words = [PROJECTED_ABOUT[rule]] if explained else []
    if lowest:
        words.append("A lowest unit goes back from -1: what drives it down.")
    blank, dead = sum(v == 0 for v in largest), sum(v == 0 for v in values)
    if blank == len(largest) and lowest and rule != "gradient":
        words.append("Nothing comes back: read after a ReLU, a unit sends -1 into that ReLU, whose rule here passes "
                     "back only what is above 0. The gradient, or the layer before the ReLU, shows what drives it "
                     "down.")
    elif dead and rule == "deconvnet":
        words.append(("These units are all" if dead == len(values) else f"{dead} of these units "
                      + ("is" if dead == 1 else "are")) + " 0, yet drawn: the deconvnet's ReLUs never ask what went "
                     "in, so it projects a silent unit as any other.")
    elif blank:
        one = blank == 1
        words.append(f"{blank} {labels.plural(blank, 'tile')} {'stays' if one else 'stay'} grey: "
                     + (f"{'its unit is' if one else 'their units are'} 0, and a ReLU passes nothing back from 0."
                        if blank <= dead else f"nothing comes back from {'that unit' if one else 'those units'}: "
                                              "every way back crosses a ReLU that was off."))
    if blank < len(largest):
        words.append("Grey is 0, lighter above it and darker below (in colour, each colour channel); each tile on its "
                     "own scale, black or white at the largest magnitude, the number under it.")
    return " ".join(words)


def top9(network, layer: str, images_set: ImageSet, lowest: bool = False) -> top_activations.TopActivations:
    """Every channel's top 9 of the set (``lowest``: the 9 that drive it down most), computed once (with a progress
    bar) and then remembered (a few KB each)."""
    return memo.computed(
        "top9", (network.key, layer, images_set.data_id, lowest),
        lambda report: top_activations.cached_compute(network.model, layer, images_set.images, images_set.data_id,
                                                      progress=report, lowest=lowest),
        lambda done, total: f"{done:,} of {total:,} images through `{layer}`" if total
        else "Running the images through the network...", keep=64)
