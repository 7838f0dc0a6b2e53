"""A run's name is a classmate's words: shown to the whole class as words, never as a link, an image or HTML."""

import json

from explorer import runs
from tests.apptest import app, figures, no_crash, shapes_run, text

# written straight into status.json, as a store from before names were cleaned (or edited by hand) holds it
MARKUP = "Q ![q](http://127.0.0.1:9/q.png) [click](https://evil.example) <b>big</b> www.evil.example"


def _named(root, status: str = "finished") -> runs.Run:
    run = shapes_run(root, status=status)
    status_file = runs.path(run.id, root) / "status.json"
    status_file.write_text(json.dumps({**json.loads(status_file.read_text()), "name": MARKUP}))
    return run


def test_a_names_markup_stays_words_in_the_queue_the_heading_and_the_delete_question(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPLORER_RUNS", str(tmp_path))
    queued = _named(tmp_path, "queued")
    at = app("pages/train.py", run=queued.id)
    no_crash(at)
    shown = text(at)
    joined = "\u2060"  # a word joiner: Streamlit links a bare address, escaped or not
    assert f"Queue: Q \\!\\[q\\]\\(http{joined}\\:" in shown
    assert f"\\[click\\]\\(https{joined}\\:\\/\\/evil\\.example\\)" in shown
    assert "](http" not in shown and "<b>" not in shown and "www.evil" not in shown


def test_a_names_markup_stays_text_in_the_compared_curves_and_filters(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPLORER_RUNS", str(tmp_path))
    first, second = _named(tmp_path), shapes_run(tmp_path)
    at = app("pages/train.py", compare=f"{first.id},{second.id}")
    no_crash(at)
    plotted = json.dumps(figures(at))
    assert "&lt;b&gt;big&lt;/b&gt;" in plotted and "<b>big" not in plotted


def test_a_names_markup_stays_words_where_the_run_is_a_model(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPLORER_RUNS", str(tmp_path))
    run = _named(tmp_path)
    at = app("pages/layer_by_layer.py", model=f"run:{run.id}")
    no_crash(at)
    shown = text(at)
    assert "Trained in the training lab: Q \\!\\[q\\]\\(http\u2060\\:" in shown and "](http" not in shown and "<b>" not in shown and "www." not in shown
