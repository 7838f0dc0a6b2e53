"""Convolution step by step through the entry point: steps, pooling, 1-D, bad input."""

import re

import pytest

from tests.apptest import app, errors, figures, no_crash, text, titles, warnings


def test_step_page_defaults_and_next():
    at = app("pages/step_by_step.py")
    no_crash(at)
    assert "Step 1 of 6" in text(at)
    assert at.code[0].value.endswith("= -2")
    at.button(key="sb_next").click().run()
    assert "Step 2 of 6" in text(at) and at.code[0].value.endswith("= 10")


def test_step_page_link_to_a_step_of_the_padding_example():
    at = app("pages/step_by_step.py", ex="zero_padding", pad="1", step="8")
    no_crash(at)
    assert "Step 8 of 25" in text(at)
    assert at.code[0].value.endswith("= 3.5")
    assert "\\begin{bmatrix}" in text(at)


def test_step_page_pooling_and_1d():
    at = app("pages/step_by_step.py", mode="pooling", ex="x_kernel", pool="avg", psize="2", pstride="1")
    no_crash(at)
    assert "Step 1 of 16" in text(at)
    assert "it has no kernel" in text(at) and at.selectbox(key="sb_example").label == "Input grid"
    own = app("pages/step_by_step.py", mode="pooling", ex="custom", kv="1 x")  # the kernel is not read, so no error
    no_crash(own)
    assert [t.label for t in own.text_area] == ["Input (rows on lines, numbers split by spaces)"] and not errors(own)
    at = app("pages/step_by_step.py", mode="1-D signal", sig="0 0 1 3 4", k1="-1 0 1")
    no_crash(at)
    assert at.code[0].value == "0·(-1) + 0·0 + 1·1 = 1"
    assert "Output: position 0" in titles(at)  # a signal has positions, not (row, column) cells
    assert "**Step 1 of 3** fills output position 0 (steps count from 1; positions and cells from 0" in text(at)
    assert "**Step 2 of 6** fills output cell (0, 1)" in text(app("pages/step_by_step.py", step="2"))
    row = app("pages/step_by_step.py", ex="custom", **{"in": "1 2 3"}, kv="1", step="3")  # named as its grid is
    assert "**Step 3 of 3** fills output position 2" in text(row) and "Output: position 2" in titles(row)


@pytest.mark.parametrize("params,message", [
    (dict(ex="custom", kv="1 x"), "kernel line 1, entry 2"),
    (dict(ex="custom", **{"in": "1 2\n3"}), "every line of the input needs the same number"),
    (dict(ex="custom", **{"in": "a b\nc d"}, kv="1"), "input line 1, entry 1 holds 'a'"),
    (dict(ex="custom", **{"in": "1 a"}, kv="b"), "input line 1, entry 2 holds 'a', which is not a number; and kernel "
                                                  "line 1, entry 1 holds 'b'"),  # both grids named at once
    (dict(ex="laplacian", dil="3"), "do not work"),
    (dict(ex="custom", **{"in": "1,5 2,5\n3,5 4,5"}), "input line 1, entry 1 holds '1,5', which is not a number "
                                                     "(decimals take a point: 1.5)"),  # it read 1 5 2 5
    (dict(mode="1-D signal", sig="1 2 nan"), "signal entry 3 is nan"),
    (dict(mode="1-D signal", sig="1 2", k1="1 x"), "kernel entry 2 holds 'x'"),
    (dict(mode="1-D signal", sig="1 x", k1="y 1"),
     "signal entry 2 holds 'x', which is not a number; and kernel entry 1"),
    (dict(mode="1-D signal", sig="1 2 3", k1="1 1 1 1 1"), "the kernel spans 5 values (dilation 1) but the padded "
                                                           "signal has only 3"),  # a signal's words, not px
])
def test_step_page_bad_input_gets_a_message(params, message):
    at = app("pages/step_by_step.py", **params)
    no_crash(at)
    assert any(message in e for e in errors(at)), errors(at)


# --- Layer by layer ------------------------------------------------------------------------------


def test_a_change_to_the_lectures_example_is_said_next_to_it():
    at = app("pages/step_by_step.py", pad="1", step="4")
    no_crash(at)
    assert "padding 1 instead of 0. So the output here is 4x5, not the lecture's 2x3." in text(at)
    assert "Changed from the lecture's example" not in text(app("pages/step_by_step.py"))


