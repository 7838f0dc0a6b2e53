"""The training core: progress records, reproducibility, augmentation, divergence."""

import dataclasses
import io
import time

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from explorer import data, models, networks, training

FAST = training.TrainConfig(epochs=2, batch_size=64, lr=3e-3, shift=0.05, degrees=5, scale=0.05, log_every=5)


def _model() -> nn.Module:
    torch.manual_seed(0)
    return networks.lenet5(models.ModelSpec("t", "t", 28, 1, tuple(data.SHAPE_CLASSES), (0.5,), (0.5,), "none", ""))


def test_a_short_run_learns_and_reports_progress():
    train_set, test_set = data.shapes(1280, seed=0), data.shapes(320, seed=1)
    records = list(training.train(_model(), train_set, test_set, FAST))
    phases = [r.phase for r in records]
    assert phases[-1] == "done" and phases.count("eval") == 2 and "train" in phases
    steps = [r.step for r in records]
    assert steps == sorted(steps) and records[-1].step == records[-1].steps == 2 * (1280 // 64)
    assert records[-1].steps == training.total_steps(1280, FAST.batch_size, FAST.epochs)  # what the page announces
    assert records[-1].test_accuracy > 0.5  # 8 classes: chance is 0.125
    assert records[0].loss > records[-1].loss and records[-1].images_per_s > 0 and records[-1].device == "cpu"


def test_time_held_by_a_pause_is_not_training_time():
    train_set = data.shapes(256, seed=0)
    config = training.TrainConfig(epochs=1, batch_size=64, log_every=1, shift=0, degrees=0, scale=0)
    began = time.perf_counter()
    records = list(training.train(_model(), train_set, None, config, hold=lambda: time.sleep(0.5)))
    wall, holds = time.perf_counter() - began, len(records) - 1  # after each record but the last
    assert holds == 5 and records[-1].elapsed < wall - 0.5 * holds + 0.2
    assert records[-1].images_per_s > 256 / (wall - 0.5 * holds + 0.2)  # the pace leaves the pauses out


def test_the_steps_count_whole_batches_only():
    assert training.total_steps(1000, 128, 1) == 7 and training.total_steps(1000, 128, 3) == 21
    assert training.total_steps(1000, 1024, 2) == 0 and training.total_steps(1024, 1024, 2) == 2


def test_the_time_left_is_the_pace_so_far_over_the_steps_to_go():
    assert training.seconds_left(25, 100, 10.0) == pytest.approx(30.0)  # 0.4 s a step, 75 to go
    assert training.seconds_left(100, 100, 40.0) == 0.0 and training.seconds_left(0, 100, 0.0) == 0.0


def test_the_time_left_follows_the_recent_pace_of_a_run_that_slowed_down():
    """A first epoch at 1,382 images/s, the second at 120: the average since the start said 3 s left for 13."""
    records = [{"phase": "train", "step": s, "steps": 62, "elapsed": 0.045 * s} for s in range(0, 32, 4)]
    records += [{"phase": "eval", "epoch": 1.0}]  # no step: not timed
    records += [{"phase": "train", "step": s, "steps": 62, "elapsed": 1.4 + 0.4 * (s - 31)} for s in range(32, 45, 4)]
    last = records[-1]
    assert (last["step"], last["elapsed"]) == (44, pytest.approx(6.6))
    since = training.recent_start(records)
    assert since == (36, pytest.approx(3.4))  # the last half of the 6.6 s began there
    assert training.seconds_left(44, 62, 6.6, since) == pytest.approx(18 * 0.4)
    assert training.seconds_left(44, 62, 6.6) == pytest.approx(6.6 / 44 * 18)  # the average: 2.7 s
    assert training.recent_start([]) == (0, 0.0) and training.seconds_left(5, 10, 1.0, (5, 1.0)) == 1.0


def test_a_resumed_runs_seconds_add_up_over_its_stretches():
    """A worker that resumes counts elapsed from 0 again: "Finished after 6 s" had been the last stretch alone."""
    records = [{"phase": "train", "step": s, "steps": 120, "elapsed": 0.5 * s} for s in range(0, 80, 10)]
    records += [{"phase": "resume", "step": 70}]
    records += [{"phase": "train", "step": s, "steps": 120, "elapsed": 0.1 * (s - 70)} for s in range(80, 121, 10)]
    assert training.training_seconds(records) == pytest.approx(35 + 5)
    assert training.recent_start(records) == (100, pytest.approx(3.0))  # the pace since the resume
    assert training.training_seconds([]) == 0 and training.training_seconds(records[:8]) == pytest.approx(35)


def test_seeded_cpu_runs_are_reproducible():
    train_set = data.shapes(256, seed=0)
    config = training.TrainConfig(epochs=1, batch_size=32, log_every=4)
    first, second = _model(), _model()
    list(training.train(first, train_set, None, config))
    list(training.train(second, train_set, None, config))
    for a, b in zip(first.parameters(), second.parameters()):
        assert torch.equal(a, b)


def test_a_diverging_run_stops_with_a_record():
    model = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 8))
    nn.init.constant_(model[1].weight, float("nan"))
    records = list(training.train(model, data.shapes(256), None, training.TrainConfig(epochs=3, batch_size=32, log_every=1)))
    assert records[-1].phase == "diverged" and records[-1].step == 1


