"""Training figures: curves from metrics records, runs compared, the confusion matrix."""

import math

import pytest
import torch

from explorer import train_figures


def test_curves_split_training_records_from_test_accuracy():
    records = [{"phase": "train", "epoch": 0.5, "loss": 1.0, "accuracy": 0.5},
               {"phase": "train", "epoch": 1.0, "loss": 0.5, "accuracy": 0.8},
               {"phase": "eval", "epoch": 1.0, "loss": 0.5, "accuracy": 0.8, "test_accuracy": 0.75},
               {"phase": "done", "epoch": 1.0, "loss": 0.5, "accuracy": 0.8, "test_accuracy": 0.75}]
    loss, accuracy = train_figures.loss_figure(records), train_figures.accuracy_figure(records)
    assert [t.name for t in loss.data] == ["train loss"] and list(loss.data[0].y) == [1.0, 0.5]
    by_name = {t.name: t for t in accuracy.data}
    assert list(by_name["train accuracy"].y) == [0.5, 0.8] and list(by_name["test accuracy"].y) == [0.75, 0.75]
    low, high = loss.layout.yaxis.range  # the first and last points inside, not on the edge
    assert low < 0.5 and high > 1.0 and high - low < 0.7
    assert accuracy.layout.yaxis.range == tuple(train_figures.ACCURACY_RANGE)
    assert loss.layout.xaxis.dtick == accuracy.layout.xaxis.dtick == 0.25  # one epoch: its quarters ticked
    assert loss.layout.xaxis.rangemode == "tozero"
    three = [{"phase": "train", "epoch": e, "loss": 1.0, "accuracy": 0.5} for e in (1, 3)]
    assert train_figures.loss_figure(three).layout.xaxis.dtick == 1  # every epoch ticked
    two = [{"phase": "train", "epoch": e, "loss": 1.0, "accuracy": 0.5} for e in (0.5, 2)]
    assert train_figures.loss_figure(two).layout.xaxis.dtick == 0.5  # halves: nine quarters stood on end
    assert loss.layout.showlegend and accuracy.layout.showlegend  # a single curve still says what it is
    assert loss.data[0].line.color == by_name["train accuracy"].line.color != by_name["test accuracy"].line.color
    many = [{"phase": "train", "epoch": e, "loss": 1.0, "accuracy": 0.5} for e in (1, 20)]
    assert train_figures.loss_figure(many).layout.xaxis.dtick is None  # plotly's own ticks past ten epochs


def test_a_diverged_losses_range_is_spanned_by_its_finite_values_only():
    records = [{"phase": "train", "epoch": e, "loss": loss, "accuracy": 0.1}
               for e, loss in [(0.1, 2.0), (0.2, 3.0), (0.3, float("inf")), (0.4, float("nan"))]]
    assert train_figures.loss_figure(records).layout.yaxis.range == (1.94, 3.06)
    assert train_figures.loss_figure([]).layout.yaxis.range is None
    start = [{"phase": "train", "epoch": e / 100, "loss": loss, "accuracy": 0.1} for e, loss in enumerate((2.07, 2.085))]
    low, high = train_figures.loss_figure(start).layout.yaxis.range  # a run's first steps: noise is not a cliff
    assert high - low > 0.5 and low < 2.07 and high > 2.085


