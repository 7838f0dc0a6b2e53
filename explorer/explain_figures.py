"""Figures of the pages that ask why a network decides: gradient ascent, attribution, attacks, invariance."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from explorer import attribution, faithfulness, figures, images, labels, mosaic, tiling
from explorer.faithfulness import Curves
from explorer.layer_attribution import ChannelShares
from explorer.minimal import Smallest
from explorer.universal import Universal

MARGIN = dict(l=10, r=10, t=40, b=10)  # a figure's margins here and on the Invariance page
# a figure title's width (16 px, bold) against labels.text_px's estimate, as measured in Chromium: "Original:
# triangle (99%)" is 166 px (text_px 132), "What excites unit (5, 5) of channel 0 of" 259 px (216)
TITLE_SCALE = 1.27
THIRD_PX = 164  # a picture in a row of three in the narrowest view (layout.PICTURE_PX, which says why)


def title_fits(title: str, width_px: int, font_px: int = 16) -> bool:
    """Whether a one-line ``title`` in ``font_px`` type fits a figure ``width_px`` wide (its margins 10 px each
    side): plotly cuts a title, it does not wrap it."""
    return labels.text_px(title) * TITLE_SCALE * font_px / 16 <= width_px - 20


def _pixels(image: torch.Tensor) -> np.ndarray:
    """A (C, H, W) [0, 1] image as (H, W, 3) uint8, at its own size: plotly draws a picture's pixels as squares,
    never blurred (a 28 x 28 digit had gone out enlarged to 280 x 280, 2 to 4 times the bytes)."""
    pixels = images.to_display(image)
    return np.stack([pixels] * 3, -1) if pixels.ndim == 2 else pixels


def picture_figure(image: torch.Tensor, title: str, height: int = 300, width_px: int | None = None) -> go.Figure:
    """One (C, H, W) image in [0, 1], a small one's pixels drawn as squares (``width_px``: see ``png_figure``)."""
    return mosaic.png_figure(_pixels(image), title, height, width_px)


def named_title(what: str, name: str, width_px: int = THIRD_PX, joiner: str = ", ") -> str:
    """"what, name" when it fits a figure ``width_px`` wide, else on two lines: a plot's title is cut, not wrapped,
    and ImageNet's class names are long."""
    if title_fits(f"{what}{joiner}{name}", width_px):
        return f"{what}{joiner}{name}"
    return second_line(what, name, width_px)


def second_line(what: str, name: str, width_px: int = THIRD_PX) -> str:
    """"what:" over a smaller ``name`` (ImageNet's names fill a third of the view), cut with "…" where even that is
    wider than the figure ("Greater Swiss Mountain d" lost half a letter: the page's text names the class whole)."""
    return f"{what}:<br><span style='font-size:14px'>{fitted(name, width_px, 14)}</span>"


def fitted(name: str, width_px: int, font_px: int = 16) -> str:
    """``name`` as a one-line title of a figure ``width_px`` wide shows it: whole, or cut with "…"."""
    shown = name
    while not title_fits(shown, width_px, font_px) and len(shown) > 1:
        shown = shown[:-1]
    return name if shown == name else shown.rstrip(" ,") + "…"


def attack_titles(before: str, after: str, eps: float, width_px: int = THIRD_PX) -> tuple[str, str, str]:
    """The titles of the original, the perturbation and the adversarial image, side by side: where the adversarial's
    class name needs a second line, each gets one (the pictures had sat out of line by that line)."""
    fooled = named_title("Adversarial", after, width_px, joiner=": ")
    if "<br>" not in fooled:
        return "Original", "Perturbation (±eps)", fooled
    return second_line("Original", before), second_line("Perturbation", f"±{eps:g}"), fooled


def boxed_figure(image: torch.Tensor, title: str, box: tuple[int, int, int], height: int = 300,
                 width_px: int | None = None) -> go.Figure:
    """:func:`picture_figure` with the square ``box`` = (top, left, side), in the image's pixels, outlined
    (cut by the border as the image cuts it)."""
    top, left, side = box
    bottom, right = min(top + side, image.shape[-2]), min(left + side, image.shape[-1])
    fig = picture_figure(image, title, height, width_px)
    fig.add_shape(type="rect", x0=left - 0.5, x1=right - 0.5, y0=top - 0.5, y1=bottom - 0.5,
                  line=dict(color="white", width=3))
    return fig


