"""Layer-wise relevance propagation: its three rules against zennit's, LRP-0 against the gradient times the input,
and the conservation of relevance layer by layer."""

from collections import OrderedDict

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from explorer import inspect, lrp, models


def _zennit(model: nn.Sequential, image: torch.Tensor, target: int, rule: str, epsilon: float = 0.25,
            body: nn.Module | None = None) -> torch.Tensor:
    """zennit's relevance at the model's normalized input (after its ``Normalize``, where the rules start), for
    ``rule`` as :mod:`explorer.lrp` names it; ``body``, another module running the model's layers after it."""
    from zennit.attribution import Gradient  # a test-only dependency, not on the GPU machine
    from zennit.composites import EpsilonGammaBox, LayerMapComposite
    from zennit.rules import Epsilon, Pass
    from zennit.torchvision import ResNetCanonizer
    from zennit.types import Activation, Convolution

    normalize, body = model[0], body if body is not None else model[1:]
    if rule == "composite":
        composite = EpsilonGammaBox(low=(-normalize.mean / normalize.std)[None],
                                    high=((1 - normalize.mean) / normalize.std)[None],
                                    canonizers=[ResNetCanonizer()] if body is not model[1:] else None)
    else:
        def stabilized(z: torch.Tensor) -> torch.Tensor:
            eps = lrp.STABILIZER + (epsilon * z.std() if rule == "epsilon" else 0.0)
            return z + ((z == 0) + z.sign()) * eps

        composite = LayerMapComposite([(Activation, Pass()), (Convolution, Epsilon(stabilized)),
                                       (nn.Linear, Epsilon(stabilized))])
    x = normalize(image[None]).detach().requires_grad_(True)
    with torch.no_grad():
        score = float(body(x)[0, target])
    with Gradient(model=body, composite=composite) as attributor:
        _, relevance = attributor(x, lambda out: torch.eye(out.shape[1])[[target]] * score)
    return relevance[0]


@pytest.mark.parametrize("name, size", [("lenet5", 28), ("tinyvgg", 64)])
@pytest.mark.parametrize("rule", lrp.RULES)
def test_each_rule_equals_zennits(name, size, rule):
    torch.manual_seed(0)
    model = models.build(name, pretrained=True)
    image = torch.rand(models.spec(name).channels, size, size)
    for target in (None, 2):
        ours = lrp.lrp(model, image, target, rule)
        expected = target if target is not None else int(model(image[None]).argmax())
        assert ours.target == expected and ours.rule == rule
        theirs = _zennit(model, image, expected, rule)
        torch.testing.assert_close(ours.raw, theirs, rtol=1e-4, atol=1e-6)
    assert inspect.hooks_on(model) == 0


def test_the_gamma_rule_on_negative_inputs_equals_zennits_generalized_gamma():
    """A convolution reading another's outputs directly gets inputs below 0: each sign weighs its own way."""
    from explorer.networks import Normalize

    torch.manual_seed(7)
    model = nn.Sequential(OrderedDict(normalize=Normalize((0.5,), (0.25,)), conv1=nn.Conv2d(1, 4, 3),
                                      conv2=nn.Conv2d(4, 4, 3), relu=nn.ReLU(), flatten=nn.Flatten(),
                                      fc=nn.Linear(4 * 24 * 24, 3))).eval()
    image = torch.rand(1, 28, 28)
    ours = lrp.lrp(model, image, 1, "composite")
    torch.testing.assert_close(ours.raw, _zennit(model, image, 1, "composite"), rtol=1e-4, atol=1e-6)


def test_the_composite_on_resnet18_equals_zennits_with_its_resnet_canonizer():
    """Batch norms folded into the convolutions, the skips' sums shared in proportion: as zennit's canonizers."""
    import torchvision

    torch.manual_seed(1)
    model = models.build("resnet18", seed=0)
    twin = torchvision.models.resnet18().eval()
    twin.load_state_dict(model.state_dict())
    image = torch.rand(3, 64, 64)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    ours = lrp.lrp(model, image, None, "composite")
    theirs = _zennit(model, image, ours.target, "composite", body=twin)
    torch.testing.assert_close(ours.raw, theirs, rtol=1e-3, atol=1e-3 * float(theirs.abs().max()))
    for key, value in model.state_dict().items():  # folding the batch norms changed a copy, not the model
        torch.testing.assert_close(value, before[key], rtol=0, atol=0)


