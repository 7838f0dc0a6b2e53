"""The Train page through the entry point: a short run, cancel, the runs list, compared runs and shared runs."""

from streamlit.testing.v1 import AppTest

from tests.apptest import app, errors, figures, no_crash, shapes_run, text, warnings


def _poll_until_final(at: AppTest, run_id: str, timeout: float = 150) -> str:
    """Rerun the page (AppTest does not tick fragments) until the run ends; returns its status."""
    import time

    from explorer import runs

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        at.run()
        no_crash(at)
        if runs.get(run_id).final:
            at.run()
            return runs.get(run_id).status
        time.sleep(0.5)
    raise AssertionError(f"run {run_id} did not end within {timeout} s")


def test_train_page_runs_a_short_training_and_the_run_becomes_a_model():
    from explorer import runs

    at = app("pages/train.py", train="1000", epochs="1", seed="3")
    no_crash(at)
    assert not errors(at)
    at.button(key="tr_start").click().run()
    run_id = at.session_state["tr_run"]
    assert run_id and at.query_params["run"] in (run_id, [run_id])
    at.button(key="tr_start").click().run()  # a second click with the same settings: the same run
    assert at.session_state["tr_run"] == run_id
    assert _poll_until_final(at, run_id) == "finished"
    assert any(m.value.startswith("Finished after ") and ": test accuracy " in m.value for m in at.success)
    at.button(key="tr_start").click().run()  # the run has ended: Train starts a new one
    again = at.session_state["tr_run"]
    assert again != run_id and at.session_state["tr_mine"] == [run_id, again]
    at.button(key=f"tr_cancel_{again}").click().run()  # (a queued run can be cancelled too, after a second click)
    at.button(key=f"tr_cancel_yes_{again}").click().run()
    at.session_state["tr_run"] = run_id
    at.run()
    titles = [f["layout"]["title"]["text"] for f in figures(at)]
    assert {"Learning curve: loss", "Learning curve: accuracy", "Confusion matrix (test set)"} <= set(titles)
    assert any(t.startswith("First-layer filters at step") for t in titles)
    loss = next(f for f in figures(at) if f["layout"]["title"]["text"] == "Learning curve: loss")
    assert [t["name"] for t in loss["data"]][:3] == ["train loss", "train loss (raw)", "test loss"]  # smoothed 0.6
    assert at.slider(key="tr_smooth").value == 0.6 and at.slider(key="tr_smooth").proto.default == [0.6]
    at.slider(key="tr_smooth").set_value(0.0).run()
    assert at.query_params["smooth"] in ("0.0", ["0.0"], "0", ["0"])
    assert at.slider(key="tr_smooth").proto.default == [0.0]  # its default, the value: a reset in the browser keeps it
    loss = next(f for f in figures(at) if f["layout"]["title"]["text"] == "Learning curve: loss")
    assert [t["name"] for t in loss["data"]][:2] == ["train loss", "test loss"]
    read = [m.value for m in at.markdown if "test images read right at step" in m.value]
    assert len(read) == 1 and read[0].endswith(" read right at step 7**") and read[0].split()[2] == "12", read  # live
    marks = [image.captions[0][0] for image in at.get("image")]  # each reading under its image
    assert len(marks) == 12 and set(marks) <= {"✓", "✗"} and f"**{marks.count('✓')} of 12" in read[0]
    named = [image.proto.imgs[0].alt for image in at.get("image")]  # a screen reader had read each file's name
    assert all(alt.startswith(("A test image, ✓ ", "A test image, ✗ ")) for alt in named), named
    assert at.select_slider(key=f"tr_scrub_{run_id}").options  # the snapshots over training
    inside = {link.value: link.proto for link in at.main.get("page_link") if link.proto.query_string}  # not the
    # sidebar's, which carry each page's last address
    assert set(inside) == {"Layer by layer", "Receptive fields", "Top activations", "What excites a unit",
                           "Why this prediction", "Invariance"}
    assert inside["Layer by layer"].query_string == (  # a shapes run, on its first filters beside the presets
        f"model=run%3A{run_id}&img=triangle&src=sample&layer=conv1&tab=Kernels")
    assert inside["Receptive fields"].query_string == f"model=run%3A{run_id}&img=triangle&src=sample"
    assert inside["Layer by layer"].page
    runs_table = next(d.value for d in at.dataframe if "yours" in d.value.columns)
    assert runs_table[runs_table["id"] == run_id]["yours"].iloc[0] == "yes"
    assert "Curves (CSV)" in [b.proto.label for b in at.get("download_button")]
    mine = runs_table[runs_table["id"] == run_id].iloc[0]  # the settings runs differ in, side by side
    assert (mine["optimizer"], mine["learning rate"], mine["batch"], mine["epochs"], mine["seed"]) == ("AdamW", 0.003,
                                                                                                      128, 1, 3)

    at.switch_page("pages/layer_by_layer.py").run()
    at.selectbox(key="net_model").set_value(f"run:{run_id}").run()
    no_crash(at)
    assert at.selectbox(key="net_model").value == f"run:{run_id}"
    assert f"{runs.get(run_id).name} (your run)" in at.selectbox(key="net_model").options
    assert any(m.value.startswith("**Prediction:**") for m in at.markdown)

    at.switch_page("pages/train.py").run()
    next(box for box in at.selectbox if box.label == "Run").set_value(run_id).run()
    assert at.session_state["tr_pick"] == run_id
    at.button(key="tr_delete").click().run()  # inside the Delete popover: the confirmation
    no_crash(at)
    assert run_id not in [r.id for r in runs.list_runs()] and at.session_state["tr_run"] == ""


