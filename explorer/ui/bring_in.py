"""The Train page's "Bring in a run": the zip a run's Download gave, from this server or another, made a run here
again (:mod:`explorer.run_import`), for a server whose disk was wiped by a restart or a run trained elsewhere."""

from __future__ import annotations

import hashlib

import streamlit as st

from explorer import labels, run_import, runs
from explorer.ui import layout, visitor

MOST_MB = 64  # the server's own upload limit (.streamlit/config.toml): a TinyVGG run's zip is about 20 MB
_DONE = "tr_brought"  # the upload this session has brought in already (a rerun keeps the file in the widget)
_SAID = "tr_brought_said"  # what to say on the run after bringing one in (its st.rerun shows it above)


def draw() -> None:
    """An uploader for a run's zip; a zip brought in becomes the run shown above, once per upload."""
    with st.expander("Bring in a run from its Download", icon=":material/upload:",
                     expanded=_SAID in st.session_state):
        if said := st.session_state.pop(_SAID, None):
            (st.success if said[0] else st.error)(said[1])
        st.caption("The zip a run's **Download** gave, on this server or another (a server restarted on a fresh "
                   "disk forgets its runs). Its weights must fit the network its settings build; its curves, "
                   "snapshots and confusion matrix come with it, and a stopped run's optimizer, so that it resumes where it "
                   "stopped. It becomes a run of yours here.")
        upload = st.file_uploader(f"A run's zip (at most {MOST_MB} MB)", type=["zip"], key="tr_bring_zip",
                                  max_upload_size=MOST_MB)
        if upload is None:
            st.session_state.pop(_DONE, None)  # the same zip uploaded again is answered again
            return
        data = upload.getvalue()
        digest = hashlib.sha256(data).hexdigest()
        if st.session_state.get(_DONE) == digest:
            return
        with layout.guard("bringing in the run"), st.spinner("Checking the run's files..."):
            st.session_state[_SAID] = _bring_in(data)
            st.session_state[_DONE] = digest  # not where the server failed (a full disk): the next rerun tries again
    if st.session_state.get(_DONE) == digest:
        st.rerun()  # the whole page: the run above, and in the list


def _bring_in(data: bytes) -> tuple[bool, str]:
    """(brought in, what to say): the run shown above and counted as this browser's, or why not."""
    before = {r.id for r in runs.list_runs()}
    try:
        run, dropped = run_import.bring_in(data, visitor.visitor_id(), limit=not visitor.is_admin())
    except run_import.ImportRefused as exc:
        return False, f"This file cannot be brought in: {exc}."
    except runs.TooManyBroughtIn as exc:
        return False, str(exc)
    st.session_state.tr_run, st.session_state.tr_snap = run.id, -1
    mine = st.session_state.setdefault("tr_mine", [])
    if run.id not in mine:
        mine.append(run.id)
    name = labels.md_text(run.name)
    if run.id in before:
        return True, f"This zip is here already, as **{name}** (`{run.id}`): shown above."
    left = f" Left out: {labels.listed(dropped)}." if dropped else ""  # each item says why
    return True, f"Brought in **{name}** as run `{run.id}` ({run.status}): shown above.{left}"
