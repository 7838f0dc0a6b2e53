"""The Train page's helpers (explorer.ui.lab): the server's one backend, a link's run id."""

import pytest

from explorer.ui import lab


def test_a_links_run_must_be_a_plain_name():
    assert lab.run_id("20261204-000612-4efc54") == "20261204-000612-4efc54"
    for bad in ("a/b", "..x", "-x", ""):
        with pytest.raises(ValueError, match="is not a run's id"):
            lab.run_id(bad)
