"""DeepLIFT (Shrikumar et al. 2017) with its rescale rule: what each pixel adds to the class score's change from a
baseline image to the image, in one backward pass.

The network runs once on the image and its baseline together. Going back, each nonlinearity ``y = f(x)`` passes on
the ratio of its output's change to its input's change, ``(f(x) - f(x')) / (x - x')``, in place of its slope at
``x`` (where the input did not change, its slope); a max pool passes on its output's change to the places its
maxima came from, over their change. Linear layers (convolutions, batch norm in eval mode, sums, averages) pass
changes on exactly, so the attributions ``(x - x') * multiplier`` add up to ``S(x) - S(x')`` ("summation to delta"),
with no steps to take, where integrated gradients only approach it.

The values equal Captum's ``DeepLift`` wherever Captum's hooks can follow the network: each nonlinearity a module
that runs once (ResNet's blocks run one ReLU twice; GoogLeNet calls ``F.relu``, which has no hook); no ReLU feeding a
max pool directly (Captum hooks the one tensor between them twice, and the ReLU then reads the pool's plain
gradient); max pools whose windows do not overlap (Captum spreads an overlapping pool's change with ``max_unpool``,
which keeps one of two values that land on one pixel). Each of these costs Captum part of the sum; here the rules
are written into a traced copy of the network, call by call, and the sum holds.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import fx, nn

from explorer import attribution, extraction, inspect

EPS = 1e-10  # an input change smaller than this takes the nonlinearity's slope: Captum's ``eps``
RESCALED = (nn.ReLU, nn.ELU, nn.LeakyReLU, nn.Sigmoid, nn.Tanh, nn.Softplus)  # Captum's list, the rescale rule


@dataclass(frozen=True, eq=False)
class DeepLift(attribution.Attribution):
    """DeepLIFT's attributions (``raw``: (C, H, W)) and the baseline's score, for the summation check."""

    baseline_score: float  # S(x'): the attributions add up to ``score - baseline_score``
    baseline: str = "black"  # one of attribution.BASELINES
    slopes: tuple[str, ...] = ()  # nonlinearities with no DeepLIFT rule here, passed back by their slope


def deep_lift(model: nn.Module, image: torch.Tensor, target: int | None = None, baseline: str = "black") -> DeepLift:
    """DeepLIFT's rescale rule for class ``target`` (default: the predicted class) of ``image`` (C, H, W) in [0, 1],
    from ``baseline`` (see :func:`attribution.baseline_image`)."""
    ruled, slopes = with_rules(model)
    x = image[None].detach().to(inspect.device_of(model))
    start = attribution.baseline_image(x[0], baseline)[None]
    pair = torch.cat([x, start]).requires_grad_(True)  # each rule reads its input's change between the two rows
    scores = ruled(pair)
    target = attribution.chosen_class(scores[:1].detach(), target)
    (grad,) = torch.autograd.grad(scores[:, target].sum(), pair)
    raw = ((x - start) * grad[:1])[0].detach()
    logits = scores.detach().float()
    return DeepLift(attribution.signed_scaled(raw.sum(0)).cpu(), raw.cpu(), target, float(logits[0, target]),
                    torch.softmax(logits[0], 0).cpu(), float(logits[1, target]), baseline, slopes)


def _halves_apart(values: torch.Tensor) -> torch.Tensor:
    """The change from the second half of a batch (the baselines) to the first (the images), for both halves."""
    image, reference = values.chunk(2)
    return torch.cat(2 * [image - reference])


def _slope(fn: nn.Module, x: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    """``grad`` passed back through ``fn`` at ``x`` as the plain gradient does."""
    with torch.enable_grad():
        leaf = x.detach().requires_grad_(True)
        (back,) = torch.autograd.grad(fn(leaf), leaf, grad)
    return back


def _pooled_change(pool: nn.Module, x: torch.Tensor, out: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    """A max pool's output change, times ``grad``, sent to where its maxima came from (Captum's rule: the part up to
    the larger of the two maxima to the image's maximum, the rest to the baseline's), by the pool's own gradient,
    which adds up what overlapping windows send to one pixel; for both halves."""
    image_out, reference_out = out.chunk(2)
    top = torch.maximum(image_out, reference_out)
    spread = _slope(pool, x, grad * torch.cat([top - reference_out, image_out - top])).chunk(2)
    return torch.cat(2 * [spread[0] + spread[1]])


class _Rule(torch.autograd.Function):
    """``inner`` forward; backward, DeepLIFT's multipliers: a nonlinearity's output change over its input's (the
    rescale rule), or a max pool's change sent to its maxima over theirs. Where the input did not change, the
    slope (a max pool's routed by the image's maxima for both halves, as Captum: the halves keep one multiplier,
    where each half's own maxima would send the baseline's elsewhere)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, inner: nn.Module) -> torch.Tensor:  # noqa: ANN001 - autograd's context
        out = inner(x)
        ctx.save_for_backward(x, out)
        ctx.inner = inner
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # noqa: ANN001
        x, out = ctx.saved_tensors
        change = _halves_apart(x)
        if isinstance(ctx.inner, nn.MaxPool2d):
            moved = _pooled_change(ctx.inner, x, out, grad)
            slope = torch.cat(2 * [_slope(ctx.inner, x, grad).chunk(2)[0]])
        else:
            moved, slope = grad * _halves_apart(out), _slope(ctx.inner, x, grad)
        still = change.abs() < EPS
        return torch.where(still, slope, moved / torch.where(still, 1.0, change)), None


