"""Results kept per server under a progress bar (explorer.ui.memo), driven by AppTest scripts."""

import threading

from streamlit.testing.v1 import AppTest

from tests.apptest import TIMEOUT, held_sessions


def _script():
    import streamlit as st

    from explorer.ui import memo

    calls = st.session_state.setdefault("calls", [])
    key = st.query_params.get("key", "a")

    def compute(report):
        calls.append(key)
        for done in range(1, 4):
            report(done, 3)
        return f"value of {key}"

    st.write(memo.computed("test_memo", key, compute, lambda done, total: f"{done} of {total}", keep=2))


def test_a_result_is_computed_once_then_remembered_and_the_oldest_dropped():
    at = AppTest.from_function(_script, default_timeout=TIMEOUT)
    at.query_params["key"] = "a"
    at.run()
    assert not at.exception and at.markdown[0].value == "value of a"
    assert at.session_state.calls == ["a"]
    assert not at.get("progress")  # the bar is gone once the result is in
    at.run()
    assert at.session_state.calls == ["a"]  # remembered
    for key in ("b", "c", "a"):  # keep=2: "a" was dropped by "c" and is computed again
        at.query_params["key"] = key
        at.run()
    assert at.session_state.calls == ["a", "b", "c", "a"] and at.markdown[0].value == "value of a"


def test_a_progress_text_counts_only_once_the_total_is_known():
    from explorer.ui import memo

    assert memo.counted("Covering the image", 0, 0, "covered images read") == "Covering the image..."
    assert memo.counted("Covering the image", 3, 1200, "covered images read") == (
        "Covering the image: 3 of 1,200 covered images read")


# --- sessions asking for one result at once -------------------------------------------------
CALLS: list[str] = []  # the computations started, in every session
GATE = threading.Event()  # holds the first computation until the other session is waiting for it


def _held_script():
    import streamlit as st

    from explorer.ui import memo
    from tests.test_ui_memo import CALLS, GATE

    def compute(report):
        CALLS.append(st.query_params["who"])
        if len(CALLS) == 1:  # the first session's: held, then cut off or finished as the test says
            report(1, 4)
            GATE.wait(30)
            if st.query_params.get("cut") == "1":
                raise RuntimeError("the visitor moved on")
        return f"computed by {CALLS[-1]}"

    st.write(memo.computed("test_memo_held", st.query_params["cut"], compute, lambda d, t: f"{d} of {t}"))


def test_sessions_asking_for_one_result_at_once_wait_for_a_single_computation():
    first, second = held_sessions(_held_script, CALLS, GATE, cut="0")
    assert CALLS == ["a"]
    assert first.markdown[0].value == second.markdown[0].value == "computed by a"
    assert not second.get("progress")


def test_when_the_computing_session_stops_a_waiting_one_computes_it():
    first, second = held_sessions(_held_script, CALLS, GATE, cut="1")
    assert CALLS == ["a", "b"] and first.exception
    assert second.markdown[0].value == "computed by b" and not second.exception
