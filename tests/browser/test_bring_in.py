"""Real-browser check of the Train page's "Bring in a run": a run's Download uploaded becomes the run shown, and a
file that is not one is refused in words (AppTest cannot upload files)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from . import needs  # noqa: E402, F401  (skips this module without Playwright or Chromium)

from playwright.sync_api import Page, expect  # noqa: E402

from ..apptest import shapes_run  # noqa: E402
from .conftest import open_page, screenshot  # noqa: E402
from .test_browser import assert_no_exception  # noqa: E402

pytestmark = pytest.mark.browser


def test_a_runs_download_brought_in_is_shown_and_a_text_file_is_refused(app_url: str, page: Page, tmp_path: Path,
                                                                        request: pytest.FixtureRequest) -> None:
    from explorer import architecture, atomic_files, data, run_files

    elsewhere = tmp_path / "another server"
    run = shapes_run(elsewhere, name="trained at home")
    mean, std = architecture.normalization("shapes", 1)  # the card a worker writes: the set's classes and statistics
    atomic_files.write_json(run.path / "checkpoint.json", {"step": 1, "epoch": 1.0, "input_shape": [1, 28, 28],
                                                           "classes": list(data.SHAPE_CLASSES), "mean": mean,
                                                           "std": std})
    archive = tmp_path / "trained-at-home.zip"
    archive.write_bytes(run_files.export(run.id, elsewhere))
    not_a_run = tmp_path / "notes.zip"
    not_a_run.write_text("just some notes\n")
    open_page(page, app_url + "/train", "Runs on this server")
    page.get_by_text("Bring in a run from its Download").click()
    upload = page.locator('[data-testid="stFileUploaderDropzoneInput"]')
    upload.set_input_files(str(archive))
    expect(page.get_by_text("Brought in trained at home as run", exact=False)).to_be_visible(timeout=60_000)
    expect(page).to_have_url(re.compile(r"run=\d{8}-\d{6}-[0-9a-f]{6}"))
    assert run.id not in page.url  # a run of its own here
    expect(page.get_by_role("heading", name="trained at home")).to_be_visible()  # shown above
    upload.set_input_files(str(not_a_run))  # in place of the first
    expect(page.get_by_text("This file cannot be brought in: it is not a zip that can be read",
                            exact=False)).to_be_visible(timeout=60_000)
    assert_no_exception(page)
    screenshot(page, request.node.name)
