"""Layer by layer's "Probe each layer" tab (explorer.ui.probing) through the page: a linear classifier per layer
trained only on a click, what random layers keep, and why an ImageNet network has none."""

import pytest

from explorer import data
from tests.apptest import app, figures, no_crash, text, titles


PROBES = "Probe each layer"


def test_the_probe_tab_trains_a_classifier_per_layer_only_when_open():
    closed = app("pages/layer_by_layer.py", model="tinyvgg")
    assert not any(t.startswith("What a linear classifier reads") for t in titles(closed))
    at = app("pages/layer_by_layer.py", model="tinyvgg", tab=PROBES)
    no_crash(at)  # half a minute of work: only on a click (a model chosen while the tab was open started it)
    assert not any(t.startswith("What a linear classifier reads") for t in titles(at))
    at.button(key="lbl_probe_go").click().run()
    probe = next(f for f in figures(at) if f["layout"]["title"]["text"].startswith("What a linear classifier"))
    tested = probe["data"][0]
    assert tested["x"] == ["normalize", "relu1a", "relu1b", "pool1", "relu2a", "relu2b", "pool2", "fc"]
    assert tested["y"][-1] > tested["y"][0] + 8  # the trained features beat the pixels
    shown = text(at)
    assert "trained on 3,000 Built-in shapes images" in shown and "better and better with depth" in shown
    assert "The dotted line is each classifier's accuracy on its own training images" in shown
    # the lecture's figures beside ours, in a table; ours written by each point
    assert "| layer | test accuracy |" in shown and "| 1 | 44.8% |\n| 2 | 66.2% |" in shown and "| 7 | 85.5% |" in shown
    assert tested["text"] == [f"{value:.1f}" for value in tested["y"]]
    again = app("pages/layer_by_layer.py", model="tinyvgg", tab=PROBES)  # computed on this server: shown at once
    assert any(t.startswith("What a linear classifier reads") for t in titles(again))
    assert not [b for b in again.button if b.key == "lbl_probe_go"]


@pytest.mark.skipif(data.shared_root() is None,
                    reason="needs ../shared/data (real MNIST): LeNet-5's probes train on it")
def test_the_probe_tab_explains_what_random_layers_keep_and_lose():
    at = app("pages/layer_by_layer.py", model="lenet5", weights="0", tab=PROBES)
    at.button(key="lbl_probe_go").click().run()
    no_crash(at)
    shown = text(at)
    assert "These are random weights. A first random layer with ReLU spreads the pixels" in shown
    assert "Switch on **Trained weights** to see what training adds" in shown
    assert "better and better with depth" not in shown


def test_the_probe_tab_says_why_an_imagenet_network_has_no_probes():
    at = app("pages/layer_by_layer.py", model="alexnet", weights="0", tab=PROBES)
    no_crash(at)
    assert any("labelled images of ImageNet, which this network was trained on and which is not on this server"
               in i.value for i in at.info)
