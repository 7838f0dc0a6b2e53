"""The Kernel Lab through the entry point: presets, links, drawings, bad kernels."""

import base64
import io

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from tests.apptest import (TIMEOUT, app, back_to, click_chart, errors, figures, no_crash, send_widget, text, titles,
                           warnings)
from tests.conftest import ROOT


def test_kernel_lab_defaults_show_a_feature_map():
    at = app("pages/kernel_lab.py")
    no_crash(at)
    assert not errors(at)
    titles = [f["layout"]["title"]["text"] for f in figures(at)]
    assert any(t.startswith("Feature map") and "(256, 256)" in t for t in titles), titles
    assert "= 10" in text(at)  # (3*3*1 + 1) * 1 parameters of the default Sobel on grey


def test_the_window_of_numbers_is_in_the_link_and_the_middle_by_default():
    at = app("pages/kernel_lab.py", img="checkerboard", size="64")
    no_crash(at)
    assert "Pixel values in [0, 1] of rows 26..37, columns 26..37 (point at" in text(at)  # centred on the middle
    assert "top" not in at.query_params and "left" not in at.query_params
    at.number_input(key="kl_top_64").set_value(5).run()
    assert at.query_params["top"] in ("5", ["5"]) and "left" not in at.query_params
    linked = app("pages/kernel_lab.py", img="checkerboard", size="64", top="5", left="60", tab="Numbers")
    no_crash(linked)
    assert "Pixel values in [0, 1] of rows 5..16, columns 60..63 (point at" in text(linked)
    assert linked.session_state["kl_tab"] == "Numbers"
    smaller = app("pages/kernel_lab.py", img="checkerboard", size="32", top="50")  # past the edge: the middle
    no_crash(smaller)
    assert "Pixel values in [0, 1] of rows 10..21, columns 10..21 (point at" in text(smaller)
    chosen = app("pages/kernel_lab.py", top="200", left="150", tab="Numbers")  # a window chosen on 256 px
    chosen.selectbox(key="kl_size").set_value(64).run()
    assert "of rows 26..37, columns 26..37" in text(chosen) and not warnings(chosen)  # the middle meanwhile
    chosen.selectbox(key="kl_size").set_value(256).run()
    assert "of rows 200..211, columns 150..161" in text(chosen) and chosen.query_params["top"] in ("200", ["200"])


def test_a_click_on_the_small_picture_centres_the_window_of_numbers_there():
    """Setosa's demo shows a kernel's sum wherever one points: here a click on the picture takes the numbers and their
    sums there, as typing its row and column did."""
    at = app("pages/kernel_lab.py", img="checkerboard", size="64", tab="Numbers")
    assert "the **Numbers** tab writes those sums out, wherever you click its small picture" in text(at)
    overview = next(f for f in figures(at) if f["layout"]["title"]["text"] == "The window")
    assert "Click the picture to move the window there." in text(at)
    assert [s["x0"] for s in overview["layout"]["shapes"]] == [25.5]  # the window outlined: columns 26..37
    click_chart(at, "kl_overview_26_26", {"selection": {"points": [{"x": 10, "y": 50}]}})
    no_crash(at)
    assert "Pixel values in [0, 1] of rows 44..55, columns 4..15 (point at" in text(at)
    assert at.query_params["top"] in ("44", ["44"]) and at.query_params["left"] in ("4", ["4"])
    click_chart(at, "kl_overview_44_4", {"selection": {"points": [{"x": 62, "y": 1}]}})  # near a corner: within
    assert "Pixel values in [0, 1] of rows 0..11, columns 52..63 (point at" in text(at)
    back_to(at, img="checkerboard", size="64", tab="Numbers", top="44", left="4")  # Back: the window follows
    no_crash(at)
    assert "Pixel values in [0, 1] of rows 44..55, columns 4..15 (point at" in text(at)
    assert at.number_input(key="kl_top_64").value == 44


def test_kernel_lab_link_reproduces_the_view():
    at = app("pages/kernel_lab.py", k="laplacian", border="valid", stride="2", img="checkerboard", size="64")
    no_crash(at)
    assert at.selectbox(key="kl_kernel").value == "laplacian"
    assert at.number_input(key="kl_stride").value == 2
    assert at.selectbox(key="img_sample").value == "checkerboard"
    assert "= 31.5" in text(at) and "PyTorch takes the floor, **31**" in text(at)
    assert at.query_params["k"] in ("laplacian", ["laplacian"])  # written back for the next link