# evidence for the class in red, against it in blue, clear near 0 so the image shows through (Captum's "all" sign)
SIGNED_SCALE = [[0.0, "rgba(33,102,172,0.9)"], [0.3, "rgba(67,147,195,0.6)"], [0.5, "rgba(247,247,247,0)"],
                [0.7, "rgba(214,96,77,0.6)"], [1.0, "rgba(178,24,43,0.9)"]]
COLOUR_BAR_PX = 70  # the colour bar with its ticks, beside a signed map


def signed_figure(image: torch.Tensor, values: torch.Tensor, title: str, what: str, height: int = 300,
                  width_px: int | None = None, box: tuple[int, int, int] | None = None,
                  outliers: float = 0.0) -> go.Figure:
    """``values`` (H, W) over ``image`` (C, H, W) in grey: red where positive (evidence for the class), blue where
    negative (against), on one scale symmetric about 0 with a colour bar titled ``what`` (their unit), and each
    pixel's value on hover. ``box`` = (top, left, side): a square outlined, as in :func:`boxed_figure`. The scale
    ends at the largest magnitude, or with ``outliers`` at :func:`attribution.clip_level` (beyond it, full colour; the
    bar says "clipped")."""
    rows, cols = values.shape  # the image's: pixel (r, c) at (r, c), where the map's hover names it
    fig = picture_figure(image.mean(0, keepdim=True), title, height,
                         None if width_px is None else width_px - COLOUR_BAR_PX)
    top = attribution.clip_level(values, outliers) or 1.0
    fig.add_trace(go.Heatmap(z=values.float().numpy(), colorscale=SIGNED_SCALE, zmin=-top, zmax=top,
                             colorbar=dict(thickness=10, len=0.9, tickformat=".2g", tickfont=dict(size=10),
                                           title=dict(text=_two_lines(f"{what} (clipped)" if outliers else what, 12),
                                                      side="right", font=dict(size=11))),
                             hovertemplate="row %{y}, column %{x}: %{z:.3g}<extra></extra>"))
    if box is not None:
        r, c, side = box
        bottom, right = min(r + side, rows), min(c + side, cols)
        for colour, width in (("black", 5), ("white", 2)):  # seen on a light image and a dark one
            fig.add_shape(type="rect", x0=c - 0.5, x1=right - 0.5, y0=r - 0.5, y1=bottom - 0.5,
                          line=dict(color=colour, width=width))
    return fig


# at most this many hover cells a side: a 224-pixel map's hover values come in 2 x 2 blocks (40 KB a figure, not 150)
HOVER_CELLS = 112
_CLEAR = [[0.0, "rgba(0,0,0,0)"], [1.0, "rgba(0,0,0,0)"]]  # a map there only for its hover values
_BAR_PX = 34  # a colour bar under a picture, with its tick labels


