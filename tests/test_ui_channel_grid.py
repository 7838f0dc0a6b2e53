"""What excites' every channel at once (explorer.ui.channel_grid): each tile is the channel's own optimisation."""

from types import SimpleNamespace

import torch
from streamlit.testing.v1 import AppTest

from explorer import models, visualize
from explorer.ui import channel_grid
from tests.apptest import TIMEOUT


def test_each_tile_is_that_channels_optimisation_with_the_same_settings():
    network = SimpleNamespace(model=models.build("lenet5", pretrained=True).eval())
    goal, config = visualize.Goal("channel", "conv2", 5), visualize.AscentConfig(steps=6, seed=3)
    image = torch.zeros(1, 28, 28)
    reports = []
    made = channel_grid.optimised(network, goal, config, image, [4, 5, 6], lambda done, total: reports.append(done))
    alone = visualize.run(goal.frames(network.model, config, image))[-1]  # the channel shown, optimised on its own
    torch.testing.assert_close(made[1][0], alone.image.cpu())
    assert made[1][1] == alone.value and reports == [0, 1, 2, 3]
    other = visualize.run(visualize.Goal("channel", "conv2", 6).frames(network.model, config, image))[-1]
    assert made[2][1] == other.value


def test_a_click_on_a_tile_opens_its_channel():
    def script():
        import streamlit as st

        from explorer.ui import channel_grid

        st.session_state.setdefault("wx_channel", 3)
        st.session_state["wx_grid_3"] = {"selection": {"points": [{"customdata": 5, "curve_number": 1}]}}
        channel_grid.open_clicked("wx_grid_3", 16, "wx_channel")  # the second page: tile 5 is channel 21
        st.write(str(st.session_state.wx_channel))

    assert AppTest.from_function(script, default_timeout=TIMEOUT).run().markdown[0].value == "21"
