"""The network builder: registry models fitted to the data, layer names, hand-set filters, normalisation."""

import math
import re

import pytest
import torch
from torch import nn

from explorer import architecture, data, extraction, inspect, kernels, layer_table, models, networks

MNIST, CIFAR, BIG = (1, 28, 28), (3, 32, 32), (3, 64, 64)


# --- build -------------------------------------------------------------------------------------

def _assert_readable(model: nn.Module) -> None:
    children = list(model.named_children())
    assert children[0][0] == "normalize" and isinstance(children[0][1], networks.Normalize)
    for name, _ in model.named_modules():
        assert not any(re.search(r"_\d+$", part) for part in name.split(".")), name


@pytest.mark.parametrize("model_name", [*architecture.REGISTRY_MODELS, "custom"])
@pytest.mark.parametrize("data_name, input_shape, classes", [
    ("mnist", MNIST, 10), ("cifar10", CIFAR, 10), ("shapes", MNIST, 8), ("shapes", BIG, 8)])
def test_build_fits_every_model_to_the_data(model_name, data_name, input_shape, classes):
    model = architecture.build({"model": model_name, "data": data_name}, input_shape, classes)
    _assert_readable(model)
    assert not model.training
    assert model(torch.rand(2, *input_shape)).shape == (2, classes)
    mean, std = architecture.normalization(data_name, input_shape[0])
    assert torch.allclose(model.normalize.mean.flatten(), torch.tensor(mean))
    assert torch.allclose(model.normalize.std.flatten(), torch.tensor(std))
    table = inspect.layer_table(model, input_shape)  # feature extraction sees every named layer
    assert table[-1]["out_shape"] == (classes,)


def test_custom_layer_names_are_the_feature_extraction_nodes():
    model = architecture.build({"layers": layer_table.default_layers()}, MNIST, 10)
    expected = ["normalize", "conv1", "relu1", "pool1", "conv2", "relu2", "pool2", "flatten", "fc1", "relu3",
                "drop1", "fc_out"]
    assert [name for name, _ in model.named_children()] == expected
    assert extraction.node_names(model) == expected


def test_registry_models_keep_their_shape_on_their_own_input():
    ours = architecture.build({"model": "tinyvgg", "data": "shapes"}, (3, 64, 64), 8)
    theirs = models.build("tinyvgg")
    assert [(n, type(m)) for n, m in ours.named_modules()] == [(n, type(m)) for n, m in theirs.named_modules()]
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in theirs.parameters())
    lenet = architecture.build({"model": "lenet5"}, (3, 32, 32), 10)
    assert lenet.conv1.in_channels == 3 and lenet.fc3.in_features == 16 * 6 * 6


def test_a_registry_model_refuses_too_small_an_input_with_the_size_it_needs():
    with pytest.raises(architecture.ArchitectureError, match="tinyvgg needs inputs of at least 16x16 pixels"):
        architecture.build({"model": "tinyvgg"}, (1, 15, 15), 10)
    with pytest.raises(architecture.ArchitectureError, match="lenet5 needs inputs of at least 12x12"):
        architecture.build({"model": "lenet5"}, (1, 11, 11), 10)


def test_build_is_deterministic_given_the_seed():
    def weights() -> dict:
        torch.manual_seed(3)
        return architecture.build({"layers": layer_table.default_layers()}, CIFAR, 10).state_dict()

    first, second = weights(), weights()
    assert all(torch.equal(first[k], second[k]) for k in first)


def test_default_layers_are_a_fresh_copy_each_time():
    layers = layer_table.default_layers()
    layers[0]["out"] = 99
    assert layer_table.default_layers()[0]["out"] == 8


# --- hand-set first filters -----------------------------------------------------------------

FIVE = {"model": "custom", "layers": [{"type": "conv", "out": 4, "kernel": 5, "padding": 2}, {"type": "relu"},
                                      {"type": "conv", "out": 3, "kernel": 3}]}
SOBEL, LAPLACE = "sobel (horizontal edges)", "laplacian"


