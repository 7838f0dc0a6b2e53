"""The worker, run in this process: what a run leaves in the store, resume, failures as reasons."""

import warnings

import pytest
import torch

from explorer import (architecture, data, models, networks, run_files, run_flags, run_lifecycle, run_metrics, runs,
                      training, worker)

TINY = {"model": "lenet5", "data": "shapes", "train_images": 512, "test_images": 128, "epochs": 2,
        "batch_size": 64, "snapshot_every": 4, "seed": 0}


def _run(tmp_path, config: dict) -> runs.Run:
    run = runs.create(config, root=tmp_path)
    worker.run(run.path)
    return runs.get(run.id, tmp_path)


def test_a_finished_run_leaves_metrics_snapshots_checkpoint_and_result(tmp_path):
    run = _run(tmp_path, TINY)
    assert run.status == "finished" and run.device == "cpu" and run.reason.startswith("test accuracy")
    records = run_metrics.read(run.id, tmp_path)
    assert records[-1]["phase"] == "done" and records[-1]["step"] == 16
    assert [r["step"] for r in records if r["phase"] == "eval"] == [8, 16]
    assert all(r["test_accuracy"] is not None for r in records if r["phase"] == "eval")
    assert run_files.snapshot_steps(run.id, tmp_path) == [0, 4, 8, 12, 16]
    snap = run_files.load_snapshot(run.id, 4, tmp_path)
    assert snap["filters"].shape == (6, 1, 5, 5) and snap["probe_maps"].shape == (4, 6, 28, 28)
    assert snap["probe_images"].shape == (4, 1, 28, 28) and snap["probe_labels"].shape == (4,)
    assert not torch.equal(snap["filters"], run_files.load_snapshot(run.id, 0, tmp_path)["filters"])  # it learned
    last = run_files.load_snapshot(run.id, 16, tmp_path)  # the network's readings of 12 test images, as PyTorch's
    model = run_files.build_model(run.id, tmp_path)
    with torch.no_grad():
        expected = torch.softmax(model(last["read_images"].float() / 255), 1)
    torch.testing.assert_close(last["read_probabilities"], expected, atol=1e-5, rtol=1e-4)
    assert last["read_labels"].shape == (12,) and run_files.snapshot_classes(run.id, 16, tmp_path) == \
        tuple(data.SHAPE_CLASSES)
    result = run_files.load_result(run.id, tmp_path)
    assert result["confusion"].shape == (8, 8) and result["confusion"].sum() == 128
    assert len(result["misclassified"]) == min(16, 128 - int(result["confusion"].trace()))
    assert run_files.load_checkpoint(run.id, tmp_path)[2]["step"] == 16


def test_a_finished_run_is_a_model_with_its_spec(tmp_path):
    run = _run(tmp_path, TINY)
    spec = run_files.model_spec(run.id, tmp_path)
    assert spec.name == f"run:{run.id}" and spec.title == run.name and spec.weights == "run"
    assert spec.input_shape == (1, 28, 28) and spec.classes == data.SHAPE_CLASSES
    assert spec.sample == "triangle"  # the pages' sample picker offers a shape for it
    assert (spec.mean, spec.std) == architecture.normalization("shapes", 1)
    model = run_files.build_model(run.id, tmp_path)
    assert not model.training
    test_set = worker.splits(TINY)[1]
    accuracy = training.evaluate(model, test_set, "cpu")
    assert accuracy == pytest.approx(runs.status_fields(run.id, tmp_path)["test_accuracy"], abs=1e-6)
    result = run_files.load_result(run.id, tmp_path)  # its indices point into the same test split
    predicted = training.predict(model, test_set.images[result["misclassified"]])
    assert torch.equal(predicted, result["misclassified_predicted"])
    assert (predicted != test_set.labels[result["misclassified"]]).all()
    assert run_files.saved_epochs(run.id, tmp_path) == [0, 1, 2]  # before training, and each epoch's end
    last = run_files.build_model(run.id, tmp_path, epoch=2).state_dict()
    assert all(torch.equal(last[k], v) for k, v in model.state_dict().items())  # epoch 2 is the end
    start = run_files.build_model(run.id, tmp_path, epoch=0).state_dict()
    torch.manual_seed(TINY["seed"])
    fresh = architecture.build(TINY, (1, 28, 28), 8).state_dict()
    assert all(torch.equal(start[k], v) for k, v in fresh.items())  # epoch 0: the seeded initial weights
    with pytest.raises(FileNotFoundError, match="kept no weights at epoch 7"):
        run_files.build_model(run.id, tmp_path, epoch=7)


