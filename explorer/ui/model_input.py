"""The model chooser every network page shares: a registry model, with shipped, downloaded or random weights.

Models are built once per server (``st.cache_resource``), in eval mode with gradients off, and
never changed afterwards. torchvision weights are downloaded only on request, with a progress bar.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import streamlit as st
import torch
from torch import fx, nn

from explorer import extraction, famous, inputs, inspect, labels, models, run_files, runs
from explorer.ui import image_input, image_sets, layout, state, visitor

DEFAULT = "lenet5"


@dataclass(frozen=True)
class Network:
    """A built model with its registry entry, its traced graph and its layers."""

    spec: models.ModelSpec
    pretrained: bool
    model: nn.Module
    graph: fx.GraphModule
    layers: tuple[inspect.Layer, ...]
    stamp: str = ""  # a run's checkpoint file as built (run_files.weights_stamp)

    @property
    def key(self) -> str:
        weights = f"{'pretrained' if self.pretrained else 'random'}{':' + self.stamp if self.stamp else ''}"
        return f"{self.spec.name}:{weights}"


def settings(linked: models.ModelSpec | None = None) -> list[state.Setting]:
    """The URL-bound settings of both pickers. The sample's default suits the linked model, so
    ``?model=tinyvgg`` opens on a shape and ``?model=lenet5`` (or none) on a digit.
    ``linked``: :func:`linked_spec`, when the page already has it for defaults of its own."""
    return [
        *image_input.settings(default_sample=(linked or linked_spec()).sample),
        state.Setting("net_model", "model", DEFAULT, _model_name, carry=True),
        state.Setting("net_pretrained", "weights", True, state.boolean, state.dump_bool, carry=True),
    ]


def _finished_runs() -> list[runs.Run]:
    """Finished runs of the training lab with a checkpoint (newest first)."""
    return [r for r in runs.list_runs() if r.status == "finished" and run_files.has_checkpoint(r.id)]


def _trained_runs() -> list[str]:
    """Finished runs of the training lab, as model names ``run:<id>`` (newest first)."""
    return [f"run:{r.id}" for r in _finished_runs()]


def linked_spec() -> models.ModelSpec:
    """The entry of the model the page will show: the address's, else the one this session last chose (a page
    reached from the sidebar keeps it), else the default. What the page's defaults follow, such as the sample like
    its training data: had a TinyVGG kept from another page got LeNet-5's digit, its link, leaving out the sample
    as a default, would open on TinyVGG's triangle."""
    try:
        kept = DEFAULT if state.history_navigation() else state.kept("net_model", DEFAULT)  # Back: the address's
        return spec_of(_model_name(st.query_params.get("model") or kept))
    except (ValueError, FileNotFoundError, runs.RunNotFound):  # a bad link: restore() says so
        return spec_of(DEFAULT)


def _model_name(text: str) -> str:
    """Parser for the link's model: a registry name (in any case: ``TinyVGG``) or a finished run."""
    if text in models.names() or text in _trained_runs():
        return text
    if (named := text.strip().casefold()) in models.names():
        return named
    # its title as the picker shows it, whole or before the brackets ("LeNet-5", "Small ResNet"), in any case
    titled = [n for n in models.names() if _squeezed(text) in {_squeezed(t) for t in _titles(models.spec(n).title)}]
    if len(titled) == 1:
        return titled[0]
    if text.startswith("run:"):
        try:
            run = runs.get(text[4:])
        except runs.RunNotFound:
            raise ValueError(f"there is no run {text[4:]!r} on this server: it was deleted, or the link comes from "
                             "another server") from None
        except ValueError as exc:  # a bad id, or a run whose files are damaged
            raise ValueError(f"{exc}: it cannot be opened") from None
        raise ValueError(f"the run '{labels.md_text(run.name)}' " + ("has no saved weights (its checkpoint is missing)"
                                                      if run.status == "finished"
                                                      else f"is {run.status}, not finished"))
    raise ValueError(f"{text!r} is neither a model of the zoo nor a finished training run")


