"""Layer tables and activations against real forward passes, numel() and torchvision's own figures."""

import pytest
import torch
from torch import nn
from torchvision.models import get_model_weights

from explorer import architecture, extraction, inspect, labels, models

ALL = models.names()


def _leaf_shapes(model: nn.Module, x: torch.Tensor) -> dict[str, list[tuple[int, ...]]]:
    """Output shapes of every leaf module, recorded by hooks that this test removes again."""
    shapes: dict[str, list[tuple[int, ...]]] = {}
    handles = []
    for name, module in model.named_modules():
        if not list(module.children()):
            handles.append(module.register_forward_hook(
                lambda m, i, o, name=name: shapes.setdefault(name, []).append(tuple(o.shape[1:]))))
    try:
        with torch.no_grad():
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    return shapes


@pytest.fixture(scope="module")
def built():
    torch.manual_seed(0)
    return {name: models.build(name) for name in ALL}


@pytest.mark.parametrize("name", ALL)
def test_layer_table_equals_a_real_forward_pass_and_numel(name, built):
    model, spec = built[name], models.spec(name)
    x = torch.rand(1, *spec.input_shape)
    rows = inspect.layer_table(model, spec.input_shape)
    assert all({"name", "type", "out_shape", "params"} <= set(r) for r in rows)
    hooked = _leaf_shapes(model, x)
    modules = dict(model.named_modules())
    for row in rows:
        base = row["name"].rsplit("_", 1)[0] if row["name"] not in modules else row["name"]
        if base in hooked:  # a module call: the same shape PyTorch's own forward produced
            assert row["out_shape"] in hooked[base], row
            assert row["params"] in (0, sum(p.numel() for p in modules[base].parameters())), row
    assert sum(r["params"] for r in rows) == sum(p.numel() for p in model.parameters())
    assert rows[-1]["out_shape"] == tuple(model(x).shape[1:]) == (len(spec.classes),)
    assert rows[0]["name"] == "normalize"


@pytest.mark.parametrize("name", ["lenet5", "alexnet"])
def test_the_networks_totals_are_pytorchs_numel_and_torchvisions_ops(name, built):
    model, spec = built[name], models.spec(name)
    layers = inspect.layers(model, spec.input_shape)
    operations, parameters, multiply_adds = inspect.totals(layers).split(", ")
    assert operations == f"{len(layers)} operations"
    assert parameters == f"{sum(p.numel() for p in model.parameters()):,} parameters"
    if name == "alexnet":  # torchvision publishes 0.714 GFLOPs (multiply-adds) for it
        assert int(multiply_adds.split()[0].replace(",", "")) / 1e9 == pytest.approx(
            get_model_weights(name).DEFAULT.meta["_ops"], abs=0.001)


def test_the_share_of_zeros_is_what_a_relu_switched_off():
    out = torch.relu(torch.tensor([[-1.0, 2.0], [0.0, 3.0]]))
    assert inspect.zero_share(out) == 0.5 and inspect.zero_share(torch.ones(3)) == 0.0
    assert inspect.zero_share(torch.empty(0)) == 0.0


@pytest.mark.parametrize("name", ["alexnet", "vgg16", "googlenet", "resnet18"])
def test_multiply_adds_equal_torchvisions_published_ops(name, built):
    rows = inspect.layer_table(built[name], models.spec(name).input_shape)
    giga = sum(r["mult_adds"] for r in rows) / 1e9
    assert giga == pytest.approx(get_model_weights(name).DEFAULT.meta["_ops"], abs=0.001)


def test_lenet5_layers_match_the_hand_arithmetic(built):
    rows = {r["name"]: r for r in inspect.layer_table(built["lenet5"], (1, 28, 28))}
    assert (rows["conv1"]["out_shape"], rows["conv1"]["params"]) == ((6, 28, 28), (5 * 5 * 1 + 1) * 6)
    assert (rows["pool1"]["out_shape"], rows["conv2"]["out_shape"]) == ((6, 14, 14), (16, 10, 10))
    assert (rows["conv2"]["params"], rows["flatten"]["out_shape"]) == ((5 * 5 * 6 + 1) * 16, (400,))
    assert [rows[n]["params"] for n in ("fc3", "fc4", "fc5")] == [401 * 120, 121 * 84, 85 * 10]
    assert rows["conv1"]["mult_adds"] == 6 * 28 * 28 * 25


def test_resnet_rows_show_the_skip_connections(built):
    rows = inspect.layer_table(built["resnet18"], (3, 224, 224))
    adds = [r for r in rows if r["type"] == "add"]
    assert len(adds) == 8 and adds[0]["name"] == "layer1.0.add" and adds[0]["out_shape"] == (64, 56, 56)


