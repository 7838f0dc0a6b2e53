"""The lecture's table of famous networks, measured."""

from explorer import famous


def test_famous_table_measures_the_decks_networks():
    rows = {r["network"]: r for r in famous.table()}
    assert rows["VGG16"]["measured: parameters"] == "138,357,544"
    assert rows["GoogLeNet"]["measured: weight layers deep"] == 22 and rows["GoogLeNet"]["deck: parameters"] == "2M"
    assert rows["AlexNet"]["measured: weight layers deep"] == 8
    assert rows["LeNet"]["measured: parameters"] == "61,706"