def _squeezed(text: str) -> str:
    """Letters and digits only, in small letters: "LeNet-5" and "lenet 5" alike."""
    return "".join(c for c in text.casefold() if c.isalnum())


def _titles(title: str) -> tuple[str, str]:
    """A model's title whole and before its brackets: "LeNet-5 (MNIST digits)" and "LeNet-5"."""
    return title, title.split(" (")[0]


def spec_of(name: str) -> models.ModelSpec:
    """The registry entry, or a finished run's."""
    return run_files.model_spec(name.removeprefix("run:")) if name.startswith("run:") else models.spec(name)


def pick_model(resets: dict[str, Any] | None = None) -> Network | str:
    """Draw the chooser; returns the network, or why there is none (the left column shows the details): its
    weights are missing, or it cannot be built or loaded.
    ``resets``: widget keys set to these values when the user picks another model (see :func:`controls`)."""
    labels = _labels(_finished_runs())
    if (gone := st.session_state.get("net_model")) not in labels:
        if isinstance(gone, str) and gone.startswith("run:"):  # deleted (or its weights) since the page showed it
            st.warning(f"The run `{gone[4:]}` is no longer on this server (deleted, or its weights removed): "
                       f"showing {models.spec(DEFAULT).title} instead.")
            st.session_state.update(resets or {})  # its layer, class or unit mean nothing to this network
            image_input.follow_model(st.session_state.get("net_sample_shown", ""), spec_of(DEFAULT).sample)
        st.session_state.net_model = DEFAULT
    name = st.selectbox("Model", list(labels), key="net_model", on_change=_switched, args=(resets or {},),
                        format_func=labels.get)
    if name.startswith("run:"):
        return _run_network(name)
    spec = spec_of(name)
    st.session_state.net_model_shown, st.session_state.net_sample_shown = name, spec.sample
    available = models.has_pretrained(name)
    about = "Off: the same architecture with random weights, to compare what training changed."
    if available:
        layout.toggle(st, "Trained weights", key="net_pretrained", help=about)
    else:  # shown off, as the network is; the choice waits, kept, for a model that has weights
        st.session_state.net_pretrained = st.session_state.net_pretrained
        layout.toggle(st, "Trained weights", key="net_pretrained_none", value=False, disabled=True, help=about)
    st.caption(spec.about if available else f"{spec.about} (No trained weights ship with this model.)")
    pretrained = bool(st.session_state.net_pretrained) and available
    if pretrained and spec.weights == "torchvision" and not models.is_downloaded(name) and not _download(name):
        return NO_WEIGHTS
    with layout.guard(f"building {spec.title}"):  # out of memory...: named, and the page stays up
        try:
            return _network(name, pretrained)
        except models.WeightsUnavailable as exc:
            st.error(f"{exc.summary[0].upper()}{exc.summary[1:]}. {RANDOM_INSTEAD}")
            layout.server_details(f"{exc}.")
            return NO_WEIGHTS
    return f"{spec.title} could not be built (see the left): pick another model."


RANDOM_INSTEAD = "Switch off *Trained weights* to explore the same network with random weights."
NO_WEIGHTS = ("This model has no trained weights here yet (see the left): download them, or switch off "
              "*Trained weights* to explore the same network with random weights.")


def _run_network(name: str) -> Network | str:
    """A finished run's network, or why not when its files no longer load (a checkpoint deleted, cut off or from
    another network): a broken run must not take the page down."""
    try:
        spec = spec_of(name)
        network = _network(name, True, run_files.weights_stamp(name.removeprefix("run:")))
    except Exception as exc:  # noqa: BLE001 - missing file, corrupt safetensors, mismatched state dict...
        layout.log.warning("the run %s's network could not be loaded", name, exc_info=True)
        st.error(f"This run's network cannot be loaded: {exc}. Pick another model, or delete the run on the Train "
                 "page.")
        return "This run's network cannot be loaded (see the left): pick another model."
    st.session_state.net_model_shown, st.session_state.net_sample_shown = name, spec.sample
    st.caption(spec.about)
    return network