@pytest.mark.parametrize("name", ["lenet5", "resnet_small", "googlenet"])
def test_formulas_state_the_true_shapes_and_counts(name, built):
    spec = models.spec(name)
    for layer in inspect.layers(built[name], spec.input_shape):
        text = " ".join(inspect.formula(layer))
        assert text
        if isinstance(layer.module, (nn.Conv2d, nn.MaxPool2d)):
            assert f"= {layer.out_shape[1]}$" in text and f"= {layer.out_shape[2]}$" in text
        if isinstance(layer.module, (nn.Conv2d, nn.Linear)):
            assert f"= {labels.tex_int(layer.params)}$" in text


def test_conv_formula_shows_the_floor_of_a_non_integer_size():
    layer = inspect.layers(nn.Sequential(nn.Conv2d(1, 2, 3, stride=2)), (1, 6, 6))[0]
    text = " ".join(inspect.formula(layer))
    assert "\\lfloor 1.5 \\rfloor + 1 = 2" in text  # the deck's 6x6, 3x3, stride 2 example


def test_size_formula_is_one_line_where_both_axes_read_alike():
    square = inspect.layers(nn.Sequential(nn.Conv2d(1, 2, 5, padding=2)), (1, 28, 28))[0]
    assert inspect.formula(square)[0] == ("$H_{out} = W_{out} = \\lfloor (28 + 2 \\cdot 2 - (5 - 1) - 1) / 1 "
                                          "\\rfloor + 1 = 27 + 1 = 28$")
    wide = inspect.layers(nn.Sequential(nn.Conv2d(1, 2, (3, 5))), (1, 8, 12))[0]
    lines = inspect.formula(wide)
    assert lines[0].endswith("= 6$") and lines[0].startswith("$H_{out} =") and lines[1].startswith("$W_{out} =")
    assert lines[1].endswith("= 8$")


def test_pool_formula_rounds_up_in_ceil_mode_as_torch_does():
    layer = inspect.layers(nn.Sequential(nn.MaxPool2d(3, 2, ceil_mode=True)), (1, 112, 112))[0]  # no parameters
    assert layer.out_shape == (1, 56, 56)  # GoogLeNet's first pooling
    assert "\\lceil 54.5 \\rceil + 1 = 56$ (ceil mode: rounded up)" in " ".join(inspect.formula(layer))
    whole = inspect.layers(nn.Sequential(nn.MaxPool2d(2, 2, ceil_mode=True)), (1, 14, 14))[0]  # GoogLeNet's maxpool4
    assert inspect.formula(whole)[0].endswith("= 6 + 1 = 7$")  # nothing was rounded up: no word of it


def test_a_ceil_mode_window_that_would_start_in_the_padding_is_taken_off_as_torch_does():
    layer = inspect.layers(nn.Sequential(nn.MaxPool2d(2, 2, padding=1, ceil_mode=True)), (1, 5, 5))[0]
    assert layer.out_shape == (1, 3, 3)  # not the ceiling's 4: the 4th window would start in the right padding
    assert inspect.formula(layer)[0].endswith("\\lceil 2.5 \\rceil + 1 - 1 = 3$ (ceil mode: rounded up, less a last "
                                              "window that would start in the padding)")


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("padding,kernel,out", [("same", 4, 9), ("same", 3, 9), ("valid", 3, 7)])
def test_a_conv_padded_by_name_gets_its_formula(padding, kernel, out):
    """padding="same" had raised TypeError (a string added to an int)."""
    layer = inspect.layers(nn.Sequential(nn.Conv2d(1, 1, kernel, padding=padding)), (1, 9, 9))[0]
    assert layer.out_shape == (1, out, out)
    line = inspect.formula(layer)[0]
    assert line.endswith(f"= {out}$") and f"2 \\cdot {(kernel - 1) / 2 if padding == 'same' else 0:g} -" in line


def test_depth_counts_weight_layers_on_the_longest_path():
    depths = {}
    for name in ("lenet5", "alexnet", "vgg16", "googlenet", "resnet18"):
        with torch.device("meta"):
            depths[name] = inspect.depth(models.build(name))
    assert depths == {"lenet5": 5, "alexnet": 8, "vgg16": 16, "googlenet": 22, "resnet18": 18}


def test_activations_are_the_models_own_outputs_and_leave_no_hooks(built):
    model = built["resnet18"]
    before = (len(torch.nn.modules.module._global_forward_hooks), len(torch.nn.modules.module._global_forward_pre_hooks))
    graph = extraction.extractor(model)
    image = torch.rand(3, 224, 224)
    outputs = inspect.activations(graph, image)
    assert list(outputs) == extraction.node_names(model)
    with torch.no_grad():
        assert torch.allclose(outputs["fc"], model(image[None])[0], atol=1e-5)
        assert torch.allclose(outputs["conv1"], model[1](model[0](image[None]))[0], atol=1e-5)
    assert inspect.hooks_on(model) == 0
    assert before == (len(torch.nn.modules.module._global_forward_hooks),
                      len(torch.nn.modules.module._global_forward_pre_hooks))


def test_layers_work_on_the_meta_device_without_memory():
    with torch.device("meta"):
        model = models.build("vgg16")
    rows = inspect.layer_table(model, (3, 224, 224))
    assert rows[-1]["out_shape"] == (1000,) and sum(r["params"] for r in rows) == 138_357_544


