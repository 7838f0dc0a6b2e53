"""A run brought back in from its Download's zip: checked file by file, placed as a run of its own."""

import json

import pytest
import torch
from safetensors.torch import save

from explorer import architecture, data, run_checks, run_files, run_import, run_metrics, runs, worker
from tests.run_zips import TINY, changed as _changed, members as _members, zipped as _zipped


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A real run, trained by the worker (a few seconds), and its Download."""
    root = tmp_path_factory.mktemp("store")
    run = runs.create(TINY, root=root, name="squares, first try", owner="teacher")
    worker.run(run.path)
    return runs.get(run.id, root), run_files.export(run.id, root)


def test_a_download_brought_in_elsewhere_is_the_same_run_there(trained, tmp_path):
    run, archive = trained
    here, dropped = run_import.bring_in(archive, "student", tmp_path)
    assert dropped == () and here.id != run.id and here.status == "finished" and here.owner == "student"
    assert here.name == "squares, first try"
    assert here.config == {k: v for k, v in run.config.items() if k != "snapshot_every"}  # not a Train page setting
    assert here.reason.startswith("test accuracy") and here.reason.endswith("; brought in from a download")
    for name, value in run_files.build_model(run.id, run.path.parent).state_dict().items():
        assert torch.equal(run_files.build_model(here.id, tmp_path).state_dict()[name], value)
    assert run_files.snapshot_steps(here.id, tmp_path) == run_files.snapshot_steps(run.id, run.path.parent)
    assert run_files.saved_epochs(here.id, tmp_path) == run_files.saved_epochs(run.id, run.path.parent)
    assert run_metrics.read(here.id, tmp_path) == run_metrics.read(run.id, run.path.parent)
    assert torch.equal(run_files.load_result(here.id, tmp_path)["confusion"],
                       run_files.load_result(run.id, run.path.parent)["confusion"])
    fields = runs.status_fields(here.id, tmp_path)
    assert fields["test_accuracy"] == runs.status_fields(run.id, run.path.parent)["test_accuracy"]
    assert run_files.model_spec(here.id, tmp_path).classes == run_files.model_spec(run.id, run.path.parent).classes


def test_the_same_zip_brought_in_again_is_the_same_run_and_anothers_is_their_own(trained, tmp_path):
    _, archive = trained
    first, _ = run_import.bring_in(archive, "student", tmp_path)
    assert run_import.bring_in(archive, "student", tmp_path)[0].id == first.id
    again = run_import.bring_in(archive, "classmate", tmp_path)[0]
    third = run_import.bring_in(archive, "teacher", tmp_path)[0]
    assert again.id != first.id and again.name == "squares, first try (brought in)"  # names apart in every picker
    assert third.name == "squares, first try (brought in 2)"
    runs.delete(first.id, tmp_path)
    assert run_import.bring_in(archive, "student", tmp_path)[0].id != first.id  # deleted: brought in anew


def test_a_download_taken_while_it_trained_comes_in_interrupted_with_its_own_fields_only(trained, tmp_path):
    run, archive = trained
    status = {"status": "running", "reason": "x" * 1000, "name": "<b>mine</b>", "created": 1e12, "pid": 4242,
              "owner": "someone", "test_accuracy": 7, "step": "lots", "device": "cuda:0 (NVIDIA H100)"}
    changed = _changed(archive, run.id, {"status.json": json.dumps(status).encode()})
    here, _ = run_import.bring_in(changed, "me", tmp_path)
    fields = runs.status_fields(here.id, tmp_path)
    assert here.status == "interrupted" and here.owner == "me" and here.pid is None and "<" not in here.name
    assert len(here.reason) < 420 and here.reason.endswith(
        "x; brought in from a download taken while it trained: it resumes with a fresh optimizer")
    assert here.created < 1e12 and here.device == "cuda:0 (NVIDIA H100)"
    assert "test_accuracy" not in fields and "step" not in fields  # not a share, not a number


@pytest.mark.parametrize("change, words", [
    ({"model.safetensors": None}, "it has no model.safetensors"),
    ({"config.json": b"{not json"}, "config.json is not JSON"),
    ({"config.json": json.dumps({**TINY, "data": "imagenet"}).encode()}, "not one of this app's data sets"),
    ({"config.json": json.dumps({**TINY, "model": "tinyvgg"}).encode()}, "does not fit the network"),
    ({"config.json": json.dumps({**TINY, "model": "custom", "layers": [{"type": "conv", "kernel": 99}]}).encode()},
     "config.json's network cannot be built here"),
    ({"checkpoint.json": json.dumps({"input_shape": [1, 28, 28], "classes": ["a", "b"], "mean": [0.5],
                                      "std": [0.25]}).encode()}, "checkpoint.json does not describe"),
    ({"checkpoint.json": json.dumps({"input_shape": [1, 4096, 4096], "classes": [str(k) for k in range(8)],
                                      "mean": [0.5], "std": [0.25]}).encode()}, "checkpoint.json does not describe"),
    ({"model.safetensors": b"not tensors"}, "model.safetensors is not a safetensors file"),
    ({"epochs/1.safetensors": save({"conv1.weight": torch.zeros(1)})}, "epochs/1.safetensors does not fit"),
])
def test_a_zip_whose_files_do_not_fit_is_refused_in_words(trained, tmp_path, change, words):
    run, archive = trained
    with pytest.raises(run_import.ImportRefused, match=words):
        run_import.bring_in(_changed(archive, run.id, change), "me", tmp_path)
    assert runs.list_runs(tmp_path) == []


def test_what_is_not_a_runs_download_is_refused_before_any_file_is_read(trained, tmp_path, monkeypatch):
    run, archive = trained
    with pytest.raises(run_import.ImportRefused, match="not a zip that can be read"):
        run_import.bring_in(b"PK\x03\x04 cut short", "me", tmp_path)
    with pytest.raises(run_import.ImportRefused, match="holds one folder"):
        run_import.bring_in(_zipped({**_members(archive), "other/config.json": b"{}"}), "me", tmp_path)
    with pytest.raises(run_import.ImportRefused, match="holds one folder"):
        run_import.bring_in(_zipped({"config.json": b"{}"}), "me", tmp_path)
    monkeypatch.setattr(run_import, "MOST_BYTES", 1000)  # what the members say they unpack to is checked first
    with pytest.raises(run_import.ImportRefused, match="unpacks to more than a run keeps"):
        run_import.bring_in(archive, "me", tmp_path)


def test_a_zips_own_paths_never_reach_the_store(trained, tmp_path):
    run, archive = trained
    store = tmp_path / "store"
    sneaky = {f"{run.id}/../../outside.safetensors": b"x", f"{run.id}/snapshots/../../../evil.json": b"x",
              f"{run.id}/epochs/1.safetensors/../../../config.json": b"x", f"{run.id}/notes.txt": b"x"}
    here, _ = run_import.bring_in(_zipped({**_members(archive), **sneaky}), "me", store)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["store"]
    assert not {"notes.txt", "outside.safetensors", "evil.json"} & {p.name for p in here.path.rglob("*")}


def test_a_damaged_snapshot_result_or_curve_line_is_left_out_and_named(trained, tmp_path):
    run, archive = trained
    step = run_files.snapshot_steps(run.id, run.path.parent)[1]
    bad_result = {"confusion": torch.eye(8, dtype=torch.int64), "misclassified": torch.tensor([5, 999]),
                  "misclassified_predicted": torch.tensor([1, 2])}  # 999: past the 8 test images it counts
    metrics = _members(archive)[f"{run.id}/metrics.jsonl"] + b"[1, 2]\n{cut of"
    wrong_maps = run_files.load_snapshot(run.id, step, run.path.parent)
    wrong_maps["probe_maps"] = wrong_maps["probe_maps"][:, :3].contiguous()
    here, dropped = run_import.bring_in(_changed(archive, run.id, {
        "result.safetensors": save(bad_result), "metrics.jsonl": metrics,
        f"snapshots/{step}.safetensors": save(wrong_maps)}), "me", tmp_path)
    assert dropped == (f"the snapshot of step {step} (not what a snapshot of this network holds)",
                       "the confusion matrix and example mistakes (not of its test images)",
                       "2 unreadable lines of the curves")
    assert step not in run_files.snapshot_steps(here.id, tmp_path) and run_files.load_result(here.id, tmp_path) is None
    assert run_metrics.read(here.id, tmp_path) == run_metrics.read(run.id, run.path.parent)


def test_only_an_ended_run_is_adopted(tmp_path):
    with pytest.raises(ValueError, match="must have ended"):
        runs.adopt(TINY, {"status": "running"}, {}, "request", tmp_path)


def test_the_shapes_set_at_another_size_and_colour_is_checked_as_the_worker_reads_it():
    config = {**TINY, "model": "custom", "shapes_size": 32, "shapes_channels": 3}
    card = {"input_shape": [3, 32, 32], "classes": list(data.SHAPE_CLASSES), "mean": [0.5] * 3, "std": [0.25] * 3,
            "step": 4, "epoch": 1.0}
    card["mean"], card["std"] = map(list, architecture.normalization("shapes", 3))
    model = run_checks.network(run_checks.settings(config), card)
    assert model(torch.zeros(1, 3, 32, 32)).shape == (1, 8)
    with pytest.raises(run_import.ImportRefused, match="shapes_size .4096. is not a setting the Train page makes"):
        run_checks.settings({**config, "shapes_size": 4096})


def _config(archive: bytes, run_id: str, **change) -> bytes:
    config = {**json.loads(_members(archive)[f"{run_id}/config.json"]), **change}
    return _changed(archive, run_id, {"config.json": json.dumps(config).encode()})


@pytest.mark.parametrize("change, words", [
    ({"optimizer": ["x"]}, "optimizer"), ({"lr": "fast"}, "lr"), ({"lr": 0}, "lr"), ({"epochs": 100_000}, "epochs"),
    ({"train_images": "lots"}, "train_images"), ({"transfer": "lenet5"}, "transfer"),
    ({"transfer": {"from": 5}}, "transfer"), ({"init": {"kernels": ["<b>mine</b>"]}}, "init"),
    ({"batch_size": [1]}, "batch_size"), ({"seed": "s"}, "seed"), ({"augment": "yes"}, "augment"),
])
def test_a_setting_the_train_page_never_makes_is_refused(trained, tmp_path, change, words):
    """One run with a list for its optimizer had broken the run list for every visitor."""
    run, archive = trained
    with pytest.raises(run_import.ImportRefused, match=f"config.json's {words} .* is not a setting the Train page"):
        run_import.bring_in(_config(archive, run.id, **change), "me", tmp_path)


def test_keys_the_train_page_never_writes_are_left_out(trained, tmp_path):
    """A snapshot every step, a device of the zip's choosing: resumed, the worker had acted on them."""
    run, archive = trained
    here, _ = run_import.bring_in(_config(archive, run.id, snapshot_every=1, device="cuda:7", input_size=64,
                                          resume=False, weight_decay=9.0), "me", tmp_path)
    assert set(here.config) == set(TINY) - {"snapshot_every"}


