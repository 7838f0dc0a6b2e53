"""The Train page's settings before launch: a custom network's layers, hand-set kernels, and the checks that
flag or refuse a run (too short, a batch too large, a learning rate far off)."""

from streamlit.testing.v1 import AppTest

from explorer import architecture
from tests.apptest import TIMEOUT, app, back_to, errors, no_crash, warnings
from tests.conftest import ROOT


def test_train_page_checks_a_custom_network_before_launch():
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=TIMEOUT)
    at.query_params["arch"] = "custom"
    at.session_state["_kept_settings"] = {"tr_layers": [{"type": "conv", "out": 4, "kernel": 3},
                                                        {"type": "pool", "size": 2},
                                                        {"type": "conv", "out": 4, "kernel": 29}]}
    at.switch_page("pages/train.py").run()
    no_crash(at)
    assert any("cannot be built" in e and "layer 3" in e for e in errors(at)), errors(at)
    assert at.button(key="tr_start").disabled
    plan = next(d.value for d in at.dataframe if "problem" in d.value.columns)
    assert plan["output"].iloc[0] == "4 x 26 x 26"


def test_a_letter_typed_into_a_layers_number_cell_is_named_not_read_as_zero():
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=TIMEOUT)
    at.query_params["arch"] = "custom"
    at.session_state["_kept_settings"] = {"tr_layers": [{"type": "conv", "out": 4, "kernel": "x"}]}
    at.switch_page("pages/train.py").run()
    no_crash(at)
    assert any("layer 1 (conv): kernel is 'x', which is not a number" in e for e in errors(at)), errors(at)
    assert at.button(key="tr_start").disabled


def test_a_link_with_a_letter_in_a_layer_shows_the_layers_and_names_the_letter():
    at = app("pages/train.py", arch="custom", layers="conv,out=8,kernel=5;relu;conv,out=x")
    no_crash(at)
    assert not any("was ignored" in w for w in warnings(at)), warnings(at)  # the good edits stay with the bad one
    assert any("layer 3 (conv): out is 'x', which is not a number" in e for e in errors(at)), errors(at)
    assert at.query_params["layers"] == "conv,out=8,kernel=5;relu;conv,out=x"


def test_the_plan_of_a_custom_network_totals_what_pytorch_counts():
    from explorer import architecture, layer_table

    at = app("pages/train.py", arch="custom")
    no_crash(at)
    model = architecture.build({"layers": layer_table.default_layers(), "data": "shapes"}, (1, 28, 28), 8)
    total = sum(p.numel() for p in model.parameters())
    assert f"1 x 28 x 28 in, 8 classes out: {total:,} parameters in all." in [c.value for c in at.caption]


def test_the_hand_set_kernels_are_in_the_link():
    at = app("pages/train.py", hand="1", kernels="laplacian,X pattern", frozen="1")
    no_crash(at)
    assert at.multiselect(key="tr_kernels").value == ["laplacian", "X pattern"] and at.toggle(key="tr_frozen").value
    at.multiselect(key="tr_kernels").select("box blur 3x3").run()
    assert at.query_params["kernels"] in ("laplacian,X pattern,box blur 3x3", ["laplacian,X pattern,box blur 3x3"])
    bad = app("pages/train.py", hand="1", kernels="laplacian,nope")
    no_crash(bad)
    assert "`kernels=laplacian,nope` was ignored: 'nope' is not one of" in warnings(bad)
    assert bad.multiselect(key="tr_kernels").value == list(architecture.HAND_SET[:4])
    assert "kernels" not in bad.query_params


def test_a_run_too_short_to_learn_is_flagged_before_launch():
    at = app("pages/train.py", train="1000", epochs="1")
    no_crash(at)
    assert any("Only 7 training steps (1,000 images in batches of 128, 1 epoch)" in w.value for w in at.warning)
    at.selectbox(key="tr_batch").set_value(32).run()
    assert not at.warning and not at.button(key="tr_start").disabled