def heat_figure(image: torch.Tensor, heat: torch.Tensor, title: str, height: int = 300,
                width_px: int | None = None, outliers: float = 0.0) -> go.Figure:
    """``heat`` (H, W) in [0, 1] over ``image`` (C, H, W), as :func:`attribution.overlay` draws it, with its plasma
    colours in a bar under it (0 to 100% of the map's largest value) and each place's share on hover: what Captum's
    ``visualize_image_attr`` shows beside its maps. With ``outliers`` (percent) the map is :func:`attribution.clipped`
    first: its largest values, that share of its total, all at 100%."""
    if outliers:
        heat = attribution.clipped(heat, outliers)
    rows, cols = heat.shape
    block = -(-max(rows, cols) // HOVER_CELLS)
    shares = torch.nn.functional.avg_pool2d(heat.clamp(0, 1)[None, None].float(), block, ceil_mode=True)[0, 0]
    fig = picture_figure(attribution.overlay(image, heat), title, height, width_px)  # pixel (r, c) at (r, c)
    where = "row %{y}, column %{x}" if block == 1 else "about row %{y:.0f}, column %{x:.0f}"
    share = (f"of the scale (the largest values, {outliers:g}% of the map's total, all 100%)" if outliers
             else "of the largest")
    fig.add_trace(go.Heatmap(z=(100 * shares).round().numpy(), x0=(block - 1) / 2, dx=block, y0=(block - 1) / 2,
                             dy=block, colorscale=_CLEAR, showscale=False, zmin=0, zmax=100,
                             hovertemplate=f"{where}<br>%{{z:.0f}}% {share}<extra></extra>"))
    fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", hoverinfo="skip", showlegend=False,
                             marker=dict(colorscale="Plasma", cmin=0, cmax=100, showscale=True,
                                         colorbar=dict(orientation="h", thickness=8, len=1, y=-0.02, yanchor="top",
                                                       ypad=0, tickvals=[0, 50, 100], ticktext=["0", "50%", "100%"],
                                                       tickfont=dict(size=10), outlinewidth=0))))
    fig.update_layout(height=fig.layout.height + _BAR_PX, margin_b=10 + _BAR_PX)
    return fig


def animation_figure(frames: list[torch.Tensor], steps: list[int], title: str, height: int = 380,
                     width_px: int | None = None, box: tuple[int, int, int, int] | None = None) -> go.Figure:
    """The recorded images of an optimisation as a plotly animation: a play button and a step slider. A title too
    long for ``width_px`` (the figure's narrowest) is broken in two lines. ``box`` (top, left, bottom, right; pixels,
    the last two past the box) is outlined on every frame: the receptive field of the unit optimised."""
    sources = [tiling.png_source(_pixels(f)) for f in frames]
    if width_px is not None and not title_fits(title, width_px):
        title = _two_lines(title, 0)
    last = _pixels(frames[-1])
    fig = mosaic.png_figure(last, title, height)
    if box is not None:
        top, left, bottom, right = (v - 0.5 for v in box)
        fig.add_shape(type="rect", x0=left, x1=right, y0=top, y1=bottom, xref="x", yref="y",
                      line=dict(color=figures.WINDOW_COLOUR, width=2))
    fig.frames = [go.Frame(data=[go.Image(source=s)], name=str(step)) for s, step in zip(sources, steps)]
    play = dict(label="Play", method="animate",
                args=[None, dict(frame=dict(duration=120, redraw=True), fromcurrent=False, transition=dict(duration=0))])
    fig.update_layout(
        updatemenus=[dict(type="buttons", buttons=[play], x=0, y=-0.1, xanchor="left", yanchor="top", showactive=False)],
        sliders=[dict(active=len(steps) - 1, x=0.15, len=0.85, y=-0.02, currentvalue=dict(prefix="step ", xanchor="right"),
                      steps=[dict(label=str(step), method="animate",
                                  args=[[str(step)], dict(mode="immediate", frame=dict(duration=0, redraw=True))])
                             for step in steps])])
    fig.update_layout(margin=dict(l=10, r=10, t=fig.layout.margin.t, b=70))  # the title's lines, the slider
    return fig


def value_figure(steps: list[int], values: list[float], title: str, y_title: str, height: int = 260) -> go.Figure:
    """A value (the target's activation, an error) step by step."""
    fig = go.Figure(go.Scatter(x=steps, y=values, mode="lines", hovertemplate="step %{x}: %{y:.4g}<extra></extra>"))
    fig.update_layout(title=title, height=height, margin=MARGIN, xaxis_title="step", yaxis_title=_two_lines(y_title))
    return fig


def _two_lines(text: str, most: int = 20) -> str:
    """An axis title longer than ``most`` characters broken at its middle space: on one line, "mean activation of
    the channel" ran past the top of a 260 px chart."""
    if len(text) <= most or " " not in text:
        return text
    spaces = [i for i, c in enumerate(text) if c == " "]
    cut = min(spaces, key=lambda i: abs(i - len(text) / 2))
    return f"{text[:cut]}<br>{text[cut + 1:]}"