class _Ruled(nn.Module):
    """A nonlinearity or max pool under its DeepLIFT rule."""

    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _Rule.apply(x, self.inner)


_RULED = extraction.PerModel()
_FUNCTIONAL = {F.relu: nn.ReLU, torch.relu: nn.ReLU, torch.sigmoid: nn.Sigmoid, F.sigmoid: nn.Sigmoid,
               torch.tanh: nn.Tanh, F.tanh: nn.Tanh, F.elu: nn.ELU, F.leaky_relu: nn.LeakyReLU}
_METHODS = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}  # x.relu()...
_SLOPE_ONLY = (nn.GELU, nn.SiLU, nn.ReLU6, nn.Hardswish, nn.Hardsigmoid, nn.Mish, nn.Softmax, nn.AdaptiveMaxPool2d,
               nn.MaxPool1d, nn.MaxPool3d)
_SLOPE_ONLY_FUNCTIONS = (F.gelu, F.silu, F.relu6, F.hardswish, F.hardsigmoid, F.mish, F.softmax, torch.softmax,
                         F.adaptive_max_pool2d, torch.max, torch.amax)


def _rule_for(node: fx.Node, module: nn.Module | None) -> nn.Module | None:
    """The nonlinearity or max pool ``node`` runs, as a module to run under a DeepLIFT rule (its input the node's
    first argument); None for a node with no rule."""
    if isinstance(module, (*RESCALED, nn.MaxPool2d)) and not getattr(module, "return_indices", False):
        return module
    if node.op == "call_function" and node.target in _FUNCTIONAL:
        made = _FUNCTIONAL[node.target]
        if made in (nn.ELU, nn.LeakyReLU):  # their one setting, alpha or negative_slope, as the call gives it
            return made(*node.args[1:2], **{k: v for k, v in node.kwargs.items() if k != "inplace"})
        return made()
    if node.op == "call_function" and node.target is F.max_pool2d and not node.kwargs.get("return_indices"):
        return nn.MaxPool2d(*node.args[1:], **node.kwargs)
    if node.op == "call_method" and node.target in _METHODS:
        return _METHODS[node.target]()
    return None


def with_rules(model: nn.Module) -> tuple[nn.Module, tuple[str, ...]]:
    """``model`` whose nonlinearities and max pools pass back DeepLIFT's multipliers (the forward pass and weights
    are the model's), made once per model (and state); and the nonlinearities it has no rule for (passed back by
    their slope: the attributions then miss part of the score's change)."""
    def make() -> tuple[nn.Module, tuple[str, ...]]:
        output = extraction.node_names(model)[-1]
        graph_module = extraction.extractor(model, [output])
        slopes = []
        for index, node in enumerate(list(graph_module.graph.nodes)):
            module = graph_module.get_submodule(node.target) if node.op == "call_module" else None
            inner = _rule_for(node, module)
            if inner is None:
                if isinstance(module, _SLOPE_ONLY) or (node.op == "call_function"
                                                       and node.target in _SLOPE_ONLY_FUNCTIONS):
                    slopes.append(node.name if module is None else node.target)
                continue
            name = f"deeplift_{index}"
            graph_module.add_submodule(name, _Ruled(inner))
            node.op, node.target, node.args, node.kwargs = "call_module", name, node.args[:1], {}
        graph_module.graph.eliminate_dead_code()
        graph_module.recompile()
        return attribution.Scores(graph_module, output).eval(), tuple(slopes)

    return _RULED.get(model, None, make)
