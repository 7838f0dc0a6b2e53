"""A unit projected onto the pixels: against Captum's three rules, inside its receptive field, the filter itself."""

import pytest
import torch
from torch import nn

from explorer import data, deconvnet, extraction, models, receptive_field

CAPTUM = {"deconvnet": "Deconvolution", "guided": "GuidedBackprop", "gradient": "Saliency"}


class _Unit(nn.Module):
    """A sequential network cut after ``layer``, returning one unit per image: Captum's forward function. Its ReLUs
    are the network's own modules, which Captum's hooks find."""

    def __init__(self, model: nn.Sequential, layer: str, channel: int, y: int, x: int):
        super().__init__()
        names = [name for name, _ in model.named_children()]
        self.body = nn.Sequential(*list(model.children())[:names.index(layer) + 1])
        self.unit = (channel, y, x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        channel, y, x_ = self.unit
        return self.body(x)[:, channel, y, x_]


@pytest.fixture(scope="module")
def tinyvgg() -> nn.Module:
    return models.build("tinyvgg", seed=3)


@pytest.fixture(scope="module")
def shapes() -> torch.Tensor:
    return data.shapes(4, size=64, channels=3, seed=1).images.float() / 255  # (4, 3, 64, 64)


@pytest.mark.parametrize("rule", deconvnet.RULES)
@pytest.mark.parametrize(("name", "layer", "channel"), [("lenet5", "relu2", 5), ("lenet5", "pool2", 9),
                                                        ("tinyvgg", "conv2b", 3), ("tinyvgg", "relu2b", 6)])
def test_each_rule_equals_captums(rule: str, name: str, layer: str, channel: int):
    import captum.attr

    model = models.build(name, seed=0)
    size, channels = (28, 1) if name == "lenet5" else (64, 3)
    images = data.shapes(3, size=size, channels=channels, seed=2).images.float() / 255
    with torch.no_grad():
        maps = extraction.extractor(model, [layer])(images)[layer][:, channel]  # (3, H', W')
    units = torch.stack(torch.unravel_index(maps.flatten(1).argmax(1), maps.shape[1:]), 1)  # each image's strongest
    ours = deconvnet.project(model, layer, images, channel, units, rule=rule)
    for image, unit, projection in zip(images, units.tolist(), ours):
        method = getattr(captum.attr, CAPTUM[rule])(_Unit(model, layer, channel, *unit))
        image = image.unsqueeze(0)
        theirs = method.attribute(image, abs=False) if rule == "gradient" else method.attribute(image)
        assert projection.abs().max() > 0
        torch.testing.assert_close(projection, theirs[0], rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("rule", deconvnet.RULES)
def test_a_projection_lies_inside_the_units_receptive_field(tinyvgg: nn.Module, shapes: torch.Tensor, rule: str):
    units = torch.tensor([[0, 0], [5, 7], [12, 12], [3, 9]])  # pool2's map is 13 x 13: corners clip the field
    projections = deconvnet.project(tinyvgg, "pool2", shapes, 4, units, rule=rule)
    boxes = receptive_field.boxes(tinyvgg, "pool2", units, (64, 64))
    for projection, (top, left, bottom, right) in zip(projections, boxes.tolist()):
        inside = torch.zeros(64, 64, dtype=torch.bool)
        inside[max(top, 0):bottom, max(left, 0):right] = True
        assert projection[:, ~inside].abs().max() == 0
        assert projection[:, inside].abs().max() > 0


def test_at_the_first_convolution_every_rule_draws_the_filter_in_place():
    model = models.build("lenet5", seed=4)
    image = torch.rand(1, 1, 28, 28)
    conv, std = model.conv1, model.normalize.std.item()
    for rule in deconvnet.RULES:
        for layer in ("conv1", "relu1"):  # through the first ReLU too, where the unit is above 0 (else gradient: 0)
            y, x = 12, 9
            above = model[:2](image)[0, 2, y, x] > 0
            projection = deconvnet.project(model, layer, image, 2, torch.tensor([[y, x]]), rule=rule)[0]
            expected = torch.zeros(1, 28, 28)
            if layer == "conv1" or above or rule == "deconvnet":  # deconvnet's ReLU asks not what went in
                expected[:, y - 2:y + 3, x - 2:x + 3] = conv.weight[2].detach() / std  # padding 2, through the /std
            torch.testing.assert_close(projection, expected)


def test_sign_minus_one_projects_what_drives_the_unit_down(tinyvgg: nn.Module, shapes: torch.Tensor):
    units = torch.tensor([[20, 20]] * 4)
    up = deconvnet.project(tinyvgg, "conv2a", shapes, 1, units, rule="gradient")
    down = deconvnet.project(tinyvgg, "conv2a", shapes, 1, units, rule="gradient", sign=-1.0)
    torch.testing.assert_close(down, -up)
    # deconvnet's ReLUs keep what comes back positive: the two differ by more than a sign
    up, down = (deconvnet.project(tinyvgg, "conv2a", shapes, 1, units, sign=s) for s in (1.0, -1.0))
    assert not torch.allclose(down, -up)


def test_uint8_images_and_small_batches_give_the_same_projections(tinyvgg: nn.Module, shapes: torch.Tensor):
    units = torch.tensor([[1, 2], [3, 4], [5, 6], [7, 8]])
    whole = deconvnet.project(tinyvgg, "conv2b", shapes, 7, units)
    seen = []
    pieces = deconvnet.project(tinyvgg, "conv2b", (shapes * 255).round().to(torch.uint8), 7, units, batch=3,
                               progress=lambda done, total: seen.append((done, total)))
    assert seen == [(3, 4), (4, 4)]
    projected = deconvnet.project(tinyvgg, "conv2b", (shapes * 255).round() / 255, 7, units)
    torch.testing.assert_close(pieces, projected)
    assert whole.shape == (4, 3, 64, 64)


def test_bad_requests_are_named(tinyvgg: nn.Module, shapes: torch.Tensor):
    with pytest.raises(ValueError, match="rule 'lrp' is none of deconvnet, guided, gradient"):
        deconvnet.project(tinyvgg, "conv2b", shapes, 0, torch.zeros(4, 2, dtype=torch.long), rule="lrp")
    with pytest.raises(ValueError, match="4 images but 2 units"):
        deconvnet.project(tinyvgg, "conv2b", shapes, 0, torch.zeros(2, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="fc has no feature maps"):
        deconvnet.project(tinyvgg, "fc", shapes, 0, torch.zeros(4, 2, dtype=torch.long))


def test_a_picture_is_mid_grey_at_zero_and_spans_black_to_white():
    projection = torch.tensor([[[0.0, 2.0], [-4.0, 1.0]]])
    torch.testing.assert_close(deconvnet.picture(projection), torch.tensor([[[0.5, 0.75], [0.0, 0.625]]]))
    torch.testing.assert_close(deconvnet.picture(torch.zeros(3, 2, 2)), torch.full((3, 2, 2), 0.5))


@pytest.mark.gpu
def test_projections_on_the_gpu_agree_with_the_cpus():
    """TF32 convolutions differ in the last digits: the same pixels light up, in the same order."""
    from explorer import cam, inspect, randomization

    image = torch.rand(3, 3, 64, 64, generator=torch.Generator().manual_seed(5))
    for name in ("tinyvgg", "resnet18"):
        model = models.build(name, seed=0)
        layer = cam.suggested_layer(list(inspect.layers(model, (3, 64, 64))))
        units = torch.tensor([[1, 1], [0, 1], [1, 0]])
        for rule in deconvnet.RULES:
            on_cpu = deconvnet.project(model, layer, image, 2, units, rule=rule)
            on_gpu = deconvnet.project(model.cuda(), layer, image, 2, units, rule=rule)
            model.cpu()
            assert on_gpu.device.type == "cpu" and ((on_gpu != 0) != (on_cpu != 0)).float().mean() < 0.01
            for gpu, cpu in zip(on_gpu, on_cpu):  # a unit at 0 after a ReLU passes no gradient back: none on both
                assert (randomization.rank_correlation(gpu.sum(0), cpu.sum(0)) > 0.99 if cpu.abs().max() > 0
                        else gpu.abs().max() == 0)
