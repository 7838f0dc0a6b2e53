"""Receptive fields against autograd: the exact box is where the gradient is non-zero."""

import copy
import random
from collections import OrderedDict

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from explorer import extraction, field_figures, inspect, models
from explorer import receptive_field as rf


class _WindowSum(nn.Module):
    """A max-pool's windows summed instead: the same dependencies, but every input gets gradient.

    Built for one input size (padding is worked out here, so the module traces with torch.fx).
    """

    def __init__(self, pool: nn.MaxPool2d, in_shape: tuple[int, int, int]):
        super().__init__()
        channels, *in_hw = in_shape
        k, s, p, d = (rf._pair(getattr(pool, a)) for a in ("kernel_size", "stride", "padding", "dilation"))
        out_hw = pool(torch.zeros(1, 1, *in_hw)).shape[-2:]
        need = [(o - 1) * st + dd * (kk - 1) + 1 for o, st, dd, kk in zip(out_hw, s, d, k)]
        # pad like the pool; the right/bottom pad may be longer (ceil mode) or the input cut (floor)
        self.pads = (p[1], max(need[1] - in_hw[1] - p[1], 0), p[0], max(need[0] - in_hw[0] - p[0], 0))
        self.need, self.s, self.d = need, s, d
        self.register_buffer("ones", torch.ones(channels, 1, *k))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, self.pads)[..., :self.need[0], :self.need[1]]
        return F.conv2d(x, self.ones, stride=self.s, dilation=self.d, groups=self.ones.shape[0])


def _pool_inputs(model: nn.Module, shape: tuple[int, ...]) -> dict[str, tuple[int, int, int]]:
    """The input size of every max-pool, from one forward pass (hooks removed again)."""
    sizes, handles = {}, []
    for name, module in model.named_modules():
        if isinstance(module, nn.MaxPool2d):
            handles.append(module.register_forward_pre_hook(
                lambda m, args, name=name: sizes.setdefault(name, tuple(args[0].shape[-3:])) and None))
    try:
        with torch.no_grad():
            model(torch.zeros(1, *shape))
    finally:
        for handle in handles:
            handle.remove()
    return sizes


def _all_positive(model: nn.Module, shape: tuple[int, ...]) -> nn.Module:
    """A copy where every unit averages its inputs with positive weights: nothing cancels or is rectified."""
    model = copy.deepcopy(model).eval()
    pool_inputs = _pool_inputs(model, shape)
    for name, module in list(model.named_modules()):
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            with torch.no_grad():
                module.weight.fill_(1.0 / module.weight[0].numel())
                if module.bias is not None:
                    module.bias.fill_(0.01)
        elif isinstance(module, nn.BatchNorm2d):
            with torch.no_grad():
                module.weight.fill_(1.0), module.bias.fill_(0.01)
                module.running_mean.zero_(), module.running_var.fill_(1.0)
        elif isinstance(module, nn.MaxPool2d):
            parent_name, _, child = name.rpartition(".")
            setattr(model.get_submodule(parent_name) if parent_name else model, child,
                    _WindowSum(module, pool_inputs[name]))
    return model


class _Gradients:
    """Input gradients of single units of an all-positive copy, from one forward pass."""

    def __init__(self, model: nn.Module, shape: tuple[int, ...]):
        self.x = torch.ones(1, *shape, requires_grad=True)
        self.outputs = extraction.extractor(_all_positive(model, shape))(self.x)

    def box(self, layer: str, unit: tuple[int, int]) -> tuple | None:
        """Bounding box of the input pixels with a non-zero gradient of unit (y, x), channels summed."""
        # a replaced max-pool is traced inside: its output is its last node ("pool1.conv2d")
        key = layer if layer in self.outputs else [k for k in self.outputs if k.startswith(layer + ".")][-1]
        (grad,) = torch.autograd.grad(self.outputs[key][0, :, unit[0], unit[1]].sum(), self.x, retain_graph=True)
        rows, cols = torch.nonzero(grad[0].abs().sum(0) > 0, as_tuple=True)
        if len(rows) == 0:
            return None  # the unit sees only padding
        return (rows.min().item(), cols.min().item(), rows.max().item() + 1, cols.max().item() + 1)


def _box_or_none(model: nn.Module, layer: str, unit: tuple[int, int], size: tuple[int, int]) -> tuple | None:
    try:
        return rf.rf_box(model, layer, unit, size)
    except ValueError as exc:
        assert "only padding" in str(exc)
        return None


