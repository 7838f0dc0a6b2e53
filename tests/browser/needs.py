"""Imported first by every browser test module: where Playwright, its pytest plugin or Debian's Chromium is missing,
the module is skipped with the reason (each module had repeated these lines)."""

import pytest

from .conftest import CHROMIUM

pytest.importorskip("playwright", reason="playwright is not installed")
pytest.importorskip("pytest_playwright", reason="pytest-playwright is not installed")
if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} is missing (make chromium installs it)", allow_module_level=True)
