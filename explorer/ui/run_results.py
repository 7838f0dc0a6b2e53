"""A trained run's results on the Train page: links that open it on the other pages, its confusion matrix and
example mistakes."""

from __future__ import annotations

import json

import streamlit as st

from explorer import architecture, models, mosaic, run_files, runs, train_figures, worker
from explorer.ui import charts, layout


def results(run: runs.Run, width_px: int) -> None:
    """A run's links to the other pages, then its confusion matrix and example mistakes, the latter sized for a
    view ``width_px`` wide."""
    look_inside(run)
    result = run_files.load_result(run.id)
    if result is None:
        return
    try:
        classes = run_files.model_spec(run.id).classes
    except ValueError as exc:  # its checkpoint's description damaged: the classes go unnamed
        st.warning(f"This run's results cannot be shown: {exc}.")
        return
    charts.show(st, train_figures.confusion_figure(result["confusion"], classes), key=f"tr_confusion_{run.id}")
    wrong = result["misclassified"].tolist()
    if wrong:
        test = _test_split(json.dumps(run.config, sort_keys=True))
        pictures = [test.images[i].float() / 255 for i in wrong]
        # on two lines, four a row: "T-shirt/top → automobile" stays whole in the view at 1024 px; sized for that
        # view (for 1400 px, it left a band half as tall as the picture under it there), centred in a wider one
        captions = [f"{classes[int(test.labels[i])]}\n→ {classes[int(p)]}"
                    for i, p in zip(wrong, result["misclassified_predicted"].tolist())]
        charts.show(st, mosaic.images_figure(pictures, captions, "Example mistakes (true → predicted)", cols=4,
                                             side=56, width_px=width_px, ink=layout.ink()),
                    key=f"tr_mistakes_{run.id}")


def look_inside(run: runs.Run) -> None:
    """Links that open the trained network on every page that takes a model (with a sample like its data)."""
    if not run_files.has_checkpoint(run.id):  # removed by hand, or a disk that filled up
        st.warning("This run's saved weights (its checkpoint) are missing, so the other pages cannot open it.")
        return
    st.markdown("**Look inside the trained network**")
    params = {"model": f"run:{run.id}", "img": models.sample_for(run.config.get("data")), "src": "sample"}
    # Layer by layer on the first convolution's filters, beside the hand-set kernels: what training made of them
    first = {"layer": conv, "tab": "Kernels"} if (conv := _first_conv(run.id)) else {}
    pages = [page for page in layout.PAGES if page.takes_model]
    row = st.container(horizontal=True, wrap=True, gap="small")  # each link as wide as its words: none is cut
    for page in pages:
        row.page_link(page.script, label=page.label, icon=page.icon,
                      query_params=params | (first if page.script == "pages/layer_by_layer.py" else {}))


@st.cache_data(max_entries=64, show_spinner=False)
def _first_conv(run_id: str) -> str | None:
    """The name of the run's first convolution (its network built once per run, not at each redraw of the page);
    None for a checkpoint card it cannot read, or a network with no convolution."""
    try:
        spec = run_files.model_spec(run_id)
        return worker.first_conv(architecture.build(runs.get(run_id).config, spec.input_shape, len(spec.classes)))
    except (ValueError, StopIteration, runs.RunNotFound):
        return None


@st.cache_resource(max_entries=2, show_spinner=False)
def _test_split(config_json: str):
    """The test images exactly as the run saw them (the result's indices point into them)."""
    return worker.splits(json.loads(config_json))[1]
