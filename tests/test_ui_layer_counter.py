"""The parameter counter (explorer.ui.layer_counter): its fold follows the link."""

import json

from streamlit.testing.v1 import AppTest

from tests.apptest import TIMEOUT


def _fold(query: dict[str, str], folded_by_hand: bool = False) -> tuple[bool, dict[str, str]]:
    def script():
        import json

        import streamlit as st

        from explorer.ui import layer_counter, state

        state.restore(layer_counter.settings())
        layer_counter.open_for_link()
        if st.session_state.get("fold_by_hand"):
            st.session_state.kl_count_open = False
        st.write(f"{st.session_state.kl_count_open}|{json.dumps(layer_counter.url_extra())}")

    at = AppTest.from_function(script, default_timeout=TIMEOUT)
    at.query_params.update(query)
    at.session_state["fold_by_hand"] = folded_by_hand
    opened, extra = at.run().markdown[0].value.split("|")
    return opened == "True", json.loads(extra)


def test_a_link_with_numbers_opens_the_fold_unless_it_says_count_0():
    assert _fold({}) == (False, {})  # the lecture's example, folded: nothing to say
    assert _fold({"nf": "5"}) == (True, {})
    assert _fold({"nf": "5", "count": "0"}) == (False, {"count": "0"})


def test_numbers_folded_by_hand_write_count_0_so_the_link_stays_folded():
    assert _fold({"nk": "32"}, folded_by_hand=True) == (False, {"count": "0"})
