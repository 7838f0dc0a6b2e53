"""The Layer by layer tab that probes every layer with a linear classifier (see :mod:`explorer.probes`)."""

from __future__ import annotations

import streamlit as st

from explorer import figures, labels, probes
from explorer.ui import charts, labelled, layout, memo, model_input
from explorer.ui.labelled import TEST_IMAGES, TRAIN_IMAGES
from explorer.ui.model_input import Network


def draw(network: Network) -> None:
    """The probes' chart and what it says, or why there are none (no labelled data set for this model here)."""
    name = network.spec.data
    try:
        train, test, classes = labelled.splits(network)
    except labelled.Unavailable as exc:
        st.info(f"No probes: {exc}")
        layout.server_details(exc.details)
        return
    layers = probes.probe_layers(list(network.layers))
    asked = st.session_state.setdefault(_ASKED, set())
    if not memo.known("lbl_probes", (network.key, name)) and network.key not in asked:
        # half a minute of work on a small server: a model chosen while the tab was open started it unasked
        st.markdown(f"One linear classifier per layer ({len(layers)} of them) is trained on {TRAIN_IMAGES:,} images: "
                    "some seconds on a GPU, about half a minute on a small CPU server. Once done, every visitor "
                    "of this server sees it at once.")
        st.button("Train the probes", key="lbl_probe_go", icon=":material/play_arrow:", on_click=asked.add,
                  args=(network.key,))
        return
    result = memo.computed(
        "lbl_probes", (network.key, name),
        lambda report: probes.probe(network.model, layers, train, test, classes, progress=report),
        lambda done, total: f"Training the classifier on {layers[done - 1]} (layer {done} of {total - 1})" if done
        else f"Reading {TRAIN_IMAGES + TEST_IMAGES:,} images through the network, then one classifier per layer")
    charts.show(st, figures.probe_figure(result, classes), key="lbl_fig_probes")
    best = max(result, key=lambda p: p.test_accuracy)
    st.markdown(
        f"Each point is a separate **linear classifier** (softmax regression) trained on {TRAIN_IMAGES:,} "
        f"{labels.DATA.get(name, name)} images, seeing only that layer's output, and tested on "
        f"{TEST_IMAGES:,} others. From the pixels it reaches **{100 * result[0].test_accuracy:.1f}%**; the best "
        f"layer, {best.layer}, **{100 * best.test_accuracy:.1f}%**. "
        + (_trained_reading() if network.pretrained else _random_reading(best, result[-1], network)))
    lecture = probes.ZEILER_FERGUS_CALTECH101
    # a row per layer: as a row of six columns it was 481 px wide, and a phone's page scrolled sideways
    st.markdown("**The lecture's table** (Zeiler & Fergus 2014: their ImageNet network's features, a linear SVM "
                "on Caltech-101 with 30 images per class; their softmax classifier, the kind used here, read 82.9% "
                "off layer 5 and 85.4% off layer 7):\n\n| layer | test accuracy |\n|---|---:|\n"
                + "\n".join(f"| {k.removeprefix('layer ')} | {v}% |" for k, v in lecture.items()))
    st.caption(f"Here, maps larger than {probes.MAX_FEATURES:,} values are average-pooled first.")


_ASKED = "lbl_probes_asked"  # the models whose probes this session asked for


def _trained_reading() -> str:
    return ("A trained network turns the pixels into features a straight line can separate, better and better "
            "with depth on the whole, as Zeiler & Fergus found. " + _TRAINING_LINE)


_TRAINING_LINE = ("The dotted line is each classifier's accuracy on its own training images: the gap down to the "
                  "test line is what it memorised rather than learned.")


def _random_reading(best: probes.Probe, last: probes.Probe, network: Network) -> str:
    """Why random layers help a little and then lose the class, with this network's own figures."""
    fading = (f" Past {best.layer} the class fades, down to **{100 * last.test_accuracy:.1f}%** at {last.layer}: "
              "a random map to fewer values drops differences between the classes that nothing taught it to keep."
              if last.test_accuracy < best.test_accuracy - 0.05 else "")
    return ("These are random weights. A first random layer with ReLU spreads the pixels over more values, "
            "which a straight line can use, so it can beat the pixels themselves." + fading
            + " " + model_input.trained_hint(network, "see what training adds") + " " + _TRAINING_LINE)
