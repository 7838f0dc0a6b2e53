"""The Train page's runs on this server: the shared queue, the list (yours marked), and one run's actions (show,
download, rename, delete); damaged run folders named, and removed by the teacher."""

from __future__ import annotations

import hashlib

import streamlit as st

from explorer import labels, run_files, runs
from explorer.ui import lab, layout, run_results, run_status, visitor


def _row(run: runs.Run, yours: bool) -> dict:
    """A run's line in the table of runs: what it is, how it did, and the settings runs differ in most (TensorBoard's
    hyperparameter table: sort by a column to line them up)."""
    config = run_files.with_defaults(run.config)
    return {"run": run.name, "status": run_status.shown(run), "yours": "yes" if yours else "",
            "data": labels.data(config.get("data")), "network": labels.network(config.get("model")),
            "test accuracy": lab.accuracy_text(run), "optimizer": labels.optimizer(config["optimizer"]),
            "learning rate": config["lr"], "batch": config["batch_size"], "epochs": config["epochs"],
            "seed": config["seed"], "id": run.id}


def _rename(run_id: str) -> None:
    """Rename the picked run (a callback: the picker is drawn after it, with the new name)."""
    name = st.session_state.get(f"tr_name_{run_id}", "").strip()
    if name:
        runs.rename(run_id, name)
        st.session_state[lab.WHOLE_PAGE] = True  # the run view and the comparison outside this fragment show it too


def _picked(widget: str) -> None:
    st.session_state.tr_pick = st.session_state[widget]


def _run_picker(labels: dict[str, str]) -> str:
    """The "Run" selectbox; the choice is ``st.session_state.tr_pick``.

    Streamlit 1.67's browser side keeps showing the old label of the chosen option after a rename,
    so the widget's key carries a digest of the labels: new labels, a new widget.
    """
    widget = "tr_pick_" + hashlib.sha256("\n".join(labels.values()).encode()).hexdigest()[:12]
    if st.session_state.get("tr_pick") not in labels:
        st.session_state.tr_pick = next(iter(labels))
    st.session_state[widget] = st.session_state.tr_pick
    return st.selectbox("Run", list(labels), key=widget, format_func=labels.get, on_change=_picked, args=(widget,))


def _damaged() -> None:
    """The run folders the list passes over (damaged or unreadable files), named; the teacher's session (the
    server's admin key) may remove them, which no page could."""
    found = runs.damaged()
    if not found:
        return
    if not visitor.is_admin():
        one = len(found) == 1
        st.caption(f"{len(found)} run {labels.plural(len(found), 'folder')} on this server {'has' if one else 'have'} "
                   f"damaged or unreadable files and {'is' if one else 'are'} not listed: the teacher can see why "
                   f"with the server's admin key, and remove {'it' if one else 'them'}.")
        return
    with st.expander(f"Damaged run folders ({len(found)}): not listed, not usable", icon=":material/warning:"):
        for run_id, why in found.items():
            row = st.container(horizontal=True, vertical_alignment="center", gap="small")
            row.markdown(why.replace(f"run {run_id}", f"Run `{run_id}`", 1) + ".")  # the reason names the run
            if row.button("Remove", key=f"tr_rm_{run_id}", help="Deletes the folder and all its files. Files the "
                          "server may not read (Permission denied) may be whole: whoever runs the server can give "
                          "them back to its user instead."):
                runs.delete_damaged(run_id)
                st.rerun()


def run_lists(only_mine: bool) -> None:
    """The run list, redrawn every 2 s while any run on the server is queued or running, and apart from it (in a
    fragment of its own) the actions on one run: a Download clicked as its button was drawn again asked for a file
    that was gone (1 click in 8). When a run comes, goes or changes status, the whole page is drawn again, the
    actions with it (a run that finished meanwhile kept its Delete disabled and had no Download)."""

    listed = runs.list_runs()  # read again here: a run that Train just started is not in the page's list

    @st.fragment(run_every=2.0 if any(r.active for r in listed) else None)
    def run_list() -> None:
        every = runs.list_runs()
        if _changed(every) and st.session_state.get("tr_run_list_ticks") and not _held(every):
            st.rerun()  # from a tick of this fragment: the whole page
        st.session_state.tr_run_list_ticks = True
        with layout.guard("listing the runs"):
            runs_section(every, visitor.visitor_id(), only_mine)

    @st.fragment
    def actions() -> None:
        with layout.guard("showing the run's actions"):
            run_actions(runs.list_runs(), visitor.visitor_id(), only_mine)

    st.session_state.tr_run_list_ticks = False  # a whole page's run: what the fragment sees next is not a change
    _changed(listed)
    run_list()
    actions()


def _held(every: list[runs.Run]) -> bool:
    """Whether this browser holds the view of a run still training ("Follow it live" off): other runs coming and
    going redraw the list alone, not the whole page with it (a held view had jumped to the run's present)."""
    shown = st.session_state.get("tr_run")
    return not lab.following() and any(r.id == shown and r.active for r in every)