def test_a_link_comparing_more_runs_than_the_box_takes_shows_the_first_six(tmp_path, monkeypatch):
    from explorer import run_lifecycle, runs

    monkeypatch.setenv("EXPLORER_RUNS", str(tmp_path))
    made = []
    for k in range(8):
        run = runs.create({"model": "lenet5", "data": "shapes"}, root=tmp_path, name=f"run {k}")
        run_lifecycle.set_status(run.id, "finished", "", tmp_path)
        made.append(run.id)
    at = app("pages/train.py", compare=",".join(made))
    no_crash(at)
    assert at.multiselect(key="tr_compare").value == made[:6]
    assert f"`compare={made[6]},{made[7]}"[:30] in warnings(at)
    assert "at most 6 runs are compared: the first 6 are shown" in warnings(at)
    assert at.query_params["compare"] in (",".join(made[:6]), [",".join(made[:6])])


def test_runs_compared_from_a_link(tmp_path, monkeypatch):
    import torch

    from explorer import run_files, run_lifecycle, run_metrics, runs

    monkeypatch.setenv("EXPLORER_RUNS", str(tmp_path))
    made = []
    sobel = {"kernels": ["laplacian"], "frozen": True}
    for name, init, accuracy, owner in [("learned", None, 0.8, "browser-aaaaaaaaaaaa"),
                                        ("sobel", sobel, 0.7, "browser-bbbbbbbbbbbb")]:
        run = runs.create({"model": "lenet5", "data": "shapes", "init": init}, root=tmp_path, name=name, owner=owner)
        run_metrics.append(run.id, [{"phase": "train", "step": 5, "epoch": 0.5, "loss": 1.5, "accuracy": 0.5,
                                      "elapsed": 2.0},
                                     {"phase": "eval", "step": 10, "epoch": 1.0, "loss": 1.0, "accuracy": 0.7,
                                      "elapsed": 4.0, "test_accuracy": accuracy}], tmp_path)
        run_files.save_snapshot(run.id, 10, {"filters": torch.randn(6, 1, 5, 5)}, tmp_path)
        run_lifecycle.set_status(run.id, "finished", "", tmp_path)  # never queued for a worker
        made.append(run.id)
    # a deleted run is named and dropped; a run named twice is compared once
    at = app("pages/train.py", compare=",".join([made[0], *made, "20991231-000000-gone"]))
    no_crash(at)
    assert at.multiselect(key="tr_compare").value == made
    assert "The link's `compare=20991231-000000-gone` was ignored: no run has that id on this server." in warnings(at)
    titles = [f["layout"]["title"]["text"] for f in figures(at)]
    assert "Runs compared" in titles
    assert [t.split("<br>")[0] for t in titles if "first-layer filters, step 10" in t] == ["learned", "sobel"]
    compared = next(f for f in figures(at) if f["layout"]["title"]["text"] == "Runs compared")
    assert [t["name"] for t in compared["data"]][::2] == ["learned", "sobel (hand-set first filters, frozen)"]
    assert at.query_params["compare"] in (",".join(made), [",".join(made)])

    # a run's curves and the runs compared against steps, the loss on a log scale; then against time
    linked = app("pages/train.py", run=made[0], compare=",".join(made), x="step", logy="1")
    no_crash(linked)
    assert linked.button_group(key="tr_x").value == "step" and linked.toggle(key="tr_log").value
    drawn = {f["layout"]["title"]["text"]: f for f in figures(linked)}
    assert drawn["Learning curve: loss"]["layout"]["yaxis"]["type"] == "log"
    assert drawn["Learning curve: accuracy"]["layout"]["xaxis"]["title"]["text"] == "step (batches)"
    assert drawn["Runs compared"]["layout"]["yaxis"]["type"] == "log"
    assert drawn["Runs compared"]["data"][0]["x"] == [5]
    linked.button_group(key="tr_x").set_value("time").run()
    no_crash(linked)
    drawn = {f["layout"]["title"]["text"]: f for f in figures(linked)}
    assert drawn["Runs compared"]["data"][1]["x"] == [4.0]  # the comparison follows the run's curves
    assert drawn["Learning curve: loss"]["layout"]["xaxis"]["title"]["text"] == "seconds of training"
    assert linked.query_params["x"] in ("time", ["time"]) and linked.query_params["logy"] in ("1", ["1"])
    (runs.path(made[1], tmp_path) / "snapshots" / "10.safetensors").write_bytes(b"cut off")
    linked.run()
    no_crash(linked)  # the other run's filters still show, this one's say why not
    assert any(c.value.startswith("sobel: its filters cannot be shown: the snapshot of step 10 is damaged")
               for c in linked.caption)
    assert [t.split("<br>")[0] for t in (f["layout"]["title"]["text"] for f in figures(linked))
            if "first-layer filters, step 10" in t] == ["learned"]

    at.session_state["visitor_id"] = "browser-aaaaaaaaaaaa"  # as if this browser had started the first one
    at.toggle(key="tr_only_mine").set_value(True).run()
    no_crash(at)
    listed = next(d.value for d in at.dataframe if "yours" in d.value.columns)
    assert list(listed["id"]) == made[:1] and at.query_params["mine"] in ("1", ["1"])
    at.session_state["visitor_id"] = "browser-cccccccccccc"
    at.run()
    assert any("None of the runs on this server was started" in c.value for c in at.caption)


