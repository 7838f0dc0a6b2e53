"""Every chart through one call (explorer.ui.charts): a sharp PNG named after its title, and the title as its name
for a screen reader."""

import json
import re
from pathlib import Path

import plotly.graph_objects as go
from streamlit.testing.v1 import AppTest

from explorer.ui import charts
from tests.apptest import TIMEOUT

ROOT = Path(__file__).resolve().parents[1]


def _titled(title: str | None) -> go.Figure:
    return go.Figure(layout=dict(title=title))


def test_a_title_in_plain_words_on_one_line():
    assert charts.title_words(_titled("Saliency,<br>3")) == "Saliency, 3"
    assert charts.title_words(_titled("<b>Guided SG × Grad-CAM</b>: cat")) == "Guided SG × Grad-CAM: cat"
    assert charts.title_words(_titled("run &lt;b&gt;net")) == "run <b>net"  # a run's name, escaped for plotly: as typed
    assert charts.title_words(_titled(None)) == ""
    subtitled = 'conv2, unit (5, 5)<br><span style="font-size: 12px">10 x 10 map</span>'
    assert charts.title_words(_titled(subtitled)) == "conv2, unit (5, 5), 10 x 10 map"  # a line break read as a pause


def test_the_saved_picture_is_four_times_sharper_and_named_after_the_title_or_the_key():
    assert charts.export_options(_titled("Saliency,<br>3"), "why_fig_gradient_before") == {
        "format": "png", "scale": 4, "filename": "saliency-3"}
    assert charts.export_options(_titled(None), "why_fig_input")["filename"] == "why-fig-input"
    assert charts.export_options(_titled("×"), None)["filename"] == "cnn-explorer"  # no letter to name it by
    long = charts.export_options(_titled("What excites channel 5 of conv2 " * 4), None)["filename"]
    assert len(long) <= charts.STEM_MOST and not long.endswith("-")


def _script():
    import plotly.graph_objects as go
    import streamlit as st

    from explorer.ui import charts, layout

    left, right = st.columns(2)
    charts.show(left, go.Figure(layout=dict(title="Grad-CAM,<br>cat")), key="titled")
    charts.show(right, go.Figure(), key="bare", config=layout.NO_TOOLBAR)
    charts.show(st, go.Figure(layout=dict(title="Saliency")), key="named", name="Saliency, after the attack")


def test_a_chart_carries_its_export_options_beside_its_own_and_its_title_for_a_screen_reader():
    at = AppTest.from_function(_script, default_timeout=TIMEOUT).run()
    titled, bare, named = at.get("plotly_chart")
    assert titled.proto.alt == "Grad-CAM, cat" and not bare.proto.alt  # no title: no name rather than a vague one
    assert json.loads(titled.proto.config)["toImageButtonOptions"]["filename"] == "grad-cam-cat"
    assert named.proto.alt == "Saliency, after the attack"  # more than its title, where the page tells them apart
    assert json.loads(named.proto.config)["toImageButtonOptions"]["filename"] == "saliency-after-the-attack"
    options = {"format": "png", "scale": 4, "filename": "bare"}
    assert json.loads(bare.proto.config) == {"toImageButtonOptions": options, "displayModeBar": False}


def test_every_chart_of_the_app_goes_through_charts_show():
    direct = [f"{path.relative_to(ROOT)}:{n}" for path in [ROOT / "streamlit_app.py", *ROOT.glob("pages/*.py"),
                                                         *ROOT.glob("explorer/**/*.py")]
              if path.name != "charts.py"
              for n, line in enumerate(path.read_text().splitlines(), 1) if re.search(r"\.plotly_chart\(", line)]
    assert direct == []
