"""A table's cell as a person types it: blank (None, empty text, NaN), or a number read from its text.

The layer table (:mod:`explorer.layer_table`) reads the cells of its editor and of a link with these two.
"""

from __future__ import annotations

import math


def blank(value: object) -> bool:
    """None, empty text, or NaN: how a table shows a cell nobody filled in."""
    return value is None or (isinstance(value, str) and not value.strip()) or (
        isinstance(value, float) and math.isnan(value))


def cell_value(text: object) -> object:
    """A number cell as typed (the editor's, a link's): an int or a finite float where it reads as one, else the
    text itself (stripped), which the plan names ("kernel is 'x', which is not a number")."""
    text = str(text).strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        return text
    return number if math.isfinite(number) else text
