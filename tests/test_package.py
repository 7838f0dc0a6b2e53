"""The ``explorer`` package itself: importing it from many threads at once, as a fresh server's first visitors do."""

import ast
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


def test_every_module_imports_torch_and_torchvision_whole_before_a_part_of_them():
    """A thread importing ``explorer.x`` does not wait for the package's own import of torchvision to finish, only
    for each module it names: ``from torchvision.transforms.v2 import ...`` first ran torchvision's parts beside
    the package's import of them, and about one start in ten under load got a half-made module."""
    early = []
    for path in sorted((ROOT / "explorer").rglob("*.py")):
        whole = set()
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in ("torch", "torchvision") and "." in name and top not in whole:
                    early.append(f"{path.relative_to(ROOT)}:{node.lineno} {name}")
                whole.add(top)
    assert early == []


def test_modules_imported_by_threads_at_once_all_load():
    # without torchvision imported by the package first, about one start in four failed here
    for _ in range(3):
        count, failures = _fresh(RACE).split(" ", 1)
        assert int(count) > 30 and failures == "[]", failures[:2000]


def test_the_widgets_bring_pandas_whole_before_any_figure_looks_for_it():
    assert _fresh("import sys, explorer.ui; print('pandas' in sys.modules)") == "True"
