"""Why this prediction's "Which class activation map?": every method's map at the layer picked, checked by ADCC
(:mod:`explorer.adcc`): average drop, coherency and complexity, in a table, the best first."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import streamlit as st
import torch

from explorer import adcc, cam as cams, labels
from explorer.ui import cam_controls, layout, memo, state
from explorer.ui.model_input import Network

INTRO = ("Each class activation map of **{name}** at `{layer}` is checked three ways that need no right answer "
         "(ADCC, Poppi et al. 2021). The map fades the image where it is low, each pixel towards the training set's "
         "mean colour: the **average drop** is the share of the class's probability lost on that image (0 is best). "
         "**Coherency**: the map of the faded image should be the map itself (their correlation, from 0 to 1). "
         "**Complexity**: the map's mean, large when it lights everything (0 is best). **ADCC** is high only where "
         "all three are good. Each method is run plain, of the class's score, without the smoothings above.")


COLUMNS = {
    "ADCC": st.column_config.ProgressColumn("ADCC", format="%.3f", min_value=0.0, max_value=1.0,
                                            help="3 / (1/coherency + 1/(1 - complexity) + 1/(1 - average drop)): "
                                                 "high only where all three are good"),
    "Average drop": st.column_config.NumberColumn(format="%.3f", help="The share of the class's probability lost "
                                                                      "on the faded image (0 is best)"),
    "Coherency": st.column_config.NumberColumn(format="%.3f", help="The correlation of the map with the faded "
                                                                   "image's map, from 0 to 1 (1 is best)"),
    "Complexity": st.column_config.NumberColumn(format="%.3f", help="The map's mean (0 is best)"),
    "p faded": st.column_config.TextColumn(help="The class's probability on the image faded where the map is low"),
}


def settings() -> list[state.Setting]:
    return [state.Setting("why_adcc", "adcc", False, state.boolean, state.dump_bool)]  # the fold open


def draw(network: Network, digest: str, image: torch.Tensor, target: int | None, layer: str, picked: str,
         name: Callable[[int], str], explained: int) -> None:
    """The fold, computed only when open: each method's map of class ``target`` (None: the predicted one,
    ``explained``) at ``layer`` checked, ``picked`` the method chosen above."""
    with st.expander("Which class activation map? Each method checked by ADCC", icon=":material/leaderboard:",
                     key="why_adcc", on_change="rerun"):
        if not layout.layer_fold_open("why_adcc", layer, ", so no class activation map to check"):
            return
        methods = [m for m in cams.METHODS if cam_controls.quick_cam(m, image) == m]
        st.markdown(INTRO.format(name=name(explained), layer=layer))
        checked = memo.computed(
            "why_adcc", (network.key, digest, target, layer, tuple(methods)),
            lambda report: adcc.check_all(network.model, image, layer, target, methods, network.spec.mean, report),
            lambda done, total: memo.counted("Checking each class activation map", done, total, "methods"))
        st.dataframe(rows(checked, picked), hide_index=True, key="why_adcc_table", width="stretch", height="content",
                     column_config=COLUMNS)
        left_out = [cams.METHODS[m] for m in cams.METHODS if m not in methods]
        st.caption(summary(checked, picked, name(explained), left_out))


def rows(checked: Sequence[adcc.Checked], picked: str) -> list[dict]:
    """The table: one row a method, the best ADCC first, the one picked above marked."""
    return [{"Method": cams.METHODS[c.method] + (" (above)" if c.method == picked else ""), "ADCC": c.adcc,
             "Average drop": c.drop, "Coherency": c.coherency, "Complexity": c.complexity,
             "p faded": labels.share(c.after)} for c in checked]


def summary(checked: Sequence[adcc.Checked], picked: str, name: str, left_out: Sequence[str]) -> str:
    """The best method and where the one picked above ranks, and the methods left out."""
    best = checked[0]
    said = (f"Best here: {cams.METHODS[best.method]} (ADCC {best.adcc:.3f}): the image it fades keeps "
            f"{labels.share(best.after)} of {name}'s {labels.share(best.before)}.")
    rank = next((i for i, c in enumerate(checked, 1) if c.method == picked), None)
    if rank is not None and rank > 1:
        said += f" {cams.METHODS[picked]}, picked above, ranks {rank} of {len(checked)}."
    if left_out:
        said += (f" {labels.listed(left_out)} are left out at this image size on a server without a GPU: one pass "
                 "of the network per map, twice, takes minutes.")
    return said + " The ranking holds for this image and layer: another may reorder it."
