"""A table's cells: a number where the text is one, the text itself where not."""

import pytest

from explorer import table_cells


@pytest.mark.parametrize(("typed", "read"), [("3", 3), (" 16 ", 16), ("0.25", 0.25), ("1e-1", 0.1), ("x", "x"),
                                              ("3x", "3x"), ("nan", "nan"), ("inf", "inf"), ("-2", -2)])
def test_a_layer_cell_reads_as_a_number_where_it_is_one_and_as_its_text_where_not(typed, read):
    value = table_cells.cell_value(typed)
    assert value == read and type(value) is type(read)