def test_kernel_lab_settings_survive_a_page_switch():
    at = app("pages/kernel_lab.py")
    at.number_input(key="kl_stride").set_value(3).run()
    at.switch_page("streamlit_app.py").run()
    at.switch_page("pages/kernel_lab.py").run()
    no_crash(at)
    assert at.number_input(key="kl_stride").value == 3


def test_kernel_lab_custom_kernel_from_the_link():
    at = app("pages/kernel_lab.py", k="custom (edit the grid)", kv="0,1,0;1,-4,1;0,1,0")
    no_crash(at)
    assert not errors(at)
    assert any(f["layout"]["title"]["text"].startswith("Feature map") for f in figures(at))


def test_a_link_may_name_a_choice_by_its_words_before_the_brackets():
    """A teacher typed k=custom: it was refused, the grid dropped and Sobel shown."""
    at = app("pages/kernel_lab.py", k="custom", kv="0,1,0;1,-4,1;0,1,0")
    no_crash(at)
    assert at.selectbox(key="kl_kernel").value == "custom (edit the grid)" and not warnings(at)
    assert at.query_params["kv"] in ("0,1,0;1,-4,1;0,1,0", ["0,1,0;1,-4,1;0,1,0"])
    assert at.query_params["k"] in ("custom (edit the grid)", ["custom (edit the grid)"])
    at = app("pages/kernel_lab.py", k="sobel")  # two kernels start so: say so
    assert "'sobel' could be sobel (horizontal edges) or sobel (vertical edges): name one" in warnings(at) and at.selectbox(key="kl_kernel").value == "sobel (vertical edges)"


def test_edit_its_weights_opens_the_grid_on_the_kernel_shown_in_one_click():
    at = app("pages/kernel_lab.py")
    at.button(key="kl_edit").click().run()
    no_crash(at)
    assert at.selectbox(key="kl_kernel").value == "custom (edit the grid)"
    assert at.query_params["k"] in ("custom (edit the grid)", ["custom (edit the grid)"])
    assert at.query_params["kv"] in ("-1,0,1;-2,0,2;-1,0,1", ["-1,0,1;-2,0,2;-1,0,1"])  # the Sobel shown before
    assert "kl_edit" not in [b.key for b in at.button]  # the grid itself is edited now


def test_a_grid_to_edit_starts_from_the_last_kernel_at_three_places_with_half_the_row():
    at = app("pages/kernel_lab.py", k="gaussian (choose sigma)")
    assert at.columns[0].weight < at.columns[1].weight  # the controls' usual 5 of 13 parts
    at.selectbox(key="kl_kernel").set_value("custom (edit the grid)").run()
    no_crash(at)
    from explorer import kernels

    assert at.session_state["kl_grid_base"] == kernels.to_text(kernels.gaussian(5, 1.0), decimals=3)
    assert at.session_state["kl_grid_base"].startswith("0.003,0.013,0.022,")
    assert at.columns[0].weight == at.columns[1].weight  # five columns of at least 50 px: half the row
    at.number_input(key="kl_cols").set_value(3).run()
    assert at.columns[0].weight < at.columns[1].weight  # three fit the controls' usual share


def test_a_grid_grown_one_row_or_column_at_a_time_keeps_the_kernel_centred():
    """Zeros padded on the right and below moved a 3 x 3 Sobel off the centre of its 5 x 5: the map by a pixel."""
    at = app("pages/kernel_lab.py", k="custom (edit the grid)", kv="-1,0,1;-2,0,2;-1,0,1")
    for key, size in (("kl_cols", 4), ("kl_cols", 5), ("kl_rows", 4), ("kl_rows", 5)):  # the boxes' + buttons
        at.number_input(key=key).set_value(size).run()
        no_crash(at)
    assert at.query_params["kv"] == "0,0,0,0,0;0,-1,0,1,0;0,-2,0,2,0;0,-1,0,1,0;0,0,0,0,0"
    at.number_input(key="kl_rows").set_value(4).run()  # and back, one at a time
    at.number_input(key="kl_rows").set_value(3).run()
    assert at.query_params["kv"] == "0,-1,0,1,0;0,-2,0,2,0;0,-1,0,1,0"