def test_runs_compared_share_one_colour_per_run_across_both_panels():
    first = [{"phase": "train", "epoch": 0.5, "loss": 2.0}, {"phase": "eval", "epoch": 1.0, "test_accuracy": 0.6}]
    second = [{"phase": "train", "epoch": 0.5, "loss": 1.0}, {"phase": "train", "epoch": 1.0, "loss": 0.5},
              {"phase": "eval", "epoch": 1.0, "test_accuracy": 0.9}, {"phase": "done", "epoch": 1.0, "test_accuracy": 0.9}]
    fig = train_figures.comparison_figure([("learned", first), ("hand-set", second)])
    assert [t.name for t in fig.data] == ["learned", "learned", "hand-set", "hand-set"]
    assert [t.showlegend for t in fig.data] == [None, False, None, False]  # one legend entry per run
    assert fig.data[0].line.color == fig.data[1].line.color != fig.data[2].line.color == fig.data[3].line.color
    assert list(fig.data[2].y) == [1.0, 0.5] and list(fig.data[3].y) == [0.9, 0.9]
    assert fig.data[1].xaxis == "x2"  # test accuracy in the right-hand panel
    assert fig.data[0].line.dash == fig.data[1].line.dash != fig.data[2].line.dash  # equal curves still both show
    assert list(fig.layout.yaxis2.range) == [0, 1.04]  # accuracy on its whole scale, a line at 100% drawn whole


def test_a_diverged_run_beside_others_goes_off_the_top_and_leaves_theirs_in_view():
    """A log axis from 1 to 1e28 had flattened the healthy curves into one line at the bottom."""
    calm = [{"phase": "train", "epoch": e, "loss": loss} for e, loss in [(0.5, 2.1), (1.0, 0.4)]]
    wild = [{"phase": "train", "epoch": e, "loss": loss} for e, loss in [(0.1, 2.3), (0.2, 3e30), (0.3, float("nan"))]]
    fig = train_figures.comparison_figure([("calm", calm), ("lr 1e6", wild)])
    low, high = fig.layout.yaxis.range
    assert high == 3 * 2.3 and low < 0.4 and fig.layout.yaxis.type is None  # linear, 0.4 to 2.1 in view
    assert "diverged run goes off the top" in fig.layout.yaxis.title.text
    plain = train_figures.comparison_figure([("calm", calm)]).layout.yaxis
    assert plain.type is None and plain.title.text is None and plain.range[1] < 3  # a plain run: its own range


def test_confusion_matrix_labels_and_counts():
    matrix = torch.tensor([[5, 1], [0, 4]])
    fig = train_figures.confusion_figure(matrix, ("cat", "dog"))
    assert list(fig.data[0].x) == ["cat", "dog"] and fig.data[0].z.tolist() == [[5, 1], [0, 4]]


def test_the_loss_curve_shows_the_rate_each_step_used_on_its_own_axis():
    """The rate typed is the one-cycle schedule's peak: step 1 of a run at 0.003 used 0.00012."""
    records = [{"phase": "train", "epoch": e / 10, "loss": 2 - e / 10, "accuracy": 0.5, "lr": lr}
               for e, lr in enumerate((1.2e-4, 1e-3, 3e-3, 1e-3, 1e-6))]
    fig = train_figures.loss_figure(records)
    rate = next(t for t in fig.data if t.name == "learning rate")
    assert list(rate.y) == [1.2e-4, 1e-3, 3e-3, 1e-3, 1e-6] and rate.yaxis == "y2"
    assert fig.layout.yaxis2.overlaying == "y"
    assert [t.name for t in train_figures.loss_figure([{**r, "lr": None} for r in records]).data] == ["train loss"]


def test_the_readings_say_what_the_network_reads_how_sure_and_the_truth_when_wrong():
    probabilities = torch.tensor([[0.1, 0.87, 0.03], [0.54, 0.4, 0.06]])
    captions = train_figures.reading_captions(probabilities, torch.tensor([1, 2]), ("square", "circle"))
    assert captions == ["✓ circle\n87.0%", "✗ square\n54.0%, is class 2"]


def test_smoothing_is_tensorboards_debiased_moving_average():
    """TensorBoard's smoothing written out: s = w s + (1 - w) v, over 1 - w^n; a value that is not finite passes."""
    nan = float("nan")
    got = train_figures.smoothed([1.0, 2.0, nan, 3.0], 0.5)
    assert got[:2] == [1.0, 1.25 / 0.75] and got[2] != got[2] and abs(got[3] - 2.125 / 0.875) < 1e-12
    assert train_figures.smoothed([3.0, 1.0], 0.0) == [3.0, 1.0]


