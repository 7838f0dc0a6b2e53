"""Every chart of the app goes on its page through :func:`show`: the camera in its toolbar saves a picture sharp
enough for a slide, under a name taken from its title, and a screen reader reads that title as the chart's name.

Plotly's own camera saves the chart at its size on the screen as ``newplot.png``: 164 x 228 pixels for a picture
in Why this prediction's row, blurred on a projected slide and named alike for every chart.
"""

from __future__ import annotations

import html
import re
from typing import Any

import plotly.graph_objects as go

from explorer import labels

EXPORT_SCALE = 4  # the saved picture's pixels per screen pixel: a 164 px picture becomes 656 px, a slide's third
STEM_MOST = 60  # characters of the saved file's name


def title_words(figure: go.Figure) -> str:
    """The figure's title as plain words on one line, "" without one: plotly's tags dropped, a line break read as a
    comma ("conv2, unit (5, 5), 10 x 10 map") or a space after a mark ("Saliency, 3" for "Saliency,<br>3"), its
    entities read ("&lt;b&gt;" in a run's name is "<b>")."""
    text = re.sub(r"(?i)([,:;.(])?\s*<br\s*/?>", lambda m: f"{m.group(1)} " if m.group(1) else ", ",
                  figure.layout.title.text or "")
    return " ".join(html.unescape(re.sub(r"<[^<>]*>", "", text)).split())


def export_options(figure: go.Figure, key: str | None, name: str | None = None) -> dict[str, Any]:
    """Plotly's ``toImageButtonOptions``: a PNG :data:`EXPORT_SCALE` times the chart's size on the screen, named
    ``name`` or after its title (else its key; "cnn-explorer" without any)."""
    stem = labels.file_stem(name or title_words(figure) or (key or "").replace("_", " "), STEM_MOST)
    return {"format": "png", "scale": EXPORT_SCALE, "filename": "cnn-explorer" if stem == "file" else stem}


def show(place: Any, figure: go.Figure, *, key: str | None = None, config: dict[str, Any] | None = None,
         name: str | None = None, **kwargs: Any) -> Any:
    """``place.plotly_chart(figure, ...)`` (``place`` is ``st`` or a column): its camera saves a sharp, named PNG
    (:func:`export_options`, beside any ``config`` given) and its title is its name for a screen reader. ``name``
    says more than the title where the page around it tells charts apart ("Saliency, after the attack")."""
    kwargs.setdefault("alt", name or title_words(figure) or None)
    config = {"toImageButtonOptions": export_options(figure, key, name), **(config or {})}
    return place.plotly_chart(figure, key=key, config=config, **kwargs)