@pytest.mark.parametrize("kv,where", [("1,abc", "row 1, column 2"), ("1;nan", "row 2, column 1"), ("inf", "row 1, column 1")])
def test_kernel_lab_bad_kernel_cells_are_named(kv, where):
    at = app("pages/kernel_lab.py", k="custom (edit the grid)", kv=kv)
    no_crash(at)
    assert any(where in e for e in errors(at)), errors(at)


def test_a_cell_typed_with_a_decimal_comma_comes_back_from_the_link_as_typed():
    """The link wrote "1,5" as "1 5", which opened without the hint that mends it."""
    at = app("pages/kernel_lab.py", k="custom (edit the grid)", kv="1%2C5,0;0,1")
    no_crash(at)
    assert any("holds '1,5', which is not a number (decimals take a point: 1.5)" in e for e in errors(at)), errors(at)
    assert at.query_params["kv"] in ("1%2C5,0;0,1", ["1%2C5,0;0,1"])
    at.number_input(key="kl_rows").set_value(3).run()  # a resize keeps it too
    assert at.query_params["kv"] in ("0,0;1%2C5,0;0,1", ["0,0;1%2C5,0;0,1"])  # (grown around its centre)


@pytest.mark.parametrize("rows,columns", [(1, 16), (17, 3), (20, 20)])
def test_a_linked_kernel_larger_than_the_largest_is_cut_to_its_corner_with_a_warning(rows, columns):
    kv = ";".join(",".join(str(r * 100 + c) for c in range(columns)) for r in range(rows))
    at = app("pages/kernel_lab.py", k="custom (edit the grid)", kv=kv)
    no_crash(at)
    kept = (min(rows, 15), min(columns, 15))
    assert f"The kernel has {rows} x {columns} cells; the largest is 15 x 15, so its top-left {kept[0]} x " \
           f"{kept[1]} cells are shown." in warnings(at)
    assert (at.number_input(key="kl_rows").value, at.number_input(key="kl_cols").value) == kept and not errors(at)
    assert at.query_params["kv"].split(";")[-1].split(",")[-1] == str((kept[0] - 1) * 100 + kept[1] - 1)


def test_kernel_lab_impossible_settings_get_a_message():
    at = app("pages/kernel_lab.py", k="box (choose size)", ksize="15", border="valid", dil="8", img="digit")
    no_crash(at)
    assert any("do not work" in e for e in errors(at)), errors(at)
    assert "28 + 0 - 8\\cdot(15-1) - 1}{1} + 1 = -84$ — less than one" in text(at)  # the arithmetic that explains it stays
    assert "The numbers, filled in" not in [h.value for h in at.subheader]
    numbers = app("pages/kernel_lab.py", k="box (choose size)", ksize="15", border="valid", dil="8", img="digit",
                  tab="Image as numbers")  # the tabs that need no feature map still show the image
    assert "The image as numbers" in titles(numbers) and "The feature map as numbers" not in titles(numbers)
    beyond = app("pages/kernel_lab.py", k="box (choose size)", ksize="15", border="valid", dil="8", img="digit",
                 tab="Beyond one kernel")
    no_crash(beyond)
    assert "4. Hysteresis: the edges" in titles(beyond)


def test_kernel_lab_bad_link_values_are_ignored_with_a_warning():
    at = app("pages/kernel_lab.py", stride="zero", k="nope")
    no_crash(at)
    warnings = " ".join(w.value for w in at.warning)
    assert "stride=zero" in warnings and "k=nope" in warnings
    assert at.number_input(key="kl_stride").value == 1


def _canvas_value(array: np.ndarray) -> dict:
    buffer = io.BytesIO()
    Image.fromarray(array, "RGBA").save(buffer, "PNG")
    url = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    return {"drawing": {"raw": {"objects": [{"type": "path"}]}, "data": url}, "backgroundFit": None}