def test_a_network_too_large_to_train_at_its_batch_is_refused_before_any_snapshot_is_read(trained, tmp_path):
    run, archive = trained
    wide = [{"type": "conv", "out": 1024, "kernel": 1}, {"type": "relu"}] * 2
    config = {"model": "custom", "data": "shapes", "shapes_size": 128, "shapes_channels": 3, "layers": wide,
              "batch_size": 1024}
    card = {"input_shape": [3, 128, 128], "classes": list(data.SHAPE_CLASSES), "step": 1, "epoch": 1.0}
    card["mean"], card["std"] = map(list, architecture.normalization("shapes", 3))
    changed = _changed(archive, run.id, {"config.json": json.dumps(config).encode(),
                                         "checkpoint.json": json.dumps(card).encode()})
    with pytest.raises(run_import.ImportRefused, match="over this app's limit"):
        run_import.bring_in(changed, "me", tmp_path)


def test_markup_and_odd_numbers_in_the_files_never_reach_a_page(trained, tmp_path):
    run, archive = trained
    card = json.loads(_members(archive)[f"{run.id}/checkpoint.json"])
    status = {"status": "finished", "reason": "[link](https://evil.example) <script>x</script>", "name": "[a](b)"}
    here, _ = run_import.bring_in(_changed(archive, run.id, {"status.json": json.dumps(status).encode()}), "me",
                                  tmp_path)
    assert not {"[", "]", "<", ">"} & set(here.reason + here.name)
    for odd in ({"classes": ["[click](https://evil.example)"] + card["classes"][1:]}, {"mean": [float("nan")]},
                {"std": [0.0]}, {"step": "abc"}, {"step": None}):
        changed = _changed(archive, run.id, {"checkpoint.json": json.dumps({**card, **odd}).encode()})
        with pytest.raises(run_import.ImportRefused, match="checkpoint.json does not describe"):
            run_import.bring_in(changed, "me", tmp_path)


