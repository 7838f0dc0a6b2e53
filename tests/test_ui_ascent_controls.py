"""What excites' controls (explorer.ui.ascent_controls): the steps a network on a CPU takes."""

import pytest


def _config_page(large_on_cpu: bool) -> None:
    import streamlit as st

    from explorer.ui import ascent_controls, state

    state.restore(ascent_controls.settings())
    st.session_state.wx_steps = 1024
    config = ascent_controls.pick_config(large_on_cpu=large_on_cpu)
    st.markdown(f"steps {config.steps}")


@pytest.mark.parametrize("large_on_cpu,steps", [(True, 256), (False, 1024)])
def test_an_imagenet_size_network_on_a_cpu_takes_at_most_256_steps(large_on_cpu, steps):
    """A link with steps=1024 on VGG16 had a CPU server compute for over an hour."""
    from streamlit.testing.v1 import AppTest

    from tests.apptest import TIMEOUT

    at = AppTest.from_function(_config_page, args=(large_on_cpu,), default_timeout=TIMEOUT).run()
    assert at.markdown[-1].value == f"steps {steps}" and not at.exception
    assert any("1024 steps of an ImageNet-size network" in c.value for c in at.caption) == large_on_cpu