def test_rows_for_display_write_shapes_and_keep_counts_as_numbers():
    rows = inspect.rows_for_display(inspect.layers(models.build("lenet5"), (1, 28, 28)))
    assert rows[1] == {"#": 2, "name": "conv1", "type": "Conv2d", "output shape": "6 x 28 x 28",
                       "parameters": 156, "multiply-adds": 117_600}


def test_summary_table_is_one_markdown_row():
    layer = inspect.layers(models.build("lenet5"), (1, 28, 28))[1]
    assert inspect.summary_table(layer).splitlines()[-1] == "| 1 x 28 x 28 | 6 x 28 x 28 | 156 | 117,600 |"


@pytest.mark.parametrize("name", ALL)
def test_pre_activation_outputs_are_not_overwritten_by_an_inplace_relu(name, built):
    """Conv and batch-norm outputs keep their negative values (torchvision's ReLUs work in place)."""
    spec = models.spec(name)
    layers = inspect.layers(built[name], spec.input_shape)
    outputs = inspect.activations(extraction.extractor(built[name]), torch.rand(*spec.input_shape))
    for layer in layers:
        if isinstance(layer.module, (nn.Conv2d, nn.BatchNorm2d)):
            assert outputs[layer.name].min() < 0, layer.name


def test_a_downsampling_blocks_sum_names_its_projection_shortcut():
    """The reviewer read y = F(x) + x on ResNet's stage2, whose input (16 x 32 x 32) cannot be added as it is."""
    small = architecture.build({"model": "resnet_small"}, (3, 32, 32), 8)
    adds = {layer.name: layer for layer in inspect.layers(small, (3, 32, 32)) if layer.type == "add"}
    assert adds["stage1.add"].shortcut == "" and "$y = F(x) + x$" in inspect.formula(adds["stage1.add"])[0]
    assert adds["stage2.add"].shortcut == ("the block's input x (16 x 32 x 32) goes through a 1x1 convolution with "
                                           "stride 2, then batch norm")
    assert "$y = F(x) + W_s x$" in inspect.formula(adds["stage2.add"])[0]
    resnet18 = models.build("resnet18")
    shortcuts = {layer.name: layer.shortcut for layer in inspect.layers(resnet18, (3, 224, 224))
                 if layer.type in ("add", "iadd")}
    assert [name for name, words in shortcuts.items() if words] == ["layer2.0.add", "layer3.0.add", "layer4.0.add"]
    conv = resnet18.layer2[0].downsample[0]
    assert conv.kernel_size == (1, 1) and conv.stride == (2, 2) and "64 x 56 x 56" in shortcuts["layer2.0.add"]


def test_a_dilated_same_convs_formula_pads_its_dilated_span():
    """dilation 2, kernel 3, "same": P = 2 (d(F - 1) / 2), and the formula's output is the map's 9."""
    layer = inspect.layers(nn.Sequential(nn.Conv2d(1, 1, 3, padding="same", dilation=2)), (1, 9, 9))[0]
    line = inspect.formula(layer)[0]
    assert layer.out_shape == (1, 9, 9) and "2 \\cdot 2 -" in line and line.endswith("= 9$"), line


@pytest.mark.parametrize("module,shape", [
    (nn.Conv2d(8, 8, 3, groups=4, padding=1), (8, 10, 10)), (nn.Conv2d(3, 6, 5, stride=2, dilation=2), (3, 21, 21)),
    (nn.Linear(12, 5), (12,))])
def test_multiply_adds_are_pytorchs_flop_count_halved(module, shape):
    """torch.utils.flop_counter counts a multiply-add as 2 FLOPs (biases not counted, as torchvision's figures)."""
    from torch.utils.flop_counter import FlopCounterMode

    layer = inspect.layers(nn.Sequential(module), shape)[0]
    with FlopCounterMode(display=False) as counter:
        module(torch.zeros(1, *shape))
    assert layer.mult_adds == counter.get_total_flops() // 2


def test_the_cards_say_what_the_multiply_adds_leave_out():
    """Biases are additions, a batch norm folds into its convolution: torchvision's count, said where it shows."""
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(2 * 6 * 6, 3))
    conv_card, norm, _, linear = (inspect.formula(layer) for layer in inspect.layers(net, (1, 8, 8)))
    assert conv_card[-1].endswith("= 648$ (the 72 bias additions not counted, as torchvision counts)")
    assert norm[-1].startswith("Multiply-adds counted 0, as torchvision counts them") and "= 72$" in norm[-1]
    assert linear[-1].endswith("= 216$ (the bias additions not counted).")
    (wide,) = (inspect.formula(layer) for layer in inspect.layers(nn.Sequential(nn.Conv2d(6, 16, 5)), (6, 14, 14)))
    assert wide[-1].endswith("$ (the 1,600 bias additions not counted, as torchvision counts)")  # not LaTeX's 1{,}600

