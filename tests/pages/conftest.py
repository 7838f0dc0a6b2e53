"""Fixtures of the page tests."""

import pytest


@pytest.fixture
def nameless_resnet_small(monkeypatch):
    """The small ResNet with its 10 outputs but no class names, as the pages' model picker sees it."""
    from explorer import models
    from explorer.ui import model_input

    nameless = models._with_classes(models.spec("resnet_small"), ())
    spec_of = model_input.spec_of
    monkeypatch.setattr(model_input, "spec_of", lambda name: nameless if name == "resnet_small" else spec_of(name))
    model_input._network.clear()  # built networks carry their spec
    yield
    model_input._network.clear()