def perturbation_image(perturbation: torch.Tensor, eps: float) -> torch.Tensor:
    """A perturbation in [-eps, eps] stretched to [0, 1] for display: grey is no change."""
    return (perturbation / (2 * eps) + 0.5).clamp(0, 1) if eps > 0 else torch.full_like(perturbation, 0.5)


def perturbation_key(channels: int) -> str:
    """How to read :func:`perturbation_figure`, for a grey or a colour image."""
    return "Perturbation: white is +eps, grey no change, black -eps" + (" (in each of R, G and B)." if channels == 3
                                                                          else ".")


def perturbation_figure(perturbation: torch.Tensor, eps: float, height: int = 300, width_px: int | None = None,
                        title: str = "Perturbation (±eps)") -> go.Figure:
    """:func:`perturbation_image` as a picture with a thin frame: its white pixels would run into the page."""
    fig = picture_figure(perturbation_image(perturbation, eps), title, height, width_px)
    fig.add_shape(type="rect", xref="x domain", yref="y domain", x0=0, y0=0, x1=1, y1=1,
                  line=dict(color="#999", width=1))
    return fig


_LABEL_BG = "rgba(255, 255, 255, 0.85)"  # a line's label stays readable over the curves


def eps_figure(epsilons: torch.Tensor, probabilities: torch.Tensor, label: int, classes: tuple[str, ...],
               chosen: float, height: int = 320, method: str = "FGSM", target: int | None = None) -> go.Figure:
    """The attacked class's probability against the attack's eps, beside the strongest other class's (named)
    or, for a targeted attack, the target's. The lines' labels sit in a band above 100%, where no curve goes.
    """
    name = class_name(label, classes)
    curves = [go.Scatter(x=epsilons.tolist(), y=probabilities[:, label].tolist(), mode="lines+markers",
                         name=f"{name} (attacked)")]
    if target is None:
        others = probabilities.clone()
        others[:, label] = -1
        rival = others.argmax(1)
        curves.append(go.Scatter(x=epsilons.tolist(), y=others.gather(1, rival[:, None])[:, 0].tolist(),
                                 mode="lines+markers", name=_rivals(rival, classes),
                                 text=[class_name(int(r), classes) for r in rival],
                                 hovertemplate="eps %{x:.3f}: %{text} %{y:.1%}<extra></extra>"))
        done, verb = probabilities.argmax(1) != label, "flips"
    else:
        curves.append(go.Scatter(x=epsilons.tolist(), y=probabilities[:, target].tolist(), mode="lines+markers",
                                 name=f"{class_name(target, classes)} (target)"))
        done, verb = probabilities.argmax(1) == target, f"reads {class_name(target, classes)}"
    fig = go.Figure(curves)
    flips = done.nonzero().flatten()
    if len(flips):
        first = float(epsilons[flips[0]])
        fig.add_vline(x=first, line=dict(color="#d62728", dash="dot"), annotation_text=f"{verb} at {first:.3g}",
                      annotation_position="top right" if first >= chosen else "top left", annotation_bgcolor=_LABEL_BG,
                      annotation_font_color=figures.INK_ON_WHITE)
    # the slider's eps, labelled on the side away from the flip so the two labels never overlap
    fig.add_vline(x=chosen, line=dict(color="#888", width=1), annotation_text=f"your eps {chosen:.3g}",
                  annotation_position="top left" if len(flips) and first >= chosen else "top right",
                  annotation_bgcolor=_LABEL_BG, annotation_font_color=figures.INK_ON_WHITE)
    fig.update_layout(title=f"{method}: confidence against eps", height=height, margin=MARGIN, xaxis_title="eps (pixel values 0..1)",
                      yaxis=dict(title="probability", tickformat=".0%", range=[0, 1.18], tickvals=[0, 0.25, 0.5, 0.75, 1]),
                      legend=figures.LEGEND_BELOW)
    return fig


# a map's colour wherever the curves compare maps; the random order in grey, dashed: the yardstick
MAP_COLOURS = {"Random order": "#888888"}
_MAP_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2")


