"""Step by step's stepping (explorer.ui.stepper): a click on an output cell, and Play at its end."""

from streamlit.testing.v1 import AppTest

from tests.apptest import TIMEOUT


def _click(playing: bool) -> int:
    def script():
        import streamlit as st

        from explorer.ui import stepper

        st.session_state.setdefault("sb_step", 1)
        st.session_state["sb_cells"] = {"selection": {"points": [{"x": 2, "y": 1}]}}  # cell (1, 2) of a 2 x 3 output
        stepper._go_to_clicked((2, 3))
        st.write(str(st.session_state.sb_step))

    at = AppTest.from_function(script, default_timeout=TIMEOUT)
    at.session_state["sb_play"] = playing
    return int(at.run().markdown[0].value)


def test_a_click_goes_to_the_step_that_fills_the_cell_but_not_while_playing():
    assert _click(playing=False) == 6  # row by row: (1, 2) is the 6th
    assert _click(playing=True) == 1  # Play's reruns each second raced the click's


def test_play_stops_at_the_next_whole_run_after_its_end():
    def script():
        import streamlit as st

        from explorer.ui import stepper

        stepper.settle_play()
        st.session_state.setdefault("sb_step", 5)
        st.session_state.setdefault("sb_play", True)
        step = stepper.controls(6, stepper.playing())
        st.write(f"{step} {st.session_state.sb_play}")

    at = AppTest.from_function(script, default_timeout=TIMEOUT).run()
    assert at.markdown[-1].value == "5 True"  # the last step, shown for a second
    assert at.run().markdown[-1].value == "5 False"  # then Play is off
