"""The Layer by layer tab that probes every layer with a linear classifier (see :mod:`explorer.probes`)."""

from __future__ import annotations

import streamlit as st

from explorer import data, figures, inputs, labels, probes
from explorer.ui import memo
from explorer.ui.model_input import Network

TRAIN_IMAGES, TEST_IMAGES = 3000, 1000


@st.cache_resource(show_spinner="Loading the images...", max_entries=2)
def _splits(data_name: str, input_shape: tuple[int, int, int], _network: Network) -> tuple[tuple, tuple, int]:
    """(train images, labels), (test images, labels) fitted to the model's input, and the number of classes."""
    train = data.load(data_name).subset(TRAIN_IMAGES)
    test = data.load(data_name, train=False).subset(TEST_IMAGES)
    fitted = [(inputs.fit_batch(split.images, _network.spec), split.labels) for split in (train, test)]
    return fitted[0], fitted[1], len(train.classes)


def draw(network: Network) -> None:
    """The probes' chart and what it says, or why there are none (no labelled data set for this model here)."""
    name = network.spec.data
    if name not in data.NAMES:
        st.info("Probing needs labelled images of the data set the model was trained on, and this one has none "
                "here (ImageNet is not on this server; the small ResNet has no trained weights until you train it): "
                "pick LeNet-5, TinyVGG or a run trained on the Train page.")
        return
    try:
        train, test, classes = _splits(name, network.spec.input_shape, network)
    except data.DataUnavailable as exc:
        st.info(f"No probes: {exc}")
        return
    layers = probes.probe_layers(list(network.layers))
    result = memo.computed(
        "lbl_probes", (network.key, name),
        lambda report: probes.probe(network.model, layers, train, test, classes, progress=report),
        lambda done, total: f"Training the classifier on {layers[done - 1]} (layer {done} of {total - 1})" if done
        else f"Reading {TRAIN_IMAGES + TEST_IMAGES:,} images through the network, then one classifier per layer")
    st.plotly_chart(figures.probe_figure(result, classes), key="lbl_fig_probes")
    best = max(result, key=lambda p: p.test_accuracy)
    st.markdown(
        f"Each point is a separate **linear classifier** (softmax regression) trained on {TRAIN_IMAGES:,} "
        f"{labels.DATA.get(name, name)} images, seeing only that layer's output, and tested on "
        f"{TEST_IMAGES:,} others. From the pixels it reaches **{100 * result[0].test_accuracy:.1f}%**; the best "
        f"layer, {best.layer}, **{100 * best.test_accuracy:.1f}%**. "
        + (_trained_reading() if network.pretrained else _random_reading(best, result[-1])))
    st.caption("Zeiler & Fergus 2014, the lecture's table (their ImageNet network's features, Caltech-101, 30 "
               "images per class): " + ", ".join(f"{k} {v}%" for k, v in probes.ZEILER_FERGUS_CALTECH101.items())
               + f". (Here, maps larger than {probes.MAX_FEATURES:,} values are average-pooled first.)")



def _trained_reading() -> str:
    return ("A trained network turns the pixels into features a straight line can separate: the deeper, the "
            "better, as Zeiler & Fergus found.")


def _random_reading(best: probes.Probe, last: probes.Probe) -> str:
    """Why random layers help a little and then lose the class, with this network's own figures."""
    fading = (f" Past {best.layer} the class fades, down to **{100 * last.test_accuracy:.1f}%** at {last.layer}: "
              "a random map to fewer values drops differences between the classes that nothing taught it to keep."
              if last.test_accuracy < best.test_accuracy - 0.05 else "")
    return ("These are random weights. A first random layer with ReLU spreads the pixels over more values, "
            "which a straight line can use, so it can beat the pixels themselves." + fading
            + " Switch *Trained weights* on to see what training adds.")