# --- Backward -------------------------------------------------------------------------------------


def test_backward_hands_each_cells_gradient_back_and_agrees_with_pytorch():
    at = app("pages/step_by_step.py", mode="backward", dy="1 2 0\n-1 0 3")
    no_crash(at)
    assert "Step 1 of 6" in text(at) and "dy · w" in text(at)
    assert at.code[0].value.splitlines()[0] == "dL/dy(0, 0) = 1"
    at.button(key="sb_next").click().run()
    assert at.code[0].value.splitlines()[2] == "dw += 2 · x[window] = 2 · [2 3 1; 5 1 1; 6 5 8]"
    shown = titles(at)
    assert {"dL/dy: cell (0, 1)", "Input x", "dx so far", "dw so far", "= dx"} <= set(shown), shown
    assert any("flip(w)" in t for t in shown)
    agrees = [s.value for s in at.success][0]
    assert agrees.startswith("PyTorch agrees") and re.search(r"largest difference (0|\de-\d+)\)", agrees), agrees
    assert "the lecture's $A_w^T dy$)" in text(at)  # as maths: "A_wᵀ" had shown its underscore
    assert "dw = x ⋆ dy** (the lecture writes dy * flip(x)" in text(at) and "**dL/dy**" in text(at)  # the export too


def test_backward_all_ones_by_default_and_the_padding_folded_back():
    at = app("pages/step_by_step.py", mode="backward", ex="zero_padding", pad="1", stride="2")
    no_crash(at)
    assert "Step 1 of 9" in text(at) and at.code[0].value.splitlines()[0] == "dL/dy(0, 0) = 1"
    assert "dx on the input itself" in titles(at) and "the ring's zeros are constants" in text(at)
    assert "entries spread a stride apart" in text(at) and "With the flip on" not in text(at)
    assert "**dx (on the padded input)**" in text(at) and "**dx (on the input)**" in text(at)  # both exported
    exported = at.code[-2].value  # the Markdown export: the input as typed, then with its ring of padding
    assert "**input**\n\n| | 0 | 1 | 2 | 3 | 4 |" in exported
    assert "**input (padded)**\n\n| | 0 | 1 | 2 | 3 | 4 | 5 | 6 |" in exported
    turned = app("pages/step_by_step.py", flip="1").code[-2].value
    assert "**kernel (turned, as applied)**" in turned and "**input (padded)**" not in turned
    assert "gets dw turned back by 180 degrees" in text(app("pages/step_by_step.py", mode="backward", flip="1"))


def test_backward_refuses_a_gradient_of_the_wrong_shape():
    at = app("pages/step_by_step.py", mode="backward", dy="1 2\n3 4")
    no_crash(at)
    assert any("2 rows of 3, not 2 of 2" in e for e in errors(at)), errors(at)
    assert not at.success


def test_a_link_to_an_example_without_padding_gets_the_examples_own():
    at = app("pages/step_by_step.py", ex="zero_padding", step="25")
    no_crash(at)
    assert "Step 25 of 25" in text(at) and at.number_input(key="sb_pad").value == 1
    assert "Step 9 of 9" in text(app("pages/step_by_step.py", ex="zero_padding", pad="0", step="25"))
    unpadded = app("pages/step_by_step.py", ex="zero_padding", pad="0", stride="2")
    assert unpadded.query_params["pad"] == "0"  # left out as the default, the link opened padded again
    link = {name: unpadded.query_params[name] for name in unpadded.query_params}
    assert "Step 1 of 4" in text(app("pages/step_by_step.py", **link))


def test_play_at_the_last_step_starts_again_from_the_first():
    at = app("pages/step_by_step.py", step="6")
    at.toggle(key="sb_play").set_value(True).run()
    assert "Step 2 of 6" in text(at)  # back to the first, and one step on


