"""Links between pages open the view they name: the model, its layer, class or unit, the image and the data set,
whatever the session kept on the page they open."""

from tests.apptest import app, back_to, no_crash, warnings


def _follow(at, page: str, query: str):
    """The session opens ``page`` at ``query`` (a link's), as a click on it does."""
    at.query_params.clear()
    at.query_params.update(dict(part.split("=", 1) for part in query.split("&") if part))
    return at.switch_page(page).run()


def test_a_link_that_brings_another_model_resets_the_choices_made_for_the_model_before():
    """Why this prediction on LeNet-5's class 5, then TinyVGG from a link: class 5 of the shapes is "line |", and the
    page had explained it without a word."""
    at = app("pages/why_prediction.py", **{"class": "5", "layer": "relu1"})
    assert at.session_state["why_class"] == 5
    _follow(at, "pages/layer_by_layer.py", "")
    _follow(at, "pages/why_prediction.py", "model=tinyvgg&img=triangle&src=sample")
    no_crash(at)
    assert at.session_state["why_class"] == -1 and at.session_state["why_layer"] != "relu1"
    assert "class" not in at.query_params and not warnings(at)


def test_a_link_that_names_the_model_keeps_its_class_and_back_keeps_the_view_it_had():
    at = app("pages/why_prediction.py", **{"class": "5"})
    _follow(at, "pages/layer_by_layer.py", "")
    _follow(at, "pages/why_prediction.py", "model=tinyvgg&class=2")
    assert at.session_state["why_class"] == 2  # a shared link's class belongs to the model it names
    at.selectbox(key="net_model").set_value("lenet5").run()
    assert at.session_state["why_class"] == -1  # picked in the box: the class went with the model
    back_to(at, model="tinyvgg", **{"class": "2"})
    assert at.session_state["why_class"] == 2 and at.session_state["net_model"] == "tinyvgg"
    back_to(at, **{"class": "5"})  # LeNet-5's class 5, the address this app wrote for it
    assert at.session_state["why_class"] == 5 and at.session_state["net_model"] == "lenet5"


def test_the_sidebar_opens_a_page_seen_before_on_the_model_shown_now_without_the_old_models_layer():
    """Receptive fields on TinyVGG's conv2a, then Small ResNet picked on Layer by layer: the sidebar's link had kept
    the address Receptive fields had, and the page said "This model has no layer conv2a". A layer the link still
    gives with another model is reset too."""
    at = app("pages/receptive_fields.py", model="tinyvgg", layer="conv2a")
    _follow(at, "pages/layer_by_layer.py", "model=tinyvgg")
    at.selectbox(key="net_model").set_value("resnet_small").run()
    link = next(link.proto for link in at.sidebar.get("page_link") if link.value == "Receptive fields")
    assert "model=resnet_small" in link.query_string and "layer=" not in link.query_string  # TinyVGG's layer
    _follow(at, "pages/receptive_fields.py", link.query_string)
    no_crash(at)
    assert "no layer conv2a" not in warnings(at) and at.session_state["rf_layer"] != "conv2a"
    _follow(at, "pages/layer_by_layer.py", "model=tinyvgg")
    _follow(at, "pages/receptive_fields.py", "layer=conv2a")  # an old address without the model: not that layer
    assert "no layer conv2a" not in warnings(at) and at.session_state["net_model"] == "tinyvgg"


def test_a_channels_links_name_the_view_the_image_and_the_data_set():
    """Kept on the other page, a class's ascent, the lowest 9 or the Kernels tab had shown instead of the channel;
    opened in a new tab, the links had lost the image and the data set."""
    at = app("pages/what_excites.py", mode="class", **{"class": "7"}, steps="2")
    _follow(at, "pages/top_activations.py", "layer=conv2&channel=3&img=tshirt&low=1&data=shapes")
    no_crash(at)
    links = {link.proto.label: link.proto.query_string for link in at.main.get("page_link")}
    assert links["What excites it"] == ("model=lenet5&src=sample&img=tshirt&data=shapes&mode=channel&neg=0&grid=0"
                                        "&layer=conv2&channel=3")
    assert links["Its map on your image"] == "model=lenet5&src=sample&img=tshirt&layer=conv2&tab=Output&look=1&closer=3"
    _follow(at, "pages/what_excites.py", links["What excites it"].replace("&grid=0", "&grid=0&steps=2"))
    no_crash(at)
    assert at.session_state["wx_mode"] == "channel" and at.session_state["wx_channel"] == 3
    assert at.session_state["img_sample"] == "tshirt" and at.session_state["ta_data"] == "shapes"
    back = {link.proto.label: link.proto.query_string for link in at.main.get("page_link")}
    _follow(at, "pages/top_activations.py", back["The images that excite it most"])
    assert not at.session_state["ta_low"] and at.session_state["ta_channel"] == 3


def test_back_after_a_model_switch_shows_the_model_and_sample_the_address_had():
    """The address before the switch leaves out the default model: Back had shown LeNet-5 reading TinyVGG's triangle,
    the sample the kept model's default."""
    at = app("pages/why_prediction.py")
    at.selectbox(key="net_model").set_value("tinyvgg").run()
    assert at.session_state["img_sample"] == "triangle"
    back_to(at)
    no_crash(at)
    assert at.session_state["net_model"] == "lenet5" and at.session_state["img_sample"] == "digit"


def test_going_back_several_pages_to_a_bare_address_shows_the_view_it_had():
    """Back past two pages to Layer by layer's bare address (its last): the session's TinyVGG, chosen since on another
    page, had shown there, and the address was rewritten."""
    at = app("pages/layer_by_layer.py")
    _follow(at, "pages/top_activations.py", "")
    at.selectbox(key="net_model").set_value("tinyvgg").run()
    _follow(at, "pages/receptive_fields.py", "model=tinyvgg")
    at.switch_page("pages/layer_by_layer.py")
    back_to(at)
    no_crash(at)
    assert at.session_state["net_model"] == "lenet5" and at.session_state["img_sample"] == "digit"
    assert "model" not in at.query_params
