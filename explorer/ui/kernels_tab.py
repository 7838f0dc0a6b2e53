"""Layer by layer's Kernels tab: a convolution's filters, a page of them at a time, and for the network's first
convolution, which hand-set kernel each resembles, with a way to try one in the Kernel Lab."""

from __future__ import annotations

import streamlit as st
import torch

from explorer import inspect, kernels, labels, mosaic
from explorer.ui import charts, kernel_input, layout, state

KERNELS_PER_PAGE = 16  # filters (and input maps) in the grid
LAYOUT_WORDS = {3: " in colour (R, G, B weights)", 1: ", one tile each, row by row"}


def draw(layer: inspect.Layer, layers: list[inspect.Layer]) -> None:
    """The tab for ``layer`` of a network of ``layers``."""
    if not isinstance(layer.module, torch.nn.Conv2d):
        st.info("This layer has no kernels: pick a convolution (`conv...`) layer to see what it learned.")
        return
    weight = layer.module.weight.detach()
    (count, inputs), pages = weight.shape[:2], -(-weight.shape[0] // KERNELS_PER_PAGE)
    state.at_most("lbl_kpage", "kpage", pages, f"`{layer.name}`'s {count} filters fill {pages} "
                  f"{labels.plural(pages, 'page')}")
    in_pages = -(-inputs // KERNELS_PER_PAGE) if inputs != 3 else 1  # RGB filters are whole tiles
    state.at_most("lbl_kin", "kin", in_pages, f"`{layer.name}`'s {inputs} input maps fill {in_pages} "
                  f"{labels.plural(in_pages, 'page')}")
    first = (st.session_state.lbl_kpage - 1) * KERNELS_PER_PAGE
    first_in = (st.session_state.lbl_kin - 1) * KERNELS_PER_PAGE
    shown = (f"filters {first}..{min(first + KERNELS_PER_PAGE, count) - 1} of {count}" if pages > 1
             else f"{count} filters")
    rows = (f"input maps {first_in}..{min(first_in + KERNELS_PER_PAGE, inputs) - 1} of {inputs}" if in_pages > 1
            else f"{inputs} input maps")
    words = LAYOUT_WORDS.get(inputs, f" (columns) x {rows} (rows)")  # short: longer, it was cut at 1280 px
    charts.show(st, mosaic.kernels_figure(weight, shown + words, width_px=layout.VIEW_PX, max_out=KERNELS_PER_PAGE,
                                          max_in=KERNELS_PER_PAGE, first=first, first_in=first_in),
                key="lbl_fig_kernels")
    paged = (pages > 1) + (in_pages > 1)
    boxes = layout.cells(paged, layout.SETTING_PX) if paged else []
    if pages > 1:
        boxes.pop(0).number_input(f"Filters page (of {pages})", 1, pages, key="lbl_kpage")
    if in_pages > 1:
        boxes.pop(0).number_input(f"Input maps page (of {in_pages})", 1, in_pages, key="lbl_kin")
    if layer is next(l for l in layers if isinstance(l.module, torch.nn.Conv2d)):
        _resemblance(weight)


def _resemblance(weight: torch.Tensor) -> None:
    """The first convolution's filters against the hand-set kernels, and one sent to the Kernel Lab."""
    flat = weight.sum(1)  # what each filter does to a grey image (R = G = B)
    st.markdown("**Which hand-set kernel does each learned filter resemble?** (cosine similarity, a preset of "
                f"another size resampled to the filters' {weight.shape[-2]}x{weight.shape[-1]} first: bilinear, "
                "corners on corners; "
                "a negative value is the same pattern with the sign flipped; |cosine| from 0.8 is a strong "
                "resemblance, from 0.5 a partial one; below that even the most alike preset is not much like "
                "the filter"
                + ("; a colour filter is compared by the sum of its R, G and B weights, which is what it "
                   "does to a grey image)" if weight.shape[1] > 1 else ")"))
    st.dataframe([{"filter": i, "most alike": m[0][0], "cosine": round(m[0][1], 2),
                   "resemblance": kernels.resemblance(m[0][1]), "runner-up": f"{m[1][0]} ({m[1][1]:.2f})"}
                  for i, m in enumerate(kernels.closest_presets(k, top=2) for k in flat[:32])],
                 key="lbl_similarity", hide_index=True,
                 column_config={"cosine": st.column_config.NumberColumn(format="%.2f")})
    # in the link: Back, then Forward, had sent filter 0 where the filter chosen had gone
    state.at_most("lbl_send_index", "send", len(flat) - 1, f"the first convolution has filters 0..{len(flat) - 1}")
    chosen = st.number_input("Filter to try in the Kernel Lab", 0, len(flat) - 1, key="lbl_send_index")
    # a link made ahead, not a button that switches pages: Back then returns here, not to an address in between
    st.page_link("pages/kernel_lab.py", label="Use this kernel in the Kernel Lab", icon=":material/send:",
                 query_params={"k": kernel_input.CUSTOM, "kv": kernel_input.send_to_lab(flat[int(chosen)])},
                 help="The Kernel Lab slides the filter's weights over its own pictures, without the layer's "
                      "bias or the network's input normalisation: the pattern it finds is the same, its "
                      "numbers are not the feature map's here.")