def test_a_batch_larger_than_the_training_images_is_refused_before_launch():
    at = app("pages/train.py", train="1000", batch="1024")
    no_crash(at)
    assert ("This run cannot start: a batch of 1024 is larger than the 1,000 training images. Pick a smaller batch "
            "or more images.") in errors(at) and not at.warning  # not "0 training steps... more epochs"
    assert at.button(key="tr_start").disabled
    at.segmented_control(key="tr_images").set_value("5000").run()
    assert not errors(at) and not at.button(key="tr_start").disabled


def test_a_learning_rate_that_will_diverge_is_flagged_before_launch():
    at = app("pages/train.py", lr="1e6")
    no_crash(at)
    assert "A learning rate of 1e+06 is far above what AdamW usually takes (up to 0.01)" in warnings(at)
    assert not at.button(key="tr_start").disabled  # a warning, not a ban: a class may want to see it diverge
    assert "far above" not in warnings(app("pages/train.py", opt="sgd", lr="0.1"))
    # LeNet-5 on MNIST, the app's SGD: 0.3 to 0.9 stayed at chance without diverging
    assert "the network stays at chance" in warnings(app("pages/train.py", opt="sgd", lr="0.5"))


def test_a_learning_rate_too_low_to_learn_is_flagged_and_0_blocks_the_launch():
    """A cleared box landed at 1e-06, the bottom of its range, unnoticed: a run that learns nothing."""
    at = app("pages/train.py", lr="1e-6")
    assert "A learning rate of 1e-06 is far below what AdamW usually takes (from 1e-05)" in warnings(at)
    assert not at.button(key="tr_start").disabled
    at.number_input(key="tr_lr").set_value(0.0).run()
    no_crash(at)
    assert "a learning rate of 0 never moves the weights. Type one above 0, such as 0.003" in errors(at)[0]
    assert at.button(key="tr_start").disabled
    assert "far" not in warnings(app("pages/train.py", opt="sgd", lr="0.001"))
    zero = app("pages/train.py", lr="0")  # the link of that view opens it, with its message (it was "ignored")
    assert not warnings(zero) and zero.button(key="tr_start").disabled and "learning rate of 0" in errors(zero)[0]
    assert zero.query_params["lr"] == "0"  # as typed, not 0.0
    assert "far below" in warnings(app("pages/train.py", lr="1e-7"))


def test_your_own_layers_are_kept_in_the_link():
    from explorer import layer_table

    at = app("pages/train.py", arch="custom")
    no_crash(at)
    assert "layers" not in at.query_params  # the default layers: a short link
    mine = "conv,out=4,kernel=5;relu;pool,kind=avg,size=2;flatten;linear,out=32"
    opened = app("pages/train.py", arch="custom", layers=mine)
    no_crash(opened)
    assert not errors(opened)
    plan = next(d.value for d in opened.dataframe if "problem" in d.value.columns)
    assert list(plan["layer"]) == ["conv1", "relu1", "pool1", "flatten", "fc1", "fc_out"]
    assert layer_table.from_text(opened.query_params["layers"][0] if isinstance(opened.query_params["layers"], list)
                                 else opened.query_params["layers"]) == layer_table.from_text(mine)
    other = app("pages/train.py", arch="lenet5", layers=mine)  # not your own network: the layers are not the view's
    no_crash(other)
    assert "layers" not in other.query_params  # the default network, as the link states it (that stays)
    assert other.query_params["arch"] in ("lenet5", ["lenet5"])
    bad = app("pages/train.py", arch="custom", layers="conv,out=4;nope")  # a cell's typo is kept, not a layer's
    no_crash(bad)
    assert "layers=conv,out=4;nope" in warnings(bad) and "'nope' is not a layer type" in warnings(bad)


def test_a_dilated_layer_keeps_its_dilation_in_the_editor_the_plan_and_the_link():
    """The editor had no dilation column: a link's dilation=2 was dropped and the plan showed an undilated layer."""
    dilated = "conv,out=4,kernel=3,dilation=2;relu;flatten"
    at = app("pages/train.py", arch="custom", layers=dilated)
    no_crash(at)
    assert not errors(at) and not warnings(at)
    plan = next(d.value for d in at.dataframe if "problem" in d.value.columns)
    assert plan.iloc[0]["output"].replace(" ", "") in ("4x24x24", "4×24×24")  # 28 - 2·(3 - 1)
    assert at.query_params["layers"] in (dilated, [dilated])