def test_hand_set_kernels_are_centred_and_the_other_filters_keep_their_random_init():
    torch.manual_seed(1)
    plain = architecture.build(FIVE, CIFAR, 10)
    torch.manual_seed(1)
    model = architecture.build({**FIVE, "init": {"kernels": [SOBEL, LAPLACE]}}, CIFAR, 10)
    sobel = torch.zeros(5, 5)
    sobel[1:4, 1:4] = kernels.PRESETS[SOBEL]
    for c in range(3):  # every input channel gets kernel / C
        assert torch.allclose(model.conv1.weight[0, c], sobel / 3)
        assert torch.allclose(model.conv1.weight[1, c, 1:4, 1:4], kernels.PRESETS[LAPLACE] / 3)
    assert model.conv1.bias[:2].tolist() == [0.0, 0.0]
    assert torch.equal(model.conv1.weight[2:], plain.conv1.weight[2:])
    assert torch.equal(model.conv1.bias[2:], plain.conv1.bias[2:])
    assert torch.equal(model.conv2.weight, plain.conv2.weight)
    assert model.conv1.weight.requires_grad


def test_a_grey_hand_set_kernel_is_exact_and_odd_shapes_are_centred():
    layers = [{"type": "conv", "out": 2, "kernel": 3, "padding": 1}]
    init = {"kernels": ["derivative [-1, 0, 1] (vertical)", "derivative [-1, 1]"]}
    model = architecture.build({"layers": layers, "init": init}, MNIST, 10)
    assert model.conv1.weight[0, 0].tolist() == [[0, -1, 0], [0, 0, 0], [0, 1, 0]]
    assert model.conv1.weight[1, 0].tolist() == [[0, 0, 0], [-1, 1, 0], [0, 0, 0]]  # the extra column goes after


@pytest.mark.parametrize("optimizer", ["adamw", "sgd"])
def test_frozen_hand_set_filters_do_not_learn_while_the_rest_does(optimizer):
    """Only the hand-set filters stay: the first conv's random others learn beside them (all of it stood still)."""
    from explorer import training

    model = architecture.build({**FIVE, "init": {"kernels": [SOBEL, LAPLACE], "frozen": True}}, MNIST, 10).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    step = training.make_optimizer(model, training.TrainConfig(optimizer=optimizer, lr=1e-2, weight_decay=0.1))
    for _ in range(3):  # momentum and weight decay act from the second step on
        step.zero_grad()
        nn.functional.cross_entropy(model(torch.rand(8, *MNIST)), torch.arange(8)).backward()
        step.step()
    after = model.state_dict()
    assert torch.equal(after["conv1.weight"][:2], before["conv1.weight"][:2])
    assert torch.equal(after["conv1.bias"][:2], before["conv1.bias"][:2])
    assert not torch.equal(after["conv1.weight"][2:], before["conv1.weight"][2:])
    assert not torch.equal(after["conv2.weight"], before["conv2.weight"])
    assert not torch.equal(after["fc_out.weight"], before["fc_out.weight"])


def test_frozen_with_a_kernel_for_every_filter_or_none_fixes_the_whole_first_conv():
    for names in ([SOBEL, LAPLACE, SOBEL, LAPLACE], []):
        model = architecture.build({**FIVE, "init": {"kernels": names, "frozen": True}}, MNIST, 10)
        assert not model.conv1.weight.requires_grad and not model.conv1.bias.requires_grad
        assert model.conv2.weight.requires_grad


def test_hand_set_filters_on_a_registry_model_without_bias():
    model = architecture.build({"model": "resnet_small", "data": "cifar10", "init": {"kernels": [LAPLACE]}},
                               CIFAR, 10)
    assert torch.allclose(model.conv1.weight[0, 1], kernels.PRESETS[LAPLACE] / 3) and model.conv1.bias is None


@pytest.mark.parametrize("init, message", [
    ({"kernels": ["gaussian 5x5 (sigma 1)"]}, r"the 5x5 kernel 'gaussian 5x5 \(sigma 1\)' does not fit conv1's 3x3"),
    ({"kernels": ["no such kernel"]}, r"unknown kernel 'no such kernel'"),
    ({"kernels": [SOBEL] * 9}, r"9 hand-set kernels, but conv1 has only 8 filters"),
    ({"kernels": SOBEL}, r"must be a list of kernel names"),
])
def test_impossible_hand_set_kernels_are_refused(init, message):
    with pytest.raises(architecture.ArchitectureError, match=message):
        architecture.build({"layers": layer_table.default_layers(), "init": init}, MNIST, 10)