def test_augment_keeps_shapes_and_is_the_identity_when_off():
    x = torch.rand(8, 1, 28, 28)
    generator = torch.Generator().manual_seed(0)
    off = training.TrainConfig(shift=0, degrees=0, scale=0)
    assert torch.equal(training.augment(x, off, generator), x)
    moved = training.augment(x, training.TrainConfig(shift=0.2, degrees=0, scale=0), generator)
    assert moved.shape == x.shape and not torch.allclose(moved, x)


def test_augment_shift_moves_the_content():
    x = torch.zeros(1, 1, 28, 28)
    x[0, 0, 10:18, 10:18] = 1
    moved = training.augment(x, training.TrainConfig(shift=0.3, degrees=0, scale=0), torch.Generator().manual_seed(3))
    assert abs(moved.sum() - x.sum()) < 0.5  # the square moved (bilinear), it did not vanish
    ys, xs = torch.nonzero(moved[0, 0] > 0.5, as_tuple=True)
    assert (ys.float().mean() - 13.5).abs() + (xs.float().mean() - 13.5).abs() > 1


def test_device_auto_is_the_cpu_here_or_cuda_when_present():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert training.resolve_device("auto").type == expected
    assert training.resolve_device("cpu").type == "cpu"


def test_evaluate_counts_right_answers():
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 2, bias=False))
    with torch.no_grad():
        model[1].weight.copy_(torch.tensor([[1.0, 0, 0, 0], [0, 1.0, 0, 0]]))
    images = torch.tensor([[[[255, 0], [0, 0]]], [[[0, 255], [0, 0]]], [[[255, 0], [0, 0]]]], dtype=torch.uint8)
    labels = torch.tensor([0, 1, 1])
    assert abs(training.evaluate(model, data.DataSet("t", images, labels, ("a", "b")), "cpu") - 2 / 3) < 1e-6
    accuracy, loss = training.test_metrics(model, data.DataSet("t", images, labels, ("a", "b")), "cpu")
    scores = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])  # each image's one lit pixel, read by its row
    assert abs(accuracy - 2 / 3) < 1e-6 and abs(loss - F.cross_entropy(scores, labels).item()) < 1e-6
    smoothed = training.test_metrics(model, data.DataSet("t", images, labels, ("a", "b")), "cpu", 0.1)[1]
    assert abs(smoothed - F.cross_entropy(scores, labels, label_smoothing=0.1).item()) < 1e-6  # the training loss's