def test_back_to_an_address_with_other_layers_shows_those_layers():
    """The browser's Back reruns the page on the former address: the editor's last layers wrote theirs back."""
    first, second = "conv,out=4,kernel=5;relu;flatten", "conv,out=6,kernel=3;relu;flatten"
    at = app("pages/train.py", arch="custom", layers=first)
    at.session_state["_kept_settings"]["tr_layers"] = [{"type": "conv", "out": 6, "kernel": 3}, {"type": "relu"},
                                                       {"type": "flatten"}]
    at.session_state["tr_layers_base"] = None  # the editor starts from what it kept: as an edit of the first
    at.run()
    assert at.query_params["layers"] in (second, [second])
    back_to(at, arch="custom", layers=first)
    no_crash(at)
    assert at.query_params["layers"] in (first, [first])
    plan = next(d.value for d in at.dataframe if "problem" in d.value.columns)
    assert plan["output"].iloc[0] == "4 x 24 x 24"


def test_a_network_whose_feature_maps_would_not_fit_in_memory_is_refused_before_launch():
    """Four convs of 1,024 1x1 filters at 28x28 pass the parameter limit (3.2M) but hold 26 GB at a batch of 1,024."""
    wide = "conv,out=1024,kernel=1;" * 4 + "pool,kind=max,size=28;flatten"
    at = app("pages/train.py", arch="custom", batch="1024", layers=wide)
    no_crash(at)
    refused = [e for e in errors(at) if "feature maps and their gradients" in e]
    assert refused and "a batch of 1,024 would hold about 25 GB" in refused[0] and "24.5 MB an image" in refused[0]
    assert at.button(key="tr_start").disabled
    at.selectbox(key="tr_batch").set_value(64).run()  # 1.5 GB
    assert not errors(at) and not at.button(key="tr_start").disabled


def test_scrambled_pixels_go_into_the_run_its_summary_and_the_link_and_the_example_sets_them():
    from explorer import run_files

    at = app("pages/train.py", scramble="1")
    no_crash(at)
    assert at.toggle(key="tr_scramble").value and not errors(at)
    at.toggle(key="tr_scramble").set_value(False).run()
    assert "scramble" not in at.query_params
    at.button(key="tr_scramble_example").click().run()
    no_crash(at)
    assert {key: at.session_state[key] for key in ("tr_data", "tr_arch", "tr_epochs", "tr_images", "tr_scramble")} \
        == {"tr_data": "shapes", "tr_arch": "lenet5", "tr_epochs": 5, "tr_images": "1000", "tr_scramble": True}
    assert at.query_params["scramble"] in ("1", ["1"]) and not at.button(key="tr_start").disabled
    assert run_files.describe({"model": "lenet5", "scramble": True}).endswith(" · pixels scrambled")


def test_a_run_beyond_what_the_queue_takes_is_refused_in_words(tmp_path, monkeypatch):
    from explorer import runs

    monkeypatch.setenv("EXPLORER_RUNS", str(tmp_path))
    monkeypatch.setattr(runs, "MOST_WAITING", 0)  # a full queue, without workers training meanwhile
    at = app("pages/train.py", train="1000", epochs="1")
    at.button(key="tr_start").click().run()
    no_crash(at)
    assert "The server's queue is full (0 runs wait): try again when some have started." in errors(at)
    assert not at.session_state["tr_run"] and not runs.list_runs(tmp_path)


def test_settings_that_differ_from_the_run_shown_are_named_above_train(tmp_path, monkeypatch):
    """The form kept AdamW at 0.003 beside a run trained with other settings: Train would start another run."""
    from tests.apptest import shapes_run, text

    monkeypatch.setenv("EXPLORER_RUNS", str(tmp_path))
    run = shapes_run(tmp_path)  # LeNet-5 on shapes, the trainer's defaults: AdamW 0.003, batch 128, 5 epochs, seed 0
    same = app("pages/train.py", run=run.id, epochs="5")
    no_crash(same)
    assert "differ from the run shown" not in text(same)
    other = app("pages/train.py", run=run.id, epochs="5", lr="0.01", opt="sgd")
    assert ("These settings differ from the run shown (optimizer, learning rate): Train starts a new run with them."
            in text(other))
