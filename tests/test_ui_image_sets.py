"""The data-set picker's count (explorer.ui.image_sets): what one search may cost a shared server."""

import pytest
from streamlit.testing.v1 import AppTest

from tests.apptest import TIMEOUT


def _page(model: str, count: str) -> None:
    import streamlit as st

    from explorer import models
    from explorer.ui import image_sets

    st.session_state.ta_count = count
    st.markdown(f"count {image_sets._count(models.spec(model))}")


@pytest.mark.parametrize("model,count,searched,capped", [
    ("alexnet", "10000", 500, True), ("vgg16", "auto", 200, False), ("alexnet", "500", 500, False),
    ("lenet5", "10000", 10_000, False), ("lenet5", "auto", 10_000, False)])
def test_an_imagenet_size_network_searches_at_most_500_images_on_a_cpu(model, count, searched, capped):
    """A shared link with n=10000 on VGG16 had a class's server compute for hours."""
    at = AppTest.from_function(_page, args=(model, count), default_timeout=TIMEOUT).run()
    assert at.markdown[0].value == f"count {searched}"
    assert bool(at.caption) == capped
    if capped:
        assert at.caption[0].value.startswith("10,000 images are too many for a 224 px network on this server's CPU")