def test_a_batch_norm_after_a_relu_is_a_layer_of_its_own():
    """One after a convolution is folded into it (zennit's canonizer); one after a ReLU shares out by LRP-0, as
    Captum's default rule for a batch norm (zennit's composites pass relevance through it instead)."""
    from zennit.canonizers import SequentialMergeBatchNorm

    from explorer.networks import Normalize

    torch.manual_seed(8)
    model = nn.Sequential(OrderedDict(normalize=Normalize((0.5,), (0.25,)), conv1=nn.Conv2d(1, 4, 3),
                                      norm1=nn.BatchNorm2d(4), relu1=nn.ReLU(), norm2=nn.BatchNorm2d(4),
                                      conv2=nn.Conv2d(4, 4, 3), relu2=nn.ReLU(), flatten=nn.Flatten(),
                                      fc=nn.Linear(4 * 24 * 24, 3)))
    for norm in (model.norm1, model.norm2):  # statistics of their own, not 0 and 1
        norm.running_mean.uniform_(-0.5, 0.5)
        norm.running_var.uniform_(0.5, 2.0)
        norm.weight.data.uniform_(0.5, 1.5)
        norm.bias.data.uniform_(-0.2, 0.2)
    model.eval()
    image = torch.rand(1, 28, 28)
    ours = lrp.lrp(model, image, 1, "composite")

    from zennit.attribution import Gradient
    from zennit.composites import EpsilonGammaBox
    from zennit.rules import Epsilon
    from zennit.types import BatchNorm

    x = model.normalize(image[None]).detach().requires_grad_(True)
    composite = EpsilonGammaBox(low=torch.full((1, 1, 1, 1), -2.0), high=torch.full((1, 1, 1, 1), 2.0),
                                canonizers=[SequentialMergeBatchNorm()], layer_map=[(BatchNorm, Epsilon())])
    with Gradient(model=model[1:], composite=composite) as attributor:
        _, theirs = attributor(x, lambda out: torch.eye(3)[[1]] * ours.score)
    torch.testing.assert_close(ours.raw, theirs[0], rtol=1e-4, atol=1e-5 * float(theirs.abs().max()))


def test_a_scrambled_input_gets_the_box_rule_and_its_relevance_goes_back_to_the_pixels_own_places():
    from explorer.networks import Normalize, Scramble

    torch.manual_seed(9)
    layers = OrderedDict(conv=nn.Conv2d(1, 4, 3), relu=nn.ReLU(), flatten=nn.Flatten(), fc=nn.Linear(4 * 26 * 26, 3))
    plain = nn.Sequential(OrderedDict(normalize=Normalize((0.5,), (0.25,)), **layers)).eval()
    scrambled = nn.Sequential(OrderedDict(normalize=plain.normalize, scramble=Scramble(28, 28, seed=1),
                                          **layers)).eval()
    image = torch.rand(1, 28, 28)
    ours = lrp.lrp(scrambled, image, 2, "composite")
    moved = scrambled.scramble(image[None])[0]  # the plain network on the scrambled image: the same numbers
    reference = lrp.lrp(plain, moved, 2, "composite").raw
    torch.testing.assert_close(scrambled.scramble(ours.raw[None])[0], reference, rtol=1e-5, atol=1e-7)
    assert ours.layers[0] == ("conv", pytest.approx(ours.kept, rel=1e-5))


def test_a_model_moved_or_given_other_weights_is_explained_with_them():
    """The rules' copy folds batch norms into copies of the weights: made again when the model changes."""
    model = models.build("resnet_small", seed=0)
    image = torch.rand(3, 32, 32)
    first = lrp.lrp(model, image, 1, "composite")
    model.load_state_dict(models.build("resnet_small", seed=1).state_dict())
    again = lrp.lrp(model, image, 1, "composite")
    fresh = lrp.lrp(models.build("resnet_small", seed=1), image, 1, "composite")
    torch.testing.assert_close(again.raw, fresh.raw)
    assert not torch.allclose(again.raw, first.raw)
    doubled = lrp.lrp(model.double(), image.double(), 1, "composite")
    torch.testing.assert_close(doubled.raw.float(), fresh.raw, rtol=1e-3, atol=1e-4 * float(fresh.raw.abs().max()))


