"""The scores a class activation map explains against pytorch-grad-cam's model targets (written out here): the
probability, ReST, Finer-CAM's ``FinerWeightedTarget`` and its choice of classes; every map of them against the maps'
formulas of ``tests/test_cam.py`` run on that score; ShapleyCAM's Hessian against finite differences."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from explorer import cam, inspect, models, targets
from tests import test_attribution, test_cam
from tests.apptest import lenet_and_digit

case = test_attribution.case  # the fixture: a zoo model, two images, its layers with feature maps


def _finer_target(logits: torch.Tensor, target: int, versus: list[int], alpha: float) -> torch.Tensor:
    """pytorch-grad-cam's FinerWeightedTarget on logits (n, K): each compared class weighed by its probability over
    every class, epsilon and all."""
    p = torch.softmax(logits, -1)
    numerator = sum(p[:, c] * (logits[:, target] - alpha * logits[:, c]) for c in versus)
    return numerator / (sum(p[:, c] for c in versus) + 1e-9)


def _theirs(output: str, target: int, versus: list[int] = (), alpha: float = 1.0):
    """pytorch-grad-cam's target for ``output``, on logits (n, K): ClassifierOutputSoftmaxTarget, ClassifierOutputReST
    (one image at a time: its cross entropy of a batch is the batch's mean) or FinerWeightedTarget."""
    if versus:
        return lambda logits: _finer_target(logits, target, list(versus), alpha)
    if output == "probability":
        return lambda logits: torch.softmax(logits, -1)[:, target]
    return lambda logits: torch.stack([o[target] - F.cross_entropy(o[None], torch.tensor([target])) for o in logits])


class _Explained(torch.nn.Module):
    """A model whose one output is the score ``explained`` of ``model``'s logits, its layers named as the model's."""

    def __init__(self, model: torch.nn.Module, explained) -> None:
        super().__init__()
        self.model, self.explained = model, explained

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.explained(self.model(x))[:, None]

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
        assert targets.nearest_classes(logits, target) == order[1:4].tolist()
        log_p = torch.log_softmax(logits, 0)  # the same classes from the probabilities
        assert targets.nearest_classes(log_p, target, 5) == order[1:6].tolist()
    assert targets.nearest_classes(torch.tensor([1.0, 2.0]), 0, 3) == [1]  # only as many as there are


@pytest.mark.parametrize("of", [targets.Score(versus=(3, 5, 8)), targets.Score(versus=(2,), alpha=0.6),
                                targets.Score(versus=(9, 0), alpha=0.0), targets.Score("probability"),
                                targets.Score("rest")], ids=["three", "one", "alpha0", "probability", "rest"])
def test_each_score_is_pytorch_grad_cams_target_with_its_gradient(of):
    torch.manual_seed(1)
    logits = (torch.randn(4, 10) * 2).requires_grad_(True)
    ours = targets.scorer(10, 1, of)(logits)
    theirs = _theirs(of.output, 1, of.versus, of.alpha)(logits)
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-5)
    for one, other in zip(torch.autograd.grad(ours.sum(), logits), torch.autograd.grad(theirs.sum(), logits)):
        torch.testing.assert_close(one, other, rtol=1e-5, atol=1e-5)  # Finer-CAM: the weights' share in it too


def test_the_logit_and_the_weights_of_the_compared_classes():
    logits = torch.tensor([[0.5, -1.0, 2.0, 3.0]])
    torch.testing.assert_close(targets.scorer(4, 2)(logits), logits[:, 2])
    torch.testing.assert_close(targets.weights(logits[0], [3, 0]), torch.softmax(torch.tensor([3.0, 0.5]), 0))


def test_a_sure_network_keeps_its_contrast_where_the_epsilon_had_made_the_score():
    """Compared classes at 1e-20 together: pytorch-grad-cam's score is 1e-11 of ours, its gradient all epsilon."""
    logits = torch.tensor([[60.0, 14.0, 15.0, 0.0]])
    ours = targets.scorer(4, 0, targets.Score(versus=(1, 2)))(logits)
    assert float(ours) == pytest.approx(60 - (14 * np.exp(-1) + 15) / (1 + np.exp(-1)), rel=1e-6)
    assert abs(float(_finer_target(logits, 0, [1, 2], 1.0))) < 1e-6


