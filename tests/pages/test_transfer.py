"""The Train page's "Initial weights" (explorer.ui.transfer) through the entry point: a run started from a trained
network, colour and grey, the layers to train, the example, and what is refused before launch."""

from explorer import labels
from tests.apptest import app, errors, no_crash, warnings
from tests.pages.test_train import _poll_until_final


def test_a_run_can_start_from_a_trained_network_and_the_link_keeps_it():
    from explorer import run_files, run_metrics, runs

    at = app("pages/train.py", train="1000", epochs="1", batch="32", **{"from": "lenet5"})
    no_crash(at)
    assert at.selectbox(key="tr_from").value == "lenet5" and at.radio(key="tr_transfer").value == "head"
    assert "LeNet-5 trained on MNIST (shipped)" in at.selectbox(key="tr_from").options
    # a new classifier for the shapes' 8 classes, 84 x 8 + 8, on the fixed rest
    assert ("Training moves 680 of the network's 61,536 parameters (1.1%); the other 60,856 stay as they start."
            in [c.value for c in at.caption])
    at.radio(key="tr_transfer").set_value("all").run()
    assert not any(c.value.startswith("Training moves") for c in at.caption)  # fine-tuned: every one learns
    assert at.query_params["from"] in ("lenet5", ["lenet5"]) and at.query_params["transfer"] in ("all", ["all"])
    at.button(key="tr_start").click().run()
    run_id = at.session_state["tr_run"]
    assert runs.get(run_id).config["transfer"] == {"from": "lenet5", "train": "all"}
    assert _poll_until_final(at, run_id) == "finished"
    assert "from LeNet-5 trained on MNIST (shipped), training everything" in run_files.describe(runs.get(run_id).config)
    assert f"run: {runs.get(run_id).name}" in at.selectbox(key="tr_from").options  # a finished run is a start too
    at.selectbox(key="tr_from").set_value(f"run:{run_id}").run()
    accuracy = [r["test_accuracy"] for r in run_metrics.read(run_id) if r.get("test_accuracy") is not None][-1]
    assert any(c.value.startswith(f"Starts from the run '{runs.get(run_id).name}' ({accuracy:.1%} test accuracy). ")
               for c in at.caption)  # in full: the box cuts a long name in a 1024 px window


def test_a_colour_network_starts_a_grey_one_and_the_page_says_how():
    at = app("pages/train.py", data="mnist", arch="tinyvgg", **{"from": "tinyvgg"})
    no_crash(at)
    assert not errors(at) and not at.button(key="tr_start").disabled
    note = next(c.value for c in at.caption if "saw colour images" in c.value)
    assert note == ("Starts from TinyVGG trained on Built-in shapes (shipped). "
                    "The trained layers stay fixed, so the first layer's filters will not change while it trains. "
                    "The trained network saw colour images and these are grey, so each of its first filters has its "
                    "red, green and blue weights summed.")
    at.radio(key="tr_transfer").set_value("all").run()
    assert not any("stay fixed" in c.value for c in at.caption)  # fine-tuned: the filters move
    assert any("The trained layers learn at a tenth of the rate" in c.value for c in at.caption)


def test_new_fully_connected_layers_are_offered_only_where_there_are_several():
    at = app("pages/train.py", data="fashion-mnist", **{"from": "lenet5", "transfer": "convs"})
    no_crash(at)
    assert at.radio(key="tr_transfer").options == [labels.TRANSFER[m] for m in ("head", "convs", "all")]
    assert at.radio(key="tr_transfer").value == "convs" and at.query_params["transfer"] in ("convs", ["convs"])
    at.selectbox(key="tr_arch").set_value("tinyvgg").run()
    at.selectbox(key="tr_from").set_value("tinyvgg").run()
    no_crash(at)
    assert len(at.radio(key="tr_transfer").options) == 2 and at.radio(key="tr_transfer").value == "head"


def test_a_link_to_a_run_that_is_not_here_starts_from_random_weights_and_says_so():
    at = app("pages/train.py", **{"from": "run:nope"})
    no_crash(at)
    assert at.selectbox(key="tr_from").value == "" and "from" not in at.query_params
    assert "The link's `from=run:nope` was ignored: there is no finished LeNet-5 of that name" in warnings(at)
    mine = app("pages/train.py", arch="custom", layers="flatten;linear,out=10", **{"from": "lenet5"})
    no_crash(mine)
    assert "`from=lenet5` was ignored: there is no finished run of these layers of yours of that name" in warnings(mine)


def test_the_transfer_example_fills_in_the_settings_that_show_it_helping():
    at = app("pages/train.py")
    at.button(key="tr_example").click().run()
    no_crash(at)
    assert {key: at.session_state[key] for key in ("tr_data", "tr_arch", "tr_batch", "tr_epochs", "tr_augment",
                                                   "tr_images", "tr_from", "tr_transfer")} == {
        "tr_data": "fashion-mnist", "tr_arch": "lenet5", "tr_batch": 32, "tr_epochs": 5, "tr_augment": False,
        "tr_images": "1000", "tr_from": "lenet5", "tr_transfer": "convs"}
    assert at.query_params["transfer"] in ("convs", ["convs"]) and at.query_params["train"] in ("1000", ["1000"])
    assert not at.warning and not errors(at) and not at.button(key="tr_start").disabled


def test_a_trained_network_of_another_image_size_is_refused_before_launch(tmp_path, monkeypatch):
    from explorer import architecture, run_files, run_lifecycle, runs

    monkeypatch.setenv("EXPLORER_RUNS", str(tmp_path))
    config = {"data": "cifar10", "model": "lenet5"}
    run = runs.create(config, root=tmp_path)
    run_files.save_checkpoint(run.id, architecture.build(config, (3, 32, 32), 10), None, 1, 1.0, tmp_path)
    run_lifecycle.set_status(run.id, "finished", "", tmp_path)
    at = app("pages/train.py", data="mnist", **{"from": f"run:{run.id}"})
    no_crash(at)
    assert at.selectbox(key="tr_from").value == f"run:{run.id}"
    assert any("cannot be built: the trained network saw images of another size: its fc3 takes 576 values, this "
               "one's 400" in e for e in errors(at))
    assert at.button(key="tr_start").disabled
