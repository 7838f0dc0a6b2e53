"""Szegedy's smallest change: the exact distance on a linear model, and the shipped LeNet-5 fooled by less than FGSM."""

import math

import pytest
import torch
from torch import nn

from explorer import adversarial, minimal


@pytest.fixture(scope="module")
def digit() -> torch.Tensor:
    image = torch.zeros(1, 28, 28)
    image[0, 4:24, 12:16] = 1  # a "1"
    return image


def test_on_a_linear_model_it_finds_the_distance_to_the_boundary():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 2)).requires_grad_(False)
    image = torch.full((1, 4, 4), 0.5) + 0.05 * torch.randn(1, 4, 4)  # inside the box: the bound stays inactive
    logits = model(image[None])[0]
    predicted = int(logits.argmax())
    other = 1 - predicted
    weight = model[1].weight
    distance = float((logits[predicted] - logits[other]) / (weight[predicted] - weight[other]).norm())
    result = minimal.smallest_change(model, image, [other], rounds=20, iterations=50)
    assert bool(result.found[0]) and int(result.probabilities[0].argmax()) == other
    norm = float(result.norms[0])
    assert distance <= norm <= 1.03 * distance  # across the boundary, and hardly further
    direction = (weight[other] - weight[predicted]) / (weight[other] - weight[predicted]).norm()
    cosine = float(result.changes[0].flatten() @ direction) / norm
    assert cosine > 0.99  # straight across: along the difference of the two classes' weights


def test_lenet_reads_every_other_class_after_a_change_smaller_than_fgsms(lenet, digit):
    targets = [k for k in range(10) if k != 1]
    result = minimal.smallest_change(lenet, digit, targets)
    assert result.found.all() and result.targets.tolist() == targets
    with torch.no_grad():
        read = lenet(result.images).argmax(1)
    assert read.tolist() == targets == result.probabilities.argmax(1).tolist()
    assert result.images.min() >= 0 and result.images.max() <= 1  # still an image
    torch.testing.assert_close(result.rms, result.norms / 28)
    nearest = result.nearest
    assert float(result.norms[nearest]) == float(result.norms.min())
    # the untargeted FGSM's first flip, on the same grid as the page, moves the image further in L2
    epsilons = torch.linspace(0, 0.3, 61)
    flips = adversarial.fgsm_sweep(lenet, digit, epsilons).argmax(1) != 1
    fgsm = adversarial.fgsm(lenet, digit, float(epsilons[flips.nonzero()[0, 0]]))
    assert float(result.norms[nearest]) < 0.75 * float(fgsm.perturbation.norm())
    # and per target, the targeted FGSM that first reads the class is larger too
    for position in (0, 4, 7):
        target = targets[position]
        reads = adversarial.fgsm_sweep(lenet, digit, epsilons, target=target).argmax(1) == target
        if reads.any():
            targeted = adversarial.fgsm(lenet, digit, float(epsilons[reads.nonzero()[0, 0]]), target=target)
            assert float(result.norms[position]) < float(targeted.perturbation.norm())


def test_the_search_reports_its_progress_to_the_end(lenet, digit):
    seen = []
    minimal.smallest_change(lenet, digit, [7], rounds=3, iterations=5,
                            progress=lambda done, total: seen.append((done, total)))
    assert seen and all(total == 15 for _, total in seen)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen) and seen[-1][0] <= 15


def test_a_target_out_of_reach_is_reported_not_found():
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 2)).requires_grad_(False)
    with torch.no_grad():
        model[1].weight.zero_()
        model[1].bias.copy_(torch.tensor([5.0, 0.0]))  # class 0 whatever the image
    result = minimal.smallest_change(model, torch.rand(1, 2, 2), [1], rounds=2, iterations=5)
    assert not bool(result.found[0]) and math.isnan(float(result.norms[0]))
    torch.testing.assert_close(result.images[0], result.original)
    with pytest.raises(ValueError, match="no target was reached"):
        result.nearest


@pytest.mark.parametrize("targets, message", [
    ([], "no target"), ([10], "no class 10"), ([-1], "no class -1"), ([1], "already reads class 1"),
    ([3, 3], "once"),
])
def test_bad_targets_are_refused_in_words(lenet, digit, targets, message):
    with pytest.raises(ValueError, match=message):
        minimal.smallest_change(lenet, digit, targets)


def test_the_search_runs_torch_on_one_thread_and_gives_the_others_back(lenet, digit):
    before = torch.get_num_threads()
    during = []
    minimal.smallest_change(lenet, digit, [7], rounds=1, iterations=2, progress=lambda *_: during.append(
        torch.get_num_threads()))
    assert during and set(during) == {1} and torch.get_num_threads() == before


@pytest.mark.gpu
def test_a_224_px_network_on_the_gpu_is_fooled_by_a_small_change():
    """On a GPU the page searches ImageNet networks too (two rounds here, to keep the test short)."""
    pytest.importorskip("scipy")
    pytest.importorskip("threadpoolctl")
    from explorer import models

    torch.manual_seed(0)
    model = models.build("resnet18", pretrained=False).requires_grad_(False).eval().cuda()
    image = torch.rand(3, 224, 224)
    probabilities = torch.softmax(model(image[None].cuda()), 1)[0].cpu()
    second = int(probabilities.topk(2).indices[1])
    result = minimal.smallest_change(model, image, [second], rounds=2, iterations=20)
    assert result.images.device.type == "cpu" and bool(result.found[0])
    assert int(result.probabilities[0].argmax()) == second and float(result.rms[0]) < 0.05
