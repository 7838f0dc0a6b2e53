"""FGSM and its iterated form: the formula, the constraints, and the shipped LeNet-5 fooled on MNIST."""

import math

import pytest
import torch
import torch.nn.functional as F

from explorer import adversarial, data


@pytest.fixture(scope="module")
def digit() -> torch.Tensor:
    image = torch.zeros(1, 28, 28)
    image[0, 4:24, 12:16] = 1  # a "1"
    return image


def test_fgsm_is_goodfellows_formula(lenet, digit):
    x = digit[None].clone().requires_grad_(True)
    loss = F.cross_entropy(lenet(x), torch.tensor([1]))
    (grad,) = torch.autograd.grad(loss, x)
    expected = (digit + 0.1 * grad[0].sign()).clamp(0, 1)
    attack = adversarial.fgsm(lenet, digit, 0.1, label=1)
    torch.testing.assert_close(attack.image, expected)
    torch.testing.assert_close(attack.perturbation, expected - digit)
    assert attack.label == 1 and attack.eps == 0.1


def test_fgsm_attacks_the_prediction_by_default_and_reports_it(lenet, digit):
    attack = adversarial.fgsm(lenet, digit, 0.3)
    with torch.no_grad():
        before, after = torch.softmax(lenet(torch.stack([digit, attack.image])), 1)
    assert attack.label == attack.before == int(before.argmax()) == 1
    assert attack.after == int(after.argmax()) and attack.flipped == (attack.after != 1)
    assert math.isclose(attack.before_confidence, float(before.max()), rel_tol=1e-5)
    assert math.isclose(attack.after_confidence, float(after.max()), rel_tol=1e-5)
    assert math.isclose(attack.label_confidence, float(after[1]), rel_tol=1e-5)


@pytest.mark.parametrize("method", [adversarial.fgsm, adversarial.iterative_fgsm])
@pytest.mark.parametrize("eps", [0.0, 0.02, 0.3])
def test_attacks_stay_within_eps_and_the_pixel_range(lenet, digit, method, eps):
    attack = method(lenet, digit, eps)
    assert float(attack.perturbation.abs().max()) <= eps + 1e-6
    assert 0 <= float(attack.image.min()) and float(attack.image.max()) <= 1
    if eps == 0:
        assert torch.equal(attack.image, digit) and not attack.flipped


def test_the_iterated_attack_raises_the_loss_at_least_as_much(lenet):
    images = data.shapes(8, size=28, channels=1, seed=2).images.float() / 255
    for image in images:
        one, many = adversarial.fgsm(lenet, image, 0.05), adversarial.iterative_fgsm(lenet, image, 0.05)
        assert many.label_confidence <= one.label_confidence + 1e-3


def test_the_sweep_matches_single_attacks(lenet, digit):
    epsilons = torch.tensor([0.0, 0.05, 0.2])
    probabilities = adversarial.fgsm_sweep(lenet, digit, epsilons)
    assert probabilities.shape == (3, 10)
    for eps, row in zip(epsilons.tolist(), probabilities):
        attack = adversarial.fgsm(lenet, digit, eps)
        assert int(row.argmax()) == attack.after and math.isclose(float(row.max()), attack.after_confidence, rel_tol=1e-4)


def test_the_sweep_in_batches_reports_progress_and_matches_one_batch(lenet, digit, monkeypatch):
    epsilons = torch.linspace(0, 0.3, 7)
    whole = adversarial.fgsm_sweep(lenet, digit, epsilons)
    monkeypatch.setattr(adversarial, "SWEEP_VALUES", 3 * 28 * 28)  # three images a batch
    reports: list[tuple[int, int]] = []
    batched = adversarial.fgsm_sweep(lenet, digit, epsilons, progress=lambda done, total: reports.append((done, total)))
    torch.testing.assert_close(batched, whole)
    assert reports == [(3, 7), (6, 7), (7, 7)]


@pytest.mark.parametrize("eps", [-0.1, 1.5, float("nan"), float("inf"), "0.1"])
def test_eps_out_of_range_is_refused(lenet, digit, eps):
    with pytest.raises(ValueError, match="eps must be a number between 0 and 1"):
        adversarial.fgsm(lenet, digit, eps)


def test_impossible_labels_and_steps_are_refused(lenet, digit):
    with pytest.raises(ValueError, match="10 classes"):
        adversarial.fgsm(lenet, digit, 0.1, label=12)
    with pytest.raises(ValueError, match="steps"):
        adversarial.iterative_fgsm(lenet, digit, 0.1, steps=0)


