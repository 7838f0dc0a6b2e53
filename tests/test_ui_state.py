"""Settings in the URL (explorer.ui.state): restored before the widgets, published after them."""

from streamlit.testing.v1 import AppTest

from tests.apptest import TIMEOUT, back_to


def _script():
    import streamlit as st

    from explorer.ui import state

    settings = [state.Setting("scale", "scale", "symmetric", state.choice(["symmetric", "own"])),
                state.Setting("n", "n", 3, state.int_between(1, 9))]
    state.restore(settings)
    st.write(f"{st.session_state.scale} {st.session_state.n}")
    state.publish(settings)


def test_a_link_sets_the_values_and_only_changed_ones_go_back_into_it():
    at = AppTest.from_function(_script, default_timeout=TIMEOUT)
    at.query_params["scale"] = "own"
    at.run()
    assert at.markdown[0].value == "own 3"
    assert at.query_params["scale"] in ("own", ["own"]) and "n" not in at.query_params


def test_the_browsers_back_button_brings_back_the_view_it_had():
    at = AppTest.from_function(_script, default_timeout=TIMEOUT)
    at.query_params["n"] = "5"
    at.run()
    at.session_state["n"] = 7  # a widget's change
    at.run()
    assert at.markdown[0].value == "symmetric 7" and at.query_params["n"] in ("7", ["7"])
    assert back_to(at, n="5").markdown[0].value == "symmetric 5"  # the widgets' 7 wrote the address straight back
    at.session_state["scale"] = "own"
    at.run()
    assert back_to(at, n="5").markdown[0].value == "symmetric 5"
    assert back_to(at, n="5", scale="own").markdown[0].value == "own 5"  # and Forward
    assert back_to(at, n="7").markdown[0].value == "symmetric 7"  # a setting left out is at its default


def test_a_click_that_carries_the_address_before_the_last_is_not_taken_for_back():
    """Two quick clicks: the second rerun can carry the address from before the first one's, and took it for Back
    (Layer by layer's Next went from layer 5 back to 4)."""
    at = AppTest.from_function(_script, default_timeout=TIMEOUT)
    at.query_params["n"] = "5"
    at.run()
    at.session_state["n"] = 7
    at.run()
    assert back_to(at, history=False, n="5").markdown[0].value == "symmetric 7"


def test_back_after_a_reload_brings_back_an_address_this_session_never_wrote():
    """A reload starts a new session: the addresses before it in the browser's history were another session's."""
    at = AppTest.from_function(_script, default_timeout=TIMEOUT)
    at.query_params["n"] = "7"
    at.run()
    assert back_to(at, n="5").markdown[0].value == "symmetric 5"


def test_a_bare_address_the_page_never_wrote_is_not_taken_for_a_view():
    """A page switch passes through the page's address without its settings: Back to it keeps the view."""
    at = AppTest.from_function(_script, default_timeout=TIMEOUT)
    at.query_params["n"] = "5"
    at.run()
    assert back_to(at).markdown[0].value == "symmetric 5" and at.query_params["n"] in ("5", ["5"])
    bare = AppTest.from_function(_script, default_timeout=TIMEOUT).run()  # the defaults were a view: bare is one
    bare.session_state["n"] = 7
    bare.run()
    assert back_to(bare).markdown[0].value == "symmetric 3"


def test_a_bad_link_value_is_named_in_a_warning_and_the_default_used():
    at = AppTest.from_function(_script, default_timeout=TIMEOUT)
    at.query_params["n"] = "99"
    at.run()
    assert at.markdown[0].value == "symmetric 3"
    assert "`n=99` was ignored" in at.warning[0].value


def test_a_number_below_the_range_names_its_bottom_not_the_cap():
    """``/top_activations?channel=-1`` said "outside 0..4095": a cap far above any layer's channels."""
    import pytest

    from explorer.ui import state

    with pytest.raises(ValueError, match=r"^-1 is below 0, the smallest$"):
        state.int_between(0, 4095)("-1")
    with pytest.raises(ValueError, match=r"^10 is outside 1\.\.9$"):
        state.int_between(1, 9)("10")


