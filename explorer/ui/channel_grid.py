"""What excites a unit's "every channel at once": the image each channel of a layer was optimised to see, a page of
them side by side (as Microscope and Lucent lay out a layer), the channel shown outlined; a click opens another."""

from __future__ import annotations

import functools
from dataclasses import replace

import streamlit as st
import torch

from explorer import labels, mosaic, visualize
from explorer.ui import charts, layout, memo, model_input
from explorer.ui.model_input import Network

PER_PAGE = 16  # channels in one grid: the page that holds the channel shown
GRID_PX = 420  # four tiles of 96 px and their gaps
SMALL_PX = 64  # networks up to this input size optimise a page of channels in seconds on a CPU
CPU_STEPS = 128  # a channel's steps in the grid on a CPU server: LeNet-5's page of 1,024 each had taken 3 minutes


def draw(network: Network, goal: visualize.Goal, config: visualize.AscentConfig, image: torch.Tensor) -> None:
    """For a channel goal on feature maps: the toggle, and while it is on, the page of channels around the one shown,
    each optimised with the same settings (so the channel shown is the image above)."""
    layer = next(l for l in network.layers if l.name == goal.layer)
    if goal.mode != "channel" or len(layer.out_shape) != 3:
        return
    count = layer.out_shape[0]
    first = goal.index // PER_PAGE * PER_PAGE
    shown = list(range(first, min(first + PER_PAGE, count)))
    words = f"channels {shown[0]}..{shown[-1]} of {count}" if count > PER_PAGE else f"all {count} channels"
    slow = network.spec.input_size > SMALL_PX and not torch.cuda.is_available()
    if not layout.toggle(st, f"Every channel at once ({words} of {goal.layer})", key="wx_grid",  # a label is its name
                         # for a screen reader too: no Markdown marks in it
                         help=f"Each channel optimised as the one above (the same steps, at most {CPU_STEPS} on a "
                              "server without a GPU, regularisers and seed; one image each), side by side: what the "
                              "layer has learned to look for, at a glance. A click on one opens it."
                              + (f" On this server's CPU a {network.spec.input_size} px network takes as long as the "
                                 f"image above {len(shown)} times over: minutes." if slow else "")):
        return
    config = replace(config, images=1, diversity=0.0)  # one image a channel, whatever the image above has
    if config.steps > CPU_STEPS and not torch.cuda.is_available():
        st.caption(f"On this server's CPU each channel here takes {CPU_STEPS} steps, not {config.steps}: the page "
                   "of them would take minutes, so the outlined one is not quite the image above.")
        config = replace(config, steps=CPU_STEPS, record_every=CPU_STEPS)
    page = replace(goal, index=first)  # one computation for the page, whichever of its channels is shown
    key = (network.key, page, config, model_input.image_key(image) if goal.needs_image else "")
    made = memo.computed("wx_grid", key, lambda report: optimised(network, goal, config, image, shown, report),
                         lambda done, total: f"Optimising the channels: {done} of {total} done...", keep=16)
    title = (f"What drives each channel of {goal.layer} down" if goal.negative else
             f"What excites each channel of {goal.layer}")
    chart = f"wx_grid_{goal.index}"  # a fresh chart for each channel shown: nothing selected on it
    captions = [f"{c}: {labels.alike(v)[0]}" for c, (_, v) in zip(shown, made)]
    clickable = mosaic.images_figure([m for m, _ in made], captions, title, clickable=True, side=96, width_px=GRID_PX,
                                     cols=4, selected=goal.index - first, ink=layout.ink())
    charts.show(layout.cells(1, GRID_PX)[0], clickable, key=chart, selection_mode="points",
                on_select=functools.partial(open_clicked, chart, first, "wx_channel"))
    st.caption("Under each: the channel and its mean activation at the last step. The channel shown above is "
               "outlined.")


def open_clicked(chart: str, first: int, channel_key: str) -> None:
    """A grid of channels' click callback (here and on Top activations; it runs before the script, so the page runs
    once): the tile clicked, the ``first`` channel's onwards, becomes the channel in ``channel_key``."""
    clicked = mosaic.clicked_tile(st.session_state.get(chart))
    if clicked is not None:
        st.session_state[channel_key] = first + clicked


def optimised(network: Network, goal: visualize.Goal, config: visualize.AscentConfig, image: torch.Tensor,
              channels: list[int], report: memo.Report) -> list[tuple[torch.Tensor, float]]:
    """Each of ``channels`` optimised as ``goal``'s channel is: its last image (on the CPU) and value."""
    made = []
    for done, channel in enumerate(channels):
        report(done, len(channels))
        last = None
        for last in replace(goal, index=channel).frames(network.model, config, image):
            pass  # only the last image is kept: a page of 16 optimisations
        made.append((last.image.cpu(), last.value))
    report(len(channels), len(channels))
    return made