def test_the_hand_set_menu_names_presets():
    assert set(architecture.HAND_SET) <= set(kernels.PRESETS)
    for name in architecture.HAND_SET:  # each fits a 5x5 first conv
        architecture.build({**FIVE, "init": {"kernels": [name]}}, MNIST, 10)


# --- normalisation ------------------------------------------------------------------------------

def test_normalization_values():
    assert architecture.normalization("mnist") == (models.MNIST_MEAN, models.MNIST_STD) == ((0.1307,), (0.3081,))
    assert architecture.normalization("fashion-mnist") == ((0.2860,), (0.3530,))
    assert architecture.normalization("cifar10") == (models.CIFAR_MEAN, models.CIFAR_STD)
    assert architecture.normalization("shapes") == ((0.5,), (0.25,))
    assert architecture.normalization("shapes", 3) == ((0.5,) * 3, (0.25,) * 3)
    assert architecture.normalization("mnist", 3) == ((0.1307,) * 3, (0.3081,) * 3)
    (mean,), (std,) = architecture.normalization("cifar10", 1)
    assert math.isclose(mean, 0.299 * 0.4914 + 0.587 * 0.4822 + 0.114 * 0.4465, abs_tol=1e-4)
    assert 0.24 < std < 0.26
    assert all(architecture.normalization(name) for name in data.NAMES)  # every data set has statistics
    with pytest.raises(architecture.ArchitectureError, match="imagenet"):
        architecture.normalization("imagenet")
    with pytest.raises(architecture.ArchitectureError, match="not 2"):
        architecture.normalization("cifar10", 2)


def test_build_without_a_data_set_normalises_neutrally():
    model = architecture.build({}, CIFAR, 10)
    assert model.normalize.mean.flatten().tolist() == [0.5] * 3 and model.normalize.std.flatten().tolist() == [0.25] * 3


# --- transfer learning ---------------------------------------------------------------------------

def _lenet(classes: int = 8) -> nn.Module:
    torch.manual_seed(1)
    return architecture.build({"model": "lenet5", "data": "shapes"}, (1, 28, 28), classes)


def test_transfer_copies_all_but_the_classifier_and_freezes_it_for_a_new_head():
    trained = models.build("lenet5", pretrained=True).state_dict()
    model = _lenet()
    fresh_head = model.fc5.weight.detach().clone()
    copied = architecture.transfer(model, trained, "head")
    assert "conv1.weight" in copied and "fc4.bias" in copied and not any(k.startswith("fc5.") for k in copied)
    assert torch.equal(model.conv1.weight, trained["conv1.weight"]) and torch.equal(model.fc5.weight, fresh_head)
    learning = [name for name, p in model.named_parameters() if p.requires_grad]
    assert learning == ["fc5.weight", "fc5.bias"]  # a fixed feature extractor and a new classifier


def test_transfer_of_the_convolutions_gives_new_fully_connected_layers_even_for_another_image_size():
    config = {"model": "lenet5", "data": "cifar10"}
    cifar = architecture.build(config, (3, 32, 32), 10).state_dict()
    model = _lenet()
    fresh = {name: p.detach().clone() for name, p in model.named_parameters() if name.startswith("fc")}
    copied = architecture.transfer(model, cifar, "convs")
    assert copied == ["conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias"]
    torch.testing.assert_close(model.conv1.weight, cifar["conv1.weight"].sum(1, keepdim=True))  # colour to grey
    assert all(torch.equal(p, fresh[name]) for name, p in model.named_parameters() if name.startswith("fc"))
    assert [name for name, p in model.named_parameters() if p.requires_grad] == [
        "fc3.weight", "fc3.bias", "fc4.weight", "fc4.bias", "fc5.weight", "fc5.bias"]
    assert [architecture.linear_layers({"model": m}) for m in architecture.REGISTRY_MODELS] == [3, 1, 1]
    assert architecture.linear_layers({"model": "custom", "layers": [{"type": "linear"}, {"type": "relu"}]}) == 2