def test_kernel_lab_drawing_becomes_the_image():
    rgba = np.full((224, 224, 4), 255, dtype=np.uint8)
    rgba[100:180, 130:150, :3] = 0  # a vertical stroke
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=TIMEOUT)
    at.switch_page("pages/kernel_lab.py")
    at.session_state["img_source"] = "draw"
    at.session_state["img_canvas"] = _canvas_value(rgba)
    at.run()
    no_crash(at)
    assert at.session_state["current_image"][0] == "your drawing"
    fmap = next(f for f in figures(at) if f["layout"]["title"]["text"].startswith("Feature map"))
    assert "Input (your drawing)" in [f["layout"]["title"]["text"] for f in figures(at)]
    assert fmap["data"][0]["z"]  # the map of the stroke is drawn
    at.button(key="img_clear").click().run()  # a phone shows no canvas toolbar: Clear starts again
    no_crash(at)
    assert "current_image" not in at.session_state and at.session_state["img_canvas_wiped"] == 1
    assert any("Draw with the mouse" in i.value for i in at.info)


def test_kernel_lab_empty_canvas_asks_for_a_drawing():
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=TIMEOUT)
    at.switch_page("pages/kernel_lab.py")
    at.session_state["img_source"] = "draw"
    at.session_state["img_canvas"] = _canvas_value(np.full((224, 224, 4), 255, dtype=np.uint8))
    at.run()
    no_crash(at)
    assert any("canvas is empty" in i.value for i in at.info)
    assert not any("same value" in i.value for i in at.info)  # the canvas is not called a flat upload


def test_kernel_lab_every_preset_and_option_runs():
    at = app("pages/kernel_lab.py", size="32")
    for choice in at.selectbox(key="kl_kernel").options:
        at.selectbox(key="kl_kernel").set_value(choice).run()
        no_crash(at)
    for colour in ("sum", "per-channel"):
        at.radio(key="kl_colour").set_value(colour).run()
        no_crash(at)
    at.selectbox(key="kl_pool").set_value("l2").run()
    at.toggle(key="kl_relu").set_value(True).run()
    at.toggle(key="kl_flip").set_value(True).run()
    no_crash(at)
    assert not errors(at)


def test_per_channel_maps_share_one_colour_scale():
    at = app("pages/kernel_lab.py", img="astronaut", colour="per-channel", k="sobel (vertical edges)")
    no_crash(at)
    maps = [f["data"][0] for f in figures(at) if f["layout"]["title"]["text"].startswith("Feature map")]
    assert len(maps) == 3 and len({(m["zmin"], m["zmax"]) for m in maps}) == 1
    assert any("share one colour scale" in c.value for c in at.caption)


def test_the_flip_shows_the_kernel_as_set_and_as_applied():
    at = app("pages/kernel_lab.py", k="sobel (vertical edges)", flip="1")
    no_crash(at)
    grids = {f["layout"]["title"]["text"]: f for f in figures(at)
             if f["layout"]["title"]["text"].startswith(("Kernel", "As applied"))}
    assert set(grids) == {"Kernel as you set it", "As applied (turned)"}
    def grid(title: str) -> np.ndarray:
        packed = grids[title]["data"][0]["z"]  # plotly sends the grid as base64 bytes
        return np.frombuffer(base64.b64decode(packed["bdata"]), dtype=packed["dtype"]).reshape(3, 3)

    assert (grid("As applied (turned)") == grid("Kernel as you set it")[::-1, ::-1]).all()
    assert any("which is its negative: the map's signs swap" in c.value for c in at.caption)
    unflipped = app("pages/kernel_lab.py", k="sobel (vertical edges)")
    assert not any("signs swap" in c.value for c in unflipped.caption)
    assert not (grid("Kernel as you set it")[::-1, ::-1] == grid("Kernel as you set it")).all()  # Sobel turns
    assert {t for t in titles(app("pages/kernel_lab.py")) if t.startswith("Kernel")} == {"Kernel (as applied)"}


def test_the_3d_surface_is_drawn_only_when_its_tab_is_open():
    assert "Brightness as height" not in titles(app("pages/kernel_lab.py"))
    opened = app("pages/kernel_lab.py", tab="3-D")
    no_crash(opened)
    assert "Brightness as height" in titles(opened)


@pytest.mark.parametrize(("former", "now"), [("3-D surface", "3-D"), ("Image as numbers", "Numbers")])
def test_a_link_with_a_tabs_former_label_opens_that_tab_under_its_label_now(former, now):
    at = app("pages/kernel_lab.py", tab=former)
    no_crash(at)
    assert at.session_state["kl_tab"] == now and at.query_params["tab"] in (now, [now]) and not warnings(at)


