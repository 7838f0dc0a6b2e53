"""The universal perturbation: one pattern within eps that changes most predictions, against a noise control."""

import pytest
import torch
from torch import nn

from explorer import data, inputs, models, universal


def _linear(margin: float) -> tuple[nn.Module, torch.Tensor]:
    """Two classes on 2x2 grey images: class 1 scores w . x more than class 0; every image sits ``margin`` below."""
    torch.manual_seed(0)
    w = torch.tensor([1.0, -1.0, 0.5, -0.5])
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
    with torch.no_grad():
        model[1].weight.copy_(torch.stack([torch.zeros(4), w]))
        model[1].bias.zero_()
    images = torch.full((64, 1, 2, 2), 0.5)
    images += 0.05 * torch.randn_like(images)
    with torch.no_grad():  # shift each image so that its class-1 score is exactly -margin
        score = images.flatten(1) @ w
        images -= ((score + margin) / (w @ w))[:, None, None, None] * w.view(1, 1, 2, 2)
    return model, images


def test_on_a_linear_model_the_pattern_is_eps_along_the_sign_of_the_weights_and_fools_every_image():
    model, images = _linear(margin=0.2)
    delta = universal.perturbation(model, images, eps=0.1, steps=30)
    torch.testing.assert_close(delta.flatten(), 0.1 * torch.tensor([1.0, -1.0, 1.0, -1.0]))  # the L-inf optimum
    result = universal.evaluate(model, delta, images, eps=0.1)
    assert result.fooling_rate == 1.0 and (result.after == 1).all() and (result.before == 0).all()
    assert result.noise_fooling_rate == 0.0  # random signs: only the 1 pattern in 16 that matches them all would do


def test_too_small_an_eps_fools_nothing_and_the_pattern_stays_within_it():
    model, images = _linear(margin=0.5)
    delta = universal.perturbation(model, images, eps=0.05, steps=10)
    assert delta.abs().max() <= 0.05 + 1e-7
    assert universal.evaluate(model, delta, images, eps=0.05).fooling_rate == 0.0
    with pytest.raises(ValueError, match="eps must be a number between 0 and 1"):
        universal.perturbation(model, images, eps=float("nan"))


def test_the_noise_control_is_plus_or_minus_eps_everywhere_and_reproducible():
    model, images = _linear(margin=0.2)
    zero = torch.zeros(1, 2, 2)
    first, again = (universal.evaluate(model, zero, images, eps=0.3, seed=4) for _ in range(2))
    assert first.fooling_rate == 0.0 and torch.equal(first.noise_after, again.noise_after)


def test_one_pattern_fools_the_trained_shapes_network_far_more_than_noise_of_its_size():
    spec, model = models.spec("tinyvgg"), models.build("tinyvgg", pretrained=True)
    train = inputs.fit_batch(data.load("shapes").subset(500).images, spec).float() / 255
    test = inputs.fit_batch(data.load("shapes", train=False).subset(300).images, spec).float() / 255
    steps = []
    delta = universal.perturbation(model, train, eps=0.1, steps=40, progress=lambda done, total: steps.append(done))
    result = universal.evaluate(model, delta, test, eps=0.1)
    assert steps == list(range(1, 41)) and delta.shape == (3, 64, 64)
    assert result.fooling_rate > 0.4 and result.noise_fooling_rate < 0.05  # measured: 72% and 0.3% (1,000 images)
