"""Layer-wise relevance propagation (Bach et al. 2015), with the rules of Montavon et al. 2019: the class score
handed back down the network, each layer sharing out the relevance its outputs received among its inputs in
proportion to what each input contributed, until it reaches the pixels.

Each convolution, linear layer (and batch norm) shares out by a rule:

- LRP-0 (``zero``): input ``i``'s share of output ``j`` is ``a_i w_ij / z_j``, its part of the output. On a ReLU
  network this is the gradient times the input (Ancona et al. 2018).
- LRP-epsilon (``epsilon``): the same over ``z_j + eps``. Outputs near 0 keep part of their relevance instead of
  sharing out noise; ``eps`` here is ``epsilon`` times the spread (std) of the layer's outputs, as Montavon et al.
  took 0.25 std for VGG-16's middle layers.
- LRP-gamma: positive contributions weigh ``1 + GAMMA`` times, which favours the evidence for the class (zennit's
  form, which treats an output below 0 by its negative contributions: Andeol et al. 2021).
- z-box at the pixels: a pixel's share also counts how far it is from the darkest and lightest it could be.

``composite`` is Montavon et al.'s recipe as zennit's ``EpsilonGammaBox`` writes it: z-box at the first layer,
gamma at the other convolutions, LRP-0 above. Batch norms are first folded into the convolutions (or linear layers)
before them. One that follows something else (a ReLU) shares out as a layer of its own, by LRP-0 (or epsilon), as
Captum treats a batch norm: zennit's composites pass relevance through it unchanged, which the gradient trick below
cannot do where its input is 0 and its output is not.

Everything else passes relevance on by the gradient: written as the gradient trick (each layer's output in the
forward pass, its rule's shares in the backward), the relevance of any tensor ``a`` is ``a`` times its gradient,
which a max pool sends to its maximum, an average pool and a sum (ResNet's skips) share in proportion, and a
ReLU passes on. Other elementwise nonlinearities (tanh, GELU...) pass relevance on unchanged, as zennit's
``Pass``. The values equal zennit's with the same rules (its ``EpsilonGammaBox`` for the composite, its ResNet
canonizer on ResNet-18): the tests compare them.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import fx, nn
from torch.fx.experimental import optimization

from explorer import attribution, extraction, inspect
from explorer.networks import Normalize, Scramble

RULES = ("composite", "epsilon", "zero")
GAMMA = 0.25  # how much more a positive contribution weighs under the gamma rule: Montavon et al.'s, zennit's
STABILIZER = 1e-6  # keeps each share's denominator off 0: zennit's default
_SHARED = (nn.Conv2d, nn.Linear, nn.BatchNorm1d, nn.BatchNorm2d)  # a batch norm left unfolded: a layer of its own
_PASSED = (nn.Tanh, nn.Sigmoid, nn.ELU, nn.LeakyReLU, nn.GELU, nn.SiLU, nn.ReLU6, nn.Softplus, nn.Hardswish,
           nn.Hardtanh, nn.Mish, nn.SELU, nn.Hardsigmoid)
_PASSED_FUNCTIONS = (torch.tanh, F.tanh, torch.sigmoid, F.sigmoid, F.elu, F.leaky_relu, F.gelu, F.silu, F.relu6,
                     F.softplus, F.hardswish, F.hardtanh, F.mish, F.selu, F.hardsigmoid)
_PASSED_METHODS = ("tanh", "sigmoid")


@dataclass(frozen=True, eq=False)
class Lrp(attribution.Attribution):
    """The pixels' relevance (``raw``: (C, H, W)) and how much relevance reached each layer on the way down."""

    rule: str  # one of RULES
    epsilon: float  # LRP-epsilon's eps, in std of each layer's outputs (the ``epsilon`` rule only)
    layers: tuple[tuple[str, float], ...]  # (layer, the relevance its inputs received), in forward order
    chain: bool = True  # each layer reads the one before only: each receives all the relevance that gets by

    @property
    def kept(self) -> float:
        """The relevance that reached the pixels: the score's, less what biases and stabilizers took."""
        return float(self.raw.sum())


class _Recorder:
    """The one call being explained: its rule, and each layer's inputs as the forward pass met them; and whether
    the network is a chain."""

    def __init__(self, chain: bool) -> None:
        self.rule, self.epsilon, self.chain = "zero", 0.0, chain
        self.seen: list[tuple[str, tuple[torch.Tensor, ...], Callable | None]] = []


def _stabilized(values: torch.Tensor, eps: float | torch.Tensor) -> torch.Tensor:
    """``values`` moved ``eps`` away from 0, a 0 upwards (zennit's and Captum's stabilizer)."""
    return values + torch.where(values >= 0, eps, -eps)


