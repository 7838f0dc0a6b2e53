"""The open tab of a page is in its link: a link opens on it, and switching tabs rewrites the link."""

import pytest

from tests.apptest import app, no_crash, warnings

PAGES = [("pages/kernel_lab.py", "kl_tab", "Numbers"),
         ("pages/layer_by_layer.py", "lbl_tab", "Kernels"),
         ("pages/receptive_fields.py", "rf_tab", "All layers")]


@pytest.mark.parametrize(("page", "key", "other"), PAGES)
def test_a_link_opens_on_its_tab_and_a_switch_goes_into_the_link(page, key, other):
    at = app(page, tab=other)
    no_crash(at)
    assert at.session_state[key] == other and at.query_params["tab"] in (other, [other])
    first = at.tabs[0].label
    assert other in [tab.label for tab in at.tabs] and first != other
    at.session_state[key] = first  # what a click on the first tab does
    at.run()
    assert "tab" not in at.query_params  # the default tab leaves the link short


@pytest.mark.parametrize(("page", "key", "other"), PAGES)
def test_a_link_to_a_tab_that_does_not_exist_opens_the_first_with_a_warning(page, key, other):
    at = app(page, tab="Nope")
    no_crash(at)
    assert at.session_state[key] == at.tabs[0].label and "tab=Nope" in warnings(at)