def _units(size: tuple[int, int]) -> list[tuple[int, int]]:
    h, w = size
    return sorted({(h // 2, w // 2), (0, 0), (h - 1, w - 1), (0, w // 2), (h // 2, w - 1)})


def _check(model: nn.Module, shape: tuple[int, ...], layers: list[str] | None = None) -> int:
    """Compare rf_box with the gradient box for chosen (or all spatial) layers; returns the checks made."""
    gradients = _Gradients(model, shape)
    checked = 0
    for field in rf.fields(model, shape[1:]):
        if field.size is None or (layers is not None and field.name not in layers):
            continue
        for unit in _units(field.size):
            assert _box_or_none(model, field.name, unit, shape[1:]) == gradients.box(field.name, unit), \
                (field.name, unit)
            checked += 1
    return checked


SPOT_CHECKS = {  # layers of the big networks: early, strided, after a skip or a concatenation, last map
    "lenet5": None,
    "tinyvgg": None,
    "resnet_small": None,
    "alexnet": ["conv1", "pool1", "conv3", "pool5", "avgpool"],
    "vgg16": ["conv2", "pool2", "conv7", "pool13"],
    "googlenet": ["conv1.conv", "maxpool1", "inception3a.cat", "inception4a.branch3.1.conv", "maxpool4"],
    "resnet18": ["conv1", "maxpool", "layer1.0.add", "layer2.0.downsample.0", "layer3.1.relu_1", "layer4.1.add"],
}


@pytest.mark.parametrize("name", list(SPOT_CHECKS))
def test_rf_box_is_the_gradient_box_on_every_registry_model(name):
    spec = models.spec(name)
    shape = spec.input_shape if spec.input_size <= 64 else (3, 96, 96)
    torch.manual_seed(0)
    assert _check(models.build(name), shape, SPOT_CHECKS[name]) >= 3


def _random_net(rng: random.Random, size: int) -> tuple[nn.Module, int]:
    """A chain of convs and pools with random kernel, stride, padding, dilation and ceil mode,
    with a residual branch now and then; returns the net and its input size."""
    layers, channels = [], 1
    for _ in range(rng.randint(2, 5)):
        k, d = rng.randint(1, 4), rng.randint(1, 3)
        k_eff = d * (k - 1) + 1
        if rng.random() < 0.3:
            s = rng.randint(1, 3)
            p = rng.randint(0, k // 2)
            ceil = rng.random() < 0.5
            layer = (nn.MaxPool2d(k, s, p, d, ceil_mode=ceil) if rng.random() < 0.5
                     else nn.AvgPool2d(k, s, p, ceil_mode=ceil))
        elif rng.random() < 0.25 and k % 2 == 1:
            layer = _Residual(channels, k, d)  # sizes keep
        else:
            s, p = rng.randint(1, 3), rng.randint(0, (k_eff - 1) // 2)
            layer = nn.Conv2d(channels, 2, k, s, p, d)
            channels = 2
        probe = nn.Sequential(*layers, layer)
        try:
            out = probe(torch.zeros(1, 1, size, size))
        except RuntimeError:
            break
        if min(out.shape[-2:]) < 1:
            break
        layers.append(layer)
    return nn.Sequential(*(layers or [nn.Conv2d(1, 1, 3)])), size


class _Residual(nn.Module):
    """x + conv(x) with 'same' padding: a branch that meets the main path again."""

    def __init__(self, channels: int, k: int, d: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, k, 1, d * (k - 1) // 2, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x)


@pytest.mark.parametrize("seed", range(40))
def test_rf_box_is_the_gradient_box_on_random_nets(seed):
    rng = random.Random(seed)
    size = rng.randint(12, 40)
    net, size = _random_net(rng, size)
    assert _check(net, (1, size, size)) >= 1


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("kernel,dilation", [(4, 1), (2, 3), (3, 2), (4, 2)])
def test_same_padding_around_an_even_kernel_puts_its_odd_pixel_at_the_end(kernel, dilation):
    """PyTorch pads d(k - 1) in all, the odd pixel after the input: the map had come out one short (9 x 9 for 10)."""
    net = nn.Sequential(nn.Conv2d(1, 2, kernel, padding="same", dilation=dilation), nn.ReLU(),
                        nn.MaxPool2d(2), nn.Conv2d(2, 2, 2, padding="same"))
    assert [f.size for f in rf.fields(net, (10, 10)) if f.name in ("0", "3")] == [(10, 10), (5, 5)]
    assert _check(net, (1, 10, 10)) >= 3


def test_textbook_numbers_of_the_lecture_networks():
    lenet = {f.name: f for f in rf.fields(models.build("lenet5"), (28, 28))}
    assert (lenet["conv1"].r, lenet["pool1"].r, lenet["conv2"].r, lenet["pool2"].r) == ((5, 5), (6, 6), (14, 14), (16, 16))
    assert lenet["pool2"].j == (4, 4) and lenet["fc5"].size is None
    resnet = {f.name: f for f in rf.fields(models.build("resnet18"), (224, 224))}
    assert resnet["layer4.1.relu_1"].r == (435, 435) and resnet["layer4.1.relu_1"].j == (32, 32)
    vgg = {f.name: f for f in rf.fields(models.build("vgg16"), (224, 224))}
    assert vgg["conv2"].r == (5, 5) and vgg["pool13"].r == (212, 212)  # stacked 3x3s: 5x5 after two
    alexnet = {f.name: f for f in rf.fields(models.build("alexnet"), (224, 224))}
    assert alexnet["conv1"].r == (11, 11) and alexnet["pool5"].r == (195, 195)


def test_two_stacked_3x3_see_5x5_with_fewer_parameters():
    net = nn.Sequential(nn.Conv2d(1, 1, 3), nn.Conv2d(1, 1, 3))
    assert rf.fields(net, (9, 9))[-1].r == (5, 5)
    assert sum(p.numel() for p in net.parameters()) < sum(p.numel() for p in nn.Conv2d(1, 1, 5).parameters())


def test_sizes_match_the_real_forward_pass():
    for name in ("googlenet", "resnet18", "alexnet"):
        model = models.build(name)
        real = {layer.name: layer.out_shape[1:] for layer in inspect.layers(model, (3, 224, 224))}
        for field in rf.fields(model, (224, 224)):
            if field.size is not None:
                assert field.size == real[field.name], (name, field.name)


@pytest.mark.parametrize(("name", "size"), [("lenet5", 28), ("tinyvgg", 64), ("alexnet", 224), ("vgg16", 224)])
def test_r_is_the_input_size_the_unpadded_layers_turn_into_one_unit(name, size):
    """The lecture's second definition of the receptive field, which the All layers tab states."""
    model = models.build(name).eval()
    unpadded = copy.deepcopy(model)
    for module in unpadded.modules():
        if isinstance(module, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
            module.padding = 0 if isinstance(module.padding, int) else (0, 0)
    channels, checked = models.spec(name).channels, 0
    for field in rf.fields(model, (size, size)):
        # (the input's own normalisation sees one pixel; adaptive pooling's output size is fixed)
        if field.size is not None and field.r != (1, 1) and "adaptive" not in field.op:
            out = extraction.extractor(unpadded, [field.name])(torch.zeros(1, channels, *field.r))[field.name]
            assert tuple(out.shape[-2:]) == (1, 1), (name, field.name, field.r, out.shape)
            checked += 1
    assert checked >= 4


def test_textbook_box_is_larger_than_the_exact_one_at_the_border():
    model = models.build("lenet5")
    field = {f.name: f for f in rf.fields(model, (28, 28))}["conv2"]
    top, left, bottom, right = rf.textbook_box(field, (0, 0))
    assert (top, left, bottom, right) == (-2.0, -2.0, 12.0, 12.0)
    assert rf.rf_box(model, "conv2", (0, 0), (28, 28)) == (0, 0, 12, 12)
    assert rf.rf_box(model, "conv2", (5, 5), (28, 28)) == (8, 8, 22, 22)  # inside: both agree


def test_the_unit_nearest_a_pixel_keeps_the_spot_across_layers():
    fields = {f.name: f for f in rf.fields(models.build("lenet5"), (28, 28))}
    conv2, pool2 = fields["conv2"], fields["pool2"]  # 10 x 10 centred at 4.5, 6.5 .. 22.5; 5 x 5 at 5.5 .. 21.5
    for unit in [(0, 0), (3, 8), (9, 9)]:  # a unit's own centre gives it back
        top, left, bottom, right = rf.textbook_box(conv2, unit)
        assert rf.unit_centre(conv2, unit) == ((top + bottom - 1) / 2, (left + right - 1) / 2)
        assert rf.unit_nearest(conv2, rf.unit_centre(conv2, unit)) == unit
    assert rf.unit_nearest(conv2, (-40, 400)) == (0, 9)  # off the image: the nearest edge unit
    assert rf.unit_nearest(pool2, (12.5, 4.5)) == (2, 0)  # conv2's unit (4, 0) lies under pool2's (2, 0)
    assert rf.unit_nearest(pool2, (13.5, 13.5)) == (2, 2)  # the image's centre is the pooled map's centre


def test_bad_requests_get_clear_errors():
    model = models.build("lenet5")
    with pytest.raises(ValueError, match="no feature map"):
        rf.rf_box(model, "fc3", (0, 0), (28, 28))
    with pytest.raises(ValueError, match="outside"):
        rf.rf_box(model, "conv2", (10, 0), (28, 28))
    with pytest.raises(ValueError, match="no layer"):
        rf.rf_box(model, "conv9", (0, 0), (28, 28))
    with pytest.raises(ValueError, match="only padding"):
        rf.rf_box(nn.Sequential(nn.Conv2d(1, 1, 1, padding=2)), "0", (0, 0), (4, 4))


def test_boxes_for_many_units_equal_one_at_a_time():
    model = models.build("resnet18")
    units = torch.tensor([[0, 0], [3, 4], [6, 6]])
    many = rf.boxes(model, "layer3.0.add", units, (112, 112))
    assert [tuple(b) for b in many.tolist()] == [rf.rf_box(model, "layer3.0.add", tuple(u), (112, 112))
                                                 for u in units.tolist()]


def test_effective_field_is_inside_the_exact_box_and_peaks_near_the_centre():
    torch.manual_seed(0)
    model = models.build("lenet5")
    image = torch.rand(16, 1, 28, 28)
    grad = rf.effective(model, "conv2", image, (5, 5))
    top, left, bottom, right = rf.rf_box(model, "conv2", (5, 5), (28, 28))
    inside = torch.zeros_like(grad, dtype=torch.bool)
    inside[top:bottom, left:right] = True
    assert grad[~inside].abs().max() == 0 and grad[inside].sum() > 0
    centre = grad[top + 4:bottom - 4, left + 4:right - 4].mean()
    assert centre > grad[inside].mean()  # Luo et al.: the gradient gathers in the middle of the box
    with pytest.raises(ValueError, match="no feature map"):
        rf.effective(model, "fc3", image, (0, 0))
    alone = torch.stack([rf.effective(model, "conv2", one, (5, 5)) for one in image[:4]])
    torch.testing.assert_close(rf.effective(model, "conv2", image[:4], (5, 5)), alone.mean(0))  # each image's, averaged
    x = image[:1].clone().requires_grad_(True)  # a first layer's field is |w| summed over channels: the page's hover
    out = torch.autograd.grad(model.conv1(model.normalize(x))[0, :, 3, 3].sum(), x)[0]
    torch.testing.assert_close(rf.effective(model, "conv1", image[:1], (3, 3)), out.abs().sum(1)[0])


def test_fields_say_how_they_were_computed_and_what_feeds_them():
    fields = {f.name: f for f in rf.fields(models.build("lenet5"), (28, 28))}
    assert fields["conv2"].how == "r = 6 + (5 - 1) x 2 = 14;  j = 2 x 1 = 2;  start = 0.5 + (4/2 - 0) x 2 = 4.5"
    assert field_figures.how_columns(fields["conv2"].how) == {"r from": "6 + (5 - 1) x 2", "j from": "2 x 1",
                                                   "start from": "0.5 + (4/2 - 0) x 2"}
    assert field_figures.how_columns("unchanged")["r from"] == "unchanged"
    row = {r["layer"]: r for r in field_figures.table_rows(list(fields.values()))}["conv2"]
    assert row == {"layer": "conv2", "operation": fields["conv2"].op, "map": "10x10", "r": 14, "j": 2, "start": 4.5}
    how = {r["layer"]: r for r in field_figures.how_rows(list(fields.values()))}["conv2"]
    assert how == {"layer": "conv2", "r from": "6 + (5 - 1) x 2", "j from": "2 x 1", "start from": "0.5 + (4/2 - 0) x 2"}
    assert fields["conv2"].inputs == ("pool1",) and fields["conv2"].window == (5, 1, 0, 1, False)
    resnet = {f.name: f for f in rf.fields(models.build("resnet18"), (224, 224))}
    assert resnet["layer2.0.add"].inputs == ("layer2.0.bn2", "layer2.0.downsample.1")
    assert resnet["layer2.0.add"].how.startswith("the branches meet")
    assert field_figures.how_columns(resnet["layer2.0.add"].how)["r from"] == "the union of its inputs' fields"
    assert resnet["maxpool"].window == (3, 2, 1, 1, False)


@pytest.mark.parametrize("size,out", [(10, 3), (10, 4), (9, 3), (7, 2)])
def test_adaptive_pooling_grows_the_field_by_its_widest_window(size, out):
    """An adaptive pool's windows are [floor(i n / o), ceil((i + 1) n / o)): the field's r is the widest, as the exact
    boxes show."""
    model = nn.Sequential(OrderedDict(conv=nn.Conv2d(1, 1, 3, padding=1), pool=nn.AdaptiveAvgPool2d(out)))
    field = next(f for f in rf.fields(model, (size, size)) if f.name == "pool")
    widths = [rf.rf_box(model, "pool", (i, 0), (size, size)) for i in range(out)]
    widest = max(bottom - top for top, _, bottom, _ in widths)  # the conv's 3 grows each by 2, cut at the border
    assert field.r[0] == max(-(-(i + 1) * size // out) - i * size // out for i in range(out)) + 2
    assert widest <= field.r[0]