def test_play_writes_the_link_once_at_its_end_not_each_second():
    """Each address is an entry of the browser's history: a second-by-second link made Back step through a play."""
    at = app("pages/step_by_step.py", step="3")
    at.toggle(key="sb_play").set_value(True).run()
    assert "Step 4 of 6" in text(at) and at.query_params["step"] == "3"
    for _ in range(2):
        at.run()
    assert "Step 6 of 6" in text(at) and at.query_params["step"] == "6"
    at.run()  # the end: Play turns itself off (it reran each second, and Back to an earlier step restarted it)
    assert not at.toggle(key="sb_play").value and "Step 6 of 6" in text(at) and at.query_params["step"] == "6"


def test_the_example_survives_a_trip_through_pooling():
    """The example's box is worded differently in pooling mode; its choice must not turn into that wording."""
    at = app("pages/step_by_step.py")
    at.button_group(key="sb_mode").set_value("pooling").run()
    at.button(key="sb_next").click().run()
    at.button_group(key="sb_mode").set_value("convolution").run()
    no_crash(at)
    assert at.selectbox(key="sb_example").value == "laplacian" and at.code[0].value.endswith("= 10")


def test_an_output_size_that_is_not_whole_is_flagged_with_what_pytorch_does():
    """The lecture's 6x6 input, 3x3 kernel and stride 2: (6 - 3) / 2 + 1 = 2.5, which PyTorch floors to 2."""
    grid = "\n".join(" ".join(str((r + c) % 7) for c in range(6)) for r in range(6))
    at = app("pages/step_by_step.py", ex="custom", kv="1 0 -1\n2 0 -2\n1 0 -1", stride="2", **{"in": grid})
    no_crash(at)
    assert "Step 1 of 4" in text(at)
    assert warnings(at).startswith("The output size is not a whole number:")
    assert "Rows: (W - F + 2P) / S + 1 = (6 - 3 + 0) / 2 + 1 = 2.5, not an integer: PyTorch takes the floor, 2, so " \
           "the last row of the input is never under the window (shaded on the input)." in warnings(at)
    shapes = figures(at)[0]["layout"]["shapes"]  # the input's last row and column, shaded
    shaded = [(s["x0"], s["x1"], s["y0"], s["y1"]) for s in shapes if s.get("fillcolor") == "rgba(214, 39, 40, 0.18)"]
    assert shaded == [(-0.5, 5.5, 4.5, 5.5), (4.5, 5.5, -0.5, 5.5)]
    pooled = app("pages/step_by_step.py", mode="pooling", ex="box", pool="avg")  # 5x5, 2x2 windows
    assert "Columns: (W - F + 2P) / S + 1 = (5 - 2 + 0) / 2 + 1 = 2.5" in warnings(pooled)
    assert not warnings(app("pages/step_by_step.py")) and not warnings(app("pages/step_by_step.py", ex="box"))


def test_a_stride_is_shown_as_the_stride_1_convolution_subsampled():
    """The lecture: strided convolution = convolution followed by subsampling (the 6x6 input at stride 2)."""
    grid = "\n".join(" ".join(str((r + c) % 7) for c in range(6)) for r in range(6))
    at = app("pages/step_by_step.py", ex="custom", kv="1 0 -1\n2 0 -2\n1 0 -1", stride="2", **{"in": grid})
    no_crash(at)
    assert [e.label for e in at.expander][0] == "Stride 2 = stride 1, then every 2nd row and column"
    full = next(f for f in figures(at) if f["layout"]["title"]["text"] == "Stride 1: 4 x 4")
    assert len(full["layout"]["shapes"]) == 4  # cells (0, 0), (0, 2), (2, 0) and (2, 2) outlined
    assert ("The outlined cells, rows 0 and 2 and columns 0 and 2, are the stride-2 output, cell for cell: a strided "
            "convolution is a convolution followed by subsampling. Sliding 2 at a time never computes the 12 of 16 "
            "cells the subsampling would throw away.") in text(at)
    assert not [e for e in app("pages/step_by_step.py").expander if e.label.startswith("Stride")]  # stride 1