def test_a_run_of_another_browser_can_be_watched_but_not_changed(tmp_path, monkeypatch):
    from explorer import runs

    monkeypatch.setenv("EXPLORER_RUNS", str(tmp_path))
    theirs = runs.create({"model": "lenet5", "data": "shapes"}, root=tmp_path, owner="browser-bbbbbbbbbbbb").id
    at = app("pages/train.py", run=theirs)  # queued, never picked up: no backend runs in this folder
    no_crash(at)
    assert not [b for b in at.button if b.key in (f"tr_cancel_{theirs}", "tr_rename", "tr_delete")]
    assert any("only that browser can stop, pause or resume this run" in c.value for c in at.caption)
    assert any("only that browser can rename or delete" in c.value for c in at.caption)
    at.session_state["visitor_id"] = "browser-bbbbbbbbbbbb"  # the owner's browser
    at.run()
    assert {f"tr_cancel_{theirs}", "tr_rename", "tr_delete"} <= {b.key for b in at.button}
    at.text_input(key=f"tr_name_{theirs}").set_value("Class demo")
    at.button(key="tr_rename").click().run()
    no_crash(at)
    assert runs.get(theirs).name == "Class demo" and "### Class demo" in [m.value for m in at.markdown]
    assert f"Class demo ({theirs})" in next(box for box in at.selectbox if box.label == "Run").options


def test_train_page_pauses_continues_and_cancels_a_run():
    import time

    from explorer import run_flags, run_metrics, runs

    def last_step() -> int:
        return max((r["step"] for r in run_metrics.read(run_id) if "steps" in r), default=0)

    at = app("pages/train.py", epochs="20", seed="4")
    at.button(key="tr_start").click().run()
    run_id = at.session_state["tr_run"]
    deadline = time.monotonic() + 60
    while not last_step() and time.monotonic() < deadline:
        time.sleep(0.3)
    at.run()
    assert any("pause the run or switch **Follow it live** off to zoom in" in c.value for c in at.caption)
    at.toggle(key="tr_follow").set_value(False).run()  # this browser holds still; the run goes on
    assert any("Held still for you" in c.value for c in at.caption) and runs.get(run_id).status == "running"
    assert not any("to zoom in" in c.value for c in at.caption)
    at.toggle(key="tr_follow").set_value(True).run()
    at.button(key=f"tr_pause_{run_id}").click().run()
    assert run_flags.paused_since(run_id) is not None and at.button(key=f"tr_pause_{run_id}").label == "Continue"
    time.sleep(2)  # the worker reaches its next record (at least one a second) and holds there
    held = last_step()
    time.sleep(2)
    at.run()
    assert last_step() == held and at.get("progress")[0].proto.text.startswith("paused (goes on by itself in 10 min)")
    assert not any("to zoom in" in c.value for c in at.caption)
    at.button(key=f"tr_pause_{run_id}").click().run()
    assert run_flags.paused_since(run_id) is None
    deadline = time.monotonic() + 30
    while last_step() == held and time.monotonic() < deadline:
        time.sleep(0.3)
    assert last_step() > held  # it goes on
    at.run()
    at.button(key=f"tr_cancel_{run_id}").click().run()
    at.button(key=f"tr_cancel_no_{run_id}").click().run()  # a slip: asked, and kept
    assert runs.get(run_id).active and not at.button(key=f"tr_cancel_{run_id}").disabled
    at.button(key=f"tr_cancel_{run_id}").click().run()
    at.button(key=f"tr_cancel_yes_{run_id}").click().run()
    assert _poll_until_final(at, run_id, timeout=30) == "cancelled"