def test_beyond_one_kernel_shows_cannys_stages_and_morphology_from_the_link():
    assert not any(t.startswith("1. Blurred") for t in titles(app("pages/kernel_lab.py")))
    at = app("pages/kernel_lab.py", tab="Beyond one kernel", csigma="2", clow="5", chigh="40", morph="closing",
             msize="5", ksize="7", sigma="3")  # the Gaussian kernel's own sigma is a different setting
    no_crash(at)
    shown = titles(at)
    assert shown[-6:] == ["1. Blurred (sigma 2)", "2. Gradient length", "3. Thinned to the ridges",
                          "4. Hysteresis: the edges", "Input (sample: Edges)", "Closing, 5x5 window"], shown
    assert at.slider(key="kl_canny_sigma").value == 2.0 and at.slider(key="kl_canny_high").value == 40
    assert "at least 40% of the strongest gradient" in text(at) and "Closing: dilation, then erosion" in text(at)
    packed = figures(at)[-3]["data"][0]["z"]  # plotly sends the map as base64 bytes
    decided = np.frombuffer(base64.b64decode(packed["bdata"]), dtype=packed["dtype"])
    assert packed["shape"] == "256, 256" and set(np.unique(decided)) == {0, 1, 3}  # no weak pixel kept here


def test_beyond_one_kernel_refuses_a_weak_threshold_above_the_strong_one():
    at = app("pages/kernel_lab.py", tab="Beyond one kernel", clow="50", chigh="20")
    no_crash(at)
    assert any("must not exceed the strong one" in e for e in errors(at)), errors(at)
    titles_shown = [f["layout"]["title"]["text"] for f in figures(at)]
    assert "Erosion, 3x3 window" in titles_shown
    assert not any(t.startswith("1. Blurred") for t in titles_shown)  # the morphology still shows, Canny's does not


def test_image_as_numbers_shows_the_feature_maps_numbers_under_the_pixels():
    at = app("pages/kernel_lab.py", tab="Numbers", img="digit", border="valid", k="box (choose size)",
             ksize="3", top="5", left="6")
    no_crash(at)
    grids = {f["layout"]["title"]["text"]: f["data"][0] for f in figures(at)}
    pixels, sums = grids["The image as numbers"], grids["The feature map as numbers"]

    def values(grid: dict) -> np.ndarray:  # plotly sends the block as base64 bytes
        z = grid["z"]
        return np.frombuffer(base64.b64decode(z["bdata"]), dtype=z["dtype"]).reshape(len(grid["y"]), len(grid["x"]))

    assert pixels["y"][:2] == ["5", "6"] and pixels["x"][:2] == ["6", "7"]  # the image's own rows and columns
    assert sums["y"][:2] == ["4", "5"] and sums["x"][:2] == ["5", "6"]  # valid 3x3: the centre is the output + 1
    expected = values(pixels)[0:3, 0:3].sum() / 9  # the box blur centred on pixel (6, 7)
    assert abs(values(sums)[1, 1] - expected) < 1e-6
    assert pixels["text"][0][0] == f"{values(pixels)[0, 0]:.2f}"  # written in the cell to two decimals
    assert not any(cell == "-0.00" for row in sums["text"] for cell in row)
    assert any("centred on the pixels above" in c.value for c in at.caption)


