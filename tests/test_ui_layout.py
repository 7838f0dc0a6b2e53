"""The pages' scaffolding (explorer.ui.layout): errors inside a guarded part become a message that says what to do."""

import pytest
from streamlit.testing.v1 import AppTest

from tests.apptest import TIMEOUT


def _script():
    import streamlit as st
    import torch

    from explorer.ui import layout

    errors = {"gpu": torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"),
              "ram": MemoryError(), "other": ValueError("the layer has no maps")}
    with layout.guard("finding the top activations"):
        raise errors[st.query_params["error"]]
    st.write("the rest of the page")


@pytest.mark.parametrize(("error", "said"), [
    ("gpu", "The server's GPU ran out of memory while finding the top activations; training runs may be using it"),
    ("ram", "The server ran out of memory while finding the top activations. Pick a smaller network"),
    ("other", "Something went wrong while finding the top activations: the layer has no maps."),
])
def test_an_error_in_a_guarded_part_is_said_in_words_and_the_page_goes_on(error, said):
    at = AppTest.from_function(_script, default_timeout=TIMEOUT)
    at.query_params["error"] = error
    at.run()
    assert not at.exception and said in at.error[0].value
    assert at.markdown[0].value == "the rest of the page"