def test_a_run_shows_its_settings_and_lends_them_to_the_page(tmp_path, monkeypatch):
    from explorer import run_lifecycle, runs

    monkeypatch.setenv("EXPLORER_RUNS", str(tmp_path))
    config = {"data": "mnist", "model": "tinyvgg", "optimizer": "sgd", "lr": 0.05, "batch_size": 256, "epochs": 7,
              "seed": 42, "augment": False, "train_images": 5000,
              "init": {"kernels": ["laplacian", "gaussian 5x5 (sigma 1)", "retired kernel"], "frozen": True}}
    run = runs.create(config, root=tmp_path, owner="browser-bbbbbbbbbbbb")
    run_lifecycle.set_status(run.id, "finished", "", tmp_path)
    at = app("pages/train.py", run=run.id)
    no_crash(at)
    # finished by hand here, with no checkpoint: no links to pages that cannot open it
    assert warnings(at) == "This run's saved weights (its checkpoint) are missing, so the other pages cannot open it."
    assert not [link for link in at.get("page_link") if "run:" in link.proto.query_string]
    assert ("TinyVGG on MNIST (5,000 training images) · SGD, learning rate 0.05 · batch 256 · 7 epochs · seed 42 · "
            "no augmentation · first filters laplacian, gaussian 5x5 (sigma 1), retired kernel, frozen"
            ) in [c.value for c in at.caption]
    at.button(key=f"tr_reuse_{run.id}").click().run()
    no_crash(at)
    assert "was ignored" not in warnings(at)
    assert {key: at.session_state[key] for key in ("tr_data", "tr_arch", "tr_opt", "tr_lr", "tr_batch", "tr_epochs",
                                                   "tr_seed", "tr_augment", "tr_images", "tr_hand", "tr_frozen",
                                                   "tr_kernels")} == {
        "tr_data": "mnist", "tr_arch": "tinyvgg", "tr_opt": "sgd", "tr_lr": 0.05, "tr_batch": 256, "tr_epochs": 7,
        "tr_seed": 42, "tr_augment": False, "tr_images": "5000", "tr_hand": True, "tr_frozen": True,
        "tr_kernels": ["laplacian", "gaussian 5x5 (sigma 1)"]}  # a name the page does not know is left out
    assert at.multiselect(key="tr_kernels").value == ["laplacian", "gaussian 5x5 (sigma 1)"]
    assert at.query_params["epochs"] in ("7", ["7"]) and at.query_params["arch"] in ("tinyvgg", ["tinyvgg"])


def test_a_runs_setting_the_page_cannot_make_is_named_when_its_settings_are_used(tmp_path, monkeypatch):
    """A batch of 100 from a script had silently stayed the page's 128, and the page said "Use these settings puts
    its own back"."""
    from explorer import run_lifecycle, runs

    monkeypatch.setenv("EXPLORER_RUNS", str(tmp_path))
    run = runs.create({"data": "shapes", "model": "lenet5", "batch_size": 100, "epochs": 3}, root=tmp_path)
    run_lifecycle.set_status(run.id, "finished", "", tmp_path)
    at = app("pages/train.py", run=run.id)
    at.button(key=f"tr_reuse_{run.id}").click().run()
    no_crash(at)
    assert at.session_state["tr_epochs"] == 3 and at.session_state["tr_batch"] == 128
    assert ("These settings differ from the run shown (batch): this page cannot set its `batch=100`, so Train "
            "starts a run with the page's own.") in text(at)