def test_weights_that_are_not_finite_or_saved_at_no_step_are_refused(trained, tmp_path):
    from safetensors.torch import load

    run, archive = trained
    weights = load(_members(archive)[f"{run.id}/model.safetensors"])
    broken = {**weights, "conv1.weight": torch.full_like(weights["conv1.weight"], float("nan"))}
    with pytest.raises(run_import.ImportRefused, match="not finite numbers"):
        run_import.bring_in(_changed(archive, run.id, {"model.safetensors": save(broken)}), "me", tmp_path)
    with pytest.raises(run_import.ImportRefused, match="saved at a step that is not a number"):
        run_import.bring_in(_changed(archive, run.id, {"model.safetensors": save(weights, {"step": "abc"})}), "me",
                            tmp_path)


def test_a_snapshot_result_or_curve_with_odd_contents_is_left_out(trained, tmp_path):
    from safetensors.torch import load

    run, archive = trained
    members = _members(archive)
    steps = run_files.snapshot_steps(run.id, run.path.parent)
    snap = load(members[f"{run.id}/snapshots/{steps[1]}.safetensors"])
    far_labels = {**snap, "probe_labels": snap["probe_labels"] + 1000}
    bool_filters = {**snap, "filters": snap["filters"] > 0}
    result = load(members[f"{run.id}/result.safetensors"])
    far_result = {**result, "confusion": result["confusion"] * 1000, "misclassified": torch.tensor([63_000])[:1],
                  "misclassified_predicted": torch.tensor([1])}
    odd_line = json.dumps({"phase": "train", "step": 1, "steps": "x", "loss": 1.0, "epoch": 0.1, "elapsed": 1.0,
                           "images_per_s": 10.0}).encode()
    here, dropped = run_import.bring_in(_changed(archive, run.id, {
        f"snapshots/{steps[1]}.safetensors": save(far_labels), f"snapshots/{steps[2]}.safetensors": save(bool_filters),
        f"snapshots/{steps[3]}.safetensors": save(snap, {"classes": "not json"}),
        "result.safetensors": save(far_result),
        "metrics.jsonl": members[f"{run.id}/metrics.jsonl"] + odd_line + b"\n"}), "me", tmp_path)
    assert dropped == (*(f"the snapshot of step {s} (not what a snapshot of this network holds)" for s in steps[1:4]),
                       "the confusion matrix and example mistakes (not of its test images)",
                       "1 unreadable line of the curves")
    assert run_files.snapshot_steps(here.id, tmp_path) == [steps[0], *steps[4:]]


