"""The Train page's "Initial weights": start a run from a trained network (the lecture's transfer learning)."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st
import torch

from explorer import architecture, labels, models, run_files, runs, worker
from explorer.ui import state
from explorer.ui.lab import accuracy_text, reuse

# A transfer that helps, measured with ``training.train`` on 2 CPU threads (seeds 0, 1, 2): from scratch 73.9%,
# 75.7%, 75.2%; new fully connected layers on the shipped MNIST LeNet-5's convolutions 78.5%, 78.7%, 77.7%
# (a new classifier alone: 64.3% at seed 0, too digit-minded; everything fine-tuned: 69.3%)
TRANSFER_EXAMPLE = {"data": "fashion-mnist", "model": "lenet5", "optimizer": "adamw", "lr": 0.003, "batch_size": 32,
                    "epochs": 5, "seed": 0, "augment": False, "train_images": 1000,
                    "transfer": {"from": "lenet5", "train": "convs"}}


def picker(config: dict, channels: int, listed: Sequence[runs.Run],
           settings: Sequence[state.Setting]) -> dict | None:
    """"Initial weights" (the lecture's transfer learning): a shipped model or a finished run (of ``listed``) of
    the same network, for images of ``channels`` channels; returns the config's ``transfer`` entry, or None to
    start from random weights.

    A button fills the page's ``settings`` with :data:`TRANSFER_EXAMPLE`, a transfer that beats training from scratch.
    """
    arch = config["model"]
    sources = {"": "random (from scratch)"}  # whole in the settings column at 1024 px
    if arch in architecture.REGISTRY_MODELS and models.has_pretrained(arch):
        sources[arch] = run_files.transfer_source(arch)
    sources.update((f"run:{r.id}", f"run: {r.name}") for r in listed
                   if r.status == "finished" and r.config.get("model") == arch
                   and r.config.get("layers") == config.get("layers"))
    if st.session_state.get("tr_from") not in sources:  # another network now, or a run deleted meanwhile
        if st.session_state.get("tr_from") and state.from_link("tr_from"):
            which = "run of these layers of yours" if arch == "custom" else labels.network(arch)
            state.link_ignored("from", st.session_state.tr_from, f"there is no finished {which} of that name on "
                               "this server; starting from random weights")
        st.session_state.tr_from = ""
    source = st.selectbox("Initial weights", list(sources), key="tr_from", format_func=sources.get,
                          help="Transfer learning: keep what a trained network learned and train new layers for "
                               "this data set's classes.")
    train = None
    if source:
        # with one fully connected layer (TinyVGG, the small ResNet) "convs" would be "head" again
        modes = [m for m in architecture.TRANSFER_MODES if m != "convs" or architecture.linear_layers(config) > 1]
        if st.session_state.get("tr_transfer") not in modes:
            st.session_state.tr_transfer = "head"
        train = st.radio("What to train", modes, key="tr_transfer", format_func=labels.TRANSFER.get)
        _transfer_notes(source, train, channels)
    st.button("Example: digits to clothes", key="tr_example", type="tertiary",
              icon=":material/school:", on_click=_example, args=(settings,),
              help="LeNet-5 on 1,000 Fashion-MNIST images, batch 32, 5 epochs: about 78% test accuracy with new "
                   "fully connected layers on the convolutions it learned on MNIST, about 75% from scratch. "
                   "Train it, then set Initial weights to random and train again to compare.")
    return {"from": source, "train": train} if source else None


def _transfer_notes(source: str, train: str, channels: int) -> None:
    """Where the run starts, and what the student will see differently: fixed filters, colour filters made to
    read grey (or back)."""
    notes = [f"Starts from {_source_name(source)}.",  # whole here: the box cuts a long name at 1024 px
             "The trained layers stay fixed, so the first layer's filters will not change while it trains."
             if train != "all" else "The trained layers learn at a tenth of the rate: the first layer's filters "
             "change slowly."]
    try:
        theirs = architecture.source_channels(source_weights(source))
    except architecture.ArchitectureError:
        theirs = None  # a run deleted meanwhile: the check before launch says so
    if theirs is not None and theirs != channels and 1 in (theirs, channels):
        notes.append("The trained network saw colour images and these are grey, so each of its first filters has "
                     "its red, green and blue weights summed." if channels == 1 else "The trained network saw grey "
                     "images and these are in colour, so each of its first filters is split evenly over red, green "
                     "and blue.")
    st.caption(" ".join(notes))


def _source_name(source: str) -> str:
    """The network a transfer starts from, a run with its test accuracy: "the run 'LeNet-5 on MNIST #2' (98.9%
    test accuracy)"."""
    name = run_files.transfer_source(source)
    if source.startswith("run:"):
        try:
            name += f" ({accuracy_text(runs.get(source[4:]))} test accuracy)"
        except (runs.RunNotFound, ValueError):
            pass  # deleted or damaged meanwhile: transfer_source says so
    return name


def _example(settings: Sequence[state.Setting]) -> None:
    reuse(TRANSFER_EXAMPLE, settings, from_fragment=False)


@st.cache_resource(ttl=60, max_entries=4, show_spinner=False)
def source_weights(name: str) -> dict[str, torch.Tensor]:
    """A transfer's source weights (``worker.trained_weights``), kept a minute: the page checks them on every rerun."""
    return worker.trained_weights(name)


def check(model: torch.nn.Module, transfer: dict) -> None:
    """Start ``model`` from the transfer's weights as the worker will, so a misfit is refused before launch."""
    architecture.transfer(model, source_weights(transfer["from"]), transfer["train"])
