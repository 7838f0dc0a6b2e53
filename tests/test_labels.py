"""Names people read for data sets and networks (explorer.labels)."""

import re

from explorer import labels


def test_known_names_read_as_the_pickers_show_them_and_unknown_ones_as_they_are():
    assert labels.run_stem({"model": "tinyvgg", "data": "fashion-mnist"}) == "TinyVGG on Fashion-MNIST"
    assert labels.run_stem({}) == "LeNet-5 on Built-in shapes"  # the trainer's defaults
    assert (labels.data("svhn"), labels.network("vit"), labels.data(None)) == ("svhn", "vit", "?")


def test_counts_in_formulas_keep_their_separators_tight():
    assert labels.tex_int(589824) == "589{,}824" and labels.tex_int(12) == "12"


def test_a_pair_of_percentages_gets_the_decimals_that_tell_them_apart():
    assert labels.percent_pair(1.0, 0.992) == (">99.9%", "99.2%")
    assert labels.percent_pair(0.999981, 0.999614) == (">99.99%", "99.96%")
    assert labels.percent_pair(0.9999981, 0.9999614) == (">99.999%", "99.996%")
    assert labels.percents(1.0, 1.0) == (">99.9%", ">99.9%")  # a float softmax's 1: never certain
    assert labels.percents(0.99999, 0.99995, 1e-7) == ("99.999%", "99.995%", "<0.001%")  # not a "0.000%"
    assert labels.percent_pair(0.5, 0.5) == ("50.0%", "50.0%")
    # a random ImageNet network: three near-ties told apart, a repeated value shown once alike
    assert labels.percents(0.00104, 0.00121, 0.00098) == ("0.104%", "0.121%", "0.098%")  # 0.10% twice at 2
    assert labels.percents(0.25, 0.25, 0.7) == ("25.0%", "25.0%", "70.0%")  # equal values may look alike


def test_numbers_shown_together_get_the_same_decimals():
    assert labels.alike(10.12, 10.05, 9.98) == ("10.12", "10.05", "9.98")
    assert labels.alike(-1.575, 0.5511) == ("-1.575", "0.551")
    assert labels.alike(1234.5, 3.2) == ("1234", "3")  # never fewer digits than the largest's whole part
    assert labels.alike(0.0, 0.0) == ("0.000", "0.000") and labels.alike(0.0012, 0.0003) == ("0.001200", "0.000300")


def test_a_column_widens_for_its_longest_cell_or_header_and_never_narrows():
    rows = [{"map": "28x28", "r": 5}, {"map": "224x224", "r": 14}]
    widths = labels.column_widths(rows, {"map": 46, "r": 30, "start from": 40})
    assert widths["map"] == labels.text_px("224x224") + 12 > 46  # ResNet's maps were cut to "224x22"
    assert widths["r"] == 30  # "14" fits the given width
    assert widths["start from"] == labels.text_px("start from") + 12  # a header is kept whole too
    assert labels.text_px("28x28") < labels.text_px("224x224") and labels.text_px("a b") == 15


def test_a_rank_reads_as_english_writes_it():
    assert [labels.ordinal(n) for n in (1, 2, 3, 4, 9, 11, 12, 13, 21, 22, 23, 101, 111)] == [
        "1st", "2nd", "3rd", "4th", "9th", "11th", "12th", "13th", "21st", "22nd", "23rd", "101st", "111th"]


def test_a_typed_cell_goes_through_a_link_as_typed():
    for typed in ("1,5", "a;b=c", "50%", "%2C", "-0.25", ""):
        assert labels.from_link_cell(labels.link_cell(typed)) == typed
        assert not set(",;=") & set(labels.link_cell(typed))
    assert labels.link_cell("1,5") == "1%2C5" and labels.link_cell("-0.25") == "-0.25"  # numbers unchanged


def test_a_share_too_small_for_one_decimal_says_so():
    assert [labels.share(p) for p in (0.999, 0.0005, 0.0004, 0.0)] == ["99.9%", "0.1%", "<0.1%", "<0.1%"]


def test_every_data_set_of_the_train_page_says_what_it_holds():
    from explorer import data

    assert set(labels.DATA_FACTS) == set(labels.DATA)
    assert "60,000 training and 10,000 test images, 28 x 28" in labels.DATA_FACTS["mnist"]  # the lecture's figure
    assert f"in {len(data.SHAPE_CLASSES)} classes" in labels.DATA_FACTS["shapes"]


def test_listed_joins_with_and_and_counts_past_the_most():
    assert labels.listed([0]) == "0" and labels.listed([0, 2]) == "0 and 2" and labels.listed([0, 2, 4]) == "0, 2 and 4"
    assert labels.listed(list("abcdefg"), most=5) == "a, b, c, d, e and 2 others"


def test_text_shown_as_itself_in_markdown_and_plotly():
    joined = "\u2060"  # a word joiner: Streamlit links a bare address, escaped or not
    assert labels.md_text("[click](https://e.x) www.e.x\nnext a@b.c") == (
        f"\\[click\\]\\(https{joined}\\:\\/\\/e\\.x\\) www{joined}\\.e\\.x next a{joined}\\@b\\.c")
    assert labels.code("conv1") == "`conv1`"
    assert labels.code("a`b") == "``a`b``" and labels.code("`![i](u)") == "`` `![i](u) ``"
    assert labels.plot_text("<a href='u'>x</a> & y") == "&lt;a href='u'&gt;x&lt;/a&gt; &amp; y"
    assert labels.plain_name("  two\tlines\nhere ") == "two lines here"
    assert labels.plain_name("Shapes <b>net</b> `x`") == "Shapes net x"  # a tag goes whole
    assert labels.plain_name("a < b > c") == "a b c"  # not a tag: only the marks go
    assert labels.plain_name("lr<a and b>c") == "lra and bc"  # words between the marks stay
    assert labels.plain_name('<img src=x onerror="y">cat') == "cat"
    assert labels.plain_name("net<v2>") == "netv2" and labels.plain_name("<h1>big</h1>") == "big"
    assert labels.plain_name("👩\u200d💻 \u202eevil") == "👩\u200d💻 evil"  # joiners kept, a right-to-left override not


def test_a_file_stem_keeps_names_apart_that_differ_in_a_mark_it_drops_and_ends_on_a_whole_word():
    assert labels.file_stem("LeNet-5 on Built-in shapes #1") == "lenet-5-on-built-in-shapes-1"
    lines = {labels.file_stem(f"Saliency, line {mark}") for mark in "—|/╲"}  # TinyVGG's four line classes
    assert len(lines) == 4 and all(re.fullmatch(r"saliency-line(-[0-9a-f]{4})?", s) for s in lines)
    assert labels.file_stem("Guided SG × Grad-CAM: 3") == "guided-sg-grad-cam-3"  # decoration tells nothing apart
    assert labels.file_stem("lr=0.1 / batch 64") == "lr-0-1-batch-64"  # ASCII marks tell nothing apart
    assert labels.file_stem("T-shirt/top") == "t-shirt-top"
    assert labels.file_stem("<b>x</b> 🚀", tagged=False) == "b-x-b"  # where a run's id follows
    assert labels.file_stem("what the unit can see, solid: the exact box", 30) == "what-the-unit-can-see-solid"
    assert labels.file_stem("x" * 50, 40) == "x" * 40 and labels.file_stem("") == "file"
