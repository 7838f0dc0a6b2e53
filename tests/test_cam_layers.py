"""A class activation map through the layers: the stages' last layers of the zoo's networks, and several layers'
maps combined as pytorch-grad-cam's ``aggregate_multi_layers`` does (written out here in NumPy: the package is not a
dependency)."""

import numpy as np
import pytest
import torch

from explorer import cam, cam_layers, images, inputs, inspect, models, randomization, targets
from explorer.attribution import Attribution


def lenet_and_digit() -> tuple[torch.nn.Module, torch.Tensor]:
    """LeNet-5 and the sample digit (not tests.apptest's: this file runs on the GPU machine, without streamlit)."""
    model = models.build("lenet5", pretrained=True)
    return model, inputs.prepare(models.spec("lenet5"), images.load_sample("digit")).tensor


def _layers(name: str) -> list[inspect.Layer]:
    spec = models.spec(name)
    return inspect.layers(models.build(name), (spec.channels, spec.input_size, spec.input_size))


@pytest.mark.parametrize("name, expected", [
    ("lenet5", ["relu1", "relu2"]),  # conv2's 14 to 10 without padding starts no stage
    ("tinyvgg", ["relu1b", "relu2b"]),
    ("resnet_small", ["stage1.relu2", "stage2.relu2", "stage3.relu2"]),
    ("resnet18", ["relu", "layer1.1.relu_1", "layer2.1.relu_1", "layer3.1.relu_1", "layer4.1.relu_1"]),
    ("vgg16", ["relu2", "relu4", "relu7", "relu10", "relu13"]),  # not the pool after it, nor the avgpool (7 to 7)
])
def test_each_stage_ends_where_a_downsampling_reads_and_the_last_at_the_usual_layer(name, expected):
    layers = _layers(name)
    assert cam_layers.stage_ends(layers) == expected
    assert expected[-1] == cam.suggested_layer(layers)
    by_name = {l.name: l for l in layers}
    for end in expected[:-1]:  # a layer after it halves the maps it makes
        halved = [l for l in layers if l.source == end and len(l.out_shape) == 3
                  and 2 * l.out_shape[1] <= by_name[end].out_shape[1] + 1]
        assert halved, end


def test_many_stages_are_spread_evenly_keeping_the_first_and_the_last():
    every = cam_layers.stage_ends(_layers("resnet18"))
    assert cam_layers.stage_ends(_layers("resnet18"), most=3) == [every[0], every[2], every[-1]]
    assert cam_layers.stage_ends(_layers("resnet18"), most=2) == [every[0], every[-1]]


def test_names_come_in_the_networks_order_once_each_and_foreign_ones_are_left_out():
    layers = _layers("lenet5")
    assert cam_layers.in_order(layers, ["pool2", "relu1", "nope", "pool2"]) == ["relu1", "pool2"]


def _scale_cam_image(cam_image: np.ndarray) -> np.ndarray:
    """pytorch-grad-cam's ``scale_cam_image`` (the resize aside: our maps are at the image's size already)."""
    cam_image = cam_image - np.min(cam_image)
    return cam_image / (1e-7 + np.max(cam_image))


def test_several_layers_combine_as_pytorch_grad_cams_target_layers():
    model, digit = lenet_and_digit()
    maps = [cam.class_map(model, digit, layer) for layer in ("relu1", "relu2", "pool2")]
    # compute_cam_per_layer: each layer's map, negatives cut, scaled; aggregate_multi_layers: cut, mean, scaled
    per_layer = np.stack([_scale_cam_image(np.maximum(m.heat.numpy().astype(np.float64), 0)) for m in maps])
    expected = _scale_cam_image(np.maximum(per_layer, 0).mean(0))
    made = cam_layers.combined(maps)
    np.testing.assert_allclose(made.heat.numpy(), expected, atol=1e-6)
    np.testing.assert_allclose(made.raw.numpy(), per_layer.mean(0), atol=1e-6)
    assert (made.target, made.score, made.method) == (maps[0].target, maps[0].score, "gradcam")
    alone = cam_layers.combined(maps[1:2])  # one layer: its own map, from 0 to 1
    np.testing.assert_allclose(alone.heat.numpy(), _scale_cam_image(maps[1].heat.numpy()), atol=1e-6)


def test_maps_of_other_classes_or_sizes_are_not_combined():
    model, digit = lenet_and_digit()
    three, five = cam.class_map(model, digit, "relu2", 3), cam.class_map(model, digit, "relu2", 5)
    with pytest.raises(ValueError, match="one class"):
        cam_layers.combined([three, five])
    small = Attribution(torch.zeros(14, 14), torch.zeros(5, 5), 3, 1.0, three.probabilities)
    with pytest.raises(ValueError, match="one size"):
        cam_layers.combined([three, small])
    with pytest.raises(ValueError, match="no maps"):
        cam_layers.combined([])


def test_the_share_lit_counts_the_pixels_at_half_the_largest_value_or_more():
    heat = torch.tensor([[0.0, 0.2, 0.4], [0.5, 0.8, 1.0]])
    assert cam_layers.lit_share(heat) == pytest.approx(3 / 6)
    assert cam_layers.lit_share(heat * 4) == pytest.approx(3 / 6)  # relative to the map's own largest value
    assert cam_layers.lit_share(heat, 0.9) == pytest.approx(1 / 6)
    assert cam_layers.lit_share(torch.zeros(3, 3)) == 0.0


@pytest.mark.gpu
# KPCA-CAM left out: scikit-learn's, on the CPU wherever the maps are, and not on the GPU machine
@pytest.mark.parametrize("method", ["gradcam", "ablationcam", "fullgrad", "shapleycam", "fem"])
def test_class_activation_maps_on_the_gpu_agree_with_the_cpu(method):
    """The maps of a model explained on the CPU first and then moved: the traced copies follow it. ShapleyCAM's of the
    class's probability (its Hessian-vector product is zero for the logit)."""
    torch.manual_seed(6)
    image = torch.rand(3, 64, 64)
    model = models.build("resnet18", seed=0)
    layers = inspect.layers(model, tuple(image.shape))
    of = targets.Score("probability" if method == "shapleycam" else "logit")
    for layer in cam_layers.stage_ends(layers)[-2:]:
        on_cpu = cam.class_map(model, image, layer, 1, method, of=of)
        on_gpu = cam.class_map(model.cuda(), image, layer, 1, method, of=of)
        model.cpu()
        assert on_gpu.raw.device.type == "cpu" and on_gpu.raw.shape == on_cpu.raw.shape
        assert randomization.rank_correlation(on_gpu.heat, on_cpu.heat) > 0.99
