"""bench/gpu_checks.sh runs on the GPU machine, which has torch and pytest but no streamlit or plotly:
what it runs must import and tear down without them."""

import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

SCRIPT = (ROOT / "bench" / "gpu_checks.sh").read_text()
QUICK = "refused or evaluate or is_a_backend or impossible_targets or gpu or cuda"  # a few of each file


def _as_on_the_gpu_machine(tmp_path: Path) -> dict[str, str]:
    """An environment where ``import streamlit`` and ``import plotly`` fail."""
    for name in ("streamlit", "plotly"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text(f"raise ImportError('no {name} on the GPU machine')\n")
    return {"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}


def test_the_gpu_scripts_tests_run_without_streamlit(tmp_path):
    files = sorted(set(re.findall(r"tests/test_\w+\.py", SCRIPT)))
    assert {"tests/test_step_graph.py", "tests/test_training.py"} <= set(files)
    # collection, the shared fixtures and the session's teardown, as pytest -m gpu meets them there
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", QUICK, *files],
                         cwd=ROOT, env=_as_on_the_gpu_machine(tmp_path), capture_output=True, text=True, timeout=600)
    summary = run.stdout.strip().splitlines()[-1]
    assert run.returncode == 0 and "passed" in summary and "error" not in summary, run.stdout[-3000:] + run.stderr[-2000:]


def test_the_gpu_scripts_benches_import_without_streamlit(tmp_path):
    benches = re.findall(r"python3 (bench/\w+)\.py", SCRIPT)
    assert "bench/train_speed" in benches
    env = _as_on_the_gpu_machine(tmp_path)
    for bench in benches:
        module = bench.replace("/", ".")
        run = subprocess.run([sys.executable, "-c", f"import importlib; importlib.import_module('{module}')"],
                             cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, f"{bench}: {run.stderr[-2000:]}"
