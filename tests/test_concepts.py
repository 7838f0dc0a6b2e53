"""Deep Feature Factorization (explorer.concepts) against pytorch-grad-cam's ``dff`` written out (scikit-learn's NMF
on the layer's maps less each channel's least value) and its ``computation_on_concepts`` (a ResNet's ``fc`` on each
concept), on the digit and a random ResNet-18."""

import numpy as np
import pytest
import torch
from sklearn.decomposition import NMF

from explorer import cam, concepts, extraction, images, inputs, models
from tests.apptest import lenet_and_digit


def _their_dff(model, image, layer, count):
    """pytorch-grad-cam's ``dff`` of ``layer``'s maps (1, M, h, w): the concepts (M, k) and explanations (k, h, w)."""
    a = extraction.extractor(model, [layer])(image[None])[layer].detach().numpy()
    flat = a.transpose((1, 0, 2, 3)).reshape(a.shape[1], -1)
    offset = flat.min(axis=-1)
    factorization = NMF(n_components=count, init="random", random_state=0)
    w = factorization.fit_transform(flat - offset[:, None])
    return w + offset[:, None], factorization.components_.reshape(count, *a.shape[2:]), flat - offset[:, None], w


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("count", [2, 5])
def test_the_digits_concepts_are_pytorch_grad_cams_and_the_rest_of_the_network_names_them(count):
    model, digit = lenet_and_digit()
    found = concepts.factorize(model, digit, "relu2", count)
    theirs, where, shifted, w = _their_dff(model, digit, "relu2", count)
    np.testing.assert_allclose(found.channels.numpy(), theirs.T, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(found.where.numpy(), where, rtol=1e-5, atol=1e-6)
    error = np.linalg.norm(shifted - w @ where.reshape(count, -1)) / np.linalg.norm(shifted)
    assert found.error == pytest.approx(error, rel=1e-5) and 0 < found.error < 1
    with torch.no_grad():  # each concept at every one of relu2's 10 x 10 positions, pooled and read by fc
        held = found.channels[:, :, None, None].expand(-1, -1, 10, 10)
        rest = model.fc5(model.relu4(model.fc4(model.relu3(model.fc3(model.flatten(model.pool2(held)))))))
    torch.testing.assert_close(found.probabilities, torch.softmax(rest, 1))
    assert found.heat.shape == (count, 28, 28) and found.probabilities.shape == (count, 10)
    assert all(float(h.max()) == pytest.approx(1.0, abs=1e-6) and float(h.min()) == 0.0 for h in found.heat)
    torch.testing.assert_close(found.heat[0], cam.spread(cam.on_input(model, "relu2", found.where[0], (28, 28))))


def test_a_resnets_concepts_are_read_by_its_fc_as_pytorch_grad_cams_computation_on_concepts():
    torch.manual_seed(0)
    model, image = models.build("resnet18"), torch.rand(3, 64, 64)
    found = concepts.factorize(model, image, "layer4.1.relu_1", 2)  # 2 x 2 positions
    theirs, *_ = _their_dff(model, image, "layer4.1.relu_1", 2)
    with torch.no_grad():
        outputs = model.fc(torch.from_numpy(np.float32(theirs).T))
    torch.testing.assert_close(found.probabilities, torch.softmax(outputs, 1), rtol=1e-4, atol=1e-6)


def test_more_concepts_leave_less_out_and_the_classes_come_likeliest_first():
    model, digit = lenet_and_digit()
    left = [concepts.factorize(model, digit, "relu2", k).error for k in (2, 4, 8)]
    assert left[0] > left[1] > left[2]
    found = concepts.factorize(model, digit, "relu2", 3)
    best = concepts.top_classes(found, 3)
    assert len(best) == 3 and all(len(classes) == 3 for classes in best)
    for k, classes in enumerate(best):
        shares = [p for _, p in classes]
        assert shares == sorted(shares, reverse=True) and classes[0][0] == int(found.probabilities[k].argmax())


def test_each_pixel_is_painted_in_its_strongest_concepts_colour_over_the_image():
    model, digit = lenet_and_digit()
    found = concepts.factorize(model, digit, "relu2", 3)
    painted = concepts.painted(digit, found)
    assert painted.shape == (3, 28, 28) and 0 <= float(painted.min()) and float(painted.max()) <= 1
    winner = found.heat.argmax(0)
    for y, x in ((14, 14), (5, 20), (27, 0)):
        k = int(winner[y, x])
        colour = torch.tensor(concepts.COLOURS[k][1]) / 255
        expected = 0.3 * digit[0, y, x] + 0.7 * colour * found.heat[k, y, x]
        torch.testing.assert_close(painted[:, y, x], expected)
    coffee = inputs.prepare(models.spec("resnet18"), images.load_sample("coffee")).tensor
    assert concepts.painted(coffee[:, :28, :28], found).shape == (3, 28, 28)  # a colour image keeps its colours


def test_maps_alike_everywhere_have_nothing_to_split_and_bad_requests_are_refused():
    torch.manual_seed(0)
    pointwise = torch.nn.Sequential(torch.nn.Conv2d(1, 3, 1), torch.nn.ReLU(), torch.nn.Flatten(),
                                    torch.nn.Linear(3 * 4 * 4, 2))
    blank = concepts.factorize(pointwise, torch.full((1, 4, 4), 0.5), "1", 2)  # each map the same everywhere
    assert blank.error == 0.0 and not blank.where.any() and blank.probabilities.shape == (2, 2)
    model = models.build("lenet5", pretrained=True)
    image = torch.rand(1, 28, 28)
    for count, layer, message in ((0, "relu2", "from 1 to 8"), (9, "relu2", "from 1 to 8"),
                                  (2, "fc3", "has no feature maps"), (2, "fc5", "not a layer with feature maps"),
                                  (2, "nope", "not a layer with feature maps")):
        with pytest.raises(ValueError, match=message):
            concepts.factorize(model, image, layer, count)
    tiny = models.build("resnet18")
    with pytest.raises(ValueError, match="2 concepts need as many positions, and layer4.1.relu_1's maps have 1"):
        concepts.factorize(tiny, torch.rand(3, 32, 32), "layer4.1.relu_1", 2)