def test_a_whole_number_in_another_spelling_is_whole_and_out_of_range_says_so():
    """``stride=1e9`` said "'1e9' is not a whole number": it is, and too large."""
    import pytest

    from explorer.ui import state

    assert state.whole("3.0") == 3 and state.whole("2e1") == 20
    with pytest.raises(ValueError, match=r"^1000000000 is outside 1\.\.8$"):
        state.int_between(1, 8)("1e9")
    with pytest.raises(ValueError, match=r"^1e\+30 is outside 1\.\.8$"):  # not its float's 31 digits
        state.int_between(1, 8)("1e30")
    for text in ("2.5", "inf", "nan", "abc", ""):
        with pytest.raises(ValueError, match="is not a whole number"):
            state.whole(text)


def test_an_empty_value_from_a_redrawn_control_falls_back_to_the_last_choice():
    at = AppTest.from_function(_script, default_timeout=TIMEOUT)
    at.query_params["scale"] = "own"
    at.run()
    at.session_state["scale"] = None  # what a segmented control sends when drawn again after a skipped run
    at.run()
    assert at.markdown[0].value == "own 3" and not at.exception


def test_two_settings_on_one_url_name_are_refused():
    """The Kernel Lab once had two ``sigma``s (the Gaussian kernel's and Canny's blur): one silently won."""
    import pytest

    from explorer.ui import state

    same_param = [state.Setting("a", "sigma", 1.0, float), state.Setting("b", "sigma", 1.4, float)]
    with pytest.raises(ValueError, match="share a URL name: sigma"):
        state._check_unique(same_param)
    with pytest.raises(ValueError, match="share a widget key: a"):
        state._check_unique([state.Setting("a", "x", 1, int), state.Setting("a", "y", 1, int)])
    state._check_unique([state.Setting("a", "x", 1, int), state.Setting("b", "y", 1, int)])


def test_a_list_of_choices_is_read_from_commas_and_each_must_be_offered_once():
    import pytest

    from explorer.ui import state

    parse = state.choices(("laplacian", "X pattern", "box blur 3x3"))
    assert parse("X pattern,laplacian") == ["X pattern", "laplacian"] and parse("") == []
    with pytest.raises(ValueError, match="'sobel' is not one of"):
        parse("laplacian,sobel")
    with pytest.raises(ValueError, match="named twice"):
        parse("laplacian,laplacian")


def test_a_choice_may_be_named_by_its_words_before_the_brackets_when_only_one_starts_so():
    import pytest

    from explorer.ui import state

    parse = state.choice(("custom (edit the grid)", "sobel (vertical edges)", "sobel (horizontal edges)", "box"))
    assert parse("custom") == parse("Custom ") == "custom (edit the grid)" and parse("box") == "box"
    with pytest.raises(ValueError, match=r"'sobel' could be sobel \(vertical edges\) or sobel \(horizontal edges\)"):
        parse("sobel")
    with pytest.raises(ValueError, match="'blur' is not one of"):
        parse("blur")


def test_a_choice_named_whole_in_another_case_is_that_one_even_where_its_first_word_starts_another():
    from explorer.ui import state

    parse = state.choice(("laplacian", "laplacian (negative)", "sobel (horizontal edges)"))
    assert parse("LAPLACIAN") == "laplacian" and parse("Laplacian (Negative)") == "laplacian (negative)"
    assert parse("Sobel (Horizontal edges)") == "sobel (horizontal edges)"


def test_a_default_the_link_states_stays_in_the_address():
    """A link that names a default (a channel's link names its model) keeps it: the page had written it out, a
    second entry of the browser's history for one click. A change and a change back leave it out again."""
    at = AppTest.from_function(_script, default_timeout=TIMEOUT)
    at.query_params["n"] = "3"
    at.query_params["scale"] = "own"
    at.run()
    assert at.query_params["n"] in ("3", ["3"])
    at.session_state["n"] = 4
    at.run()
    at.session_state["n"] = 3
    at.run()
    assert "n" not in at.query_params and at.query_params["scale"] in ("own", ["own"])

