"""Top activations over training: a run's channel, its top patches at each epoch the run kept (the lecture's
Zeiler & Fergus figure of feature evolution)."""

from __future__ import annotations

import streamlit as st
from torch import nn

from explorer import mosaic, run_files, top_activations
from explorer.ui import charts, layout, memo
from explorer.ui.image_sets import ImageSet
from explorer.ui.model_input import Network


@st.cache_resource(show_spinner=False, max_entries=12)
def _model_at(run_id: str, epoch: int) -> nn.Module:
    return run_files.build_model(run_id, epoch=epoch).requires_grad_(False)


def draw(network: Network, layer: str, channel: int, images_set: ImageSet, lowest: bool = False) -> None:
    """The channel's top patches at every kept epoch, one row each (``lowest``: the patches that drive it down
    most); a note for runs that kept none."""
    run_id = network.spec.name.removeprefix("run:")
    epochs = run_files.saved_epochs(run_id)
    st.subheader(f"Channel {channel} over training")
    if len(epochs) < 2:
        st.caption("This run kept no weights along the way (runs trained before this view existed): train it "
                   "again to see its channels form.")
        return
    results = memo.computed(
        "ta_epochs", (run_id, layer, images_set.data_id, tuple(epochs), lowest),
        lambda report: _every_epoch(run_id, epochs, layer, images_set, report, lowest),
        lambda done, total: memo.counted(f"Finding the {'lowest' if lowest else 'top'} 9 at each of {len(epochs)} "
                                         "epochs", done, total, "images"),
        keep=16)
    rows = [top_activations.patches(result, images_set.images, _model_at(run_id, epoch), images_set.size, channel)
            for epoch, result in zip(epochs, results)]
    charts.show(st, mosaic.rows_figure(rows, [f"epoch {e}" if e else "untrained" for e in epochs],
                                       f"Its {'lowest' if lowest else 'top'} {results[0].k} patches before training "
                                       "and at the end of each kept epoch",
                                       width_px=layout.VIEW_PX), key="ta_epochs")
    st.caption("Random filters, before training, have favourites too. Zeiler & Fergus "
               "saw the lower layers' channels settle within a few epochs and the upper ones only after many; "
               "the same channel index is the same filter at every epoch.")


def _every_epoch(run_id: str, epochs: list[int], layer: str, images_set: ImageSet, report: memo.Report,
                 lowest: bool) -> list[top_activations.TopActivations]:
    count = len(images_set.images)
    results = []
    for i, epoch in enumerate(epochs):
        results.append(top_activations.cached_compute(
            _model_at(run_id, epoch), layer, images_set.images, images_set.data_id,
            progress=lambda done, _, i=i: report(i * count + done, len(epochs) * count), lowest=lowest))
    return results