def test_the_loss_curve_holds_the_test_loss_and_the_smoothed_training_loss_over_its_raw_values():
    records = [{"phase": "train", "epoch": 0.5, "loss": 2.0, "accuracy": 0.2},
               {"phase": "train", "epoch": 1.0, "loss": 1.0, "accuracy": 0.6},
               {"phase": "eval", "epoch": 1.0, "loss": 1.0, "accuracy": 0.6, "test_accuracy": 0.5, "test_loss": 1.4}]
    fig = train_figures.loss_figure(records, smoothing=0.5)
    by_name = {t.name: t for t in fig.data}
    assert list(by_name["train loss"].y) == [2.0, (0.5 + 0.5) / 0.75]
    assert list(by_name["train loss (raw)"].y) == [2.0, 1.0] and by_name["train loss (raw)"].opacity == 0.3
    assert list(by_name["test loss"].y) == [1.4] and list(by_name["test loss"].x) == [1.0]
    accuracy = {t.name: t for t in train_figures.accuracy_figure(records, smoothing=0.5).data}
    assert list(accuracy["train accuracy"].y) == pytest.approx([0.2, (0.05 + 0.3) / 0.75])
    assert list(accuracy["test accuracy"].y) == [0.5]
    compared = train_figures.comparison_figure([("a", records)], smoothing=0.5)
    assert list(compared.data[0].y) == [2.0, 1.0 / 0.75]


def test_the_snapshot_shown_is_marked_on_the_curves_at_its_epoch():
    records = [{"phase": "train", "step": 10, "epoch": 0.5, "loss": 1.0, "accuracy": 0.5},
               {"phase": "eval", "step": 20, "epoch": 1.0, "loss": 0.8, "accuracy": 0.6, "test_accuracy": 0.6}]
    assert train_figures.step_epoch(records, 5) == 0.25 and train_figures.step_epoch([], 5) is None
    fig = train_figures.mark_snapshot(train_figures.loss_figure(records), 0.25, 5)
    (line,) = fig.layout.shapes
    assert line.x0 == line.x1 == 0.25 and fig.layout.annotations[0].text == "step 5"


def _resumed_run() -> list[dict]:
    """Two stretches of training: 10 s to step 20, then a resume whose worker counts its seconds from 0 again."""
    first = [{"phase": "train", "step": s, "epoch": s / 40, "loss": 2.0 / (1 + s), "accuracy": 0.5, "elapsed": s / 2}
             for s in (10, 20)]
    second = [{"phase": "train", "step": s, "epoch": s / 40, "loss": 2.0 / (1 + s), "accuracy": 0.7,
               "elapsed": (s - 20) / 4} for s in (30, 40)]
    done = {"phase": "eval", "step": 40, "epoch": 1.0, "loss": 0.05, "accuracy": 0.7, "elapsed": 5.0,
            "test_accuracy": 0.8, "test_loss": 0.1}
    return [*first, {"phase": "resume", "step": 20, "time": 1e9}, *second, done]


def test_curves_drawn_against_steps_or_seconds_of_training_count_a_resumed_runs_stretches():
    records = _resumed_run()
    by_step = {t.name: t for t in train_figures.loss_figure(records, x="step").data}
    assert list(by_step["train loss"].x) == [10, 20, 30, 40] and list(by_step["test loss"].x) == [40]
    timed = train_figures.loss_figure(records, x="time")
    by_time = {t.name: t for t in timed.data}
    assert list(by_time["train loss"].x) == [5.0, 10.0, 12.5, 15.0]  # 10 s, then 2.5 and 5 s more
    assert list(by_time["test loss"].x) == [15.0]
    assert timed.layout.xaxis.title.text == "seconds of training" and timed.layout.xaxis.dtick is None
    accuracy = train_figures.accuracy_figure(records, x="step")
    assert accuracy.layout.xaxis.title.text == "step (batches)"
    assert list({t.name: t for t in accuracy.data}["test accuracy"].x) == [40]
    compared = train_figures.comparison_figure([("a", records)], x="time")
    assert list(compared.data[0].x) == [5.0, 10.0, 12.5, 15.0] and list(compared.data[1].x) == [15.0]
    assert compared.layout.xaxis.title.text == compared.layout.xaxis2.title.text == "seconds of training"
    assert "s:" in compared.data[0].hovertemplate
    with pytest.raises(ValueError, match="wall"):
        train_figures.placed(records, "wall")


