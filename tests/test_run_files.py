"""A run's files: snapshots, checkpoints with their optimizer state, the result, the exported zip."""

import io
import json
import zipfile

import torch
from torch import nn

from explorer import run_files, run_metrics, runs

CONFIG = {"model": "lenet5", "data": "shapes", "epochs": 1}


def test_snapshots_checkpoint_and_result_round_trip(tmp_path):
    run = runs.create(CONFIG, root=tmp_path)
    run_files.save_snapshot(run.id, 20, {"filters": torch.ones(2, 1, 3, 3)}, tmp_path)
    run_files.save_snapshot(run.id, 5, {"filters": torch.zeros(2, 1, 3, 3)}, tmp_path)
    assert run_files.snapshot_steps(run.id, tmp_path) == [5, 20]
    assert torch.equal(run_files.load_snapshot(run.id, 20, tmp_path)["filters"], torch.ones(2, 1, 3, 3))
    run_files.drop_snapshots_after(run.id, 5, tmp_path)
    assert run_files.snapshot_steps(run.id, tmp_path) == [5]
    model = nn.Linear(3, 2)
    optimizer = torch.optim.AdamW(model.parameters())
    model(torch.ones(1, 3)).sum().backward()
    optimizer.step()
    run_files.save_checkpoint(run.id, model, optimizer, 7, 1.0, tmp_path, classes=["a", "b"])
    weights, state, meta = run_files.load_checkpoint(run.id, tmp_path)
    assert torch.equal(weights["weight"], model.weight) and meta["step"] == 7 and meta["classes"] == ["a", "b"]
    assert torch.equal(state["state"][0]["exp_avg"], optimizer.state_dict()["state"][0]["exp_avg"])
    run_files.save_result(run.id, {"confusion": torch.eye(2, dtype=torch.int64)}, tmp_path)
    assert run_files.load_result(run.id, tmp_path)["confusion"].dtype == torch.int64


def test_an_optimizer_file_from_another_step_is_not_used(tmp_path):
    """A crash between the weights' rename and the optimizer's: the weights stand alone."""
    run = runs.create(CONFIG, root=tmp_path)
    model = nn.Linear(3, 2)
    run_files.save_checkpoint(run.id, model, torch.optim.SGD(model.parameters(), lr=0.1), 5, 1.0, tmp_path)
    optimizer_file = (run.path / "optimizer.pt").read_bytes()
    run_files.save_checkpoint(run.id, model, torch.optim.SGD(model.parameters(), lr=0.1), 10, 2.0, tmp_path)
    (run.path / "optimizer.pt").write_bytes(optimizer_file)  # step 5's optimizer beside step 10's weights
    _, state, meta = run_files.load_checkpoint(run.id, tmp_path)
    assert meta["step"] == 10 and state is None


def test_export_zips_weights_config_metrics_the_kept_epochs_and_the_snapshots(tmp_path):
    from safetensors.torch import load

    run = runs.create(CONFIG, root=tmp_path)
    run_metrics.append(run.id, [{"phase": "done", "step": 1}], tmp_path)
    run_files.save_checkpoint(run.id, nn.Linear(2, 2), None, 1, 1.0, tmp_path)
    untrained = nn.Linear(2, 2)
    for epoch in (0, 1):
        run_files.save_epoch(run.id, epoch, untrained, tmp_path)
    run_files.save_snapshot(run.id, 3, {"filters": torch.ones(2, 1, 3, 3)}, tmp_path)
    with zipfile.ZipFile(io.BytesIO(run_files.export(run.id, tmp_path))) as archive:
        names = set(archive.namelist())
        assert {f"{run.id}/model.safetensors", f"{run.id}/config.json", f"{run.id}/metrics.jsonl",
                f"{run.id}/epochs/0.safetensors", f"{run.id}/epochs/1.safetensors",
                f"{run.id}/snapshots/3.safetensors"} <= names
        assert json.loads(archive.read(f"{run.id}/config.json")) == CONFIG
        assert torch.equal(load(archive.read(f"{run.id}/epochs/0.safetensors"))["weight"], untrained.weight)


def test_a_run_is_described_by_its_settings_with_the_trainers_defaults_for_the_rest():
    from explorer import labels, training

    d = training.TrainConfig()
    assert run_files.describe({}) == (f"LeNet-5 on Built-in shapes · {labels.optimizer(d.optimizer)}, learning rate "
                                      f"{d.lr:g} · batch {d.batch_size} · {d.epochs} epochs · seed {d.seed} · "
                                      "augmented")
    custom = {"data": "cifar10", "model": "custom", "layers": [{"type": "conv"}, {"type": "relu"}], "augment": False}
    assert run_files.describe(custom).startswith("Your own layers on CIFAR-10 · ")
    assert run_files.describe(custom).endswith("no augmentation · 2 layers of your own")