def faithfulness_figure(curves: Curves, insertion: bool, name: str, height: int = 440) -> go.Figure:
    """Each map's deletion (or ``insertion``) curve: the probability of class ``name`` against the share of the
    pixels taken away (put back) in the map's order, each map's area under its curve in the legend."""
    shown = curves.insertion if insertion else curves.deletion
    fig = go.Figure()
    for k, (method, values) in enumerate(shown.items()):
        yardstick = method == faithfulness.RANDOM
        colour = MAP_COLOURS.get(method, _MAP_PALETTE[k % len(_MAP_PALETTE)])
        fig.add_trace(go.Scatter(
            x=(100 * curves.fractions).tolist(),
            y=values.tolist(), mode="lines", name=f"{method}: area {faithfulness.area(values):.2f}",
            line=dict(color=colour, dash="dash" if yardstick else "solid", width=1.5 if yardstick else 2.5),
            hovertemplate=f"{method}<br>%{{x:.0f}}% of the pixels: %{{y:.1%}}<extra></extra>"))
    what, better = ("put back", "higher") if insertion else ("taken away", "lower")
    title = (f"ROAD {'insertion' if insertion else 'deletion'}: {better} is better" if curves.removal == "road"
             else f"{'Insertion' if insertion else 'Deletion'}: area {better} is better")  # each fits half a view
    fig.update_layout(title=title, height=height,
                      margin=MARGIN, legend=dict(orientation="h", y=-0.2, yanchor="top"),  # a line each map
                      xaxis=dict(title=f"pixels {what}", ticksuffix="%", range=[0, 100], tickvals=[0, 25, 50, 75, 100]),
                      yaxis=dict(title=_two_lines(f"probability of {name}", 24), tickformat=".0%", range=[0, 1.02]))
    return fig


def _rivals(rival: torch.Tensor, classes: tuple[str, ...], most: int = 3) -> str:
    """The legend's name for the strongest other class: "strongest other: 5", or "... 5, then 8" as eps grows."""
    order = [int(r) for i, r in enumerate(rival) if i == 0 or r != rival[i - 1]]
    named = [class_name(r, classes) for r in dict.fromkeys(order)]
    shown = ", then ".join(named[:most]) + (", ..." if len(named) > most else "")
    return f"strongest other: {shown}"


def fooling_figure(result: Universal, classes: tuple[str, ...], height: int = 300) -> go.Figure:
    """Left: the share of predictions changed by the universal perturbation and by random noise of the same
    size. Right: what the changed images are read as, per class (one class usually dominates)."""
    fooled = result.after[result.after != result.before]
    counts = torch.bincount(fooled, minlength=len(classes)).tolist()
    names = [class_name(k, classes) for k in range(len(counts))]
    fig = make_subplots(rows=1, cols=2, column_widths=[0.4, 0.6], horizontal_spacing=0.18,
                        # two lines each: in the page's column one line of each ran into the other
                        subplot_titles=("Predictions<br>changed", f"Now read as<br>({len(fooled):,} changed)"))
    rates = [result.fooling_rate, result.noise_fooling_rate]
    fig.add_trace(go.Bar(x=["this pattern", "random noise"], y=rates, marker_color=["#d62728", "#7f7f7f"],
                         text=[f"{r:.0%}" for r in rates], textposition="outside", cliponaxis=False,
                         hovertemplate="%{x}: %{y:.1%} of the images<extra></extra>"), 1, 1)
    fig.add_trace(go.Bar(x=names, y=counts, marker_color="#d62728",
                         hovertemplate="read as %{x}: %{y} images<extra></extra>"), 1, 2)
    fig.update_yaxes(range=[0, 1.12], tickformat=".0%", row=1, col=1)
    # each class named where there are few (plotly named every second of ten digits); the names turn as they need
    fig.update_xaxes(type="category", dtick=1 if len(names) <= 20 else None, row=1, col=2)
    fig.update_yaxes(title_text="images", row=1, col=2)
    fig.update_layout(height=height, margin=dict(MARGIN, t=56), showlegend=False)
    return fig


