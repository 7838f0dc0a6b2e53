"""Results kept per server under a progress bar (explorer.ui.memo), driven by AppTest scripts."""

from streamlit.testing.v1 import AppTest


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
    at = AppTest.from_function(_script)
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
