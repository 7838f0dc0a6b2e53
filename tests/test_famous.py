"""The lecture's table of famous networks, measured."""

from explorer import famous


def test_famous_table_measures_the_decks_networks():
    rows = {r["network"]: r for r in famous.table()}
    assert rows["VGG16"]["params: deck / here"] == "138M / 138,357,544"
    assert rows["GoogLeNet"]["layers: deck / here"] == "22 / 22"
    assert rows["GoogLeNet"]["params: deck / here"] == "2M / 6,624,904"
    assert rows["AlexNet"]["layers: deck / here"] == "8 / 8" and rows["AlexNet"]["here / deck"] == "1.02x"
    assert rows["LeNet"]["params: deck / here"] == "~60k / 61,706" and rows["ResNet"]["here / deck"] == "-"