def test_each_record_holds_the_mean_loss_of_its_batches_and_each_epoch_the_test_loss(monkeypatch):
    """The curves' numbers: the loss of the batches since the last record (not a sum, not divided by the batch) and
    the test set's plain cross-entropy at each epoch's end, recomputed here from the model itself."""
    train_set, test_set = data.shapes(256, seed=0), data.shapes(64, seed=1)
    config = dataclasses.replace(FAST, epochs=1, log_every=1, shift=0.0, degrees=0.0, scale=0.0)
    model, losses = _model(), []
    original = training.F.cross_entropy

    def recorded(logits, y, **kwargs):
        loss = original(logits, y, **kwargs)
        if logits.requires_grad:
            losses.append(loss.item())
        return loss

    monkeypatch.setattr(training.F, "cross_entropy", recorded)
    records = list(training.train(model, train_set, test_set, config))
    monkeypatch.undo()
    train = [r for r in records if r.phase == "train"]
    assert [round(r.loss, 5) for r in train] == [round(v, 5) for v in losses]
    accuracy, loss = training.test_metrics(model, test_set, "cpu")
    assert records[-1].test_loss == records[-2].test_loss and abs(records[-1].test_loss - loss) < 1e-6
    assert records[-1].test_accuracy == accuracy


def test_the_optimizers_and_their_state_round_trip():
    model = _model()
    adamw = training.make_optimizer(model, training.TrainConfig())
    assert isinstance(adamw, torch.optim.AdamW) and not adamw.defaults["fused"]  # the CPU keeps the default
    sgd = training.make_optimizer(model, training.TrainConfig(optimizer="sgd", lr=0.1))
    assert isinstance(sgd, torch.optim.SGD) and sgd.defaults["nesterov"] and sgd.defaults["momentum"] == 0.9
    list(training.train(model, data.shapes(64), None, training.TrainConfig(epochs=1, batch_size=32), optimizer=adamw))
    again = training.make_optimizer(model, training.TrainConfig(), adamw.state_dict())
    assert torch.equal(again.state_dict()["state"][0]["exp_avg"], adamw.state_dict()["state"][0]["exp_avg"])
    with pytest.raises(ValueError, match="adamw or sgd"):
        training.make_optimizer(model, training.TrainConfig(optimizer="lion"))


@pytest.mark.gpu
def test_on_cuda_adamw_is_fused_and_a_run_learns_and_resumes():
    train_set, test_set = data.shapes(1280, seed=0), data.shapes(320, seed=1)
    model, config = _model(), training.TrainConfig(epochs=2, batch_size=64, device="cuda", log_every=5)
    optimizer = training.make_optimizer(model.cuda(), config)
    assert optimizer.defaults["fused"]
    records = list(training.train(model, train_set, test_set, config, optimizer=optimizer))
    assert records[-1].phase == "done" and records[-1].device == "cuda" and records[-1].test_accuracy > 0.5
    saved = io.BytesIO()
    torch.save(optimizer.state_dict(), saved)  # as a checkpoint keeps it: loaded on the CPU, then moved to the parameters
    state = torch.load(io.BytesIO(saved.getvalue()), map_location="cpu", weights_only=True)
    resumed = training.make_optimizer(model, config, state)
    assert resumed.defaults["fused"] and all(s["exp_avg"].is_cuda for s in resumed.state.values())


def test_fine_tuned_layers_get_their_own_group_and_a_scaled_one_cycle_peak():
    model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2))
    for p in model[0].parameters():
        p.lr_scale = 0.1
    config = training.TrainConfig(lr=0.01)
    optimizer = training.make_optimizer(model, config)
    assert [(g["lr_scale"], len(g["params"])) for g in optimizer.param_groups] == [(0.1, 2), (1.0, 2)]
    training._one_cycle(optimizer, config, steps=10, start_step=0)
    assert [g["max_lr"] for g in optimizer.param_groups] == pytest.approx([0.001, 0.01])
    lrs = [g["lr"] for g in optimizer.param_groups]
    assert lrs[0] == pytest.approx(lrs[1] / 10)  # the ratio holds all along the cycle
