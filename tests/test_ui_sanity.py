"""The sanity check's words and its maps (explorer.ui.sanity)."""

import pytest

from explorer.ui import sanity


@pytest.mark.parametrize(("rho", "said"), [(0.98, "hardly changed"), (0.8, "hardly changed"), (0.6, "partly changed"),
                                           (0.28, "changed: it depends"), (-0.1, "changed: it depends")])
def test_a_rank_correlation_is_put_in_words(rho, said):
    assert sanity.words(rho).startswith(said)