def _labels(finished: list[runs.Run]) -> dict[str, str]:
    """The picker's choices and their labels: the zoo, then the finished runs, each saying whose it is after its name
    (before it, "Trained here: " left "LeNet-5 on Built-in s" of a run's name in the box at 1280 px, not its "#2")."""
    me = visitor.visitor_id()
    return {**{name: models.spec(name).title for name in models.names()},
            **{f"run:{r.id}": f"{r.name} ({'your run' if r.owner == me else 'trained here'})" for r in finished}}


def _switched(resets: dict[str, Any]) -> None:
    """The user picked another model (a callback, so before the page's widgets are drawn): the page's
    choices that belong to the old model (a layer, a unit, a class) go back to their defaults, which the
    page then fills for the new one without a warning, and the sample may follow the model."""
    st.session_state.update(resets)
    shown = st.session_state.get("net_model_shown")
    if shown is None:
        return
    try:
        before, after = spec_of(shown), spec_of(st.session_state.net_model)
    except (ValueError, FileNotFoundError, runs.RunNotFound):  # e.g. a run deleted meanwhile
        return
    image_input.follow_model(before.sample, after.sample)
    image_sets.follow_model(before, after)


def _model_came(resets: dict[str, Any]) -> str:
    """A link or the sidebar brought another model than the one this page's choices were made on: those that a link
    naming the model does not give go back to their defaults, as a pick in the Model box does (:func:`_switched`). A
    run's link had opened "Why this prediction" on LeNet-5's class 5, read as the shapes' "line |". Returns the
    key under which :func:`controls` keeps the model the page shows."""
    page = "_model_of:" + ",".join(sorted(resets))  # the model this page's choices belong to
    before, now = state.kept(page), st.session_state.get("net_model")
    if resets and before is not None and before != now and not state.came_back():  # Back: a view this app wrote
        st.session_state.update({key: value for key, value in resets.items()
                                 if not (state.from_link(key) and state.from_link("net_model"))})
    return page


def _download(name: str) -> bool:
    """Offer the download of torchvision's weights; True once they are here."""
    size = models.download_size_mb(name)
    st.info(f"The trained weights of {models.spec(name).title}, {size:.0f} MB, are not on this server yet. "
            "Download them, or switch off *Trained weights* to look at the architecture with random weights.")
    if not st.button(f"Download the weights ({size:.0f} MB)", key="net_download", type="primary"):
        return False
    bar = st.progress(0.0, text="Connecting...")

    def report(done: int, total: int) -> None:
        fraction = done / total if total else 0.0
        bar.progress(min(fraction, 1.0), text=f"Downloading: {done / 2**20:.0f} of {total / 2**20:.0f} MB")

    try:
        models.download_weights(name, report)
    except models.WeightsUnavailable as exc:
        bar.empty()
        st.error(f"{exc.summary[0].upper()}{exc.summary[1:]}. {RANDOM_INSTEAD}")
        layout.server_details(f"{exc}.")
        return False
    bar.empty()
    return True


@st.cache_resource(show_spinner="Building the model...", max_entries=6)
def _network(name: str, pretrained: bool, stamp: str = "") -> Network:
    """The model built, traced and split into layers; ``stamp``: a run's checkpoint file, part of the cache's key."""
    if name.startswith("run:"):
        model = run_files.build_model(name.removeprefix("run:")).requires_grad_(False)
    else:
        # random weights are the same ones at every build: a rebuilt model still matches what was computed from it
        model = models.build(name, pretrained=pretrained, seed=0).requires_grad_(False)
    spec = spec_of(name)
    graph = extraction.extractor(model)
    return Network(spec, pretrained, model, graph, tuple(inspect.layers(model, spec.input_shape, graph)), stamp)


def image_key(image: torch.Tensor) -> str:
    """A short digest of an image's values: the cache key for everything computed from it."""
    return hashlib.sha1(image.float().contiguous().numpy().tobytes()).hexdigest()[:16]