def distance_figure(result: Smallest, classes: tuple[str, ...], reading: str, height: int = 300) -> go.Figure:
    """The L2 norm of the smallest change found towards each target class, the nearest in red, a class not reached
    marked so; ``reading`` (the class the image is read as now) is named under the axis, since it has no bar."""
    names = [class_name(int(t), classes) for t in result.targets]
    norms, nearest = result.norms.nan_to_num(0).tolist(), result.nearest
    unit = "pixel" if result.original.shape[0] == 1 else "pixel value"
    fig = go.Figure(go.Bar(
        x=names, y=norms, marker_color=["#d62728" if i == nearest else "#7f7f7f" for i in range(len(names))],
        text=[f"{n:.2f}" if found else "not reached" for n, found in zip(norms, result.found.tolist())],
        textposition="outside", cliponaxis=False, customdata=result.rms.nan_to_num(0).tolist(),
        hovertemplate=f"to read %{{x}}: L2 norm %{{y:.3f}}, RMS %{{customdata:.3g}} per {unit}<extra></extra>"))
    fig.update_layout(title="The smallest change that makes it read each class", height=height, margin=MARGIN,
                      xaxis=dict(title=f"read as ({reading}, its reading now, has no bar)", type="category"),
                      yaxis=dict(title="L2 norm of the change (pixel values 0..1)", range=[0, 1.2 * max(norms)]))
    return fig


def shown_channels(shares: ChannelShares, most: int = 16, chosen: int | None = None) -> list[int]:
    """The channels a bar chart of ``shares`` shows, largest share first: all of them up to ``most``; of more, the
    largest two thirds of ``most`` and the smallest (most negative) third, and the ``chosen`` one in its place."""
    order = shares.ranked()
    if len(order) <= most:
        return order
    top = most * 2 // 3
    kept = set(order[:top] + order[len(order) - (most - top):]) | ({chosen} if chosen is not None else set())
    return [c for c in order if c in kept]


TOOLBAR_PX = 44  # the band plotly's toolbar takes at a figure's top on hover: a title under it stays readable


def channel_shares_figure(shares: ChannelShares, name: str, chosen: int, height: int = 300, most: int = 16,
                          ink: str = figures.INK_ON_WHITE, width_px: int = 500) -> go.Figure:
    """Each channel's share of class ``name``'s score change (:func:`shown_channels`), red for it, blue against and
    grey for none, the ``chosen`` channel outlined in ``ink``; a bar's ``customdata`` is its channel, for a click.
    The title sits under the toolbar's band, on two lines where one is too wide for ``width_px``."""
    shown = shown_channels(shares, most, chosen)
    values = [float(shares.shares[c]) for c in shown]
    positive = float(shares.shares.clamp(min=0).sum()) or 1.0
    count = len(shares.shares)
    fig = go.Figure(go.Bar(
        x=[str(c) for c in shown], y=values,
        marker_color=["#d73027" if v > 0 else "#4575b4" if v < 0 else "#999999" for v in values],
        marker_line=dict(color=[ink if c == chosen else "rgba(0,0,0,0)" for c in shown], width=3),
        customdata=[[c, v / positive] for c, v in zip(shown, values)],
        hovertemplate="channel %{x}: %{y:+.3f}, %{customdata[1]:.0%} of the shares for the class<extra></extra>"))
    top = most * 2 // 3  # as shown_channels splits them
    which = (f"the {top} largest and {most - top} smallest of {count}"
             + (f", and {chosen}" if len(shown) > most else "") if len(shown) < count else f"all {count}")
    title = f"What each channel of {shares.layer} adds to the score of {name}"
    lines = 1 if title_fits(title, width_px) else 2
    fig.update_layout(title=dict(text=title.replace(" to the score", "<br>to the score") if lines == 2 else title,
                                 y=1 - TOOLBAR_PX / height, yref="container", yanchor="top"),
                      height=height, margin=dict(MARGIN, t=TOOLBAR_PX + 24 * lines + 6),
                      xaxis=dict(title=f"channel ({which})", type="category"),
                      yaxis=dict(title="share of the score's change", zeroline=True))
    return fig


def class_name(index: int, classes: tuple[str, ...]) -> str:
    return str(classes[index]) if index < len(classes) else f"class {index}"
