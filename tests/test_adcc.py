"""ADCC (explorer.adcc): average drop, coherency and complexity against Poppi et al.'s and pytorch-grad-cam's
formulas written out, on the digit; the image faded as pytorch-grad-cam multiplies its normalised input tensor."""

import numpy as np
import pytest
import torch

from explorer import adcc, cam, models
from tests.apptest import lenet_and_digit


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    """pytorch-grad-cam's ``batch_pearson_coherency`` of one pair of maps."""
    a, b = a.ravel() - a.mean(), b.ravel() - b.mean()
    n = a.size - 1
    return float((a * b).sum() / n / (np.sqrt((a ** 2).sum() / n) * np.sqrt((b ** 2).sum() / n) + 1e-8))


def test_the_image_is_faded_as_its_normalised_tensor_times_the_map():
    model, digit = lenet_and_digit()
    heat = torch.rand(28, 28, generator=torch.Generator().manual_seed(0))
    spec = models.spec("lenet5")
    faded = adcc.faded(digit, heat, spec.mean)
    normalised = (digit - spec.mean[0]) / spec.std[0]
    torch.testing.assert_close(model.normalize(faded[None])[0], normalised * heat)  # what the network reads
    torch.testing.assert_close(adcc.faded(digit, torch.ones(28, 28), spec.mean), digit)
    torch.testing.assert_close(adcc.faded(digit, torch.zeros(28, 28), spec.mean), torch.full_like(digit, 0.1307))


def test_coherency_is_the_correlation_from_zero_to_one():
    a = torch.rand(6, 6, generator=torch.Generator().manual_seed(1))
    b = torch.rand(6, 6, generator=torch.Generator().manual_seed(2))
    assert adcc.coherency(a, b) == pytest.approx((_pearson(a.numpy(), b.numpy()) + 1) / 2, abs=1e-7)
    assert adcc.coherency(a, 3 * a + 1) == pytest.approx(1.0, abs=1e-6) and adcc.coherency(a, -a) < 1e-6
    assert adcc.coherency(a, torch.zeros(6, 6)) == 0.5  # a blank map correlates with nothing


@pytest.mark.parametrize("method", ["gradcam", "eigencam", "fullgrad"])
def test_each_check_is_poppi_et_als_formula_written_out(method):
    model, digit = lenet_and_digit()
    checked = adcc.check(model, digit, "relu2", 3, method, models.spec("lenet5").mean)
    first = cam.class_map(model, digit, "relu2", 3, method)
    heat = (first.heat - first.heat.min()) / (first.heat.max() - first.heat.min() + 1e-7)  # scale_cam_image
    faded = 0.1307 + (digit - 0.1307) * heat
    with torch.no_grad():
        y, o = (float(torch.softmax(model(x[None]), 1)[0, 3]) for x in (digit, faded))
    second = cam.class_map(model, faded, "relu2", 3, method).heat
    second = (second - second.min()) / (second.max() - second.min() + 1e-7)
    drop = max(0.0, y - o) / y
    coherency = (_pearson(heat.numpy(), second.numpy()) + 1) / 2
    complexity = float(np.abs(heat.numpy()).sum() / heat.numel())  # pytorch-grad-cam's Complexity: L1 / pixels
    assert (checked.before, checked.after) == (pytest.approx(y, abs=1e-6), pytest.approx(o, abs=1e-6))
    assert checked.drop == pytest.approx(drop, abs=1e-6) and checked.coherency == pytest.approx(coherency, abs=1e-6)
    assert checked.complexity == pytest.approx(complexity, abs=1e-6)
    assert checked.adcc == pytest.approx(3 / (1 / coherency + 1 / (1 - complexity) + 1 / (1 - drop)), abs=1e-6)
    assert 0 < checked.adcc < 1 and checked.method == method


def test_every_method_is_checked_the_best_first_with_progress():
    model, digit = lenet_and_digit()
    seen = []
    checked = adcc.check_all(model, digit, "relu2", None, ["gradcam", "gradcampp", "eigengradcam"],
                             models.spec("lenet5").mean, lambda done, total: seen.append((done, total)))
    assert sorted(c.method for c in checked) == ["eigengradcam", "gradcam", "gradcampp"]
    assert [c.adcc for c in checked] == sorted((c.adcc for c in checked), reverse=True)
    assert seen == [(1, 3), (2, 3), (3, 3)] and all(c.before > 0.99 for c in checked)  # the predicted 3
