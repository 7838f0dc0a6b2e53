"""The softmax written out: its numbers are torch.softmax's."""

import pytest
import torch

from explorer import labels, softmax


def test_the_written_softmax_is_torchs_and_its_rows_add_up():
    logits = torch.tensor([2.0, -1.0, 0.5, 3.0])
    out = softmax.written_out(logits, ("a", "b", "c", "d"))
    assert [r["class"] for r in out.rows] == ["d", "a", "c", "b"] and out.rest == 0
    expected = torch.softmax(logits.double(), 0)
    assert [r["probability"] for r in out.rows] == pytest.approx(expected[[3, 0, 2, 1]].tolist())
    assert out.total == pytest.approx(sum(r["exp(z)"] for r in out.rows))
    assert out.rows[0]["exp(z)"] == pytest.approx(torch.e ** 3)


def test_many_classes_show_the_largest_and_sum_the_rest():
    logits = torch.linspace(-5, 14, 1000)  # ImageNet's size
    out = softmax.written_out(logits, shown=5)
    assert [r["class"] for r in out.rows] == ["999", "998", "997", "996", "995"] and out.rest == 995
    assert out.rest_exp + sum(r["exp(z)"] for r in out.rows) == pytest.approx(out.total)
    assert out.rows[0]["probability"] == pytest.approx(float(torch.softmax(logits.double(), 0)[-1]))


@pytest.mark.parametrize("logits", [[800.0, 0.0, 799.0], [-800.0, -810.0], [-740.0, -745.0, -746.0]])
def test_scores_out_of_exps_range_are_shifted_by_the_largest_and_give_torchs_probabilities(logits):
    """exp(800) overflows and exp(-800) is 0: -800 and -810 had divided by zero, -740.. had given 0.988 for 0.991."""
    out = softmax.written_out(torch.tensor(logits))
    assert out.shift == max(logits)
    expected = torch.softmax(torch.tensor(logits, dtype=torch.float64), 0).sort(descending=True).values
    assert [r["probability"] for r in out.rows] == pytest.approx(expected.tolist(), rel=1e-9)
    assert out.rows[0]["exp(z)"] == 1.0  # e^(z - largest) of the largest
    assert softmax.written_out(torch.tensor([700.0, 0.0])).shift == 0  # in range: the lecture's own e^z


def test_numbers_stay_short():
    assert [softmax.number(v) for v in (20.09, 1234.4, 4.85e8, 2.3e-5, 0.0123, 5.8, 1.0, 0.0)] == \
        ["20.1", "1,234", "4.85e8", "2.30e-5", "0.0123", "5.80", "1.00", "0"]
    assert [softmax.number(v) for v in (0.00099996, 9.9996e7, -3.14159e-9)] == ["1.00e-3", "1.00e8", "-3.14e-9"]
    assert [labels.share(p) for p in (0.999992, 0.5, 0.0001, 1.0)] == [">99.9%", "50.0%", "<0.1%", ">99.9%"]


def test_the_table_writes_each_division():
    rows = softmax.table(softmax.written_out(torch.tensor([0.0, 0.0, 3.0]), ("a", "b", "c"), shown=2))
    assert rows[0] == {"class": "c", "probability": "90.9%", "score z": "3.00", "exp(z)": "20.1",
                       "exp(z) / sum": "20.1 / 22.1"}
    assert rows[-1] == {"class": "the other class", "probability": "4.5%", "score z": "", "exp(z)": "1.00",
                        "exp(z) / sum": "1.00 / 22.1"}