def test_fine_tuning_gives_the_transferred_layers_a_tenth_of_the_rate():
    model = _lenet()
    architecture.transfer(model, models.build("lenet5", pretrained=True).state_dict(), "all")
    assert all(p.requires_grad for p in model.parameters())
    scales = {name: getattr(p, "lr_scale", 1.0) for name, p in model.named_parameters()}
    assert scales["conv1.weight"] == architecture.PRETRAINED_SCALE == 0.1 and scales["fc5.weight"] == 1.0


def test_transfer_refuses_another_network_or_size_in_plain_words():
    tinyvgg = models.build("tinyvgg", pretrained=True).state_dict()
    with pytest.raises(architecture.ArchitectureError, match="another architecture: it has no conv1.weight"):
        architecture.transfer(_lenet(), tinyvgg)
    cifar = architecture.build({"model": "lenet5", "data": "cifar10"}, (3, 32, 32), 10).state_dict()
    with pytest.raises(architecture.ArchitectureError, match="images of another size: its fc3 takes 576 values, "
                                                             "this one's 400 .train new fully connected layers"):
        architecture.transfer(_lenet(), cifar)
    with pytest.raises(architecture.ArchitectureError, match="train must be one of head, convs, all"):
        architecture.transfer(_lenet(), {}, "some")


@pytest.mark.parametrize("channels", [1, 3])
def test_transfer_across_colour_and_grey_answers_grey_images_as_before(channels):
    """TinyVGG's shipped RGB filters start a grey TinyVGG, and LeNet-5's grey ones an RGB LeNet-5."""
    name, source_channels = ("tinyvgg", 3) if channels == 1 else ("lenet5", 1)
    trained = models.build(name, pretrained=True)
    torch.manual_seed(0)
    model = architecture.build({"model": name, "data": "shapes"}, (channels, 28, 28) if name == "lenet5"
                               else (channels, 64, 64), 10)
    architecture.transfer(model, trained.state_dict())
    assert architecture.source_channels(trained.state_dict()) == source_channels
    conv_name = next(n for n, m in model.named_modules() if isinstance(m, nn.Conv2d))
    grey = torch.rand(2, 1, 12, 12)
    theirs = trained.get_submodule(conv_name)(grey.expand(-1, source_channels, -1, -1))
    ours = model.get_submodule(conv_name)(grey.expand(-1, channels, -1, -1))
    torch.testing.assert_close(ours, theirs)  # a grey image means the same to both


def test_fit_channels_leaves_other_pairs_for_the_caller():
    filters = torch.randn(4, 2, 3, 3)
    assert architecture.fit_channels(filters, 3) is filters and architecture.fit_channels(filters, 2) is filters
    assert architecture.fit_channels(filters, 1).shape == (4, 1, 3, 3)
    assert architecture.source_channels({"fc.weight": torch.zeros(2, 3)}) is None


def test_the_memory_of_a_training_step_counts_every_layers_output_and_its_gradient():
    model = architecture.build({"model": "custom", "layers": [{"type": "conv", "out": 4, "kernel": 3, "padding": 1},
                                                              {"type": "relu"}]}, (1, 8, 8), 10)
    outputs = []
    hooks = [m.register_forward_hook(lambda _m, _x, out: outputs.append(out.numel()))
             for m in model.modules() if not list(m.children())]
    model(torch.zeros(1, 1, 8, 8))
    for hook in hooks:
        hook.remove()
    assert architecture.feature_values(model, (1, 8, 8)) == sum(outputs) == 64 + 256 + 256 + 256 + 10
    assert architecture.training_bytes(model, (1, 8, 8), 32) == sum(outputs) * 32 * 4 * 2
    assert next(model.parameters()).device.type == "cpu"  # counted on a copy: the model keeps its weights


