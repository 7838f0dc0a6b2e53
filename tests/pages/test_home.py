"""The home page: every page listed with its link, the device."""

from tests.apptest import app, no_crash, warnings


def test_home_lists_every_page_and_the_device():
    at = app()
    no_crash(at)
    assert at.title[0].value == "CNN Explorer"
    assert "Compute device" in at.info[0].value
    links = {link.proto.page for link in at.get("page_link")}
    assert {"", "kernel_lab", "step_by_step", "layer_by_layer", "receptive_fields", "top_activations",
            "train", "what_excites", "why_prediction", "invariance"} <= links  # the URL paths of the deep links


def test_each_cards_link_carries_the_hosts_path_prefix():
    """A server at https://school.example/class/cnn/ (server.baseUrlPath) serves Kernel Lab at /class/cnn/kernel_lab."""
    from streamlit import config

    assert "Link: `/kernel_lab`" in [c.value for c in app().caption]
    config.set_option("server.baseUrlPath", "/class/cnn/")
    try:
        captions = [c.value for c in app().caption]
    finally:
        config.set_option("server.baseUrlPath", "")
    assert "Link: `/class/cnn/kernel_lab`" in captions and "Link: `/kernel_lab`" not in captions


def test_a_pages_settings_under_homes_address_ask_whether_its_name_was_mistyped():
    """Streamlit runs Home for a page it cannot find ("/Kernel_Lab?stride=2"), the settings kept in the address."""
    at = app(stride="2", k="laplacian")
    no_crash(at)
    assert ("The address gives `k` and `stride`, but Home has no settings: was a page's name mistyped?"
            in warnings(at))
    assert not at.query_params
    assert not warnings(app())