def test_the_snapshots_mark_sits_at_its_step_or_its_seconds_between_the_logged_ones():
    records = _resumed_run()
    assert train_figures.step_place(records, 25, "step") == 25.0
    assert train_figures.step_place(records, 25, "epoch") == 25 / 40
    assert train_figures.step_place(records, 25, "time") == pytest.approx(11.25)  # halfway from 10 s to 12.5 s
    assert train_figures.step_place(records, 0, "time") == 0.0  # the untrained network: no training time yet
    assert train_figures.step_place(records, 5, "time") == 2.5  # halfway to the first logged step
    assert train_figures.step_place([], 5, "time") is None


def test_a_log_scale_loss_spans_powers_of_ten_and_leaves_a_diverged_run_off_the_top():
    records = _resumed_run()  # losses from 2 / 11 to 2 / 41, a test loss of 0.1
    fig = train_figures.loss_figure(records, log_loss=True)
    assert fig.layout.yaxis.type == "log" and fig.layout.yaxis.title.text == "loss (log scale)"
    low, high = fig.layout.yaxis.range  # plotly reads a log axis's range as powers of 10
    assert low < math.log10(2 / 41) < math.log10(2 / 11) < high < 0
    assert train_figures.loss_figure(records).layout.yaxis.type is None  # linear unless asked
    calm = [{"phase": "train", "epoch": e, "loss": loss} for e, loss in [(0.5, 2.0), (1.0, 0.0), (1.5, 0.02)]]
    wild = [{"phase": "train", "epoch": e, "loss": loss} for e, loss in [(0.1, 2.3), (0.2, 3e30)]]
    compared = train_figures.comparison_figure([("calm", calm), ("lr 1e6", wild)], log_loss=True)
    low, high = compared.layout.yaxis.range
    assert compared.layout.yaxis.type == "log" and high == pytest.approx(math.log10(3 * 2.3))
    assert low < math.log10(0.02)  # the loss of 0 has no place on a log axis: left out of the span
    assert train_figures.comparison_figure([("calm", calm)], log_loss=True).layout.yaxis.title.text == "log scale"
    assert compared.layout.yaxis.title.text == "cut: a diverged run goes off the top (log scale)"
    narrow = train_figures.loss_figure([{"phase": "train", "epoch": 0.1, "loss": 2.3, "accuracy": 0.1}], log_loss=True)
    assert narrow.layout.yaxis.type == "log" and narrow.layout.yaxis.tickvals is None  # plotly's own, not none at all


def test_a_log_axis_is_ticked_at_one_two_and_five_or_at_powers_of_ten_when_those_crowd():
    assert train_figures.log_ticks(math.log10(0.03), math.log10(3)) == pytest.approx([0.05, 0.1, 0.2, 0.5, 1, 2])
    assert train_figures.log_ticks(-4.2, 0.5) == pytest.approx([1e-4, 1e-3, 1e-2, 0.1, 1])
    assert train_figures.log_ticks(-30, 30) == pytest.approx([10.0 ** p for p in range(-30, 31, 9)])
    fig = train_figures.loss_figure(_resumed_run(), log_loss=True)
    assert list(fig.layout.yaxis.ticktext) == ["0.05", "0.06", "0.07", "0.08", "0.09", "0.1"]  # 0.049 to 0.18