def test_a_scrambled_network_moves_every_channels_pixels_to_the_same_fixed_places():
    model = architecture.build({"model": "tinyvgg", "data": "shapes", "scramble": True}, (3, 16, 16), 8)
    assert [name for name, _ in model.named_children()][:3] == ["normalize", "scramble", "conv1a"]
    scramble = model.scramble
    assert sorted(scramble.order.tolist()) == list(range(256))  # a permutation: every pixel kept once
    image = torch.arange(3 * 256, dtype=torch.float32).view(1, 3, 16, 16)
    moved = scramble(image)
    for channel in range(3):
        assert moved[0, channel].flatten().tolist() == image[0, channel].flatten()[scramble.order].tolist()
    again = architecture.build({"model": "lenet5", "data": "shapes", "scramble": True}, (3, 16, 16), 8)
    assert torch.equal(again.scramble.order, scramble.order)  # one scramble for every run, a CNN's and an MLP's
    assert "scramble.order" in model.state_dict()  # the places travel with the weights
    assert extraction.node_names(model)[:3] == ["normalize", "scramble", "conv1a"]  # one step, not its indexing


def test_a_fully_connected_network_on_scrambled_pixels_is_the_same_network_with_its_weights_moved():
    """The lecture's point, exactly: an MLP never used the pixels' order (a CNN's kernels did)."""
    layers = [{"type": "flatten"}, {"type": "linear", "out": 16}, {"type": "relu"}]
    torch.manual_seed(0)
    scrambled = architecture.build({"model": "custom", "layers": layers, "scramble": True}, (1, 12, 12), 4)
    plain = architecture.build({"model": "custom", "layers": layers}, (1, 12, 12), 4)
    plain.load_state_dict({k: v for k, v in scrambled.state_dict().items() if k != "scramble.order"})
    with torch.no_grad():  # the first layer's weight of input position p moves to where p was taken from
        plain.fc1.weight[:, scrambled.scramble.order] = scrambled.fc1.weight.clone()
    images = torch.rand(5, 1, 12, 12)
    with torch.no_grad():
        torch.testing.assert_close(plain(images), scrambled(images), rtol=1e-5, atol=1e-6)


def _moved_by_training(model: nn.Module) -> int:
    """The parameter values three AdamW steps change (with weight decay: nothing fixed may shrink either)."""
    from explorer import training

    before = [p.detach().clone() for p in model.parameters()]
    step = training.make_optimizer(model.train(), training.TrainConfig(lr=1e-2, weight_decay=0.1))
    for _ in range(3):
        step.zero_grad()
        nn.functional.cross_entropy(model(torch.rand(8, *MNIST)), torch.arange(8)).backward()
        step.step()
    return sum(int((p.detach() != b).sum()) for p, b in zip(model.parameters(), before))


@pytest.mark.parametrize("case", ["all", "two hand-set fixed", "first conv fixed", "new head", "new fc layers",
                                  "new head on two hand-set fixed"])
def test_the_parameters_said_to_learn_are_those_training_moves(case):
    """The Train page says "Training moves 850 of the network's 61,706 parameters" before a transfer's launch."""
    init = {"two hand-set fixed": {"kernels": [SOBEL, LAPLACE], "frozen": True},
            "new head on two hand-set fixed": {"kernels": [SOBEL, LAPLACE], "frozen": True},
            "first conv fixed": {"kernels": [], "frozen": True}}.get(case)
    model = architecture.build({"model": "lenet5", "data": "shapes", "init": init}, MNIST, 10)
    if case.startswith("new"):  # the fixed rows of a fixed conv counted once
        architecture.transfer(model, models.build("lenet5", pretrained=True).state_dict(),
                              "convs" if case == "new fc layers" else "head")
    moving, total = architecture.learning(model)
    assert total == sum(p.numel() for p in model.parameters()) == 61_706
    expected = {"all": total, "two hand-set fixed": total - 2 * 26, "first conv fixed": total - 6 * 26,
                "new head": 84 * 10 + 10, "new head on two hand-set fixed": 84 * 10 + 10,
                "new fc layers": 48_120 + 10_164 + 850}[case]
    assert moving == expected == _moved_by_training(model)
