"""The sanity check's words and its maps (explorer.ui.sanity)."""

import pytest

from explorer.ui import sanity


@pytest.mark.parametrize(("rho", "said"), [(0.98, "hardly changed"), (0.8, "hardly changed"), (0.6, "partly changed"),
                                           (0.28, "changed: it depends"), (-0.1, "changed: it depends"),
                                           (0.7996, "hardly changed")])  # shown as 0.80, read as 0.80
def test_a_rank_correlation_is_put_in_words(rho, said):
    assert sanity.words(rho).startswith(said)


def test_the_random_networks_maps_explain_the_trained_networks_class():
    """Left to choose, the random LeNet-5 explained its own top class (9) beside the trained maps of the 3."""
    from streamlit.testing.v1 import AppTest

    from tests.apptest import TIMEOUT

    def script():
        import streamlit as st
        import torch

        from explorer import images
        from explorer.ui import model_input, sanity
        from explorer.ui.explanations import Smoothing

        network = model_input._network("lenet5", True)
        image = images.load_sample("digit")[:1]
        results = sanity.checked(network, "digit3", image, None, "relu2", Smoothing(), 8, "black")
        st.write(" ".join(f"{method}={fresh.target}" for method, _, fresh, _ in results))
        with torch.no_grad():
            st.write(str(int(network.model(image[None]).argmax())))

    at = AppTest.from_function(script, default_timeout=TIMEOUT).run()
    assert not at.exception
    predicted = at.markdown[1].value
    assert at.markdown[0].value == f"Saliency={predicted} Grad-CAM={predicted} Integrated gradients={predicted}"


def test_a_pair_with_a_blank_map_compares_nothing():
    """Integrated gradients from black on a black image are 0 for any weights: 'changed', at rho 0.00, had said
    the map depends on what the network learned."""
    from streamlit.testing.v1 import AppTest

    from tests.apptest import TIMEOUT

    def script():
        import streamlit as st
        import torch

        from explorer import attribution
        from explorer.ui import model_input, sanity
        from explorer.ui.explanations import Smoothing

        st.session_state.why_sanity = True  # the fold open
        network, black = model_input._network("lenet5", True), torch.zeros(1, 28, 28)
        ig = attribution.integrated_gradients(network.model, black, None, 8)
        sanity.draw(network, "black", black, None, "relu2", Smoothing(), ig)

    at = AppTest.from_function(script, default_timeout=TIMEOUT).run()
    assert not at.exception
    said = [c.value for c in at.caption]
    assert said[-1] == "**–**: a map is blank on this image, so there is nothing to compare."
    assert all(s.startswith("**") and "nothing to compare" not in s for s in said[:-1])  # the others are compared


def test_the_cascade_reads_the_squares_images_again_only_where_it_takes_seconds():
    import torch

    assert sanity.squares_cascade(torch.zeros(1, 28, 28)) and sanity.squares_cascade(torch.zeros(3, 64, 64))
    assert sanity.squares_cascade(torch.zeros(3, 224, 224)) == torch.cuda.is_available()


def test_the_cascades_note_says_the_squares_line_moves_in_steps_only_where_it_has_one():
    steps = [("fc5", {"saliency": 0.9, "squares": 0.4}), ("conv1", {"saliency": 0.3, "squares": 0.7})]
    names = {"saliency": "Saliency", "squares": "Shapley values"}
    assert "rank only 9 squares" in sanity.cascade_note(steps, names, 2, squares=9)
    assert "squares" not in sanity.cascade_note(steps, names, 2)

