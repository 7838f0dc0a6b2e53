"""The lecture's table of famous networks, measured."""

from explorer import famous


def test_famous_table_measures_the_decks_networks():
    rows = {r["network"]: r for r in famous.table()}
    assert rows["VGG16"]["measured: params"] == "138,357,544"
    assert rows["GoogLeNet"]["measured: depth"] == 22 and rows["GoogLeNet"]["deck: params"] == "2M"
    assert rows["AlexNet"]["measured: depth"] == 8
    assert rows["LeNet"]["measured: params"] == "61,706"