def test_input_between_the_kernels_taps_is_named_and_shaded():
    """A stride past the window (2 wide, stride 3) or a dilation skips rows and columns no product uses."""
    at = app("pages/step_by_step.py", ex="custom", kv="1 1\n1 1", stride="3",
             **{"in": "\n".join(" ".join("1" for _ in range(5)) for _ in range(5))})
    no_crash(at)
    assert warnings(at) == ("Input that no window reads:\n"
                            "- Row 2 of the input lies between the kernel's taps (stride 3, dilation 1): no product "
                            "ever uses it, so it cannot change the output (shaded on the input).\n"
                            "- Column 2 of the input lies between the kernel's taps (stride 3, dilation 1): no product "
                            "ever uses it, so it cannot change the output (shaded on the input).")
    dilated = app("pages/step_by_step.py", ex="custom", kv="1 1 1\n1 1 1\n1 1 1", dil="2",
                  **{"in": "\n".join(" ".join("1" for _ in range(5)) for _ in range(5))})
    assert "- Rows 1, 3 of the input lie between the kernel's taps (stride 1, dilation 2): no product ever uses them" \
        in warnings(dilated)


def test_pooling_windows_that_skip_input_say_so_without_a_kernel_and_apart_from_the_size():
    at = app("pages/step_by_step.py", mode="pooling", pstride="3")  # 4x5 input, 2x2 windows: (5 - 2) / 3 + 1 = 2
    no_crash(at)
    sizes, between = warnings(at).split("\n\n")
    assert sizes.startswith("The output size is not a whole number:\n- Rows: (W - F + 2P) / S + 1 = (4 - 2 + 0) / 3")
    assert between == ("Input that no window reads:\n- Column 2 of the input lies between the windows (stride 3, "
                       "window 2): no window ever reads it, so it cannot change the output (shaded on the input).")


def test_the_backward_pass_shades_the_input_no_window_reads():
    at = app("pages/step_by_step.py", mode="backward", ex="stride_2")  # 6x6, 3x3, stride 2: the last row and column
    no_crash(at)
    grid = next(f for f in figures(at) if f["layout"]["title"]["text"] == "Input x")
    shaded = [s for s in grid["layout"].get("shapes", []) if s.get("fillcolor")]
    assert shaded, "the unread row and column are shaded as in the forward pass"
    assert "1 row of 1 number" in app("pages/step_by_step.py", mode="backward", ex="box", dil="2").text_area(
        key="sb_upstream").label


def test_a_box_blur_is_written_in_ninths():
    at = app("pages/step_by_step.py", ex="box")
    no_crash(at)
    assert at.code[0].value == "(3 + 3 + 2 + 0 + 0 + 1 + 3 + 1 + 2) / 9 = 15 / 9 = 1.67 ≈ 1.7"  # as printed
    kernel, products = [f["data"][-1]["text"] for f in figures(at) if f["layout"]["title"]["text"] in
                        ("Kernel", "Products")]
    assert kernel == [["1/9"] * 3] * 3 and products[0] == ["3/9", "3/9", "2/9"]
    last = app("pages/step_by_step.py", ex="box", step="9")
    output = next(t["text"] for f in figures(last) if f["layout"]["title"]["text"].startswith("Output")
                  for t in f["data"] if t["type"] == "heatmap" and "text" in t)
    assert output == [["1.7", "1.7", "1.7"], ["1", "1.2", "1.8"], ["1.1", "0.8", "1.3"]]  # SEEDS 1.2, to one decimal
    exported = next(c.value for c in last.code if c.language == "markdown")
    assert "| **0** | 1/9 | 1/9 | 1/9 |" in exported  # not 0.11 beside an output of 1.67
    assert "| **0** | 1.7 | 1.7 | 1.7 |" in exported  # the output rounded as the page and the lecture print it
    assert exported.startswith("Box blur 1/9, valid padding. A convolution, cross-correlation, as PyTorch's conv "
                               "layers: 3 x 3 kernel, padding 0, stride 1, dilation 1.")


def test_the_export_names_its_settings_and_its_file_after_the_example():
    """A handout that says stride 2 and the flip, the kernel as set beside the one applied; files named apart."""
    at = app("pages/step_by_step.py", ex="stride_2", flip="1")
    no_crash(at)
    exported = next(c.value for c in at.code if c.language == "markdown")
    assert "true convolution (the kernel turned 180 degrees): 3 x 3 kernel, padding 0, stride 2" in exported
    assert "**kernel (as set)**" in exported and "**kernel (turned, as applied)**" in exported
    assert exported.startswith("A convolution, true")  # the flip leaves the lecture's example: not its title
    assert [b.proto.label for b in at.get("download_button")] == ["Download Markdown", "Download LaTeX"]
    pooled = app("pages/step_by_step.py", mode="pooling", pool="avg")
    assert next(c.value for c in pooled.code if c.language == "latex").startswith(
        "Average pooling: 2 x 2 window, stride 2.")
    padded = app("pages/step_by_step.py", ex="zero_padding", pmode="reflect")
    assert "padding 1 (reflect), stride 1" in next(c.value for c in padded.code if c.language == "markdown")


