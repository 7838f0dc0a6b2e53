"""Who is using the app: a random id that this browser keeps in a cookie.

The Train page marks the runs a browser started as "yours". A browser session ends on reload, so
the id lives in a first-party cookie: a small script writes it, and Streamlit hands the cookies of
the next connection to ``st.context.cookies``. The id is a label, not a credential: it only sorts
runs into yours and the others', and only its owner's page offers to rename or delete a run.
"""

from __future__ import annotations

import re
import secrets

import streamlit as st

COOKIE = "cnn_explorer_visitor"
MAX_AGE_S = 365 * 24 * 3600
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
    """Whether this browser may cancel, resume, rename or delete a run of ``owner`` ("" is nobody's)."""
    return owner in ("", visitor_id())


def remember() -> None:
    """Store this session's id in the browser's cookie unless it came from there (an invisible script)."""
    me = visitor_id()
    if _cookies().get(COOKIE) == me:
        return
    secure = "(location.protocol === 'https:' ? '; Secure' : '')"
    st.html(f"<script>document.cookie = '{COOKIE}={me}; Path=/; Max-Age={MAX_AGE_S}; SameSite=Lax' + {secure};"
            "</script>", unsafe_allow_javascript=True, width="content")
