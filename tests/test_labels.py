"""Names people read for data sets and networks (explorer.labels)."""

from explorer import labels


def test_known_names_read_as_the_pickers_show_them_and_unknown_ones_as_they_are():
    assert labels.run_stem({"model": "tinyvgg", "data": "fashion-mnist"}) == "TinyVGG on Fashion-MNIST"
    assert labels.run_stem({}) == "LeNet-5 on Built-in shapes"  # the trainer's defaults
    assert (labels.data("svhn"), labels.network("vit"), labels.data(None)) == ("svhn", "vit", "?")


def test_counts_in_formulas_keep_their_separators_tight():
    assert labels.tex_int(589824) == "589{,}824" and labels.tex_int(12) == "12"