def test_the_lectures_stride_example_opens_at_stride_2_with_its_size_of_2_5():
    at = app("pages/step_by_step.py", ex="stride_2")
    no_crash(at)
    assert at.number_input(key="sb_stride").value == 2 and "Step 1 of 4" in text(at)
    assert "(6 - 3 + 0) / 2 + 1 = 2.5, not an integer: PyTorch takes the floor, 2" in warnings(at)
    at.number_input(key="sb_stride").set_value(1).run()  # left out as the default, it would open at 2 again
    assert at.query_params["stride"] in ("1", ["1"]) and "Changed from the lecture's example: stride 1 instead of 2" \
        in text(at)
    other = app("pages/step_by_step.py", ex="stride_2")
    other.selectbox(key="sb_example").set_value("laplacian").run()
    assert other.number_input(key="sb_stride").value == 1  # each example with its own stride


def test_circular_padding_wider_than_the_input_is_refused_in_words():
    """PyTorch's "Padding value causes wrapping around more than once." had reached the page as an error."""
    grid = app("pages/step_by_step.py", ex="custom", pmode="circular", pad="3", kv="1", **{"in": "1"})
    assert errors(grid) == ["These settings do not work here: circular padding of 3 px would wrap around the image "
                            "more than once (this one is 1x1); use replicate, or pad less (a smaller kernel pads "
                            "less)."]
    signal = app("pages/step_by_step.py", mode="1-D signal", pmode="circular", pad="3", sig="1", k1="1")
    assert "circular padding of 3 would wrap around the signal more than once (this one has 1 value)" in \
        errors(signal)[0]


def test_random_numbers_make_a_new_exercise_of_the_sizes_asked():
    at = app("pages/step_by_step.py", ex="custom")
    no_crash(at)
    at.number_input(key="sb_gen_size").set_value(6).run()
    at.number_input(key="sb_gen_kernel").set_value(2).run()
    at.button(key="sb_gen").click().run()
    no_crash(at)
    rows = at.text_area(key="sb_input").value.splitlines()
    assert len(rows) == 6 and all(len(r.split()) == 6 for r in rows)
    assert len(at.text_area(key="sb_kernel").value.splitlines()) == 2
    assert "**Step 1 of 25** fills output cell (0, 0)" in text(at)  # 6 - 2 + 1 = 5: 25 cells
    assert at.query_params["in"] in (at.text_area(key="sb_input").value, [at.text_area(key="sb_input").value])


def test_the_random_kernel_is_never_larger_than_the_input():
    at = app("pages/step_by_step.py", ex="custom")
    at.number_input(key="sb_gen_kernel").set_value(5).run()
    at.number_input(key="sb_gen_size").set_value(3).run()  # a 5 x 5 kernel cannot slide over a 3 x 3 input
    no_crash(at)
    assert at.number_input(key="sb_gen_kernel").value == 3 and at.number_input(key="sb_gen_kernel").label == \
        "Kernel size (1..3)"
    at.button(key="sb_gen").click().run()
    assert len(at.text_area(key="sb_kernel").value.splitlines()) == 3


def test_one_row_kept_by_the_stride_is_a_row_not_rows():
    at = app("pages/step_by_step.py", stride="2")  # the Laplacian example: 2 x 3 at stride 1, 1 x 2 at stride 2
    no_crash(at)
    assert "The outlined cells, row 0 and columns 0 and 2, are the stride-2 output" in text(at)


def test_a_flipped_backward_export_says_whose_dw_it_is():
    exported = next(c.value for c in app("pages/step_by_step.py", mode="backward", ex="box", flip="1").code
                    if c.language == "markdown")
    assert "**dw (of the kernel as applied)**" in exported and "**kernel (as set)**" in exported
