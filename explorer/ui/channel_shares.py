"""Why this prediction's "Which channels carry it?": integrated gradients at the class activation map's layer, each
channel's share of the class score as a bar, and links to what the channel picked responds to on the other pages."""

from __future__ import annotations

import functools
from collections.abc import Callable

import streamlit as st
import torch

from explorer import explain_figures, labels, layer_attribution, mosaic
from explorer.ui import channel_links, charts, explanations, layout, memo, state
from explorer.ui.model_input import Network

LARGEST = -1  # the channel picked: the one with the largest share


def settings() -> list[state.Setting]:
    return [state.Setting("why_chan", "chan", False, state.boolean, state.dump_bool),  # the fold open
            state.Setting("why_chan_pick", "chanpick", LARGEST, state.index_below(100_000, "layer", "channels"))]


def draw(network: Network, digest: str, image: torch.Tensor, target: int | None, layer: str,
         name: Callable[[int], str]) -> None:
    """The fold, computed only when open, at ``layer`` (the class activation map's; "" where the model has none),
    from the baseline, in the steps and by the rule integrated gradients take on the pixels."""
    with st.expander(f"Which channels carry it? Integrated gradients at {layer or 'a layer'}", icon=":material/hub:",
                     key="why_chan", on_change="rerun"):
        if not layout.layer_fold_open("why_chan", layer, " to share the score among"):
            return
        steps, baseline, rule = (int(st.session_state.why_ig_steps), st.session_state.why_ig_base,
                                 st.session_state.why_ig_rule)
        st.markdown(
            f"The class activation map above weighs the maps of `{layer}`; here the question integrated gradients ask "
            f"of the pixels is asked of its channels: `{layer}`'s maps go from those of "
            f"{explanations.BASELINE_WORDS[baseline]} to those of your image, and each channel gets what its change "
            "adds to the class score on the way (Captum's LayerIntegratedGradients). A channel with a large red bar "
            "is one the network leans on for this answer: click it (or pick it below) to see what it responds to.")
        shares = memo.computed(
            "why_chan", (network.key, digest, target, layer, steps, baseline, rule),
            lambda report: layer_attribution.channel_shares(network.model, image, layer, target, steps, baseline,
                                                            rule, progress=report),
            lambda done, total: memo.counted(f"Integrating the gradients at {layer}", done, total, "steps"))
        count = len(shares.shares)
        if st.session_state.get("why_chan_of") not in (None, (network.key, layer)):
            st.session_state.why_chan_pick = LARGEST  # a channel picked in another layer is no channel of this one
        st.session_state.why_chan_of = (network.key, layer)
        if st.session_state.why_chan_pick >= count:
            st.warning(f"Channel {st.session_state.why_chan_pick} is not one of {layer}'s (0..{count - 1}): showing "
                       "the one with the largest share.")
            st.session_state.why_chan_pick = LARGEST
        picked, largest = st.session_state.why_chan_pick, shares.ranked()[0]
        chosen = largest if picked == LARGEST else picked
        chart = f"why_chan_bars_{chosen}"  # a fresh chart for each channel picked: nothing selected on it
        figure = explain_figures.channel_shares_figure(shares, name(shares.target), chosen, height=320,
                                                       ink=layout.ink(), width_px=layout.VIEW_LEAST_PX - 32)
        charts.show(st, figure, key=chart, selection_mode="points", on_select=functools.partial(_clicked, chart))
        st.caption(note(shares, chosen))

        def label(c: int) -> str:
            return f"the largest share ({largest})" if c == LARGEST else f"{c}: {float(shares.shares[c]):+.3f}"

        layout.cells(1, 300)[0].selectbox("Channel", [LARGEST, *range(count)], key="why_chan_pick", format_func=label)
        channel_links.draw(layer, chosen, "pages/why_prediction.py")


def _clicked(chart: str) -> None:
    """The bar clicked becomes the channel picked (the callback runs before the script, so the page runs once)."""
    channel = mosaic.clicked_tile(st.session_state.get(chart))
    if channel is not None:
        st.session_state.why_chan_pick = channel


def note(shares: layer_attribution.ChannelShares, chosen: int) -> str:
    """The shares' sum against the score's change, how few channels carry most of it, and the channel picked."""
    added, moved = float(shares.shares.sum()), shares.score - shares.start_score
    positive = shares.shares.clamp(min=0)
    said = (f"The {len(shares.shares)} channels' shares add up to **{added:.3f}**; the class score moved {moved:.3f} "
            f"when only `{shares.layer}`'s maps changed (off by {abs(added - moved):.3f}: {shares.steps} "
            f"step{'s' if shares.steps > 1 else ''}, as integrated gradients above). ")
    if float(positive.sum()) <= 0:
        return said + "No channel speaks for the class here: its maps' change adds nothing to the score."
    ranked = positive.sort(descending=True).values
    few = int((ranked.cumsum(0) < 0.5 * float(ranked.sum())).sum()) + 1  # channels that carry half of the red
    share = float(shares.shares[chosen])
    return (said + f"Of the red, {few} {labels.plural(few, 'channel')} of {len(shares.shares)} "
            f"carr{'ies' if few == 1 else 'y'} half. Channel {chosen}: **{share:+.3f}**"
            + (f", {share / float(positive.sum()):.0%} of the red." if share > 0 else
               ", it speaks against the class." if share < 0 else ", nothing either way."))
