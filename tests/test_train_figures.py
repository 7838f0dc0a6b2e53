"""Training figures: curves from metrics records, the confusion matrix."""

import torch

from explorer import train_figures


def test_curves_split_training_records_from_test_accuracy():
    records = [{"phase": "train", "epoch": 0.5, "loss": 1.0, "accuracy": 0.5},
               {"phase": "train", "epoch": 1.0, "loss": 0.5, "accuracy": 0.8},
               {"phase": "eval", "epoch": 1.0, "loss": 0.5, "accuracy": 0.8, "test_accuracy": 0.75},
               {"phase": "done", "epoch": 1.0, "loss": 0.5, "accuracy": 0.8, "test_accuracy": 0.75}]
    fig = train_figures.curves_figure(records)
    by_name = {t.name: t for t in fig.data}
    assert list(by_name["train loss"].y) == [1.0, 0.5]
    assert list(by_name["test accuracy"].y) == [0.75, 0.75]


def test_confusion_matrix_labels_and_counts():
    matrix = torch.tensor([[5, 1], [0, 4]])
    fig = train_figures.confusion_figure(matrix, ("cat", "dog"))
    assert list(fig.data[0].x) == ["cat", "dog"] and fig.data[0].z.tolist() == [[5, 1], [0, 4]]
