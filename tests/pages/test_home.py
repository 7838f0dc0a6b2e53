"""The home page: every page listed with its link, the device."""

from tests.apptest import app, no_crash


def test_home_lists_every_page_and_the_device():
    at = app()
    no_crash(at)
    assert at.title[0].value == "CNN Explorer"
    assert "Compute device" in at.info[0].value
    links = {link.proto.page for link in at.get("page_link")}
    assert {"", "kernel_lab", "step_by_step", "layer_by_layer", "receptive_fields", "top_activations",
            "train", "what_excites", "why_prediction", "invariance"} <= links  # the URL paths of the deep links