def test_flipping_eps_is_the_first_eps_that_flips(lenet, digit):
    epsilons = torch.linspace(0.01, 0.3, 30)
    found = adversarial.flipping_eps(lenet, digit[None], torch.tensor([1]), epsilons)
    sweep = adversarial.fgsm_sweep(lenet, digit, epsilons)
    flips = (sweep.argmax(1) != 1).nonzero().flatten()
    assert (math.isnan(found[0]) and len(flips) == 0) or math.isclose(float(found[0]), float(epsilons[flips[0]]))


@pytest.mark.skipif(data.shared_root() is None, reason="needs ../shared/data (real MNIST)")
def test_fgsm_flips_the_shipped_lenet5_on_90_percent_of_100_mnist_digits(lenet, tmp_path_factory):
    root = tmp_path_factory.mktemp("mnist")
    data.stage_shared(root)
    test = data.load("mnist", False, root)
    images = test.images[:100].float() / 255
    with torch.no_grad():
        predicted = lenet(images).argmax(1)  # the prediction that must flip
    epsilons = torch.arange(1, 61) * 0.005  # 0.005 .. 0.3
    found = adversarial.flipping_eps(lenet, images, predicted, epsilons)
    flipped = ~found.isnan()
    assert flipped.float().mean() >= 0.9, f"only {int(flipped.sum())} of 100 flipped at eps <= 0.3"
    print(f"median flipping eps: {float(found[flipped].median()):.3f}; flipped {int(flipped.sum())} of 100")


def test_the_iterated_sweep_matches_single_iterated_attacks_in_batches(lenet, digit, monkeypatch):
    epsilons = torch.tensor([0.0, 0.05, 0.1, 0.2])
    whole = adversarial.iterative_fgsm_sweep(lenet, digit, epsilons, steps=4)
    assert whole.shape == (4, 10)
    for eps, row in zip(epsilons.tolist(), whole):
        attack = adversarial.iterative_fgsm(lenet, digit, eps, steps=4)
        assert int(row.argmax()) == attack.after
        assert math.isclose(float(row.max()), attack.after_confidence, rel_tol=1e-4)
    monkeypatch.setattr(adversarial, "SWEEP_VALUES", 3 * 28 * 28)  # three images a batch
    reports: list[tuple[int, int]] = []
    batched = adversarial.iterative_fgsm_sweep(lenet, digit, epsilons, steps=4,
                                               progress=lambda done, total: reports.append((done, total)))
    torch.testing.assert_close(batched, whole)
    assert reports[-1] == (16, 16) and reports[:2] == [(3, 16), (6, 16)]
    # for the same eps the iterated attack leaves the attacked class no more likely than one step does
    one_step = adversarial.fgsm_sweep(lenet, digit, epsilons)
    label = int(one_step[0].argmax())
    assert (whole[1:, label] <= one_step[1:, label] + 0.05).all()


def test_a_targeted_step_goes_down_the_targets_loss(lenet, digit):
    x = digit[None].clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(F.cross_entropy(lenet(x), torch.tensor([7])), x)
    attack = adversarial.fgsm(lenet, digit, 0.1, target=7)
    torch.testing.assert_close(attack.image, (digit - 0.1 * grad[0].sign()).clamp(0, 1))
    assert attack.label == attack.before == 1 and attack.target == 7  # it still attacks the "1" it read
    with torch.no_grad():
        after = torch.softmax(lenet(attack.image[None]), 1)[0]
    assert math.isclose(attack.target_confidence, float(after[7]), rel_tol=1e-5)
    assert attack.flipped == (attack.after == 7)  # success means reading the target, not just another class


def test_the_iterated_attack_makes_the_one_read_as_chosen_classes(lenet, digit):
    for target in (4, 7):
        attack = adversarial.iterative_fgsm(lenet, digit, 0.3, target=target)
        assert attack.after == target and attack.flipped and attack.target_confidence > 0.5
    with pytest.raises(ValueError, match="there is no class 10"):
        adversarial.fgsm(lenet, digit, 0.1, target=10)


def test_targeted_sweeps_match_single_targeted_attacks(lenet, digit):
    epsilons = torch.tensor([0.0, 0.1, 0.3])
    sweep = adversarial.fgsm_sweep(lenet, digit, epsilons, target=7)
    iterated = adversarial.iterative_fgsm_sweep(lenet, digit, epsilons, target=7)
    for i, eps in enumerate(epsilons.tolist()):
        for probabilities, method in ((sweep, adversarial.fgsm), (iterated, adversarial.iterative_fgsm)):
            attack = method(lenet, digit, eps, target=7)
            assert math.isclose(float(probabilities[i, 7]), attack.target_confidence, rel_tol=1e-4, abs_tol=1e-6)
    assert iterated[-1, 7] > iterated[0, 7]  # the target gains as eps grows


def test_the_iterated_attack_reports_each_step(lenet, digit):
    seen = []
    adversarial.iterative_fgsm(lenet, digit, 0.1, steps=4, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]
