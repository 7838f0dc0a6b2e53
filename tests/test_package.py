"""The ``explorer`` package itself: importing it from many threads at once, as a fresh server's first visitors do."""

import subprocess
import sys

from tests.conftest import ROOT

# every module of explorer (not explorer.ui) imported at once, each by its own thread, in a fresh interpreter
RACE = """
import importlib, pathlib, threading
names = sorted("explorer." + p.stem for p in pathlib.Path("explorer").glob("*.py") if p.stem != "__init__")
failures, start = [], threading.Barrier(len(names))
def load(name):
    start.wait()
    try:
        importlib.import_module(name)
    except Exception as exc:
        failures.append(f"{name}: {exc!r}")
threads = [threading.Thread(target=load, args=(name,)) for name in names]
for thread in threads: thread.start()
for thread in threads: thread.join()
print(len(names), failures)
"""


def _fresh(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip()


def test_the_package_brings_torchvision_whole_before_any_module_asks_for_a_part():
    assert _fresh("import sys, explorer; print('torchvision.models' in sys.modules)") == "True"


def test_modules_imported_by_threads_at_once_all_load():
    # without torchvision imported by the package first, about one start in four failed here
    for _ in range(3):
        count, failures = _fresh(RACE).split(" ", 1)
        assert int(count) > 30 and failures == "[]", failures[:2000]


def test_the_widgets_bring_pandas_whole_before_any_figure_looks_for_it():
    assert _fresh("import sys, explorer.ui; print('pandas' in sys.modules)") == "True"
