"""The Train page's layer editor (explorer.ui.layer_editor): how its cells are read."""

import pytest

from explorer.ui import layer_editor


@pytest.mark.parametrize(("typed", "read"), [("3", 3), (" 16 ", 16), ("0.25", 0.25), ("1e-1", 0.1), ("x", "x"),
                                              ("3x", "3x"), ("nan", "nan"), ("inf", "inf"), ("-2", -2)])
def test_a_layer_cell_reads_as_a_number_where_it_is_one_and_as_its_text_where_not(typed, read):
    value = layer_editor.cell_value(typed)
    assert value == read and type(value) is type(read)
