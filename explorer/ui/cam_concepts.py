"""Why this prediction's "What the layer sees": Deep Feature Factorization (Collins et al. 2018) of the class
activation map's layer, its concepts painted over the image together and one by one, each named by the classes it
points to (:mod:`explorer.concepts`)."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st
import torch

from explorer import concepts, explain_figures, labels
from explorer.ui import charts, layout, map_row, memo, state
from explorer.ui.model_input import Network

HEIGHT = 220  # a small overlay with its colour bar, as the stages'

INTRO = ("Deep Feature Factorization (Collins et al. 2018) splits the maps of `{layer}` into a few **concepts** by "
         "non-negative matrix factorization: at each position the layer's channels are, as nearly as it can, a mix "
         "of a few channel patterns, none taken away. Each concept lights the parts of the image the layer sees "
         "alike, whatever the class; the rest of the network, reading one concept alone, names the classes it points "
         "to. The first picture paints each pixel in the colour of the concept that holds most of it "
         "(pytorch-grad-cam's DeepFeatureFactorization; the layer is the class activation map's, picked above).")


def settings() -> list[state.Setting]:
    return [state.Setting("why_dff", "dff", False, state.boolean, state.dump_bool),  # the fold open
            state.Setting("why_dff_k", "dffk", 5, state.int_between(2, concepts.MOST))]


def draw(network: Network, digest: str, image: torch.Tensor, layer: str, name: Callable[[int], str]) -> None:
    """The fold, computed only when open: ``layer``'s concepts ("" where the model has no feature maps)."""
    with st.expander(f"What the layer sees: concepts at {layer or 'a layer'}", icon=":material/category:",
                     key="why_dff", on_change="rerun"):
        if not layout.layer_fold_open("why_dff", layer, " to split into concepts"):
            return
        st.markdown(INTRO.format(layer=layer))
        st.slider("Concepts", 2, concepts.MOST, key="why_dff_k", width=300,
                  help="How many channel patterns the maps are split into: more hold more of the maps, in smaller "
                       "parts. pytorch-grad-cam's default is 5.")
        count, positions = int(st.session_state.why_dff_k), _positions(network, layer)
        if positions < 2:
            st.info(f"`{layer}`'s maps have one position: nothing to split among concepts. Pick a layer with larger "
                    "maps above (the last convolution's, say).")
            return
        if count > positions:
            st.caption(f"`{layer}`'s maps have {positions} positions: {positions} concepts at most.")
            count = positions
        found = memo.computed(
            "why_dff", (network.key, digest, layer, count),
            lambda report: concepts.factorize(network.model, image, layer, count),
            lambda done, total: f"Splitting the maps of {layer} into {count} concepts...")
        best = concepts.top_classes(found)
        columns = layout.cells(count + 1, layout.SMALL_PICTURE_PX)
        painted = explain_figures.picture_figure(concepts.painted(image, found), "All concepts:<br>by colour", HEIGHT,
                                                 layout.SMALL_PICTURE_PX)
        charts.show(columns[0], painted, key="why_fig_dff_all", name=f"The {count} concepts at {layer}, by colour")
        for k, column in enumerate(columns[1:]):
            colour, top = concepts.COLOURS[k][0], best[k][0][0]
            title = f"{k + 1}, {colour}:<br>{explain_figures.fitted(name(top), layout.SMALL_PICTURE_PX - 12)}"
            figure = explain_figures.heat_figure(image, found.heat[k], title, HEIGHT, layout.SMALL_PICTURE_PX,
                                                 map_row.outliers())
            charts.show(column, figure, key=f"why_fig_dff_{k}", name=f"Concept {k + 1} at {layer}, {name(top)}")
        st.caption(legend(found, best, name, network.pretrained))


def legend(found: concepts.Concepts, best: list[list[tuple[int, float]]], name: Callable[[int], str],
           trained: bool = True) -> str:
    """Each concept's colour and likeliest classes, and how nearly the concepts rebuild the maps."""
    each = [f"{k + 1} ({concepts.COLOURS[k][0]}) " + " or ".join(f"{name(c)} {labels.share(p)}" for c, p in classes)
            for k, classes in enumerate(best)]
    said = (f"What the rest of the network reads in each concept alone: {'; '.join(each)}. The names mean most near "
            "the output: at an early layer a concept is a stroke or an edge, which no class owns.")
    if not trained:
        said += " With random weights they mean nothing at all."
    return said + (f" The {len(best)} concepts rebuild the maps with a relative error of {found.error:.0%} "
                   "(‖A − WH‖ / ‖A‖, each channel less its least value): more concepts, less error.")


def _positions(network: Network, layer: str) -> int:
    """How many positions ``layer``'s maps have (h x w)."""
    shape = next(l.out_shape for l in network.layers if l.name == layer)
    return shape[-2] * shape[-1] if len(shape) == 3 else 1