def test_a_transfers_source_is_named_as_people_read_it(tmp_path):
    run = runs.create(CONFIG, root=tmp_path, name="digits, long run")
    assert run_files.transfer_source("tinyvgg") == "TinyVGG trained on Built-in shapes (shipped)"
    assert run_files.transfer_source(f"run:{run.id}", tmp_path) == "the run 'digits, long run'"
    assert run_files.transfer_source("run:gone", tmp_path) == "the run gone (deleted)"


def test_a_run_keeps_the_lectures_epochs_and_its_last(tmp_path):
    kept = [e for e in range(0, 51) if run_files.keeps_epoch(e, 13)]
    assert kept == [0, 1, 2, 5, 10, 13, 20, 30, 40, 50]  # the worker never reaches past the run's own 13
    run = runs.create(CONFIG, root=tmp_path)
    assert run_files.saved_epochs(run.id, tmp_path) == []  # a run from before epochs were kept
    for epoch in (10, 2, 0):
        run_files.save_epoch(run.id, epoch, nn.Linear(2, 2), tmp_path)
    assert run_files.saved_epochs(run.id, tmp_path) == [0, 2, 10]  # in order of epochs, not of names


def test_filter_ranges_span_every_snapshot_and_the_change_from_the_first(tmp_path):
    import torch

    from explorer import runs

    run = runs.create({"data": "shapes"}, root=tmp_path)
    assert run_files.filter_ranges(run.id, tmp_path) == (0.0, 0.0)
    first = torch.tensor([[[[0.5, -1.0]]]])
    for step, filters in ((0, first), (5, first * 3), (9, first * 2)):
        run_files.save_snapshot(run.id, step, {"filters": filters, "probe_maps": torch.zeros(1, 1, 2, 2)}, tmp_path)
    assert run_files.filter_ranges(run.id, tmp_path) == (3.0, 2.0)  # |-3|, and -3 - (-1)


def test_a_damaged_snapshot_is_named(tmp_path):
    import pytest
    import torch

    from explorer import runs

    run = runs.create({"data": "shapes"}, root=tmp_path)
    run_files.save_snapshot(run.id, 4, {"filters": torch.zeros(1, 1, 2, 2)}, tmp_path)
    (runs.path(run.id, tmp_path) / "snapshots" / "4.safetensors").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="the snapshot of step 4 is damaged"):
        run_files.load_snapshot(run.id, 4, tmp_path)
    run_files.save_snapshot(run.id, 4, {"probe_maps": torch.zeros(1, 1, 2, 2)}, tmp_path)  # readable, but no filters
    with pytest.raises(ValueError, match="step 4 is damaged .it holds no filters"):
        run_files.load_snapshot(run.id, 4, tmp_path)
    assert run_files.snapshot_classes(run.id, 4, tmp_path) == ()  # saved without names
    (runs.path(run.id, tmp_path) / "snapshots" / "4.safetensors").unlink()  # dropped by a resume meanwhile
    assert run_files.snapshot_classes(run.id, 4, tmp_path) == ()


def test_a_checkpoint_description_that_is_not_json_is_named(tmp_path):
    import pytest

    from explorer import runs

    run = runs.create({"data": "shapes"}, root=tmp_path)
    (runs.path(run.id, tmp_path) / "checkpoint.json").write_text("not json")
    with pytest.raises(ValueError, match="checkpoint.json does not describe its network"):
        run_files.model_spec(run.id, tmp_path)


def test_the_curves_as_csv_one_row_a_record_and_in_the_zip(tmp_path):
    import csv
    import io
    import zipfile

    from explorer import runs

    run = runs.create({"data": "shapes", "model": "lenet5"}, root=tmp_path)
    run_metrics.append(run.id, [{"phase": "train", "step": 5, "steps": 10, "epoch": 0.5, "loss": 1.5, "accuracy": 0.4,
                                  "lr": 0.003, "elapsed": 1.0, "images_per_s": 640.0},
                                 {"phase": "eval", "step": 10, "steps": 10, "epoch": 1.0, "loss": 1.2, "accuracy": 0.5,
                                  "test_loss": 1.3, "test_accuracy": 0.55, "lr": 0.0, "elapsed": 2.0,
                                  "images_per_s": 640.0}], tmp_path)
    rows = list(csv.DictReader(io.StringIO(run_files.curves_csv(run_metrics.read(run.id, tmp_path)))))
    assert [r["phase"] for r in rows] == ["train", "eval"]
    assert rows[0]["test_loss"] == "" and rows[1]["test_loss"] == "1.3"
    assert list(rows[0]) == list(run_files.CSV_COLUMNS)
    with zipfile.ZipFile(io.BytesIO(run_files.export(run.id, tmp_path))) as archive:
        assert archive.read(f"{run.id}/metrics.csv").decode() == run_files.curves_csv(run_metrics.read(run.id, tmp_path))