def test_an_interrupted_run_resumes_from_its_checkpoint(tmp_path, monkeypatch):
    run = runs.create(TINY, root=tmp_path)
    # stop right after the first epoch's checkpoint, as a crash there would
    monkeypatch.setattr(run_flags, "cancel_requested", lambda run_id, root=None: (run.path / "checkpoint.json").exists())
    worker.run(run.path)
    assert run_files.load_checkpoint(run.id, tmp_path)[2]["step"] == 8
    monkeypatch.undo()
    run_lifecycle.set_status(run.id, "interrupted", "the machine rebooted", tmp_path)
    assert worker.run(run.path) == "finished"
    records = run_metrics.read(run.id, tmp_path)
    resume = next(i for i, r in enumerate(records) if r["phase"] == "resume")
    assert records[resume]["step"] == 8 and records[resume + 1]["step"] > 8  # no step redone from 0
    assert records[-1]["step"] == 16 and [r["step"] for r in records if r["phase"] == "eval"] == [8, 16]


def test_training_resumes_the_schedule_and_the_optimizer_state():
    train_set = data.shapes(256, seed=0)
    config = training.TrainConfig(epochs=2, batch_size=32, log_every=4, optimizer="sgd")
    torch.manual_seed(0)
    model = networks.lenet5(models.ModelSpec("t", "t", 28, 1, data.SHAPE_CLASSES, (0.5,), (0.25,), "none", ""))
    optimizer = training.make_optimizer(model, config)
    first = list(training.train(model, train_set, None, config, optimizer=optimizer, start_step=8))
    assert first[0].step == 12 and first[-1].step == 16 and [r.phase for r in first].count("eval") == 1
    assert "momentum_buffer" in optimizer.state_dict()["state"][0]  # SGD with momentum, reached by the caller
    fresh = torch.optim.lr_scheduler.OneCycleLR(torch.optim.SGD([torch.zeros(1)], lr=config.lr), config.lr,
                                                total_steps=16)
    with warnings.catch_warnings():  # a schedule stepped on its own, to compare with
        warnings.simplefilter("ignore")
        for _ in range(12):
            fresh.step()
    assert first[0].lr == pytest.approx(fresh.get_last_lr()[0])


def test_unknown_optimizers_are_refused():
    with pytest.raises(ValueError, match="adamw or sgd"):
        training.make_optimizer(torch.nn.Linear(2, 2), training.TrainConfig(optimizer="lbfgs"))


def test_the_config_maps_to_train_config():
    settings, every = worker.train_config({"epochs": 3, "lr": "0.01", "optimizer": "sgd", "augment": False,
                                           "snapshot_every": 30}, train_size=1000)
    assert (settings.epochs, settings.lr, settings.optimizer) == (3, 0.01, "sgd")
    assert (settings.shift, settings.degrees, settings.scale) == (0, 0, 0) and every == 30
    assert settings.log_every == 10 and settings.log_seconds > 0  # gcd(50, 30): every snapshot step has a record
    assert worker.train_config({}, 1000)[0].shift == training.TrainConfig().shift


def test_shapes_at_another_size_and_colour(tmp_path):
    run = _run(tmp_path, {**TINY, "model": "custom", "shapes_size": 32, "shapes_channels": 3, "epochs": 1})
    assert run.status == "finished"
    assert run_files.model_spec(run.id, tmp_path).input_shape == (3, 32, 32)
    assert run_files.load_snapshot(run.id, 0, tmp_path)["probe_maps"].shape == (4, 8, 32, 32)


@pytest.mark.parametrize("change, words", [
    ({"model": "custom", "layers": [{"type": "conv", "out": 4, "kernel": 40}]}, "larger than its 28x28 input"),
    ({"batch_size": 10_000}, "batch size"),
])
def test_impossible_settings_fail_with_a_clear_reason(tmp_path, change, words):
    run = _run(tmp_path, {**TINY, **change})
    assert run.status == "failed" and words in run.reason


@pytest.mark.parametrize("error, where", [
    (torch.OutOfMemoryError("CUDA out of memory"), "the GPU"),
    (RuntimeError("[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: can't allocate memory: you tried "
                  "to allocate 8589934592 bytes. Error code 12 (Cannot allocate memory)"), "the server"),
    (MemoryError(), "the server")])
def test_out_of_memory_is_explained(tmp_path, monkeypatch, error, where):
    def out_of_memory(*args, **kwargs):
        raise error
        yield

    monkeypatch.setattr(training, "train", out_of_memory)
    run = _run(tmp_path, TINY)
    assert run.status == "failed" and run.reason == f"{where} ran out of memory: try a smaller batch size (now 64)"


