"""Linear probes: the layers probed, the pooling of large maps, the classifier, and the lecture's finding that
deeper layers of a trained network give better features."""

import pytest
import torch
import torch.nn.functional as F

from explorer import data, inputs, inspect, models, probes


def _layers(name: str) -> list[inspect.Layer]:
    return inspect.layers(models.build(name), models.spec(name).input_shape)


def test_the_probed_layers_are_the_input_each_activation_and_pooling_and_the_scores():
    assert probes.probe_layers(_layers("lenet5")) == ["normalize", "relu1", "pool1", "relu2", "pool2", "relu3",
                                                      "relu4", "fc5"]
    thinned = probes.probe_layers(_layers("resnet18"), most=6)
    everything = probes.probe_layers(_layers("resnet18"), most=1000)
    assert len(thinned) == 6 and thinned[0] == "normalize" and thinned[-1] == "fc"
    assert thinned == [name for name in everything if name in thinned]  # forward order, a subset
    assert thinned[1] == everything[1] and thinned[-2] == everything[-2]


def test_large_maps_are_average_pooled_under_the_cap_and_small_ones_kept_whole():
    maps = torch.rand(2, 6, 28, 28)  # 4704 values
    reduced = probes._reduced(maps)
    side = int((probes.MAX_FEATURES // 6) ** 0.5)
    assert reduced.shape == (2, 6 * side * side) and reduced.shape[1] <= probes.MAX_FEATURES
    torch.testing.assert_close(reduced, F.adaptive_avg_pool2d(maps, side).flatten(1))
    small = torch.rand(2, 16, 5, 5)
    torch.testing.assert_close(probes._reduced(small), small.flatten(1))


def test_the_classifier_separates_separable_classes_and_guesses_on_noise():
    generator = torch.Generator().manual_seed(0)
    centres = torch.randn(4, 20, generator=generator) * 3
    labels = torch.randint(0, 4, (1200,), generator=generator)
    points = centres[labels] + torch.randn(1200, 20, generator=generator)
    train, test = probes.fit(points[:800], labels[:800], points[800:], labels[800:], 4)
    assert train > 0.97 and test > 0.95
    noise = torch.rand(1200, 20, generator=generator)
    _, guessed = probes.fit(noise[:800], labels[:800], noise[800:], labels[800:], 4)
    assert guessed < 0.4  # chance is 0.25


def _probe(name: str, data_name: str, pretrained: bool, n: int = 1500) -> dict[str, float]:
    spec, model = models.spec(name), models.build(name, pretrained=pretrained)
    train, test = data.load(data_name).subset(n), data.load(data_name, train=False).subset(n // 2)
    reports = []
    result = probes.probe(model, probes.probe_layers(inspect.layers(model, spec.input_shape)),
                          (inputs.fit_batch(train.images, spec), train.labels),
                          (inputs.fit_batch(test.images, spec), test.labels), len(train.classes),
                          progress=lambda done, total: reports.append((done, total)))
    assert reports == [(1 + i, 1 + len(result)) for i in range(len(result))]  # reading, then each layer's fit
    return {p.layer: p.test_accuracy for p in result}


def test_the_trained_shapes_network_reads_the_classes_better_deeper():
    accuracy = _probe("tinyvgg", "shapes", True)
    assert list(accuracy) == ["normalize", "relu1a", "relu1b", "pool1", "relu2a", "relu2b", "pool2", "fc"]
    assert accuracy["normalize"] + 0.08 < accuracy["relu2b"] and accuracy["fc"] > 0.95


@pytest.mark.skipif(data.shared_root() is None, reason="needs ../shared/data (real MNIST)")
def test_on_mnist_depth_helps_a_trained_lenet_and_not_a_random_one():
    trained, random = _probe("lenet5", "mnist", True), _probe("lenet5", "mnist", False)
    assert trained["normalize"] == random["normalize"]  # the pixels are the same
    assert trained["normalize"] < trained["relu2"] < trained["relu4"] and trained["fc5"] > 0.97
    assert random["fc5"] < trained["fc5"] - 0.2  # random class scores are poor features


def test_the_test_features_are_scaled_by_the_training_sets_statistics_only():
    """A test set moved as a whole is read with the training set's mean: shifted past the boundary, every test image
    falls on one side (centred on its own mean, the shift would vanish and 100% would show)."""
    generator = torch.Generator().manual_seed(0)
    train_y = torch.arange(200) % 2
    train_x = (train_y.float()[:, None] * 2 - 1) + 0.1 * torch.randn(200, 1, generator=generator)
    test_x, test_y = train_x + 10.0, train_y  # every test image far on class 1's side
    train_accuracy, test_accuracy = probes.fit(train_x, train_y, test_x, test_y, 2)
    assert train_accuracy == 1.0 and test_accuracy == 0.5
