"""Shared test settings: deterministic torch, paths, and stores kept out of the repository."""

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent

# Training runs and cached results that pages (and the app servers of the browser tests, which
# inherit the environment) write go to a temporary folder, never into the checkout.
_STORES = Path(tempfile.mkdtemp(prefix="explorer-tests-"))
os.environ.setdefault("EXPLORER_RUNS", str(_STORES / "runs"))
os.environ.setdefault("EXPLORER_CACHE", str(_STORES / "cache"))


def pytest_unconfigure(config):
    """Remove the stores when the run ends: the app servers and training workers that wrote there have stopped."""
    shutil.rmtree(_STORES, ignore_errors=True)


def pytest_collection_modifyitems(items):
    """Tests marked ``gpu`` skip without CUDA; on the GPU machine ``pytest -m gpu`` runs them."""
    if torch.cuda.is_available():
        return
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(pytest.mark.skip(reason="needs a CUDA GPU"))


@pytest.fixture(scope="session")
def lenet() -> torch.nn.Module:
    """The shipped LeNet-5 as the pages hold it: eval mode, parameters frozen. Never change it in a test."""
    from explorer import models

    return models.build("lenet5", pretrained=True).requires_grad_(False)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(scope="session", autouse=True)
def _stop_training_workers():
    """Stop the workers a page's backend started in this process once the session ends."""
    yield
    status = sys.modules.get("explorer.ui.run_status")  # never imported: no page ran, no worker (and no
    if status is None:                                   # streamlit needed, as on the GPU machine)
        return
    try:
        status.backend().close(kill_workers=True)
    except Exception:  # noqa: BLE001 - best effort at teardown
        pass