def test_a_missing_data_set_is_said_in_a_line_and_the_servers_paths_go_to_the_log(tmp_path, monkeypatch, capsys):
    def offline(name, **kwargs):
        raise data.DataUnavailable(f"The {name} training split is unavailable in /srv/data: ... set "
                                   f"{data.MIRROR_ENV} ...", "MNIST's training images are not on this server: the "
                                                             "server could not download them (it may be offline).")

    monkeypatch.setattr(data, "load", offline)
    run = _run(tmp_path, {**TINY, "data": "mnist"})
    assert run.status == "failed"
    assert run.reason == ("MNIST's training images are not on this server: the server could not download them (it "
                          "may be offline)")
    assert "/srv/data" in capsys.readouterr().out  # the worker's output is the run's worker.log


def test_a_cancel_flag_set_before_the_start_cancels(tmp_path):
    run = runs.create(TINY, root=tmp_path)
    run_flags.request_cancel(run.id, tmp_path)
    assert worker.run(run.path) == "cancelled"


def test_a_run_cancelled_while_paused_takes_no_step_more(tmp_path):
    import threading

    run = runs.create(TINY, root=tmp_path)
    run_flags.request_pause(run.id, True, tmp_path)  # held at its first record
    threading.Timer(2.0, run_flags.request_cancel, (run.id, tmp_path)).start()
    assert worker.run(run.path) == "cancelled"
    held = [r["step"] for r in run_metrics.read(run.id, tmp_path) if "steps" in r]
    assert runs.get(run.id, tmp_path).reason == f"cancelled at step {held[-1]} of 16" and len(held) == 1


def test_a_run_that_has_ended_is_not_started_again(tmp_path):
    run = runs.create(TINY, root=tmp_path)
    run_lifecycle.set_status(run.id, "cancelled", "by hand", tmp_path)
    assert worker.run(run.path) == "" and runs.get(run.id, tmp_path).status == "cancelled"


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_asking_for_a_gpu_without_one_fails_with_a_reason(tmp_path):
    run = _run(tmp_path, {**TINY, "device": "cuda"})
    assert run.status == "failed" and "'cuda' cannot be used here" in run.reason


@pytest.mark.gpu
def test_a_run_on_the_gpu(tmp_path):
    run = _run(tmp_path, {**TINY, "device": "cuda"})
    assert run.status == "finished" and run.device.startswith("cuda:0 (")
    assert run_files.load_snapshot(run.id, 16, tmp_path)["filters"].device.type == "cpu"
    assert runs.status_fields(run.id, tmp_path)["test_accuracy"] > 0.3


def test_a_run_can_start_from_the_shipped_network_and_train_only_a_new_classifier(tmp_path):
    shipped = models.build("lenet5", pretrained=True).state_dict()
    run = _run(tmp_path, {**TINY, "transfer": {"from": "lenet5", "train": "head"}})
    assert run.status == "finished", run.reason
    weights = run_files.load_checkpoint(run.id, tmp_path)[0]
    assert torch.equal(weights["conv1.weight"], shipped["conv1.weight"])  # frozen: exactly as shipped
    assert torch.equal(weights["fc4.weight"], shipped["fc4.weight"]) and weights["fc5.weight"].shape == (8, 84)
    assert "from LeNet-5 trained on MNIST (shipped), training only a new classifier" in run_files.describe(run.config)
    again = _run(tmp_path, {**TINY, "transfer": {"from": f"run:{run.id}", "train": "all"}})
    assert again.status == "finished", again.reason
    tuned = run_files.load_checkpoint(again.id, tmp_path)[0]
    assert not torch.equal(tuned["conv1.weight"], weights["conv1.weight"])  # fine-tuned: it moved


def test_a_transfer_from_a_run_that_is_gone_fails_with_a_reason(tmp_path):
    run = _run(tmp_path, {**TINY, "transfer": {"from": "run:nope"}})
    assert run.status == "failed" and run.reason == "the run nope to start from is gone or has no weights"


@pytest.mark.parametrize("error", [OSError(28, "No space left on device"),
                                   RuntimeError("Error while serializing: I/O error: No space left on device (os error "
                                                "28)")])
def test_a_full_disk_is_said_in_words(tmp_path, monkeypatch, error):
    """A run on a full disk had failed with "SafetensorError: Error while serializing: I/O error: ...". """
    def disk_full(*args, **kwargs):
        raise error
        yield

    monkeypatch.setattr(training, "train", disk_full)
    run = _run(tmp_path, TINY)
    assert (run.status, run.reason) == ("failed", "the server's disk is full: the run could not save its files "
                                                  "(once there is room, one that saved a checkpoint resumes from it)")