def test_the_parameter_counter_opens_on_the_lectures_example_and_keeps_its_numbers_in_the_link():
    at = app("pages/kernel_lab.py")
    no_crash(at)
    assert "= 740$" in text(at) and "= 423{,}360$, 572 times as many" in text(at)  # 30x30x3, 7x7, 5 filters
    at.number_input(key="kl_count_f").set_value(5).run()
    at.number_input(key="kl_count_k").set_value(32).run()
    assert "(5\\cdot5\\cdot3 + 1)\\cdot32 = 2{,}432$" in text(at)
    assert "The output: $K\\times H'\\times W' = 32\\times26\\times26$, 32 maps of 26x26 positions." in text(at)
    assert at.query_params["nf"] in ("5", ["5"]) and at.query_params["nk"] in ("32", ["32"])
    linked = app("pages/kernel_lab.py", nw="6", nc="1", nf="3", ns="2", nk="1")  # the lecture's 2.5
    assert "= 2.5$, not a whole number: PyTorch takes the floor, 2.\n- The output: $K\\times H'\\times W' = " \
           "1\\times2\\times2$, 1 map of 2x2 positions." in text(linked)
    large = app("pages/kernel_lab.py", nw="2047", nc="1", nf="2", ns="2", nk="1")  # .4g had written 1024
    assert "= 1023.5$, not a whole number: PyTorch takes the floor, 1023." in text(large)
    sixteenth = app("pages/kernel_lab.py", nw="4096", nc="1", nf="1", ns="16", nk="1")
    assert "= 256.9375$, not a whole number: PyTorch takes the floor, 256." in text(sixteenth)
    frame = app("pages/kernel_lab.py", nw="1920", nh="1080", nf="3", np="1", nk="1")  # the lecture's HD frame
    assert "1080\\cdot1920\\cdot3 = 6{,}220{,}800$ values" in text(frame) and "1080x1920 positions" in text(frame)
    assert "see 5x5, as one 5x5 layer does, with $2\\cdot F\\cdot F\\cdot C\\cdot C = 162$ weights against " \
           "$(2F-1)^2\\cdot C\\cdot C = 225$" in text(frame)  # two stacked 3x3 against one 5x5
    assert "layers stacked" not in text(app("pages/kernel_lab.py", nf="1"))  # two 1x1 see 1x1 with twice the weights
    impossible = app("pages/kernel_lab.py", nw="5", nf="9")
    no_crash(impossible)
    assert any("a 9x9 kernel does not fit a 5x5 input with padding 0" in e for e in errors(impossible))
    assert impossible.session_state["kl_count_open"] and impossible.query_params["count"] == "1"  # its error shows
    impossible.session_state["kl_count_open"] = False  # folded by hand: the link says so, and stays folded
    impossible.run()
    assert impossible.query_params["count"] == "0"
    folded = app("pages/kernel_lab.py", nw="5", nf="9", count="0")
    assert not folded.session_state["kl_count_open"] and folded.query_params["count"] == "0"
    assert "count" not in app("pages/kernel_lab.py").query_params


def test_back_to_an_address_with_another_grid_shows_that_grid():
    """The browser's Back reruns the page on the former address: the grid edited last wrote its own back."""
    at = app("pages/kernel_lab.py", k="custom (edit the grid)", kv="1,0;0,1")
    at.query_params.clear()
    at.query_params.update({"k": "custom (edit the grid)", "kv": "2,0;0,2"})  # another grid this page wrote...
    at.session_state["kl_grid_base"] = "2,0;0,2"
    at.run()
    assert at.query_params["kv"] in ("2,0;0,2", ["2,0;0,2"])
    back_to(at, k="custom (edit the grid)", kv="1,0;0,1")  # ...and Back to the first
    no_crash(at)
    assert at.query_params["kv"] in ("1,0;0,1", ["1,0;0,1"]) and at.session_state["kl_grid_base"] == "1,0;0,1"



def test_back_to_the_grid_before_a_cells_edit_shows_that_grid_again():
    """Back to the same grid's address had kept the edit: the editor was the same widget."""
    at = app("pages/kernel_lab.py", k="custom (edit the grid)", kv="1,0;0,1")
    editor = next(e.proto.id.split("-")[-1] for e in at.get("dataframe") if "kl_grid_" in e.proto.id)
    send_widget(at, "dataframe", editor, {"edited_rows": {"0": {"1": "9"}}, "added_rows": [], "deleted_rows": []})
    assert at.query_params["kv"] in ("9,0;0,1", ["9,0;0,1"])  # the edit, in the link
    back_to(at, k="custom (edit the grid)", kv="1,0;0,1")
    no_crash(at)
    assert at.query_params["kv"] in ("1,0;0,1", ["1,0;0,1"])


def test_the_drawing_canvas_gets_half_the_row():
    """In the controls' usual 5 of 13 parts (185 px at 1024 px) the 224 px canvas was cut off on the right."""
    drawing = app("pages/kernel_lab.py", src="draw")
    no_crash(drawing)
    assert drawing.columns[0].weight == drawing.columns[1].weight
