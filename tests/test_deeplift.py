"""DeepLIFT's rescale rule: its summation to delta on zoo networks, and against Captum where Captum's hooks can
follow the network."""

from collections import OrderedDict

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from explorer import attribution, deeplift, inspect, models


class _Times1(nn.Module):
    """``x * 1``: the same function, a tensor of its own between a ReLU and the max pool it feeds."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 1.0


def _hookable(model: nn.Sequential) -> nn.Sequential:
    """``model`` with a :class:`_Times1` after each ReLU that feeds a max pool: Captum hooks the tensor between
    them twice, and the ReLU then reads the pool's plain gradient, not its DeepLIFT multipliers."""
    children, layers = list(model.named_children()), OrderedDict()
    for (name, module), (_, following) in zip(children, children[1:] + [("", None)]):
        layers[name] = module
        if isinstance(module, nn.ReLU) and isinstance(following, nn.MaxPool2d):
            layers[f"{name}_apart"] = _Times1()
    return nn.Sequential(layers).eval()


@pytest.mark.parametrize("name, size", [("lenet5", 28), ("tinyvgg", 64)])
@pytest.mark.parametrize("baseline", attribution.BASELINES)
@pytest.mark.filterwarnings("ignore:Setting forward, backward hooks")  # Captum's own, about its hooks
def test_deeplift_equals_captums_where_its_hooks_follow_the_network(name, size, baseline):
    from captum.attr import DeepLift as CaptumDeepLift  # a test-only dependency, not on the GPU machine

    torch.manual_seed(0)
    model = models.build(name, pretrained=True)
    image = torch.rand(models.spec(name).channels, size, size)
    for target in (None, 2):
        ours = deeplift.deep_lift(model, image, target, baseline)
        expected = target if target is not None else int(model(image[None]).argmax())
        start = attribution.baseline_image(image, baseline)[None]
        theirs = CaptumDeepLift(_hookable(model)).attribute(image[None].clone().requires_grad_(True), start,
                                                             target=expected)[0]
        assert ours.target == expected
        torch.testing.assert_close(ours.raw, theirs, rtol=1e-4, atol=1e-6)
    assert inspect.hooks_on(model) == 0


SUMMED = [("lenet5", 28, True), ("tinyvgg", 64, True), ("resnet_small", 32, False),
          ("resnet18", 64, False),  # one ReLU module run twice in each block
          ("alexnet", 96, False)]  # max pools of 3 x 3 by 2: overlapping windows


@pytest.mark.parametrize("name, size, pretrained", SUMMED, ids=[c[0] for c in SUMMED])
def test_attributions_add_up_to_the_score_change_exactly_in_one_pass(name, size, pretrained):
    """Summation to delta, where integrated gradients only approach it with many steps."""
    torch.manual_seed(1)
    model = models.build(name, pretrained=pretrained)
    image = torch.rand(models.spec(name).channels, size, size)
    for baseline in ("black", "blurred", "noise"):
        result = deeplift.deep_lift(model, image, None, baseline)
        moved = result.score - result.baseline_score
        assert abs(float(result.raw.double().sum()) - moved) <= 1e-4 * max(1.0, abs(moved))
        assert result.slopes == ()
        with torch.no_grad():
            scores = model(torch.stack([image, attribution.baseline_image(image, baseline)])).float()
        assert result.score == pytest.approx(float(scores[0, result.target]), abs=1e-4)
        assert result.baseline_score == pytest.approx(float(scores[1, result.target]), abs=1e-4)
        ig = attribution.integrated_gradients(model, image, result.target, 8, baseline=baseline)
        assert abs(float(ig.raw.sum()) - moved) > abs(float(result.raw.sum()) - moved)


def test_the_rules_change_only_the_backward_pass_and_are_made_once_per_model():
    model = models.build("resnet18")
    ruled, slopes = deeplift.with_rules(model)
    assert deeplift.with_rules(model)[0] is ruled and slopes == ()
    images = torch.rand(2, 3, 64, 64, requires_grad=True)
    torch.testing.assert_close(ruled(images), model(images))
    (multipliers,) = torch.autograd.grad(ruled(images)[:, 1].sum(), images)
    (gradient,) = torch.autograd.grad(model(images)[:, 1].sum(), images)
    assert not torch.allclose(multipliers, gradient, rtol=1e-2)  # the two rows' changes, not the slopes
    assert inspect.hooks_on(model) == 0


