"""A step replayed from a captured CUDA graph: on the CPU the same body runs eagerly and must
train exactly as the plain loop does; on CUDA (marked gpu) one capture serves the whole run."""

from dataclasses import replace

import pytest
import torch
from torch import nn

from explorer import data, models, networks, step_graph, training

GRAPHED = training.TrainConfig(epochs=2, batch_size=32, lr=3e-3, shift=0, degrees=0, scale=0, log_every=4,
                               cycle_momentum=False, graphs=True)


def _model() -> nn.Module:
    torch.manual_seed(0)
    return networks.lenet5(models.ModelSpec("t", "t", 28, 1, tuple(data.SHAPE_CLASSES), (0.5,), (0.5,), "none", ""))


def _runs(device: str) -> tuple[list[training.Progress], nn.Module, list[training.Progress], nn.Module]:
    """The graphed run and the plain one (same seed, schedule and momentum) on the same data."""
    train_set = data.shapes(320, seed=0)
    graphed, plain = _model(), _model()
    a = list(training.train(graphed, train_set, None, replace(GRAPHED, device=device)))
    b = list(training.train(plain, train_set, None, replace(GRAPHED, device=device, graphs=False)))
    return a, graphed, b, plain


def test_on_the_cpu_the_graphed_body_trains_as_the_plain_loop():
    graphed_records, graphed, plain_records, plain = _runs("cpu")
    assert [r.step for r in graphed_records] == [r.step for r in plain_records]
    assert [r.lr for r in graphed_records] == [r.lr for r in plain_records]
    for a, b in zip(graphed_records, plain_records):  # the running sums are kept the same way
        assert a.loss == pytest.approx(b.loss, rel=1e-5) and a.accuracy == pytest.approx(b.accuracy)
    for a, b in zip(graphed.parameters(), plain.parameters()):  # the tensor lr only changes rounding
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    assert graphed_records[-1].loss < graphed_records[0].loss


def test_the_learning_rate_tensor_follows_the_schedule_and_the_group_keeps_its_float():
    model = _model()
    optimizer = training.make_optimizer(model, GRAPHED)
    seen: list[float] = []

    def body(images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        seen.append(float(optimizer.param_groups[0]["lr"]))  # what the optimizer reads inside the step
        assert isinstance(optimizer.param_groups[0]["lr"], torch.Tensor)
        return torch.zeros(())

    step = step_graph.GraphedStep(body, optimizer, torch.Size((4, 1, 28, 28)), torch.device("cpu"))
    for lr in (1e-3, 5e-3):
        optimizer.param_groups[0]["lr"] = lr
        step(torch.zeros(4, 1, 28, 28, dtype=torch.uint8), torch.zeros(4, dtype=torch.int64))
        assert optimizer.param_groups[0]["lr"] == lr
    assert seen == pytest.approx([1e-3, 5e-3])


def test_a_config_that_cannot_be_captured_is_refused():
    for changes, words in ((dict(optimizer="sgd"), "only AdamW"), (dict(shift=0.1), "no augmentation"),
                           (dict(cycle_momentum=True), "cycle_momentum=False")):
        with pytest.raises(ValueError, match=words):
            list(training.train(_model(), data.shapes(64), None, replace(GRAPHED, **changes)))


def test_without_cycling_momentum_adams_beta1_stays_put():
    model = _model()
    optimizer = training.make_optimizer(model, GRAPHED)
    list(training.train(model, data.shapes(64), None, replace(GRAPHED, graphs=False), optimizer=optimizer))
    assert optimizer.param_groups[0]["betas"][0] == 0.9


@pytest.mark.gpu
def test_on_cuda_one_capture_serves_the_run_and_it_learns_as_the_plain_loop(monkeypatch):
    captures: list[int] = []

    class Counted(torch.cuda.CUDAGraph):
        def capture_begin(self, *args, **kwargs):
            captures.append(1)
            return super().capture_begin(*args, **kwargs)

    monkeypatch.setattr(step_graph.torch.cuda, "CUDAGraph", Counted)
    graphed_records, graphed, plain_records, plain = _runs("cuda")
    assert len(captures) == 1 and graphed_records[-1].device == "cuda"
    assert graphed_records[-1].step == plain_records[-1].step == 2 * (320 // 32)
    # bf16 and cuDNN's choices differ run to run: the two runs agree closely, not bit for bit
    assert graphed_records[-1].loss == pytest.approx(plain_records[-1].loss, rel=0.1, abs=0.05)
    assert graphed_records[-1].loss < graphed_records[0].loss
    test_set = data.shapes(320, seed=1)
    assert training.evaluate(graphed, test_set, "cuda") > 0.5
