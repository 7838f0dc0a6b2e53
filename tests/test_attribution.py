"""Saliency and Grad-CAM against Captum (a test-only dependency) on zoo models, and the default layer."""

import pytest
import torch
from captum.attr import LayerAttribution, LayerGradCam, Saliency

from explorer import attribution, inspect, models

# (model, input size, pretrained, Grad-CAM layers whose module runs once, so Captum can hook it)
CASES = [
    ("lenet5", 28, True, ["conv2", "relu2", "pool1"]),
    ("resnet_small", 32, False, ["stage3.relu2", "stage2.bn2", "conv1"]),
    ("resnet18", 64, False, ["layer4.1.bn2", "layer3.0.conv1"]),
]


@pytest.fixture(scope="module", params=CASES, ids=[c[0] for c in CASES])
def case(request):
    name, size, pretrained, layers = request.param
    torch.manual_seed(0)
    model = models.build(name, pretrained=pretrained)
    images = torch.rand(2, models.spec(name).channels, size, size)
    return model, images, layers


def test_saliency_equals_captums(case):
    model, images, _ = case
    for image in images:
        for target in (None, 3):
            ours = attribution.saliency(model, image, target)
            expected = target if target is not None else int(model(image[None]).argmax())
            theirs = Saliency(model).attribute(image[None].clone().requires_grad_(True), target=expected, abs=True)[0]
            assert ours.target == expected
            torch.testing.assert_close(ours.raw.abs(), theirs, rtol=1e-4, atol=1e-6)
            heat = theirs.amax(0)
            torch.testing.assert_close(ours.heat, heat / heat.max(), rtol=1e-4, atol=1e-6)


def test_grad_cam_equals_captums(case):
    model, images, layers = case
    for layer in layers:
        cam = LayerGradCam(model, model.get_submodule(layer))
        for image in images:
            for target in (None, 1):
                ours = attribution.grad_cam(model, image, layer, target)
                theirs = cam.attribute(image[None], target=ours.target, relu_attributions=True)  # (1, 1, h, w)
                torch.testing.assert_close(ours.raw, theirs[0, 0].detach(), rtol=1e-4, atol=1e-5)
                upsampled = LayerAttribution.interpolate(theirs, tuple(image.shape[-2:]), "bilinear")[0, 0].detach()
                top = upsampled.max()
                torch.testing.assert_close(ours.heat, upsampled / top if top > 0 else upsampled, rtol=1e-4, atol=1e-5)


def test_a_frozen_cached_model_gives_the_same_maps_and_keeps_no_hooks():
    image = torch.rand(1, 28, 28)
    model = models.build("lenet5", pretrained=True)
    frozen = models.build("lenet5", pretrained=True).requires_grad_(False)
    for compute in (lambda m: attribution.saliency(m, image), lambda m: attribution.grad_cam(m, image, "relu2")):
        torch.testing.assert_close(compute(frozen).heat, compute(model).heat)
    assert inspect.hooks_on(frozen) == 0 and all(p.grad is None for p in frozen.parameters())


def test_grad_cam_points_at_the_evidence():
    """A 1 drawn at the left of an empty frame: at the suggested layer the evidence for "1" lies on the left."""
    image = torch.zeros(1, 28, 28)
    image[0, 4:24, 6:9] = 1
    model = models.build("lenet5", pretrained=True)
    heat = attribution.grad_cam(model, image, "relu2", 1).heat
    assert heat[:, :14].sum() > 2 * heat[:, 14:].sum()


@pytest.mark.parametrize("name,expected", [
    ("lenet5", "relu2"), ("tinyvgg", "relu2b"), ("resnet_small", "stage3.relu2"), ("alexnet", "relu5"),
    ("vgg16", "relu13"), ("resnet18", "layer4.1.relu_1"), ("googlenet", "inception5b.cat"),
])
def test_the_suggested_layer_is_the_last_convolutions_output(name, expected):
    spec = models.spec(name)
    with torch.device("meta"):
        model = models.build(name)
    layers = inspect.layers(model, spec.input_shape)
    assert attribution.suggested_cam_layer(layers) == expected
    assert expected in attribution.cam_layers(layers) and "normalize" not in attribution.cam_layers(layers)


def test_bad_requests_are_refused_clearly():
    model = models.build("lenet5", pretrained=True)
    image = torch.rand(1, 28, 28)
    with pytest.raises(ValueError, match="no feature maps"):
        attribution.grad_cam(model, image, "fc3")
    with pytest.raises(ValueError, match="not a layer with feature maps"):
        attribution.grad_cam(model, image, "nope")
    with pytest.raises(ValueError, match="10 classes"):
        attribution.saliency(model, image, 10)


def test_overlay_keeps_the_image_where_nothing_matters():
    image = torch.rand(1, 8, 8)
    out = attribution.overlay(image, torch.zeros(8, 8))
    assert out.shape == (3, 8, 8)
    torch.testing.assert_close(out, image.expand(3, -1, -1))
    hot = attribution.overlay(image, torch.ones(8, 8))
    assert 0 <= float(hot.min()) and float(hot.max()) <= 1 and not torch.allclose(hot, out)