def _shared_by(z: torch.Tensor, shares: torch.Tensor, eps: float | torch.Tensor) -> torch.Tensor:
    """``z`` forward; backward, the gradient through ``shares`` times ``z`` over ``shares`` (stabilized): an
    input's relevance (input times gradient) is then its part of ``shares`` times the output's relevance."""
    return z.detach() + (shares - shares.detach()) * (z.detach() / _stabilized(shares.detach(), eps))


def _with(layer: nn.Module, x: torch.Tensor, weights: Callable[[torch.Tensor], torch.Tensor],
          bias: bool = True) -> torch.Tensor:
    """``layer`` on ``x`` with ``weights`` applied to its weight (and bias, or no bias)."""
    params = {"weight": weights(layer.weight)}
    if getattr(layer, "bias", None) is not None:
        params["bias"] = weights(layer.bias) if bias else torch.zeros_like(layer.bias)
    return torch.func.functional_call(layer, params, (x,))


class _Shared(nn.Module):
    """A convolution, linear layer or unfolded batch norm that shares its outputs' relevance out by the call's
    rule."""

    def __init__(self, layer: nn.Module, name: str, bounds: tuple[torch.Tensor, torch.Tensor] | None,
                 recorder: _Recorder):
        super().__init__()
        self.layer, self.name, self.bounds, self.recorder = layer, name, bounds, recorder

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rule, z = self.recorder.rule, self.layer(x)
        if rule == "composite" and self.bounds is not None:
            low, high = (b.to(x).expand_as(x).clone().requires_grad_(True) for b in self.bounds)
            self.recorder.seen.append((self.name, (x, low, high), None))
            box = z - _with(self.layer, low, lambda w: w.clamp(min=0)) - _with(self.layer, high,
                                                                             lambda w: w.clamp(max=0))
            return _shared_by(z, box, STABILIZER)
        self.recorder.seen.append((self.name, (x,), None))
        if rule == "composite" and isinstance(self.layer, nn.Conv2d):
            return _shared_by(z, _gamma(self.layer, x, z), STABILIZER)
        eps = STABILIZER + (self.recorder.epsilon * z.detach().std() if rule == "epsilon" else 0.0)
        return _shared_by(z, z, eps)