def test_many_snapshots_are_spread_and_odd_names_ignored(trained, tmp_path, monkeypatch):
    run, archive = trained
    steps = run_files.snapshot_steps(run.id, run.path.parent)
    monkeypatch.setattr(run_import, "MOST_SNAPSHOTS", 3)
    members = _members(archive)
    extra = {f"{run.id}/snapshots/0004.safetensors": members[f"{run.id}/snapshots/{steps[0]}.safetensors"]}
    here, dropped = run_import.bring_in(_zipped({**members, **extra}), "me", tmp_path)
    assert run_files.snapshot_steps(here.id, tmp_path) == [steps[0], steps[len(steps) // 2], steps[-1]]
    assert dropped == (f"{len(steps) - 3} of its {len(steps)} snapshots (it keeps 3, spread over the run)",)


def test_a_zip_behind_a_password_is_refused_in_words(trained, tmp_path):
    _, archive = trained
    locked = bytearray(archive)
    at = locked.find(b"PK\x01\x02")
    while at != -1:  # each central directory entry's flags: "encrypted", as zip -P writes them
        locked[at + 8] |= 1
        at = locked.find(b"PK\x01\x02", at + 4)
    with pytest.raises(run_import.ImportRefused, match="locked with a password"):
        run_import.bring_in(bytes(locked), "me", tmp_path)


def test_a_download_made_before_snapshots_travelled_comes_in_and_says_it_has_none(trained, tmp_path):
    run, archive = trained
    older = _zipped({n: b for n, b in _members(archive).items() if "/snapshots/" not in n})
    here, dropped = run_import.bring_in(older, "me", tmp_path)
    assert here.status == "finished" and run_files.snapshot_steps(here.id, tmp_path) == []
    assert dropped == ("the filters over training (this Download holds no snapshots)",)


def test_a_finished_runs_download_carries_no_optimizer(trained):
    run, archive = trained
    assert f"{run.id}/optimizer.pt" not in _members(archive) and (run.path / "optimizer.pt").exists()


def test_one_browser_keeps_at_most_so_many_runs_brought_in(trained, tmp_path, monkeypatch):
    """Each zip may be 64 MB: one visitor bringing in copies again and again would fill the server's disk."""
    run, archive = trained
    monkeypatch.setattr(runs, "MOST_BROUGHT_IN", 2)
    copies = [_changed(archive, run.id, {"status.json": json.dumps({"status": "finished", "name": f"copy {k}"})
                                         .encode()}) for k in range(3)]
    first, second = (run_import.bring_in(copy, "me", tmp_path, limit=True)[0] for copy in copies[:2])
    with pytest.raises(runs.TooManyBroughtIn, match="You keep 2 runs brought in"):
        run_import.bring_in(copies[2], "me", tmp_path, limit=True)
    assert run_import.bring_in(copies[0], "me", tmp_path, limit=True)[0].id == first.id  # the same zip: the same run
    run_import.bring_in(copies[2], "classmate", tmp_path, limit=True)  # another browser's own
    run_import.bring_in(copies[2], "me", tmp_path)  # the teacher's admin session: no limit
    runs.delete(second.id, tmp_path)
    runs.delete(run_import.bring_in(copies[2], "me", tmp_path)[0].id, tmp_path)
    assert run_import.bring_in(copies[2], "me", tmp_path, limit=True)[0].status == "finished"  # room again


def test_a_setting_left_at_all_images_comes_in_as_a_run_not_a_damaged_folder(trained, tmp_path):
    run, archive = trained
    config = {**run.config, "train_images": None, "test_images": None}
    here, _ = run_import.bring_in(_changed(archive, run.id, {"config.json": json.dumps(config).encode()}), "me",
                                  tmp_path)
    assert runs.get(here.id, tmp_path).config["train_images"] is None and runs.damaged(tmp_path) == {}
