"""Who is using the app: a random id that this browser keeps in a cookie.

The Train page marks the runs a browser started as "yours". A browser session ends on reload, so
the id lives in a first-party cookie: a small script writes it, and Streamlit hands the cookies of
the next connection to ``st.context.cookies``. The id is a label, not a credential: it only sorts
runs into yours and the others', and only its owner's page offers to rename or delete a run.

A server that sets ``EXPLORER_ADMIN_KEY`` lets whoever types that key (the teacher) manage every
run for the rest of the session: runs whose browser is gone can still be stopped and cleaned up.
"""

from __future__ import annotations

import hmac
import os
import re
import secrets
import threading
import time

import streamlit as st

COOKIE = "cnn_explorer_visitor"
MAX_AGE_S = 365 * 24 * 3600
ADMIN_ENV = "EXPLORER_ADMIN_KEY"
_ADMIN = "visitor_admin"
_CHECKING = threading.Lock()  # admin keys checked one at a time, server-wide (see admin_form)
_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")  # what new_id makes; anything else in the cookie is ignored


def new_id() -> str:
    """A fresh random id (24 URL-safe characters)."""
    return secrets.token_urlsafe(18)


def valid(text: str | None) -> bool:
    """Whether ``text`` has the shape of an id this module made (so it is safe to write into a script)."""
    return bool(text) and _ID.fullmatch(text) is not None


def _cookies() -> dict[str, str]:
    return dict(st.context.cookies)


def visitor_id() -> str:
    """This browser's id: the cookie's, else one made now for this session (kept by :func:`remember`)."""
    if "visitor_id" not in st.session_state:
        cookie = _cookies().get(COOKIE)
        st.session_state.visitor_id = cookie if valid(cookie) else new_id()
    return st.session_state.visitor_id


def may_change(owner: str) -> bool:
    """Whether this browser may cancel, resume, rename or delete a run of ``owner``.

    A run with no owner ("") was made outside the Train page (a script, a teacher's prepared demo): only the
    teacher's admin session may change it, else any student could delete the class's demo.
    """
    return (bool(owner) and owner == visitor_id()) or is_admin()


def owner_words(owner: str, doing: str) -> str:
    """Why this browser may not ``doing`` (e.g. "rename or delete") a run of ``owner``, in a caption's words."""
    if owner:
        return f"Started in another browser: only that browser can {doing} this run."
    if _admin_key():
        return f"Made outside this page, so nobody's: only a session with the server's admin key can {doing} it."
    return (f"Made outside this page, so nobody's: no browser can {doing} it (the server sets no admin key), so a "
            "class's prepared runs stay as they are.")


def _admin_key() -> str:
    return os.environ.get(ADMIN_ENV, "")


def is_admin() -> bool:
    """Whether this session typed the server's admin key (and the server still has one)."""
    return bool(_admin_key()) and st.session_state.get(_ADMIN) == _admin_key()


def admin_form() -> None:
    """Where the server has an admin key: a box to type it, after which this session may manage every run."""
    if not _admin_key():
        return
    with st.expander("Teacher: manage every run", icon=":material/admin_panel_settings:"):
        if is_admin():
            st.caption("This session may cancel, resume, rename and delete every run, until the page is reloaded.")
            if st.button("Stop managing every run", key="visitor_admin_off"):
                st.session_state.pop(_ADMIN, None)
                st.rerun()
            return
        with st.form("visitor_admin_form", border=False):
            typed = st.text_input("Admin key (set on the server as EXPLORER_ADMIN_KEY)", type="password",
                                  key="visitor_admin_key")
            if not st.form_submit_button("Manage every run"):
                return
        with _CHECKING:  # one key checked at a time on the whole server, a wrong one held a second: tabs or
            # sessions side by side guess no faster than one
            right = hmac.compare_digest(typed.encode(), _admin_key().encode())
            if not right:
                time.sleep(1.0)
        if right:
            st.session_state[_ADMIN] = typed
            st.rerun()
        st.error("That is not this server's admin key.")


def remember() -> None:
    """Store this session's id in the browser's cookie unless it came from there (an invisible script)."""
    me = visitor_id()
    if _cookies().get(COOKIE) == me:
        return
    secure = "(location.protocol === 'https:' ? '; Secure' : '')"
    st.html(f"<script>document.cookie = '{COOKIE}={me}; Path=/; Max-Age={MAX_AGE_S}; SameSite=Lax' + {secure};"
            "</script>", unsafe_allow_javascript=True, width="content")
