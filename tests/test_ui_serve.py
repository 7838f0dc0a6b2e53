"""The launcher of ``make run`` (explorer.ui.serve): libraries first, then Streamlit on the app."""

import sys

from explorer.ui import serve


def test_the_launcher_imports_the_libraries_then_runs_the_app(monkeypatch):
    from streamlit.web import cli

    started = []
    monkeypatch.setattr(cli, "main", lambda: started.append(list(sys.argv)))
    monkeypatch.setattr(sys, "argv", ["serve"])
    serve.main(["--server.port", "8999"])
    assert started == [["streamlit", "run", str(serve.APP), "--server.port", "8999"]]
    assert serve.APP.name == "streamlit_app.py" and serve.APP.exists()
    assert all(name in sys.modules for name in serve.WARM)


def test_the_libraries_warmed_make_no_streamlit_caches():
    # explorer.ui's modules create Streamlit caches, which must be made under the running server
    assert not [name for name in serve.WARM if name.startswith("explorer.ui")]