def test_lrp_zero_on_a_relu_network_is_the_gradient_times_the_input():
    """Ancona et al. 2018: where each layer shares out its exact output, the shares are the gradient's."""
    torch.manual_seed(2)
    model = models.build("lenet5", pretrained=True)
    image = torch.rand(1, 28, 28)
    ours = lrp.lrp(model, image, 3, "zero")
    x = model[0](image[None]).detach().requires_grad_(True)
    (gradient,) = torch.autograd.grad(model[1:](x)[0, 3], x)
    expected = (x * gradient)[0].detach()  # the stabilizer moves outputs within 1e-6 of 0 a little
    torch.testing.assert_close(ours.raw, expected, rtol=1e-3, atol=1e-3 * float(expected.abs().max()))


class _Skip(nn.Module):
    """A bias-free network with a skip, an average pool and a tanh: every layer shares out exactly its output."""

    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(1, 4, 3, padding=1, bias=False), nn.Conv2d(4, 4, 3, padding=1, bias=False)
        self.fc = nn.Linear(4 * 7 * 7, 3, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.conv1(x))
        y = torch.tanh(self.conv2(y)) + y
        return self.fc(F.avg_pool2d(F.max_pool2d(y, 2), 2).flatten(1))


@pytest.mark.parametrize("rule", ["zero", "composite"])
def test_without_biases_the_score_is_conserved_layer_by_layer(rule):
    """Montavon et al.'s conservation: each layer's inputs receive the score, to the stabilizer's rounding; a tanh
    passes its relevance on whole (its gradient would not)."""
    torch.manual_seed(3)
    model = _Skip().eval()
    image = torch.rand(1, 28, 28)
    result = lrp.lrp(model, image, 1, rule)
    assert [name for name, _ in result.layers] == ["conv1", "conv2", "fc"]
    for _, total in result.layers:
        assert total == pytest.approx(result.score, rel=1e-3)
    assert result.kept == pytest.approx(result.score, rel=1e-3)


def test_biases_and_epsilon_take_part_of_the_relevance():
    """With biases, the pixels receive part of the score only; a larger epsilon keeps more of it in the layers."""
    torch.manual_seed(4)
    model = models.build("lenet5", pretrained=True)
    image = torch.rand(1, 28, 28)
    exact, small, large = (lrp.lrp(model, image, 0, "epsilon", eps) for eps in (0.0, 0.1, 1.0))
    assert exact.kept == pytest.approx(lrp.lrp(model, image, 0, "zero").kept, rel=1e-4)
    assert abs(large.kept) < abs(small.kept) < abs(exact.kept)
    bias = float(model.fc5.bias[exact.target].detach())  # the last layer's inputs get its output less its bias
    assert exact.layers[-1] == ("fc5", pytest.approx(exact.score - bias, rel=1e-4))
    assert exact.layers[0][1] == pytest.approx(exact.kept, rel=1e-5)  # what conv1's inputs got: the pixels'


def test_functional_nonlinearities_are_passed_and_the_first_layer_reads_raw_pixels_between_0_and_1():
    """No normalization: the box rule's bounds are 0 and 1, and every share lands on the pixels."""
    torch.manual_seed(5)
    model = nn.Sequential(OrderedDict(conv=nn.Conv2d(1, 3, 3, bias=False), act=nn.GELU(), flatten=nn.Flatten(),
                                      fc=nn.Linear(3 * 26 * 26, 2, bias=False))).eval()
    result = lrp.lrp(model, torch.rand(1, 28, 28), 0, "composite")
    assert result.kept == pytest.approx(result.score, rel=1e-3)
    assert result.raw.shape == (1, 28, 28)


def test_an_unknown_rule_is_refused():
    with pytest.raises(ValueError, match="choose one of composite, epsilon, zero"):
        lrp.lrp(models.build("lenet5"), torch.rand(1, 28, 28), None, "alpha-beta")


@pytest.mark.gpu
def test_lrp_on_the_gpu_agrees_with_the_cpu():
    from explorer import randomization

    torch.manual_seed(6)
    image = torch.rand(3, 64, 64)
    for name in ("resnet18", "vgg16"):
        model = models.build(name, seed=0)
        on_cpu = lrp.lrp(model, image, 1, "composite")
        on_gpu = lrp.lrp(model.cuda(), image, 1, "composite")
        assert on_gpu.kept == pytest.approx(on_cpu.kept, rel=1e-2, abs=1e-4)
        assert randomization.rank_correlation(on_gpu.raw.sum(0), on_cpu.raw.sum(0)) > 0.99