def test_a_custom_networks_layers_come_back_with_its_settings(tmp_path, monkeypatch):
    from explorer import run_lifecycle, runs

    monkeypatch.setenv("EXPLORER_RUNS", str(tmp_path))
    layers = [{"type": "conv", "out": 3, "kernel": 5}, {"type": "relu"}, {"type": "pool", "size": 2, "kind": "max"}]
    run = runs.create({"data": "shapes", "model": "custom", "layers": layers, "epochs": 3}, root=tmp_path)
    run_lifecycle.set_status(run.id, "finished", "", tmp_path)
    at = app("pages/train.py", run=run.id)
    at.button(key=f"tr_reuse_{run.id}").click().run()
    no_crash(at)
    plan = next(d.value for d in at.dataframe if "problem" in d.value.columns)
    assert at.session_state["tr_arch"] == "custom" and plan["output"].iloc[0] == "3 x 24 x 24"
    assert list(plan["type"]) == ["conv", "relu", "pool", "flatten", "linear"]  # and the classifier the page adds
    assert list(plan["output"])[3] == "432" and list(plan["parameters"])[4] == "3,464"  # (432 + 1) x 8 shapes
    wide = app("pages/train.py", arch="custom", layers="conv,out=32,kernel=3,padding=1;flatten")
    assert list(next(d.value for d in wide.dataframe if "problem" in d.value.columns)["output"])[1] == "25,088"


def test_the_admin_key_lets_a_session_manage_every_run(tmp_path, monkeypatch):
    from explorer import runs

    monkeypatch.setenv("EXPLORER_RUNS", str(tmp_path))
    theirs = runs.create({"model": "lenet5", "data": "shapes"}, root=tmp_path, owner="browser-bbbbbbbbbbbb").id
    assert not [e for e in app("pages/train.py").expander if "Teacher" in e.label]  # no key: no box
    monkeypatch.setenv("EXPLORER_ADMIN_KEY", "k" * 32)
    at = app("pages/train.py", run=theirs)
    from explorer.ui import visitor

    waits = []  # a wrong key waits a second holding the server's one check: parallel sessions guess no faster
    clock = type("Clock", (), {"sleep": lambda s: waits.append((s, visitor._CHECKING.locked()))})
    monkeypatch.setattr(visitor, "time", clock)
    at.text_input(key="visitor_admin_key").set_value("wrong")
    submit = next(b for b in at.button if "Manage every run" in b.label)
    submit.click().run()
    assert "not this server's admin key" in " ".join(e.value for e in at.error) and waits == [(1.0, True)]
    assert "tr_delete" not in {b.key for b in at.button}
    at.text_input(key="visitor_admin_key").set_value("k" * 32)
    next(b for b in at.button if "Manage every run" in b.label).click().run()
    no_crash(at)
    assert {f"tr_cancel_{theirs}", "tr_rename", "tr_delete"} <= {b.key for b in at.button}
    at.button(key="visitor_admin_off").click().run()
    assert "tr_delete" not in {b.key for b in at.button}


def test_a_run_whose_worker_is_starting_says_so_rather_than_queued():
    import os

    from explorer import run_lifecycle, runs

    run = runs.create({"data": "shapes", "model": "lenet5", "epochs": 1, "seed": 0})
    assert run_lifecycle.claim(run.id, lambda: {"pid": os.getpid()})  # a live process stands for the worker
    try:
        at = app("pages/train.py", run=run.id)
        no_crash(at)
        assert any(i.value.startswith("Starting: a worker process of its own is loading PyTorch") for i in at.info)
        assert not any(i.value.startswith("Queued") for i in at.info)
    finally:
        run_lifecycle.set_status(run.id, "cancelled", "the test is over")


def test_a_cancelled_or_failed_run_with_a_checkpoint_offers_to_resume(tmp_path, monkeypatch):
    """Only an interrupted run had offered it, though the backend resumes cancelled and failed runs too (a worker
    killed mid-run)."""
    from explorer.ui import visitor

    monkeypatch.setenv("EXPLORER_RUNS", str(tmp_path))
    monkeypatch.setattr(visitor, "may_change", lambda owner: True)
    offered = {}
    for status, saved in (("cancelled", True), ("failed", True), ("failed", False), ("interrupted", False),
                          ("diverged", True)):
        run = shapes_run(tmp_path, status=status, saved=saved)
        at = app("pages/train.py", run=run.id)
        no_crash(at)
        offered[status, saved] = any(b.key == f"tr_resume_{run.id}" for b in at.button)
    assert offered == {("cancelled", True): True, ("failed", True): True, ("failed", False): False,
                       ("interrupted", False): True, ("diverged", True): False}
