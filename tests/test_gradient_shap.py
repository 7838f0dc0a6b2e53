"""GradientSHAP against Captum on the same draws, and its sum against the score's change from the baselines."""

import numpy as np
import pytest
import torch
from captum.attr import GradientShap as CaptumGradientShap
from torch import nn

from explorer import attribution, gradient_shap, inspect, models, randomization

CASES = [("lenet5", 28, True), ("resnet_small", 32, False)]


@pytest.mark.parametrize("name, size, pretrained", CASES, ids=[c[0] for c in CASES])
def test_gradient_shap_equals_captums_on_the_same_draws(name, size, pretrained):
    torch.manual_seed(0)
    model = models.build(name, pretrained=pretrained)
    image = torch.rand(models.spec(name).channels, size, size)
    baselines = torch.rand(20, *image.shape)
    for target, seed in ((None, 0), (3, 5)):
        ours = gradient_shap.gradient_shap(model, image, baselines, target, samples=24, seed=seed, batch=7)
        expected = target if target is not None else int(model(image[None]).argmax())
        np.random.seed(seed)  # Captum draws the baselines, then the points, from numpy's global generator
        theirs = CaptumGradientShap(model).attribute(image[None], baselines, n_samples=24, target=expected)[0]
        assert ours.target == expected and ours.samples == 24 and ours.baselines == 20
        torch.testing.assert_close(ours.raw, theirs, rtol=1e-4, atol=1e-7)
    assert inspect.hooks_on(model) == 0


def test_draws_and_batches_do_not_change_the_map_and_progress_counts_the_draws():
    model = models.build("lenet5", pretrained=True)
    image, baselines = torch.rand(1, 28, 28), torch.rand(5, 1, 28, 28)
    reports = []
    whole = gradient_shap.gradient_shap(model, image, baselines, samples=10, batch=10)
    parts = gradient_shap.gradient_shap(model, image, baselines, samples=10, batch=3,
                                        progress=lambda done, total: reports.append((done, total)))
    torch.testing.assert_close(whole.raw, parts.raw)
    assert reports == [(3, 10), (6, 10), (9, 10), (10, 10)]
    _, points = gradient_shap.draws(5, 10)
    assert not np.array_equal(gradient_shap.draws(5, 10, seed=1)[1], points)
    reseeded = gradient_shap.gradient_shap(model, image, baselines, samples=10, seed=1)
    assert not torch.allclose(reseeded.raw, whole.raw)


def test_a_linear_network_adds_up_to_the_score_less_the_mean_of_the_baselines_drawn():
    """A constant gradient makes every draw's sum exact: the map adds up to S(x) less the drawn baselines' mean
    score, whatever the points on the paths."""
    torch.manual_seed(1)
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(2 * 26 * 26, 3)).eval()
    image, baselines = torch.rand(1, 28, 28), torch.rand(6, 1, 28, 28)
    result = gradient_shap.gradient_shap(model, image, baselines, 1, samples=9)
    chosen, _ = gradient_shap.draws(6, 9)
    with torch.no_grad():
        drawn = model(baselines[torch.as_tensor(chosen)])[:, 1].mean()
    assert result.baseline_score == pytest.approx(float(drawn), abs=1e-5)
    assert float(result.raw.sum()) == pytest.approx(result.score - result.baseline_score, abs=1e-4)


def test_from_one_baseline_it_samples_the_integrated_gradients_path():
    """With black as the only baseline, each draw is integrated gradients at one random point of the path: many
    draws give the same map as many steps."""
    model = models.build("lenet5", pretrained=True)
    torch.manual_seed(2)
    image = torch.rand(1, 28, 28)
    shap = gradient_shap.gradient_shap(model, image, torch.zeros(1, 1, 28, 28), samples=512)
    ig = attribution.integrated_gradients(model, image, shap.target, 128)
    assert randomization.rank_correlation(shap.raw.sum(0), ig.raw.sum(0)) > 0.95
    moved = shap.score - shap.baseline_score
    assert float(shap.raw.sum()) == pytest.approx(moved, rel=0.1)  # 512 random points: 5.6% off here