def test_bad_scores_are_refused_clearly():
    for target, versus in ((2, (2, 5)), (1, (3, 12))):
        with pytest.raises(ValueError, match="cannot be compared"):
            targets.scorer(10, target, targets.Score(versus=versus))
    with pytest.raises(ValueError, match="twice"):
        targets.scorer(10, 1, targets.Score(versus=(3, 3)))
    with pytest.raises(ValueError, match="compares the classes' logits, not their probability"):
        targets.scorer(10, 1, targets.Score("probability", versus=(3,)))
    with pytest.raises(ValueError, match="'odds' is not one of the scores"):
        targets.scorer(10, 1, targets.Score("odds"))


@pytest.mark.parametrize("method", [m for m in cam.METHODS if m not in cam.LAYERLESS])
@pytest.mark.parametrize("output", ["finer", "probability", "rest"])
def test_each_class_activation_map_of_each_score_equals_pytorch_grad_cams_formula(case, method, output):
    """pytorch-grad-cam's maps (``tests/test_cam.py``'s formulas) with its targets: the score's gradient,
    Score-CAM's masked images and Ablation-CAM's ablated maps read through it."""
    model, images, layers = case
    if (method == "scorecam" and images.shape[-1] > 32) or method == "shapleycam":
        pytest.skip("Score-CAM: ResNet-18's 512 maps take 512 passes each way; ShapleyCAM's own test below")
    with torch.no_grad():
        logits = model(images[:1])[0]
    target = int(logits.argmax())
    of = (targets.Score(versus=tuple(targets.nearest_classes(logits, target)), alpha=0.8) if output == "finer"
          else targets.Score(output))
    explained = _theirs(of.output, target, of.versus, of.alpha)
    for layer in layers[:2]:
        ours = cam.class_map(model, images[0], layer, target, method, batch=5, of=of)
        theirs = test_cam._cam_reference(_Explained(model, explained), images[0], layer, 0, method)
        close = 5e-5 if method == "ablationcam" else 1e-5  # falls of a random network's close scores, over one
        torch.testing.assert_close(ours.raw, theirs, rtol=1e-4, atol=close * max(float(theirs.max()), 1e-3))
        assert ours.target == target and ours.score == pytest.approx(float(explained(logits[None])), rel=1e-4,
                                                                     abs=1e-5)


@pytest.mark.parametrize("name, size", [("lenet5", 28), ("resnet_small", 32)])
def test_fullgrad_and_the_smoothings_take_each_score_too(name, size):
    torch.manual_seed(0)
    model, image = models.build(name, pretrained=name == "lenet5"), torch.rand(models.spec(name).channels, size, size)
    layer = cam.suggested_layer(inspect.layers(model, tuple(image.shape)))
    for of in (targets.Score(versus=(2, 3)), targets.Score("probability")):
        explained = _theirs(of.output, 1, of.versus)
        ours = cam.class_map(model, image, "", 1, "fullgrad", of=of)
        theirs = test_cam._fullgrad_reference(model, image, 1, explained=lambda out: explained(out)[0])
        torch.testing.assert_close(ours.raw, theirs, rtol=1e-4, atol=1e-5 * float(theirs.abs().max()))
        eigen = cam.class_map(model, image, layer, 1, "gradcam", eigen_smooth=True, of=of)
        theirs = test_cam._cam_reference(_Explained(model, explained), image, layer, 0, "gradcam", eigen_smooth=True)
        torch.testing.assert_close(eigen.raw, theirs, rtol=1e-4, atol=1e-5 * max(float(theirs.max()), 1e-3))
        mixed = cam.class_map(model, image, layer, 1, "gradcam", aug_smooth=True, of=of)
        assert not torch.allclose(mixed.heat, cam.class_map(model, image, layer, 1, "gradcam", aug_smooth=True).heat)


def _bend_by_differences(model, image, layer, explained, step=1e-4):
    """The Hessian of ``explained`` along ``layer``'s maps A, ``H A``, as the change of the maps' gradient from
    (1 - step) A to (1 + step) A over 2 step: the maps scaled by a forward hook, in float64."""
    grads = []
    for factor in (1 - step, 1 + step):
        kept = {}

        def scaled(module, inputs, output, factor=factor):
            kept["maps"] = output = output * factor
            output.retain_grad()
            return output

        handle = model.get_submodule(layer).register_forward_hook(scaled)
        explained(model(image[None]))[0].backward()
        handle.remove()
        grads.append(kept["maps"].grad.detach())
        model.zero_grad()
    with torch.no_grad():
        maps = _layer_output(model, image, layer)
    return maps, (grads[1] - grads[0]) / (2 * step)


