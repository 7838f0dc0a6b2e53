"""Finer-CAM's score against pytorch-grad-cam's ``FinerWeightedTarget`` and its choice of classes (written out here),
and every class activation map of it against the maps' formulas of ``tests/test_cam.py`` run on that score."""

import numpy as np
import pytest
import torch

from explorer import cam, contrast, inspect, models
from tests import test_attribution, test_cam
from tests.apptest import lenet_and_digit

case = test_attribution.case  # the fixture: a zoo model, two images, its layers with feature maps


def _finer_target(logits: torch.Tensor, target: int, versus: list[int], alpha: float) -> torch.Tensor:
    """pytorch-grad-cam's FinerWeightedTarget on logits (n, K): each compared class weighed by its probability over
    every class, epsilon and all."""
    p = torch.softmax(logits, -1)
    numerator = sum(p[:, c] * (logits[:, target] - alpha * logits[:, c]) for c in versus)
    return numerator / (sum(p[:, c] for c in versus) + 1e-9)


class _Explained(torch.nn.Module):
    """A model whose one output is Finer-CAM's score of ``model``'s logits, its layers named as the model's."""

    def __init__(self, model: torch.nn.Module, target: int, versus: list[int], alpha: float) -> None:
        super().__init__()
        self.model, self.target, self.versus, self.alpha = model, target, versus, alpha

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _finer_target(self.model(x), self.target, self.versus, self.alpha)[:, None]

    def get_submodule(self, target: str) -> torch.nn.Module:
        return self.model.get_submodule(target)


def test_the_nearest_classes_are_pytorch_grad_cams():
    """FinerCAM's ``np.argsort(|logits - the target's|)``, the target itself first, then ``comparison_categories``
    [1, 2, 3]; for the top class or any other."""
    torch.manual_seed(0)
    logits = torch.randn(50) * 4
    for target in (int(logits.argmax()), 7, int(logits.argmin())):
        order = np.argsort(np.abs(logits.numpy() - logits[target].numpy()), kind="stable")
        assert order[0] == target
        assert contrast.nearest_classes(logits, target) == order[1:4].tolist()
        log_p = torch.log_softmax(logits, 0)  # the same classes from the probabilities
        assert contrast.nearest_classes(log_p, target, 5) == order[1:6].tolist()
    assert contrast.nearest_classes(torch.tensor([1.0, 2.0]), 0, 3) == [1]  # only as many as there are


def test_the_score_is_pytorch_grad_cams_finer_weighted_target_with_its_gradient():
    torch.manual_seed(1)
    logits = (torch.randn(4, 10) * 2).requires_grad_(True)
    for versus, alpha in (([3, 5, 8], 1.0), ([2], 0.6), ([9, 0], 0.0)):
        ours = contrast.scorer(10, 1, versus, alpha)(logits)
        theirs = _finer_target(logits, 1, versus, alpha)
        torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-5)
        for one, other in zip(torch.autograd.grad(ours.sum(), logits), torch.autograd.grad(theirs.sum(), logits)):
            torch.testing.assert_close(one, other, rtol=1e-5, atol=1e-5)  # the weights' share in the gradient too
    q = contrast.weights(logits[0].detach(), [3, 5])
    torch.testing.assert_close(q, torch.softmax(logits[0, [3, 5]].detach(), 0))
    torch.testing.assert_close(contrast.scorer(10, 4)(logits), logits[:, 4])  # no class compared: its logit


def test_a_sure_network_keeps_its_contrast_where_the_epsilon_had_made_the_score():
    """Compared classes at 1e-20 together: pytorch-grad-cam's score is 1e-11 of ours, its gradient all epsilon."""
    logits = torch.tensor([[60.0, 14.0, 15.0, 0.0]])
    ours = contrast.scorer(4, 0, [1, 2])(logits)
    assert float(ours) == pytest.approx(60 - (14 * np.exp(-1) + 15) / (1 + np.exp(-1)), rel=1e-6)
    assert abs(float(_finer_target(logits, 0, [1, 2], 1.0))) < 1e-6


