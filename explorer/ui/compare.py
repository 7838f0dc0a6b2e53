"""The Train page's comparison of runs: their learning curves in one figure, their first-layer filters side by
side."""

from __future__ import annotations

import streamlit as st

from explorer import figures, labels, mosaic, run_files, run_metrics, runs, train_figures
from explorer.ui import charts, lab, layout, state


def _label(run: runs.Run) -> str:
    """The run's name, and how its first layer started when that was by hand."""
    init = run.config.get("init") or {}
    if not init.get("kernels"):
        return run.name
    return f"{run.name} (hand-set first filters{', frozen' if init.get('frozen') else ''})"


COMPARED = 6  # runs in one comparison: more colours and filter mosaics than that are hard to tell apart
FILTERS_PX = 260  # a run's filters: its name in a 14 px title, and the picture at a size to see the weights


def draw(listed: list[runs.Run]) -> None:
    """Chosen runs' curves in one figure and their first-layer filters side by side (last snapshots)."""
    every = {r.id: r for r in listed}
    asked = st.session_state.get("tr_compare", [])
    unknown = [i for i in asked if i not in every]  # deleted runs, or a link's mistyped ones
    if unknown and state.from_link("tr_compare"):
        state.link_ignored("compare", ",".join(unknown), f"{'no run has' if len(unknown) == 1 else 'no runs have'} "
                           f"{'that id' if len(unknown) == 1 else 'those ids'} on this server")
    st.session_state.tr_compare = [i for i in asked if i in every]
    if len(st.session_state.tr_compare) > COMPARED:
        if state.from_link("tr_compare"):
            state.link_ignored("compare", ",".join(st.session_state.tr_compare[COMPARED:]),
                               f"at most {COMPARED} runs are compared: the first {COMPARED} are shown")
        del st.session_state.tr_compare[COMPARED:]
    if len(every) < 2:
        return
    chosen = st.multiselect("Compare runs", list(every), key="tr_compare", max_selections=COMPARED,
                            format_func=lambda i: f"{_label(every[i])} ({i})",
                            help="Hand-set against learned first filters, one optimizer against another...")
    if not chosen:
        return
    picked = [every[i] for i in chosen]
    smoothing, x, log_loss = lab.curve_view()  # as the run's curves above
    charts.show(st, train_figures.comparison_figure(  # plotly reads <b>, <a href>... in a name: escaped
        [(labels.plot_text(_label(r)), run_metrics.read(r.id)) for r in picked], smoothing=smoothing, x=x,
        log_loss=log_loss), key="tr_compare_fig")
    if smoothing:
        st.caption(f"The training losses smoothed by {smoothing:g}, as TensorBoard smooths (the slider above a run's "
                   "curves); the test accuracies as they were.")
    last = [(r, steps[-1]) for r in picked if (steps := run_files.snapshot_steps(r.id))]
    # each at least FILTERS_PX wide, so a run's name on its own line is whole ("LeNet-5 on Fashion-MNIST #1")
    for place, (run, step) in zip(layout.flow(len(last), FILTERS_PX, "tr_compare_filters"), last):
        try:
            filters = run_files.load_snapshot(run.id, step)["filters"]
        except ValueError as exc:  # a damaged snapshot: the other runs' filters still show
            place.caption(f"{labels.md_text(run.name)}: its filters cannot be shown: {exc}.")
            continue
        title = figures.subtitled(labels.plot_text(run.name), f"first-layer filters, step {step:,}")
        charts.show(place, mosaic.kernels_figure(filters, title, height=300, width_px=FILTERS_PX),
                    key=f"tr_compare_filters_{run.id}_{step}")