def test_a_network_without_nonlinearities_gets_gradient_times_the_change():
    """Every multiplier of a linear network is its gradient: DeepLIFT is then (x - x') times the gradient, as
    integrated gradients are in one step."""
    torch.manual_seed(2)
    model = nn.Sequential(nn.Conv2d(1, 3, 3), nn.AvgPool2d(2), nn.Flatten(), nn.Linear(3 * 13 * 13, 4)).eval()
    image = torch.rand(1, 28, 28)
    for baseline in ("black", "mean"):
        ours = deeplift.deep_lift(model, image, 1, baseline)
        ig = attribution.integrated_gradients(model, image, 1, 1, baseline=baseline)
        torch.testing.assert_close(ours.raw, ig.raw, rtol=1e-4, atol=1e-6)


class _Functional(nn.Module):
    """Nonlinearities and pools called as functions and methods, not modules."""

    def __init__(self):
        super().__init__()
        self.conv, self.conv2, self.fc = nn.Conv2d(1, 4, 3), nn.Conv2d(4, 4, 3), nn.Linear(4 * 4 * 4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(torch.sigmoid(self.conv(x)), 2)
        x = F.leaky_relu(self.conv2(x), 0.2).tanh()
        return self.fc(F.max_pool2d(x, kernel_size=2).flatten(1))


def test_nonlinearities_and_pools_called_as_functions_get_their_rules_too():
    torch.manual_seed(5)
    result = deeplift.deep_lift(_Functional().eval(), torch.rand(1, 24, 24), 0)
    assert result.slopes == ()
    assert float(result.raw.sum()) == pytest.approx(result.score - result.baseline_score, abs=1e-5)


def test_nonlinearities_without_a_rule_are_named_and_cost_the_sum():
    torch.manual_seed(3)
    model = nn.Sequential(OrderedDict(conv=nn.Conv2d(1, 4, 3), act=nn.GELU(), flatten=nn.Flatten(),
                                      fc=nn.Linear(4 * 26 * 26, 3))).eval()
    result = deeplift.deep_lift(model, torch.rand(1, 28, 28), 0)
    assert result.slopes == ("act",)
    assert deeplift.deep_lift(nn.Sequential(nn.Conv2d(1, 2, 3), nn.AdaptiveMaxPool2d(1), nn.Flatten()).eval(),
                              torch.rand(1, 28, 28), 0).slopes == ("1",)
    assert abs(float(result.raw.sum()) - (result.score - result.baseline_score)) > 1e-4
    relu = nn.Sequential(OrderedDict(conv=model.conv, act=nn.ReLU(), flatten=nn.Flatten(), fc=model.fc)).eval()
    assert deeplift.deep_lift(relu, torch.rand(1, 28, 28), 0).slopes == ()


@pytest.mark.gpu
def test_deeplift_and_gradient_shap_on_the_gpu_agree_with_the_cpu():
    """Convolutions in TF32 differ in the last digits, and DeepLIFT divides by changes: the sum still holds, and the
    maps order the pixels as the CPU's do."""
    from explorer import gradient_shap, randomization

    torch.manual_seed(4)
    image, baselines = torch.rand(3, 64, 64), torch.rand(6, 3, 64, 64)
    for name in ("resnet18", "alexnet"):
        model = models.build(name)
        on_cpu = deeplift.deep_lift(model, image, 1, "blurred")
        shap_cpu = gradient_shap.gradient_shap(model, image, baselines, 1, samples=8)
        model = model.cuda()
        on_gpu = deeplift.deep_lift(model, image, 1, "blurred")
        moved = on_gpu.score - on_gpu.baseline_score
        assert abs(float(on_gpu.raw.double().sum()) - moved) <= 1e-3 * max(1.0, abs(moved))
        assert randomization.rank_correlation(on_gpu.raw.sum(0), on_cpu.raw.sum(0)) > 0.99
        shap_gpu = gradient_shap.gradient_shap(model, image, baselines, 1, samples=8)
        assert randomization.rank_correlation(shap_gpu.raw.sum(0), shap_cpu.raw.sum(0)) > 0.99