def _gamma(layer: nn.Module, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """The gamma rule's shares: for an output above 0, positive contributions (positive inputs by positive
    weights, negative by negative) weigh 1 + GAMMA; for one below 0, the negative contributions do."""
    def up(w: torch.Tensor) -> torch.Tensor:
        return w + GAMMA * w.clamp(min=0)

    def down(w: torch.Tensor) -> torch.Tensor:
        return w + GAMMA * w.clamp(max=0)

    above, below = x.clamp(min=0), x.clamp(max=0)
    positive, negative = _with(layer, above, up), _with(layer, above, down)
    if bool((x < 0).any()):  # after a ReLU or a max pool of ReLUs, nothing is below 0: half the work
        positive, negative = positive + _with(layer, below, down, bias=False), negative + _with(layer, below, up,
                                                                                                  bias=False)
    return torch.where(z > 0, positive, negative)


class _Passed(nn.Module):
    """An elementwise nonlinearity that passes its output's relevance on to its input unchanged."""

    def __init__(self, fn: Callable[[torch.Tensor], torch.Tensor]):
        super().__init__()
        self.fn = fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _shared_by(self.fn(x), x, STABILIZER)


class _Seen(nn.Module):
    """The input's normalization or scrambling, its output recorded: the pixels' relevance is read there, and
    ``back`` puts it back in the image's places (a scrambled input's are others)."""

    def __init__(self, layer: nn.Module, recorder: _Recorder, back: Callable[[torch.Tensor], torch.Tensor] | None):
        super().__init__()
        self.layer, self.recorder, self.back = layer, recorder, back

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.layer(x)
        self.recorder.seen.append(("", (y,), self.back))
        return y


def _unscrambled(scramble: Scramble, before: Callable[[torch.Tensor], torch.Tensor] | None,
                 values: torch.Tensor) -> torch.Tensor:
    """``values`` (N, C, H, W) in a scrambled input's places, put back in the image's (and ``before``'s)."""
    back = torch.empty_like(values.flatten(-2))
    back[..., scramble.order] = values.flatten(-2)
    back = back.view_as(values)
    return before(back) if before is not None else back


def _passed_fn(node: fx.Node, module: nn.Module | None) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """The elementwise nonlinearity ``node`` runs, on its first argument; None where it runs another."""
    rest = {k: v for k, v in node.kwargs.items() if k != "inplace"}
    if isinstance(module, _PASSED):
        return module
    if node.op == "call_function" and node.target in _PASSED_FUNCTIONS:
        return functools.partial(_call_with, node.target, node.args[1:], rest)
    if node.op == "call_method" and node.target in _PASSED_METHODS:
        return functools.partial(_call_with, getattr(torch, node.target), (), {})
    return None


def _call_with(fn: Callable[..., torch.Tensor], args: tuple, kwargs: dict, x: torch.Tensor) -> torch.Tensor:
    return fn(x, *args, **kwargs)


_RULED = extraction.PerModel()
_LOCK = threading.Lock()  # one explanation at a time: the copy's layers record into one recorder


def with_rules(model: nn.Module) -> tuple[nn.Module, _Recorder]:
    """``model`` whose layers share relevance out by a rule (its batch norms folded into the convolutions before
    them, the forward pass the model's), made once per model and state (moved or changed, the folded weights are
    made again); and its recorder."""
    return _RULED.get(model, None, lambda: _ruled(model))


def _ruled(model: nn.Module) -> tuple[nn.Module, _Recorder]:
    output = extraction.node_names(model)[-1]
    graph_module = optimization.fuse(extraction.extractor(model, [output]).eval(), inplace=True, no_trace=True)
    recorder = _Recorder(all(len(node.users) <= 1 for node in graph_module.graph.nodes))
    pixels = next(node for node in graph_module.graph.nodes if node.op == "placeholder")
    bounds = torch.zeros(1), torch.ones(1)  # a pixel's lowest and highest value where the first layer reads it
    back = None  # from the places where the first layer reads the pixels to the image's
    for index, node in enumerate(list(graph_module.graph.nodes)):
        module = graph_module.get_submodule(node.target) if node.op == "call_module" else None
        name = f"lrp_{index}"
        if isinstance(module, (Normalize, Scramble)) and node.args[0] is pixels:  # still the pixels, moved or scaled
            if isinstance(module, Scramble):
                back = functools.partial(_unscrambled, module, back)
            else:
                bounds = (-module.mean / module.std, (1 - module.mean) / module.std)
            graph_module.add_submodule(name, _Seen(module, recorder, back))
            pixels = node
        elif isinstance(module, _SHARED):
            graph_module.add_submodule(name, _Shared(module, str(node.target),
                                                     bounds if node.args[0] is pixels else None, recorder))
        elif (fn := _passed_fn(node, module)) is not None:
            graph_module.add_submodule(name, _Passed(fn))
        else:
            continue
        node.op, node.target, node.args, node.kwargs = "call_module", name, node.args[:1], {}
    graph_module.graph.eliminate_dead_code()
    graph_module.recompile()
    return attribution.Scores(graph_module, output).eval(), recorder


def lrp(model: nn.Module, image: torch.Tensor, target: int | None = None, rule: str = "composite",
        epsilon: float = 0.25) -> Lrp:
    """The relevance of each pixel of ``image`` (C, H, W) in [0, 1] for class ``target`` (default: the predicted
    class) by ``rule`` (one of RULES; ``epsilon``, in std of each layer's outputs, for the ``epsilon`` rule)."""
    if rule not in RULES:
        raise ValueError(f"unknown rule {rule!r}; choose one of {', '.join(RULES)}")
    ruled, recorder = with_rules(model)
    x = image[None].detach().clone().to(inspect.device_of(model)).requires_grad_(True)
    with _LOCK, torch.enable_grad():
        recorder.rule, recorder.epsilon, recorder.seen = rule, epsilon, []
        try:
            logits = ruled(x)
            seen = recorder.seen
        finally:
            recorder.seen = []
    target = attribution.chosen_class(logits.detach(), target)
    looked = [entry for entry in seen if not entry[0]]  # the last: where the first layer reads the pixels
    at_pixels, back = looked[-1][1:] if looked else ((x,), None)
    layers = [entry[:2] for entry in seen if entry[0]]
    tensors = [*at_pixels, *(t for _, inputs in layers for t in inputs)]
    grads = torch.autograd.grad(logits[0, target], tensors, allow_unused=True)
    relevance = [t.detach() * (g if g is not None else torch.zeros_like(t)) for t, g in zip(tensors, grads)]
    pixels, rest, totals = relevance[0], relevance[1:], []
    for name, inputs in layers:
        mine, rest = rest[:len(inputs)], rest[len(inputs):]
        totals.append((name, float(sum(r.sum() for r in mine))))
        if len(inputs) == 3:  # the box rule's bounds: their shares belong to the pixels the layer reads
            pixels = pixels + mine[1] + mine[2]
    raw = (back(pixels) if back is not None else pixels)[0].detach()
    scores = logits.detach().float()
    return Lrp(attribution.signed_scaled(raw.sum(0)).cpu(), raw.cpu(), target, float(scores[0, target]),
               torch.softmax(scores[0], 0).cpu(), rule=rule, epsilon=epsilon if rule == "epsilon" else 0.0,
               layers=tuple(totals), chain=recorder.chain)