def _changed(every: list[runs.Run]) -> bool:
    """Whether the runs (their ids, names, statuses, and a running run's first checkpoint: its Download) differ from
    those this session last drew; remembers them."""
    seen = tuple((r.id, r.name, r.status, r.active and run_files.has_checkpoint(r.id)) for r in every)
    changed = st.session_state.get("tr_runs_seen") != seen
    st.session_state.tr_runs_seen = seen
    return changed


def runs_section(every: list[runs.Run], me: str, only_mine: bool) -> None:
    """The shared queue and the runs on this server (yours marked, or only yours): what redraws while runs train."""
    lab.whole_page_if_asked()
    queue = run_status.backend().queue()
    waiting = ", ".join(f"{labels.md_text(r.name)} ({run_status.shown(r)})" for r in queue)
    st.caption(f"Queue: {waiting or 'empty'}. Everyone using this server shares it.")
    _damaged()
    if not every:
        st.caption("No runs yet.")
    elif not (listed := _listed(every, me, only_mine)):
        st.caption("None of the runs on this server was started in this browser.")
    else:
        st.dataframe([_row(r, r.owner == me) for r in listed], hide_index=True, key="tr_runs")


def _listed(every: list[runs.Run], me: str, only_mine: bool) -> list[runs.Run]:
    return [r for r in every if r.owner == me] if only_mine else every


def run_actions(every: list[runs.Run], me: str, only_mine: bool) -> None:
    """A run of the list (yours, or only yours) to show, download, rename or delete."""
    lab.whole_page_if_asked()
    by_id = {r.id: r for r in _listed(every, me, only_mine)}
    if not by_id:
        return
    shown = st.session_state.get("tr_run")
    if shown in by_id and st.session_state.get("tr_pick_follows") != shown:  # a new run shown above: pick it here
        st.session_state.tr_pick = st.session_state.tr_pick_follows = shown
    chosen = _run_picker({i: f"{r.name} ({i})" for i, r in by_id.items()})
    run = by_id[chosen]
    # buttons as wide as their words in a row that wraps, the name box on a row of its own: four columns left the
    # box 130 px at 1024 px
    actions = st.container(horizontal=True, wrap=True, gap="small")
    if actions.button("Show it above", key="tr_show"):
        st.session_state.tr_run = chosen
        st.rerun()
    _download(actions, run)
    if not visitor.may_change(run.owner):  # a classmate's run: look, compare, download, but leave it be
        st.caption(visitor.owner_words(run.owner, "rename or delete"))
        return
    delete = actions.popover("Delete", disabled=run.active, help="Cancel a running run first." if run.active else None)
    naming = st.container(horizontal=True, vertical_alignment="bottom", gap="small")
    naming.text_input("New name", run.name, key=f"tr_name_{chosen}", max_chars=80)
    naming.button("Rename", key="tr_rename", on_click=_rename, args=(chosen,))
    with delete:
        st.markdown(f"Delete **{labels.md_text(run.name)}** with its checkpoint, snapshots and curves? It cannot be "
                    "undone, and it is gone for everyone on this server.")
        if st.button("Delete it", key="tr_delete", type="primary"):
            runs.delete(chosen)
            if st.session_state.get("tr_run") == chosen:
                st.session_state.tr_run, st.session_state.tr_snap = "", -1  # its snapshot goes with it
            st.rerun()


def _download(place, run: runs.Run) -> None:
    """The run's Download, where it has trained weights (the zip is made when clicked, not on every rerun)."""
    if run_files.has_checkpoint(run.id):
        place.download_button("Download", lambda: run_files.export(run.id), icon=":material/download:",
                              help="A zip: the final weights (safetensors), model.py that rebuilds the network in "
                                   "plain PyTorch, a README on what goes in and out, the settings, the metrics, and "
                                   "the weights kept at epochs 0 (untrained), 1, 2, 5, 10, ..., and the snapshots. "
                                   "**Bring in a run** on the Train page makes it a run again, here or on another "
                                   "server.",
                              file_name=f"{labels.file_stem(run.name, tagged=False)}-{run.id}.zip",
                              mime="application/zip", key="tr_download",
                              on_click="ignore")  # a rerun on the click drew the button
                              # again under a new file id while the browser asked for the old one: no zip


def read_only() -> None:
    """The runs of a store this server may not write (a read-only folder, a full disk): each to download or open on
    the other pages, all a visitor can still get of them; nothing that writes (training, renaming, deleting)."""
    with layout.guard("listing the runs"):
        every = runs.list_runs()
        if not every:
            return
        st.subheader("Runs on this server")
        me = visitor.visitor_id()
        st.dataframe([_row(r, r.owner == me) for r in every], hide_index=True, key="tr_runs")
        chosen = _run_picker({r.id: f"{r.name} ({r.id})" for r in every})
        run = next(r for r in every if r.id == chosen)
        _download(st, run)
        if run.status == "finished":
            run_results.look_inside(run)