@pytest.mark.parametrize("versus, alpha", [([2, 5], 1.0), ([0], 0.5)])
def test_bad_comparisons_are_refused_clearly(versus, alpha):
    with pytest.raises(ValueError, match="cannot be compared"):
        contrast.scorer(10, 2 if versus == [2, 5] else 0, versus, alpha)
    with pytest.raises(ValueError, match="cannot be compared with \\[12\\]"):
        contrast.scorer(10, 1, [3, 12])
    with pytest.raises(ValueError, match="twice"):
        contrast.scorer(10, 1, [3, 3])


@pytest.mark.parametrize("method", [m for m in cam.METHODS if m not in cam.LAYERLESS])
def test_each_class_activation_map_of_the_contrast_equals_pytorch_grad_cams_formula(case, method):
    """pytorch-grad-cam's maps (``tests/test_cam.py``'s formulas) with a FinerWeightedTarget: the score's gradient,
    Score-CAM's masked images and Ablation-CAM's ablated maps read through it."""
    model, images, layers = case
    if method == "scorecam" and images.shape[-1] > 32:
        pytest.skip("ResNet-18's 512 maps take 512 passes each way: 90 s on two cores")
    with torch.no_grad():
        logits = model(images[:1])[0]
    target = int(logits.argmax())
    versus = contrast.nearest_classes(logits, target)
    for layer in layers[:2]:
        ours = cam.class_map(model, images[0], layer, target, method, batch=5, versus=versus, alpha=0.8)
        theirs = test_cam._cam_reference(_Explained(model, target, versus, 0.8), images[0], layer, 0, method)
        close = 5e-5 if method == "ablationcam" else 1e-5  # falls of a random network's close scores, over one
        torch.testing.assert_close(ours.raw, theirs, rtol=1e-4, atol=close * max(float(theirs.max()), 1e-3))
        explained = _finer_target(logits[None], target, versus, 0.8)
        assert ours.target == target and ours.score == pytest.approx(float(explained), rel=1e-4, abs=1e-5)


@pytest.mark.parametrize("name, size", [("lenet5", 28), ("resnet_small", 32)])
def test_fullgrad_and_the_smoothings_take_the_contrast_too(name, size):
    torch.manual_seed(0)
    model, image = models.build(name, pretrained=name == "lenet5"), torch.rand(models.spec(name).channels, size, size)
    ours = cam.class_map(model, image, "", 1, "fullgrad", versus=[2, 3])
    theirs = test_cam._fullgrad_reference(model, image, 1, explained=lambda out: _finer_target(out, 1, [2, 3], 1.0)[0])
    torch.testing.assert_close(ours.raw, theirs, rtol=1e-4, atol=1e-5 * float(theirs.abs().max()))
    layer = cam.suggested_layer(inspect.layers(model, tuple(image.shape)))
    eigen = cam.class_map(model, image, layer, 1, "gradcam", eigen_smooth=True, versus=[2, 3])
    theirs = test_cam._cam_reference(_Explained(model, 1, [2, 3], 1.0), image, layer, 0, "gradcam", eigen_smooth=True)
    torch.testing.assert_close(eigen.raw, theirs, rtol=1e-4, atol=1e-5 * max(float(theirs.max()), 1e-3))
    mixed = cam.class_map(model, image, layer, 1, "gradcam", aug_smooth=True, versus=[2, 3])
    assert not torch.allclose(mixed.heat, cam.class_map(model, image, layer, 1, "gradcam", aug_smooth=True).heat)


def test_alpha_zero_is_the_class_alone_and_the_contrast_moves_the_digits_map():
    """On the page's digit, a 3 read against the classes nearest it (9, 8 and 5): with alpha 0 the map of the 3;
    with alpha 1 the score falls by the compared classes' and the map moves."""
    model, image = lenet_and_digit()
    with torch.no_grad():
        logits = model(image[None])[0]
    versus = contrast.nearest_classes(logits, 3)
    assert versus == [9, 8, 5]
    for method in ("gradcam", "scorecam", "ablationcam", "fullgrad"):
        alone = cam.class_map(model, image, "relu2", 3, method)
        torch.testing.assert_close(cam.class_map(model, image, "relu2", 3, method, versus=versus, alpha=0.0).heat,
                                   alone.heat)
        finer = cam.class_map(model, image, "relu2", 3, method, versus=versus)
        assert finer.score < alone.score and float((finer.heat - alone.heat).abs().max()) > 0.3, method
