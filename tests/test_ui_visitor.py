"""This browser's id (explorer.ui.visitor): read from its cookie, or made and written into it."""

from streamlit.testing.v1 import AppTest

from explorer.ui import visitor
from tests.apptest import TIMEOUT


def _script():
    import streamlit as st

    from explorer.ui import visitor

    st.write(visitor.visitor_id())
    visitor.remember()


def _scripts(at: AppTest) -> list[str]:
    return [element.proto.body for element in at.get("html")]


def test_a_new_browser_gets_an_id_that_a_script_stores_in_its_cookie(monkeypatch):
    monkeypatch.setattr(visitor, "_cookies", dict)
    at = AppTest.from_function(_script).run()
    me = at.markdown[0].value
    assert visitor.valid(me) and not at.exception
    (script,) = _scripts(at)
    assert f"document.cookie = '{visitor.COOKIE}={me}; Path=/;" in script and "SameSite=Lax" in script
    at.run()
    assert at.markdown[0].value == me  # the same id for the whole session
    assert visitor.new_id() != visitor.new_id()


def test_a_browser_with_the_cookie_keeps_its_id_and_nothing_is_written(monkeypatch):
    monkeypatch.setattr(visitor, "_cookies", lambda: {visitor.COOKIE: "A" * 24})
    at = AppTest.from_function(_script).run()
    assert at.markdown[0].value == "A" * 24 and not _scripts(at)


def test_a_cookie_that_is_not_an_id_is_replaced_never_written_into_the_script(monkeypatch):
    bad = "x'; alert(1); '" + "y" * 20
    monkeypatch.setattr(visitor, "_cookies", lambda: {visitor.COOKIE: bad})
    at = AppTest.from_function(_script).run()
    me = at.markdown[0].value
    assert me != bad and visitor.valid(me)
    assert bad not in _scripts(at)[0] and me in _scripts(at)[0]
    for text in ("", None, "short", "a" * 65, "with space" * 3):
        assert not visitor.valid(text)


def test_only_the_owner_may_change_a_run_and_a_run_made_outside_the_page_only_the_admin(monkeypatch):
    """A run with no owner (a script's, a teacher's prepared demo) was anyone's: a student could delete it."""
    monkeypatch.setattr(visitor, "_cookies", lambda: {visitor.COOKIE: "B" * 24})

    def script():
        import streamlit as st

        from explorer.ui import visitor

        st.write(str([visitor.may_change(owner) for owner in ("", "B" * 24, "C" * 24)]))
        st.write(visitor.owner_words("", "rename or delete"))

    at = AppTest.from_function(script, default_timeout=TIMEOUT).run()
    assert at.markdown[0].value == "[False, True, False]"
    assert "no browser can rename or delete it (the server sets no admin key)" in at.markdown[1].value
    monkeypatch.setenv(visitor.ADMIN_ENV, "k" * 32)
    at.session_state[visitor._ADMIN] = "k" * 32
    at.run()
    assert at.markdown[0].value == "[True, True, True]"
    assert "only a session with the server's admin key can rename or delete it" in at.markdown[1].value