def _layer_output(model, image, layer):
    """``layer``'s output for ``image``, from a forward hook."""
    kept = {}
    handle = model.get_submodule(layer).register_forward_hook(lambda m, i, o: kept.__setitem__("maps", o))
    model(image[None])
    handle.remove()
    return kept["maps"]


@pytest.mark.parametrize("output", ["probability", "rest"])
def test_shapley_cam_takes_half_the_hessian_along_the_maps_off_the_gradient(output):
    """Against finite differences of the gradient on LeNet-5 in float64, the digit faint (a 3 at 90%: the softmax of
    a sure network hardly bends); with the logit, on a ReLU network, it is Grad-CAM (the logit is piecewise linear in
    the maps)."""
    model, image = lenet_and_digit()
    model, image = model.double(), 0.3 * image.double()
    of, explained = targets.Score(output), _theirs(output, 3)
    ours = cam.class_map(model, image, "relu2", 3, "shapleycam", of=of)
    maps, bend = _bend_by_differences(model, image, "relu2", explained)
    x = image[None].clone().requires_grad_(True)
    kept = {}
    handle = model.get_submodule("relu2").register_forward_hook(
        lambda m, i, o: (o.retain_grad(), kept.__setitem__("maps", o))[1])
    explained(model(x))[0].backward()
    handle.remove()
    weights = (kept["maps"].grad - 0.5 * bend).mean((2, 3), keepdim=True)
    theirs = (weights * maps).sum(1)[0].relu()
    torch.testing.assert_close(ours.raw.double(), theirs, rtol=1e-5, atol=1e-6 * float(theirs.max()))
    assert float(bend.abs().max()) > 1e-3 * float(kept["maps"].grad.abs().max())  # the softmax does bend it
    assert not torch.allclose(ours.raw, cam.class_map(model, image, "relu2", 3, "gradcam", of=of).raw)
    torch.testing.assert_close(cam.class_map(model, image, "relu2", 3, "shapleycam").raw,
                               cam.class_map(model, image, "relu2", 3, "gradcam").raw)


@pytest.mark.parametrize("name", ["resnet_small", "googlenet"])
def test_shapley_cam_of_a_frozen_network_whose_last_maps_only_a_pool_and_a_linear_layer_read(name):
    """The page's models are frozen: behind a ResNet's or GoogLeNet's last maps the logit's gradient is a constant
    with no graph, and the Hessian is zero (it had raised); the probability's still bends."""
    torch.manual_seed(0)
    size = 32 if name == "resnet_small" else 64
    model = models.build(name).requires_grad_(False)
    image = torch.rand(3, size, size)
    layer = cam.suggested_layer(inspect.layers(model, tuple(image.shape)))
    torch.testing.assert_close(cam.class_map(model, image, layer, 1, "shapleycam").raw,
                               cam.class_map(model, image, layer, 1, "gradcam").raw)
    of = targets.Score("probability")
    ours = cam.class_map(model, image, layer, 1, "shapleycam", of=of)
    assert ours.raw.shape == cam.class_map(model, image, layer, 1, "gradcam", of=of).raw.shape


def test_alpha_zero_is_the_class_alone_and_the_contrast_moves_the_digits_map():
    """On the page's digit, a 3 read against the classes nearest it (9, 8 and 5): with alpha 0 the map of the 3;
    with alpha 1 the score falls by the compared classes' and the map moves."""
    model, image = lenet_and_digit()
    with torch.no_grad():
        logits = model(image[None])[0]
    versus = tuple(targets.nearest_classes(logits, 3))
    assert versus == (9, 8, 5)
    for method in ("gradcam", "scorecam", "ablationcam", "fullgrad"):
        alone = cam.class_map(model, image, "relu2", 3, method)
        none = cam.class_map(model, image, "relu2", 3, method, of=targets.Score(versus=versus, alpha=0.0))
        torch.testing.assert_close(none.heat, alone.heat)
        finer = cam.class_map(model, image, "relu2", 3, method, of=targets.Score(versus=versus))
        assert finer.score < alone.score and float((finer.heat - alone.heat).abs().max()) > 0.3, method
