"""What every AppTest of a page uses: run a page through the entry point, read its text, errors and figures; the
model and image the pages open with, to compute what they should show."""

import base64
import json
import threading
import time
from collections.abc import Callable

import numpy as np
import torch
from streamlit.proto.WidgetStates_pb2 import WidgetState
from streamlit.testing.v1 import AppTest

from explorer import images, inputs, models

from tests.conftest import ROOT

TIMEOUT = 60


def lenet_and_digit() -> tuple[torch.nn.Module, torch.Tensor]:
    """What the pages open with: LeNet-5 with its shipped weights, and the sample digit as it reads it."""
    model = models.build("lenet5", pretrained=True)
    return model, inputs.prepare(models.spec("lenet5"), images.load_sample("digit")).tensor


def app(page: str | None = None, *, timeout: float = TIMEOUT, **params: str) -> AppTest:
    """Run the entry point with ``params`` in the URL, switched to ``page`` (a file under pages/); each run of it
    given ``timeout`` seconds."""
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=timeout)
    for key, value in params.items():
        at.query_params[key] = value
    if page:
        at.switch_page(page)
    return at.run()


def text(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [c.value for c in at.code]
    return "\n".join(parts)


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def warnings(at: AppTest) -> str:
    return " ".join(w.value for w in at.warning)


def figures(at: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def overlay_shares(at: AppTest, title: str) -> np.ndarray:
    """The share on hover of each pixel of the overlay titled ``title`` (a heat map over a picture): one hover cell a
    pixel of a 28 px map."""
    z = next(f for f in figures(at) if f["layout"]["title"]["text"] == title)["data"][1]["z"]
    shape = [int(n) for n in z["shape"].split(",")]
    return np.frombuffer(base64.b64decode(z["bdata"]), dtype=z["dtype"]).reshape(shape)


def titles(at: AppTest) -> list[str]:
    return [f["layout"].get("title", {}).get("text", "") for f in figures(at)]


def click_chart(at: AppTest, key: str, selection: dict) -> AppTest:
    """A click on the chart with ``key``: its ``selection`` goes to the server as the browser sends it, so the chart's
    ``on_select`` callback runs before the script, as it would in the browser (AppTest has no chart widget to set)."""
    return send_widget(at, "plotly_chart", key, selection)


def send_widget(at: AppTest, kind: str, key: str, value: dict) -> AppTest:
    """Run ``at`` with the widget of element ``kind`` (``plotly_chart``, ``dataframe`` for a data editor) and ``key``
    set to ``value``, as the browser's JSON, for a widget AppTest cannot set itself."""
    widget = next(w for w in at.get(kind) if w.proto.id.endswith(f"-{key}"))
    states = at._tree.get_widget_states()
    states.widgets.append(WidgetState(id=widget.proto.id, string_value=json.dumps(value)))
    return at._run(states)


def back_to(at: AppTest, history: bool = True, **query: str) -> AppTest:
    """What the browser's Back button does: the same session reruns on an earlier address, a run Streamlit marks as
    the browser's (``history``)."""
    from explorer.ui import state

    at.query_params.clear()
    at.query_params.update(query)
    marked, state._history_navigation = state._history_navigation, lambda: history
    try:
        return at.run()
    finally:
        state._history_navigation = marked


def no_crash(at: AppTest) -> None:
    assert not at.exception, at.exception
    assert not any("Something went wrong" in e for e in errors(at)), errors(at)


def held_sessions(script: Callable[[], None], started: list, gate: threading.Event,
                  cut: str) -> tuple[AppTest, AppTest]:
    """Two sessions of ``script`` at once, as a class opening one link: "a" starts the work (an entry in
    ``started``) and holds it on ``gate``; "b" asks for the same meanwhile; then a's work is let go.
    Both get ``who`` (a, b) and ``cut`` (whether a's work breaks off) in their query."""
    started.clear()
    gate.clear()
    first, second = (AppTest.from_function(script, default_timeout=TIMEOUT) for _ in range(2))
    first.query_params.update(who="a", cut=cut)
    second.query_params.update(who="b", cut=cut)
    runs = [threading.Thread(target=session.run) for session in (first, second)]
    runs[0].start()
    deadline = time.monotonic() + TIMEOUT
    while not started and time.monotonic() < deadline:
        time.sleep(0.05)
    runs[1].start()
    time.sleep(1.0)  # b waits under its bar by now
    gate.set()
    for run in runs:
        run.join(TIMEOUT)
    return first, second


SHAPES_LENET = {"data": "shapes", "model": "lenet5", "shapes_size": 28, "shapes_channels": 1}


def shapes_run(root, name: str = "", status: str = "finished", saved: bool = True):
    """A LeNet-5 run on the built-in shapes in the run store ``root``, in ``status``, with its untrained network saved
    as its checkpoint where ``saved``: what the model pickers and the Train page read, without training."""
    from explorer import architecture, run_files, run_lifecycle, runs

    run = runs.create(SHAPES_LENET, root=root, name=name)
    if saved:
        run_files.save_checkpoint(run.id, architecture.build(SHAPES_LENET, (1, 28, 28), 8), None, 1, 1.0, root,
                                  input_shape=[1, 28, 28], classes=[str(k) for k in range(8)], mean=[0.5], std=[0.25])
    run_lifecycle.set_status(run.id, status, "stopped" if status != "finished" else "", root)
    return run
