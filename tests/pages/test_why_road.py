"""Which map is right, with ROAD's removal: the pixels taken away filled from their neighbours, not greyed out."""

import pytest

from explorer import faithfulness
from tests.apptest import app, figures, no_crash, text, warnings

PAGE = "pages/why_prediction.py"


def test_road_draws_its_own_curves_and_keeps_the_choice_in_the_link(monkeypatch):
    asked, compare = [], faithfulness.compare
    monkeypatch.setattr(faithfulness, "compare", lambda *args, **kwargs: asked.append(kwargs["removal"])
                        or compare(*args, **kwargs))
    at = app(PAGE, faith="1")
    no_crash(at)
    assert "Deletion: area lower is better" in [f["layout"]["title"]["text"] for f in figures(at)]
    assert "ROAD (Rong et al. 2022" not in text(at) and "faithby" not in at.query_params
    at.segmented_control(key="why_faith_by").set_value("road").run()
    no_crash(at)
    assert asked == ["mean", "road"] and at.query_params["faithby"] == "road"
    drawn = {f["layout"]["title"]["text"]: f for f in figures(at)}
    deletion, insertion = drawn["ROAD deletion: lower is better"], drawn["ROAD insertion: higher is better"]
    for trace in deletion["data"]:  # from the image itself to its mean colour (and the same noise) for every order
        assert trace["y"][0] > 0.999 and trace["y"][-1] == pytest.approx(deletion["data"][0]["y"][-1])
    assert len({trace["y"][0] for trace in insertion["data"]}) == 1
    assert "ROAD (Rong et al. 2022, as pytorch-grad-cam offers it)" in text(at)
    assert any(c.value.startswith("On this image") for c in at.caption)


def test_an_unknown_removal_in_a_link_is_named():
    at = app(PAGE, faith="1", faithby="grey")
    no_crash(at)
    assert "faithby" in warnings(at) and "grey" in warnings(at)
    assert "Deletion: area lower is better" in [f["layout"]["title"]["text"] for f in figures(at)]
