"""Predict, then check: the student works a layer out before the app reveals it."""

from __future__ import annotations

import random
import secrets

import streamlit as st

from explorer import conv, labels
from explorer.receptive_field import Field

_SEED = "rf_quiz_seed"  # the question's number in this session
_ORDER = "rf_quiz_order"  # this session's order of the layers


def _question(spatial: list[Field], seed: int, count: int, shown: str) -> tuple[Field, Field | None] | None:
    """The ``count``-th question of a session: a conv or pooling layer other than the ``shown`` one (when
    there is another) and what feeds it (a layer, or None for the input). The session's ``seed`` orders
    the layers, so that questions only repeat once every layer was asked."""
    by_name = {f.name: f for f in spatial}
    candidates = [f for f in spatial if f.window is not None and len(f.inputs) == 1]
    candidates = [f for f in candidates if f.name != shown] or candidates
    if not candidates:
        return None
    random.Random(seed).shuffle(candidates)
    field = candidates[count % len(candidates)]
    return field, by_name.get(field.inputs[0])


def receptive_field_quiz(spatial: list[Field], input_size: int, shown: str) -> None:
    """Ask for one layer's receptive field and output size from what feeds it; check the answers.
    ``shown``: the layer the page shows, whose answers are on screen: not asked while there is another."""
    order = st.session_state.setdefault(_ORDER, secrets.randbelow(2**31))  # each student their own order
    seed = st.session_state.setdefault(_SEED, 0)
    picked = _question(spatial, order, seed, shown)
    if picked is None:
        st.info("This model has no convolution or pooling layer to ask about.")
        return
    field, before = picked
    r_in, j_in, n_in = (before.r[0], before.j[0], before.size[0]) if before else (1, 1, input_size)
    source = f"`{before.name}`" if before else "the input"
    st.caption("A layer drawn at random from this model (not the one picked above); *Another layer* draws again.")
    st.markdown(f"**Layer `{field.name}`** ({field.op}) reads {source}: a map of **{n_in}** rows whose units "
                f"see **r = {r_in}** input {labels.plural(r_in, 'row')} each, **j = {j_in}** "
                f"{labels.plural(j_in, 'row')} apart.")
    a, b = st.columns(2)
    guess_r = a.number_input("Its receptive field r (rows)", 0, 10_000, None, key=f"rf_quiz_r_{seed}")
    guess_n = b.number_input("Its output size (rows)", 0, 10_000, None, key=f"rf_quiz_n_{seed}")
    c, d = st.columns(2)
    checked = c.button("Check", key=f"rf_quiz_check_{seed}", type="primary")
    d.button("Another layer", key="rf_quiz_next", on_click=lambda: st.session_state.update({_SEED: seed + 1}))
    if not checked:
        return
    if guess_r is None or guess_n is None:
        st.warning("Type both numbers first.")
        return
    for label, guess, truth in (("Receptive field", guess_r, field.r[0]), ("Output size", guess_n, field.size[0])):
        (st.success if guess == truth else st.error)(
            f"{label}: you said {guess}, it is **{truth}**." + (" Right!" if guess == truth else ""))
    st.markdown(f"Receptive field: {field.how}.")
    st.markdown(_size_hint(field, n_in))


def _size_hint(field: Field, n_in: int) -> str:
    """The output-size formula with this layer's numbers (rows)."""
    k, s, p, d, ceil = field.window
    value = conv.output_size(n_in, k, p, s, d)
    rounding = ("\\lceil", "\\rceil") if ceil else ("\\lfloor", "\\rfloor")
    return (f"Output size: ${rounding[0]} ({n_in} + 2 \\cdot {p} - {d} \\cdot ({k} - 1) - 1) / {s} {rounding[1]} + 1 = "
            f"{rounding[0]} {value - 1:g} {rounding[1]} + 1 = {field.size[0]}$"
            + (" (this pooling rounds up: ceil mode)" if ceil else ""))