@st.cache_resource(show_spinner=False, max_entries=4)
def _activations(network_key: str, digest: str, _network: Network, _image: torch.Tensor) -> dict[str, torch.Tensor]:
    # cache_resource, not cache_data: a big network's activations run to hundreds of MB and are only read
    return inspect.activations(_network.graph, _image)


def activations(network: Network, image: torch.Tensor) -> dict[str, torch.Tensor]:
    """Every layer's output for ``image`` (the model's input), computed once per network and image."""
    return _activations(network.key, image_key(image), network, image)


@st.cache_data(show_spinner="Measuring the famous networks...")
def famous_table() -> list[dict]:
    """The lecture's table of famous networks with this app's own counts (computed once per server)."""
    return famous.table()


def controls(settings: list[state.Setting], need_image: bool = True, model_bound: tuple[str, ...] = ()):
    """The pages' left column: the model and image pickers. Returns (view column, network, picked image);
    while the model (or a needed image) is missing, the page stops with a hint and keeps its link.
    ``model_bound``: keys of ``settings`` that name a part of the model (a layer...), reset on a switch."""
    left, view = layout.split("model_split", layout.CONTROLS_PX, layout.VIEW_MIN_PX)
    # the model beside the image where the controls sit above the view (a 1024 px projector), else one under the
    # other: stacked, they had pushed the view 400 px down
    model_cell, image_cell = layout.flow(2, layout.CONTROLS_PX, "model_controls", parent=left)
    resets = {s.key: s.default for s in settings if s.key in model_bound}
    state.bound_to_model([s.param for s in settings if s.key in model_bound])
    shown = _model_came(resets)
    with model_cell:
        network = pick_model(resets)
    state.keep(shown, st.session_state.get("net_model"))
    with image_cell:
        if need_image:
            picked = image_input.pick_image()
        else:  # folded: the page works without it, and the first thing a visitor changed changed nothing in view
            with st.expander("Your own image (optional)", icon=":material/add_photo_alternate:"):
                picked = image_input.pick_image()
    if isinstance(network, str) or (need_image and picked is None):
        state.publish(settings)
        view.info(network if isinstance(network, str) else "Choose an image to start.")
        st.stop()
    _layer_case(network, model_bound)
    return view, network, picked


def _layer_case(network: Network, keys: Sequence[str]) -> None:
    """A layer named in the link in other capitals ("Conv2", typed by hand from a slide) is the layer: names differ
    by more than case (else the page said "no layer `Conv2`" and showed another); a list's layers each."""
    names = {layer.name.lower(): layer.name for layer in network.layers}

    def named(value: Any) -> Any:
        if isinstance(value, str) and value not in names.values() and value.lower() in names:
            return names[value.lower()]
        return value

    for key in keys:
        value = st.session_state.get(key)
        if (made := [named(v) for v in value] if isinstance(value, list) else named(value)) != value:
            st.session_state[key] = made


def conversion_note(prepared: inputs.Prepared) -> None:
    """What was done to the picked image to make it the model's input, in one caption; nothing where it needed
    nothing. Unsaid, a 4000 x 300 photo cropped to its middle 64 x 64 seemed to be read whole."""
    if prepared.notes:
        st.caption("Converted: " + "; ".join(prepared.notes) + ".")


def trained_hint(network: Network, purpose: str) -> str:
    """"Switch on Trained weights to ``purpose``", or where trained weights come from when none ship with the model."""
    if network.spec.name not in models.names() or models.has_pretrained(network.spec.name):
        return f"Switch on **Trained weights** to {purpose}."
    return (f"No trained weights ship with {network.spec.title}: train it on the **Train** page (the run then "
            f"appears in the Model list), or pick LeNet-5 or TinyVGG, to {purpose}.")


def not_a_map_layer(layers: Sequence[Any], name: str, then: str) -> str:
    """Why the link's layer ``name`` cannot be used where feature maps are needed, and ``then`` what happens."""
    if name in {layer.name for layer in layers}:
        return f"{labels.code(name[:40])} has no feature maps (a fully connected layer sees the whole image): {then}."
    return f"This model has no layer {labels.code(name[:40])}: {then}."
