"""Why this prediction, "One pattern for every image": a universal perturbation (see :mod:`explorer.universal`)."""

from __future__ import annotations

import streamlit as st
import torch

from explorer import explain_figures, universal
from explorer.ui import charts, labelled, layout, memo
from explorer.ui.labelled import TEST_IMAGES, TRAIN_IMAGES
from explorer.ui.model_input import Network

STEPS, BATCH = 100, 32  # LeNet-5: 1.1 s on two CPU cores, TinyVGG 10 s; 200 steps of 64 fool a few points more
EXAMPLES = 3  # changed test images shown with their new reading (a row of small pictures)
DOMINANT = 0.4  # the share of changed images one class must take to be called dominant
HELP = (f"A universal adversarial perturbation (Moosavi-Dezfooli et al. 2017, who built it from DeepFool's steps): "
        f"one pattern, searched here as Shafahi et al. (2020) do, on {TRAIN_IMAGES:,} training images by {STEPS} "
        f"sign steps of the loss, then tested on {TEST_IMAGES:,} others. "
        "It needs the model's own data set on this server.")


def draw(network: Network, eps: float) -> None:
    """Find the perturbation on the training images (once per server and eps), then show what it does to the
    test images beside random noise of the same size."""
    try:
        train, test, _ = labelled.splits(network)
    except labelled.Unavailable as exc:
        st.info(f"No universal perturbation: {exc}")
        layout.server_details(exc.details)
        return

    def search(report: memo.Report) -> universal.Universal:
        delta = universal.perturbation(network.model, train[0].float() / 255, eps, STEPS, BATCH, progress=report)
        return universal.evaluate(network.model, delta, test[0].float() / 255, eps)

    result = memo.computed(
        "why_universal", (network.key, eps), search,
        lambda done, total: memo.counted(f"Searching one pattern on {TRAIN_IMAGES:,} training images", done, total,
                                         "steps"))
    delta, names = result.perturbation, network.spec.classes
    picture, chart = st.columns([1, 2])
    charts.show(picture, explain_figures.perturbation_figure(delta, eps, height=280, title="One pattern (±eps)"),
                key="why_fig_universal")
    charts.show(chart, explain_figures.fooling_figure(result, names), key="why_fig_fooling")
    st.markdown(_reading(result, names, eps))
    _examples(result, test[0], names)


def _reading(result: universal.Universal, names: tuple[str, ...], eps: float) -> str:
    """What the two bars and the class counts say, with this network's figures."""
    text = (f"The same pattern, added to each of {TEST_IMAGES:,} test images it was not found on, changes "
            f"**{result.fooling_rate:.0%}** of the predictions; random noise of the same size (±{eps:g} on every "
            f"pixel) changes {result.noise_fooling_rate:.0%}. ")
    fooled = result.after[result.after != result.before]
    top = int(torch.bincount(fooled).argmax()) if len(fooled) else 0
    share = float((fooled == top).float().mean()) if len(fooled) else 0.0
    if share >= DOMINANT:
        text += (f"{share:.0%} of the changed ones are now read as **{explain_figures.class_name(top, names)}**: a "
                 "universal pattern tends to draw one dominant class, as Moosavi-Dezfooli et al. (2017) found. ")
    return text + "Smaller eps, fewer changes: try the slider."


def _examples(result: universal.Universal, images: torch.Tensor, names: tuple[str, ...]) -> None:
    """A few changed test images, with the pattern added, titled "before → after"."""
    changed = (result.after != result.before).nonzero().flatten()[:EXAMPLES].tolist()
    if not changed:
        return
    st.markdown("A few of the test images it changes, with the pattern added:")
    width = layout.SMALL_PICTURE_PX
    for column, index in zip(layout.cells(EXAMPLES, width), changed):
        image = (images[index].float() / 255 + result.perturbation).clamp(0, 1)
        title = (f"{explain_figures.class_name(int(result.before[index]), names)} → "
                 f"{explain_figures.class_name(int(result.after[index]), names)}")
        charts.show(column, explain_figures.picture_figure(image, title, height=220, width_px=width),
                    key=f"why_fig_universal_{index}")
