"""The layer table against real modules: planned shapes and parameter counts, and named errors."""

import random
import re

import pytest
import torch
from torch import nn

from explorer import architecture, layer_table

MNIST, CIFAR, BIG = (1, 28, 28), (3, 32, 32), (3, 64, 64)


def _real_rows(model: nn.Sequential, input_shape: tuple[int, int, int]) -> list[tuple[str, tuple[int, ...], int]]:
    """(name, output shape, parameters) of every child after ``normalize``, from a forward pass of zeros."""
    x, rows = torch.zeros(2, *input_shape), []
    with torch.no_grad():
        for name, child in list(model.named_children())[1:]:
            x = child(x)
            rows.append((name, tuple(x.shape[1:]), sum(p.numel() for p in child.parameters())))
    return rows


def _planned_rows(layers: list[dict], input_shape: tuple[int, int, int], classes: int) -> list[tuple]:
    rows = layer_table.plan(layers, input_shape, classes)
    assert all(row["error"] is None for row in rows), rows
    return [(row["name"], row["out_shape"], row["params"]) for row in rows]


def _random_layers(rng: random.Random) -> list[dict]:
    """A random table over every layer type; many are impossible, which the caller filters with plan()."""
    layers: list[dict] = []
    for _ in range(rng.randint(0, 9)):
        kind = rng.choice(["conv", "conv", "pool", "relu", "tanh", "sigmoid", "dropout", "batchnorm", "linear"])
        if kind == "conv":
            kernel, dilation = rng.randint(1, 5), rng.randint(1, 2)
            layers.append({"type": "conv", "out": rng.randint(1, 12), "kernel": kernel, "stride": rng.randint(1, 3),
                           "dilation": dilation, "padding": rng.randint(0, dilation * (kernel // 2))})
        elif kind == "pool":
            size = rng.randint(1, 3)
            layers.append({"type": "pool", "kind": rng.choice(["max", "avg"]), "size": size,
                           "stride": rng.randint(1, 3), "padding": rng.randint(0, size // 2)})
        elif kind == "dropout":
            layers.append({"type": "dropout", "p": rng.random() * 0.9})
        elif kind == "linear":
            layers.append({"type": "linear", "out": rng.randint(1, 40)})
        else:
            layers.append({"type": kind})
    return layers


# --- plan against the real module ---------------------------------------------------------

@pytest.mark.parametrize("input_shape", [MNIST, CIFAR, BIG, (1, 10, 17)])
def test_plan_of_the_default_layers_matches_the_built_module(input_shape):
    layers = layer_table.default_layers()
    model = architecture.build({"layers": layers}, input_shape, 10)
    assert _planned_rows(layers, input_shape, 10) == _real_rows(model, input_shape)
    assert model(torch.rand(3, *input_shape)).shape == (3, 10)


def test_plan_matches_the_module_for_random_valid_tables():
    rng, checked = random.Random(0), 0
    while checked < 25:
        layers, input_shape = _random_layers(rng), rng.choice([MNIST, CIFAR, (1, 9, 13)])
        if any(row["error"] for row in layer_table.plan(layers, input_shape, 5)):
            continue
        model = architecture.build({"layers": layers}, input_shape, 5)
        assert _planned_rows(layers, input_shape, 5) == _real_rows(model, input_shape), layers
        checked += 1


def test_plan_appends_flatten_and_the_classifier():
    rows = layer_table.plan([{"type": "conv", "out": 4, "kernel": 3}], MNIST, 7)
    assert [(r["index"], r["name"], r["type"]) for r in rows] == [
        (0, "conv1", "conv"), (None, "flatten", "flatten"), (None, "fc_out", "linear")]
    assert rows[1]["out_shape"] == (4 * 26 * 26,) and rows[2]["out_shape"] == (7,)
    assert rows[2]["params"] == (4 * 26 * 26 + 1) * 7
    assert [r["name"] for r in layer_table.plan([], MNIST, 3)] == ["flatten", "fc_out"]  # logistic regression


def test_a_linear_layer_on_a_feature_map_gets_a_flatten_before_it():
    layers = [{"type": "pool", "size": 2}, {"type": "linear", "out": 16}]
    rows = layer_table.plan(layers, MNIST, 10)
    assert [r["name"] for r in rows] == ["pool1", "flatten", "fc1", "fc_out"]
    model = architecture.build({"layers": layers}, MNIST, 10)
    assert [name for name, _ in model.named_children()] == ["normalize", "pool1", "flatten", "fc1", "fc_out"]


def test_numbers_may_come_as_text_and_blank_cells_take_the_defaults():
    layers = [{"type": " Conv ", "out": "8", "kernel": " 5 ", "padding": "2", "stride": float("nan"),
               "dilation": None}, {"type": "pool", "kind": "AVG", "size": 3.0, "stride": ""}]
    model = architecture.build({"layers": layers}, MNIST, 10)
    assert (model.conv1.out_channels, model.conv1.kernel_size, model.conv1.padding) == (8, (5, 5), (2, 2))
    assert model.conv1.stride == (1, 1) and model.conv1.dilation == (1, 1)
    assert isinstance(model.pool1, nn.AvgPool2d) and model.pool1.stride == 3  # stride defaults to the size


def test_batchnorm_is_2d_on_maps_and_1d_once_flat():
    layers = [{"type": "conv", "out": 6}, {"type": "batchnorm"}, {"type": "flatten"}, {"type": "batchnorm"}]
    model = architecture.build({"layers": layers}, MNIST, 10)
    assert isinstance(model.bn1, nn.BatchNorm2d) and isinstance(model.bn2, nn.BatchNorm1d)
    assert [r["params"] for r in layer_table.plan(layers, MNIST, 10)][:4] == [60, 12, 0, 2 * 6 * 26 * 26]


# --- errors: named, in plan's table, raised by build ----------------------------------------

CONV = {"type": "conv", "out": 4, "kernel": 3}
BAD = [  # (layers, input shape, index of the bad layer, what the message says)
    ([{"type": "conv", "out": 4, "kernel": 5}], (1, 4, 4), 0,
     r"layer 1 \(conv\): the 5x5 kernel is larger than its 4x4 input: output size = "
     r"floor\(\(4 \+ 2·0 - 1·\(5 - 1\) - 1\) / 1\) \+ 1 = 0"),  # "·", not "*": Markdown reads "*" as italics
    ([CONV, {"type": "pool", "size": 2}, {"type": "conv", "out": 2, "kernel": 3, "dilation": 2}], (1, 10, 10), 2,
     r"layer 3 \(conv\): the 3x3 kernel \(dilated to 5\) is larger than its 4x4 input"),
    ([CONV, {"type": "pool", "size": 4}], (1, 5, 5), 1, r"layer 2 \(pool\): the 4x4 window is larger than its 3x3"),
    ([{"type": "conv", "out": "3.5"}], MNIST, 0, r"layer 1 \(conv\): out must be a whole number, not '3.5'"),
    ([{"type": "conv", "out": "abc"}], MNIST, 0, r"layer 1 \(conv\): out is 'abc', which is not a number"),
    ([{"type": "conv", "out": "NaN"}], MNIST, 0, r"layer 1 \(conv\): out is 'NaN': give a finite number"),
    ([{"type": "conv", "out": float("inf")}], MNIST, 0, r"layer 1 \(conv\): out is inf"),
    ([{"type": "conv", "out": True}], MNIST, 0, r"layer 1 \(conv\): out is True, not a number"),
    ([{"type": "conv", "out": 4, "kernel": 10 ** 400}], MNIST, 0, r"layer 1 \(conv\): kernel has 401 digits, far too"),
    ([{"type": "conv"}], MNIST, 0, r"layer 1 \(conv\): needs out"),
    ([{"type": "conv", "out": 0}], MNIST, 0, r"layer 1 \(conv\): out must be from 1 to 1024, not 0"),
    ([{"type": "conv", "out": 5000}], MNIST, 0, r"out must be from 1 to 1024, not 5000"),
    ([{"type": "conv", "out": 4, "kernel": 0}], MNIST, 0, r"kernel must be from 1 to 1024, not 0"),
    ([{"type": "conv", "out": 4, "stride": -1}], MNIST, 0, r"stride must be from 1 to 1024, not -1"),
    ([{"type": "conv", "out": 4, "padding": -1}], MNIST, 0, r"padding must be from 0 to 1024, not -1"),
    # past PyTorch's 64-bit integers: the plan had passed them, the first forward pass failed in C++
    ([{"type": "conv", "out": 4, "kernel": 3, "stride": "1e20"}], MNIST, 0, r"stride must be from 1 to 1024, not 1e20"),
    ([{"type": "conv", "out": 4, "kernel": 1, "dilation": 1e30}], MNIST, 0, r"dilation must be from 1 to 1024"),
    ([{"type": "pool", "size": 2, "stride": 1e25}], MNIST, 0, r"layer 1 \(pool\): stride must be from 1 to 1024"),
    ([{"type": "conv", "out": 4, "kernel": 1, "stride": 1025}], MNIST, 0, r"stride must be from 1 to 1024, not 1025"),
    ([{"type": "conv", "out": 4, "kernel": 3, "padding": 2}], MNIST, 0,
     r"layer 1 \(conv\): padding 2 is more than half the 3x3 kernel \(at most 1 with dilation 1\)"),
    ([{"type": "pool", "size": 2, "padding": 2}], MNIST, 0, r"layer 1 \(pool\): padding 2 is more than half"),
    ([{"type": "pool", "kind": "min"}], MNIST, 0, r"layer 1 \(pool\): kind must be 'max' or 'avg', not 'min'"),
    ([{"type": "pool", "dilation": 2}], MNIST, 0, r"layer 1 \(pool\): dilation is a convolution's setting here"),
    ([{"type": "relu"}, {"type": "dropout", "p": 1}], MNIST, 1, r"layer 2 \(dropout\): p is the chance.* not 1"),
    ([{"type": "dropout", "p": -0.1}], MNIST, 0, r"layer 1 \(dropout\): p .* not -0.1"),
    ([{"type": "flatten"}, CONV], MNIST, 1, r"layer 2 \(conv\): a convolution needs a C x H x W feature map.* 784"),
    ([{"type": "linear", "out": 8}, {"type": "pool"}], MNIST, 1, r"layer 2 \(pool\): pooling needs a C x H x W"),
    ([{"type": "flatten"}, {"type": "flatten"}], MNIST, 1, r"layer 2 \(flatten\): the data are already a flat"),
    ([{"type": "relu"}, {"type": "softmax"}], MNIST, 1, r"layer 2 has the unknown type 'softmax'; choose one of conv"),
    ([{"out": 3}], MNIST, 0, r"layer 1 has no type"),
    ([{"type": "relu"}, "relu"], MNIST, 1, r"layer 2: expected a dict"),
    ([{"type": "relu"}] * 21, MNIST, 20, r"layer 21: this app builds at most 20 layers"),
    ([{"type": "flatten"}, {"type": "linear", "out": 1024}], BIG, 1,
     r"layer 2 \(linear\): its 12,583,936 parameters bring the network to 12,583,936, over this app's limit"),
]


@pytest.mark.parametrize("layers, input_shape, index, message", BAD)
def test_plan_marks_the_first_bad_layer_and_stops_there(layers, input_shape, index, message):
    rows = layer_table.plan(layers, input_shape, 10)  # never raises
    bad = next(r for r in rows if r["error"])
    assert bad["index"] == index and re.search(message, bad["error"]), bad["error"]
    after = rows[rows.index(bad) + 1:]
    assert all(r["out_shape"] is None and r["params"] is None and r["error"] is None for r in after)
    assert [r["index"] for r in after] == [*range(index + 1, len(layers)), None] and after[-1]["name"] == "fc_out"
    with pytest.raises(layer_table.ArchitectureError, match=message) as caught:
        architecture.build({"model": "custom", "layers": layers}, input_shape, 10)
    assert caught.value.index == index


def test_the_classifier_itself_can_be_too_big():
    rows = layer_table.plan([], (3, 256, 256), 30)  # 196,608 inputs x 30 classes
    assert rows[-1]["name"] == "fc_out" and rows[-1]["index"] is None
    assert re.match(r"the classifier \(fc_out\): its 5,898,270 parameters", rows[-1]["error"])
    with pytest.raises(layer_table.ArchitectureError, match="the classifier"):
        architecture.build({"layers": []}, (3, 256, 256), 30)


def test_bad_input_shapes_and_configs_raise():
    for shape in [(28, 28), (1, 0, 28), (1, 28.0, 28)]:
        with pytest.raises(layer_table.ArchitectureError, match="input shape"):
            layer_table.plan([], shape, 10)
    with pytest.raises(layer_table.ArchitectureError, match="unknown model 'alexnet'"):
        architecture.build({"model": "alexnet"}, CIFAR, 10)
    with pytest.raises(layer_table.ArchitectureError, match="layers must be a list"):
        layer_table.plan("conv", MNIST, 10)


def test_layers_go_into_a_link_and_come_back():
    layers = layer_table.default_layers()
    text = layer_table.to_text(layers)
    assert text.startswith("conv,out=8,kernel=3,stride=1,padding=1,dilation=1;relu;pool,kind=max,size=2,stride=2;")
    assert layer_table.from_text(text) == layers
    assert layer_table.from_text("dropout,p=0.5; flatten ;") == [{"type": "dropout", "p": 0.5}, {"type": "flatten"}]
    exact = [{"type": "dropout", "p": p} for p in (0.1234567, 1 / 3, 0.1, 1e-7)]  # 0.1234567 had come back 0.123457
    assert layer_table.from_text(layer_table.to_text(exact)) == exact
    assert layer_table.to_text(exact[2:]) == "dropout,p=0.1;dropout,p=1e-07"  # short where that is exact


@pytest.mark.parametrize("text,message", [
    ("nope", "'nope' is not a layer type"), ("conv,out", "'out' in a conv layer is not key=value"),
    ("", "1 to 20 layers"), (";".join(["relu"] * 21), "1 to 20"),
    ("conv,out=4,groups=2", "'groups' is not a layer setting here (out, kernel, stride, padding, dilation, kind"),
])
def test_a_link_with_bad_layers_is_refused_in_words(text, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        layer_table.from_text(text)


def test_a_link_keeps_a_cell_that_is_not_a_number_for_the_plan_to_name():
    """As the editor showed it: a link that refused the layers lost the good edits with the bad one."""
    layers = [{"type": "conv", "out": 8, "kernel": 5}, {"type": "dropout", "p": "0,5"}, {"type": "conv", "out": "x"}]
    text = layer_table.to_text(layers)
    assert text == "conv,out=8,kernel=5;dropout,p=0%2C5;conv,out=x"  # a comma of the cell would split the layer
    assert layer_table.from_text(text) == layers  # as typed: "0 5" lost the decimal comma's hint
    assert layer_table.from_text(layer_table.to_text([{"type": "conv", "out": "a=b;c%"}]))[0]["out"] == "a=b;c%"
    rows = layer_table.plan(layer_table.from_text(text), MNIST, 10)
    assert rows[1]["error"] == "layer 2 (dropout): p is '0,5', which is not a number (decimals take a point: 0.5)"


def test_a_dilated_conv_may_keep_its_size_with_the_padding_its_dilation_needs():
    """Kernel 3, dilation 2: "same" padding is 2, which PyTorch allows and keeps the map's size."""
    layers = [{"type": "conv", "out": 4, "kernel": 3, "dilation": 2, "padding": 2}]
    row = layer_table.plan(layers, (1, 28, 28), 10)[0]
    assert row["error"] is None and row["out_shape"] == (4, 28, 28)
    conv_layer = torch.nn.Conv2d(1, 4, 3, padding=2, dilation=2)
    assert tuple(conv_layer(torch.zeros(1, 1, 28, 28)).shape[1:]) == row["out_shape"]
    too_much = layer_table.plan([{**layers[0], "padding": 3}], (1, 28, 28), 10)[0]
    assert "padding 3 is more than half the 3x3 kernel (at most 2 with dilation 2)" in too_much["error"]
