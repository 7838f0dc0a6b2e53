"""Which pixels a prediction rests on: saliency, occlusion and integrated gradients (the class activation maps,
Grad-CAM and its variants, are :mod:`explorer.cam`'s).

- Saliency (Simonyan et al. 2014): ``M(i, j) = max_c |d S_k / d x[c, i, j]|``, the gradient of the
  class score ``S_k`` (before the softmax) with respect to each pixel, its largest magnitude over
  the colour channels. Pixels where a small change moves the score most.
- SmoothGrad (Smilkov et al. 2017): the same map averaged over noisy copies of the image (or, as Captum's
  NoiseTunnel offers, the mean of its squares or its variance, VarGrad).
- Guided backprop (Springenberg et al. 2015): either of them through :func:`guided`, whose ReLUs pass back only
  gradients above zero.
- Occlusion (Zeiler & Fergus 2014): cover a square of the image with a plain colour, slide it by a
  stride, and record how much the class score drops at each position; each pixel gets the mean drop
  of the squares that covered it. Asks the network directly, with no gradient. Signed: a square whose covering
  raises the score held evidence against the class.
- Integrated gradients (Sundararajan et al. 2017): ``IG_i = (x_i - x'_i) * mean_k dS/dx_i`` at the
  points ``x' + k/m (x - x')``, k = 1..m, from a baseline ``x'`` (black, the image blurred, its mean colour or
  noise). Its values add up to
  ``S(x) - S(x')`` ("completeness"), which the page checks. Signed: a pixel that lowers the score counts against.

All go through ``torchvision``'s feature extraction, plain forward passes and ``torch.autograd.grad``
(no hooks on the model). The raw values equal Captum's ``Saliency(abs=True)``, ``Occlusion`` and
``IntegratedGradients(method="riemann_right")`` (the tests check); the ``heat`` map shown on the page is scaled to
[0, 1] by its maximum, or to [-1, 1] by its largest magnitude for the signed maps (occlusion, integrated gradients
summed over the colour channels). :func:`clipped` draws a map as Captum's ``visualize_image_attr`` does by default:
its largest values, 2% of its total, at full colour.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
import torchvision  # noqa: F401  (whole, before a part of it: see explorer/__init__.py)
from torch import fx, nn
from torchvision.transforms.v2 import functional as TF

from explorer import extraction, inspect

@dataclass(frozen=True, eq=False)
class Attribution:
    """A map over the input of how much each pixel matters for ``target``."""

    heat: torch.Tensor  # (H, W) in [0, 1] at the input's size ([-1, 1] where signed): what the page overlays
    raw: torch.Tensor  # saliency: the gradient (C, H, W); a class activation map: at its layer's size (h, w)
    target: int  # the class explained
    score: float  # its score before the softmax
    probabilities: torch.Tensor  # (K,) the model's softmax for the image
    method: str = field(default="", kw_only=True)  # a class activation map's: a key of cam.METHODS


def saliency(model: nn.Module, image: torch.Tensor, target: int | None = None) -> Attribution:
    """Simonyan's saliency for class ``target`` (default: the predicted class) of ``image`` (C, H, W) in [0, 1]."""
    x = image[None].detach().clone().to(inspect.device_of(model)).requires_grad_(True)
    logits = model(x)
    target = chosen_class(logits, target)
    (grad,) = torch.autograd.grad(logits[0, target], x)
    heat = grad[0].abs().amax(0)
    return Attribution(unit_scaled(heat).cpu(), grad[0].cpu(), target, float(logits[0, target].detach()),
                       torch.softmax(logits[0].detach().float(), 0).cpu())


NOISE_KINDS = ("smoothgrad", "smoothgrad_sq", "vargrad")  # Captum's NoiseTunnel's nt_type


def smooth_grad(model: nn.Module, image: torch.Tensor, target: int | None = None, samples: int = 25,
                sigma: float = 0.15, seed: int = 0, batch: int | None = None,
                progress: Callable[[int, int], None] | None = None, kind: str = "smoothgrad") -> Attribution:
    """SmoothGrad (Smilkov et al. 2017): the saliency's ``|gradient|`` averaged over ``samples`` copies of
    ``image`` with Gaussian noise of standard deviation ``sigma`` (in [0, 1] pixel units) added. The noise
    that dominates a plain saliency map averages out; what is left is what the class rests on.
    ``kind`` (Captum's NoiseTunnel's): ``smoothgrad`` the mean, ``smoothgrad_sq`` the mean of the squares (the
    strongest places stand out more), ``vargrad`` the variance over the copies (Adebayo et al. 2018: where the
    gradient is unsteady under noise). ``target`` None: the class predicted for the image itself. ``raw``: that
    statistic of the |gradient| (C, H, W). The copies go through ``batch`` at a time (default: by the image's size),
    ``progress(done, samples)`` after each.
    """
    if kind not in NOISE_KINDS:
        raise ValueError(f"{kind!r} is not one of {', '.join(NOISE_KINDS)}")
    x = image[None].detach().to(inspect.device_of(model))
    with torch.no_grad():
        logits = model(x)
    target = chosen_class(logits, target)
    generator = torch.Generator().manual_seed(seed)
    noise = torch.randn((samples, *image.shape), generator=generator).to(x) * sigma
    batch, total = batch or per_pass(x, 16), torch.zeros_like(x[0])  # by size alone: 12 VGG16 copies took 1 GB
    squares = torch.zeros_like(total)
    for first in range(0, samples, batch):
        noisy = (x + noise[first:first + batch]).requires_grad_(True)
        (grad,) = torch.autograd.grad(model(noisy)[:, target].sum(), noisy)  # each copy's own gradient
        total += grad.abs().sum(0)
        squares += grad.square().sum(0)
        if progress is not None:
            progress(min(first + batch, samples), samples)
    mean, mean_sq = total / samples, squares / samples
    raw = (mean if kind == "smoothgrad" else mean_sq if kind == "smoothgrad_sq" else mean_sq - mean * mean).detach()
    heat = unit_scaled(raw.amax(0).clamp(min=0))  # a variance's rounding can dip below 0
    return Attribution(heat.cpu(), raw.cpu(), target, float(logits[0, target]),
                       torch.softmax(logits[0].float(), 0).cpu())


class _GuidedReLU(torch.autograd.Function):
    """ReLU forward; backward, only gradients above zero, where the input was above zero (Springenberg et al.)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # noqa: ANN001 - autograd's context
        out = x.clamp(min=0)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # noqa: ANN001
        (out,) = ctx.saved_tensors
        return grad.clamp(min=0) * (out > 0)


def guided_relu(x: torch.Tensor) -> torch.Tensor:
    """ReLU whose backward is guided backpropagation's (a swap for :func:`relus_replaced`)."""
    return _GuidedReLU.apply(x)


class Scores(nn.Module):
    """A traced graph that returns ``{output: scores}`` as a module that returns the scores."""

    def __init__(self, graph: nn.Module, output: str):
        super().__init__()
        self.graph, self.output = graph, output

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.graph(x)[self.output]


_GUIDED = extraction.PerModel()


def guided(model: nn.Module) -> nn.Module:
    """``model`` whose ReLUs pass back only gradients above zero (guided backpropagation, Springenberg et al. 2015):
    :func:`saliency` and :func:`smooth_grad` of it are guided backprop's maps, Captum's ``GuidedBackprop``. The
    forward pass and the weights are the model's; made once per model (and state: moved, it is made again)."""
    def make() -> nn.Module:
        output = extraction.node_names(model)[-1]
        return Scores(relus_replaced(extraction.extractor(model, [output]), guided_relu), output).eval()

    return _GUIDED.get(model, None, make)


def relus_replaced(graph_module: fx.GraphModule, rule: Callable[[torch.Tensor], torch.Tensor]) -> fx.GraphModule:
    """``graph_module`` with every ReLU (a module, ``F.relu``, ``torch.relu`` or ``x.relu()``) called as ``rule``
    instead (in place): a ReLU forward whose backward is another rule's."""
    for node in graph_module.graph.nodes:
        module = graph_module.get_submodule(node.target) if node.op == "call_module" else None
        if (isinstance(module, nn.ReLU) or (node.op == "call_function" and node.target in (F.relu, torch.relu))
                or (node.op == "call_method" and node.target == "relu")):
            node.op, node.target, node.args, node.kwargs = "call_function", rule, node.args[:1], {}
    graph_module.graph.eliminate_dead_code()
    graph_module.recompile()
    return graph_module


@dataclass(frozen=True, eq=False)
class Occlusion(Attribution):
    """Occlusion's map (``raw``: the mean score drop per pixel, (H, W)) and the square that hurt most."""

    worst: tuple[int, int]  # (top, left) of the square whose covering lowers the class score most (or least raises)
    worst_drop: float  # how much that square lowers the score: at most 0 when covering any square raises it
    window: int  # the square's side in pixels
    stride: int  # how far it moves at a time
    worst_probability: float  # the class's probability with that square covered
    worst_reading: int  # the class the network reads with that square covered

    @property
    def changes_nothing(self) -> bool:
        """No square moves the score beyond rounding (a flat image: each square has the colour it covers)."""
        return float(self.raw.abs().max()) <= 1e-6 * max(1.0, abs(self.score))

    @property
    def hurts(self) -> bool:
        """Some square's covering lowers the class score beyond rounding: the map has a worst square to outline."""
        return self.worst_drop > 1e-6 * max(1.0, abs(self.score))


@dataclass(frozen=True, eq=False)
class IntegratedGradients(Attribution):
    """Integrated gradients (``raw``: (C, H, W)) and the baseline's score, for the completeness check."""

    baseline_score: float  # S(x'): the attributions should add up to ``score - baseline_score``
    steps: int
    baseline: str = "black"  # one of BASELINES
    rule: str = "riemann"  # one of RULES


# where the path of integrated gradients starts: a pixel equal to it gets nothing, so the choice says what "missing"
# means (black: no ink, which on MNIST is the whole background)
BASELINES = ("black", "blurred", "mean", "noise")


def baseline_image(image: torch.Tensor, kind: str = "black") -> torch.Tensor:
    """The baseline ``kind`` for (C, H, W) ``image``: black; the image blurred (a Gaussian of an eighth of its side:
    edges gone, colours kept); its mean colour; or uniform noise (seeded, the same each time)."""
    if kind == "black":
        return torch.zeros_like(image)
    if kind == "blurred":
        sigma = max(1.0, min(image.shape[-2:]) / 8)
        side = min(2 * math.ceil(2 * sigma) + 1, (min(image.shape[-2:]) - 1) // 2 * 2 + 1)
        return TF.gaussian_blur(image, [side, side], [sigma, sigma])
    if kind == "mean":
        return image.mean((1, 2), keepdim=True).expand_as(image).clone()
    if kind == "noise":
        generator = torch.Generator().manual_seed(0)
        return torch.rand(image.shape, generator=generator, dtype=image.dtype).to(image.device)
    raise ValueError(f"unknown baseline {kind!r}; choose one of {', '.join(BASELINES)}")


def occlusion(model: nn.Module, image: torch.Tensor, target: int | None = None, window: int = 7,
              stride: int | None = None, fill: float | Sequence[float] | str | None = None, batch: int | None = None,
              progress: Callable[[int, int], None] | None = None) -> Occlusion:
    """Slide a ``window`` x ``window`` square of colour ``fill`` (one value per channel, or one for all; default:
    the image's own mean colour, which adds no pattern of its own), or of a :func:`baseline_image` (``fill`` its
    kind: "blurred" covers a square with the same square of the image blurred), over ``image`` (C, H, W) in [0, 1]
    by ``stride`` (default: half a square); squares at the right and bottom edges are cut by the border.
    ``progress(done, total)`` follows the covered images, ``batch`` at a time (default: by the image's size).
    """
    stride = max(1, window // 2) if stride is None else stride
    if not 1 <= window <= min(image.shape[-2:]) or stride < 1:
        raise ValueError(f"the square must be 1..{min(image.shape[-2:])} px and the stride at least 1")
    x = image.detach().to(inspect.device_of(model))
    height, width = x.shape[-2:]
    batch = batch or per_pass(x, 64)
    if isinstance(fill, str):
        cover = baseline_image(x, fill)
    else:
        colour = x.mean((1, 2)) if fill is None else torch.as_tensor(fill, dtype=x.dtype, device=x.device)
        cover = colour.reshape(-1, 1, 1).expand_as(x)
    squares = [(top, left) for top in _starts(height, window, stride) for left in _starts(width, window, stride)]
    with torch.no_grad():
        logits = model(x[None])
        target = chosen_class(logits, target)
        drops, probabilities, readings = [], [], []
        for first in range(0, len(squares), batch):
            chunk = squares[first:first + batch]
            covered = x.repeat(len(chunk), 1, 1, 1)
            for i, (top, left) in enumerate(chunk):
                covered[i, :, top:top + window, left:left + window] = cover[:, top:top + window, left:left + window]
            out = model(covered).float()
            drops.append(logits[0, target].float() - out[:, target])
            probabilities.append(torch.softmax(out, 1)[:, target])
            readings.append(out.argmax(1))
            if progress is not None:
                progress(first + len(chunk), len(squares))
    drops, probabilities = torch.cat(drops).cpu(), torch.cat(probabilities).cpu()
    total, count = torch.zeros(height, width), torch.zeros(height, width)
    for (top, left), drop in zip(squares, drops):
        total[top:top + window, left:left + window] += drop
        count[top:top + window, left:left + window] += 1
    raw = total / count
    worst = int(drops.argmax())  # the square the map's red is made of
    return Occlusion(signed_scaled(raw), raw, target, float(logits[0, target]),
                     torch.softmax(logits[0].float(), 0).cpu(), squares[worst], float(drops[worst]), window, stride,
                     float(probabilities[worst]), int(torch.cat(readings)[worst]))


# how the path's integral is summed, Captum's rules: at k/m for k = 1..m, each 1/m (the paper's formula, Captum's
# "riemann_right"), at the left ends or the middles of the m parts, by trapezoids, or at Gauss-Legendre's nodes with
# their weights (Captum's default, "gausslegendre"): exact for a polynomial of degree 2m - 1, so the completeness gap
# closes in fewer steps
RULES = ("riemann", "riemann_left", "riemann_middle", "riemann_trapezoid", "gauss")


def path_points(steps: int, rule: str = "riemann") -> tuple[torch.Tensor, torch.Tensor]:
    """Where on the path from the baseline (0) to the image (1) the gradient is taken, and each point's weight in the
    sum (they add up to 1), for ``steps`` parts by ``rule`` (:data:`RULES`). The trapezoids take ``steps + 1``
    points, both ends, the ends at half weight: the composite rule (Captum's ``riemann_trapezoid`` takes ``steps``
    points with weights 1/steps, which add up to (steps - 1)/steps)."""
    parts = torch.arange(steps, dtype=torch.float64)
    if rule in ("riemann", "riemann_left", "riemann_middle"):
        shift = {"riemann": 1.0, "riemann_left": 0.0, "riemann_middle": 0.5}[rule]
        return (parts + shift) / steps, torch.full((steps,), 1 / steps).double()
    if rule == "riemann_trapezoid":
        weights = torch.full((steps + 1,), 1 / steps).double()
        weights[[0, -1]] /= 2
        return torch.arange(steps + 1, dtype=torch.float64) / steps, weights
    if rule == "gauss":
        nodes, weights = np.polynomial.legendre.leggauss(steps)  # on [-1, 1]
        return torch.from_numpy((nodes + 1) / 2), torch.from_numpy(weights / 2)
    raise ValueError(f"unknown rule {rule!r}; choose one of {', '.join(RULES)}")


def integrated_gradients(model: nn.Module, image: torch.Tensor, target: int | None = None, steps: int = 32,
                         batch: int | None = None, progress: Callable[[int, int], None] | None = None,
                         baseline: str = "black", rule: str = "riemann") -> IntegratedGradients:
    """Integrated gradients of class ``target`` from ``baseline`` (see :func:`baseline_image`), ``steps`` points on
    the straight path summed by ``rule`` (:func:`path_points`); ``progress(done, total)`` counts the points,
    ``batch`` at a time."""
    x = image[None].detach().to(inspect.device_of(model))
    start = baseline_image(x[0], baseline)[None]
    with torch.no_grad():
        logits, baseline_logits = model(torch.cat([x, start])).float()
    target = chosen_class(logits[None], target)
    total = torch.zeros_like(x)
    alphas, weights = (t.to(x.dtype).to(x.device) for t in path_points(steps, rule))
    done, size = 0, batch or per_pass(x, 16)
    for chunk, weight in zip(alphas.split(size), weights.split(size)):
        path = (start + chunk.view(-1, 1, 1, 1) * (x - start)).requires_grad_(True)
        (grad,) = torch.autograd.grad(model(path)[:, target].sum(), path)
        total += (grad * weight.view(-1, 1, 1, 1)).sum(0, keepdim=True)
        done += len(chunk)
        if progress is not None:
            progress(done, len(alphas))
    raw = ((x - start) * total)[0].detach()
    return IntegratedGradients(signed_scaled(raw.sum(0)).cpu(), raw.cpu(), target, float(logits[target]),
                               torch.softmax(logits, 0).cpu(), float(baseline_logits[target]), steps, baseline, rule)


def per_pass(image: torch.Tensor, small: int) -> int:
    """Images per pass: ``small`` for a small image, an eighth as many (at least 1) for a photo-sized one,
    so the progress bar moves and a CPU's memory holds the pass."""
    return small if image.shape[-1] <= 64 else max(1, small // 8)


def _starts(size: int, window: int, stride: int) -> range:
    """Where the squares start along one side: every ``stride`` until one reaches the border (as Captum)."""
    return range(0, stride * math.ceil((size - window) / stride) + 1, stride)


# plasma's stops (dark blue -> purple -> orange -> yellow): its lightness rises with the value, so the order holds
# for a red-green colour-blind student, where jet's red peaks turned olive and its yellow middle stood out most
PLASMA = ("#0d0887", "#46039f", "#7201a8", "#9c179e", "#bd3786", "#d8576b", "#ed7953", "#fb9f3a", "#fdca26", "#f0f921")


def plasma(heat: torch.Tensor) -> torch.Tensor:
    """``heat`` (H, W) in [0, 1] as plasma colours (3, H, W), interpolated between its stops."""
    stops = torch.tensor([[int(c[i:i + 2], 16) / 255 for i in (1, 3, 5)] for c in PLASMA])  # (10, 3)
    where = heat.clamp(0, 1) * (len(PLASMA) - 1)
    low = where.floor().long().clamp(max=len(PLASMA) - 2)
    part = (where - low).unsqueeze(-1)
    return (stops[low] * (1 - part) + stops[low + 1] * part).permute(2, 0, 1)


def overlay(image: torch.Tensor, heat: torch.Tensor, alpha: float = 0.6) -> torch.Tensor:
    """``image`` (C, H, W) in [0, 1] blended with ``heat`` (H, W) in [0, 1] in plasma colours: (3, H, W)."""
    grey = image.mean(0, keepdim=True) if image.shape[0] != 1 else image
    base = grey.expand(3, -1, -1) if image.shape[0] == 1 else image[:3]
    weight = alpha * heat.clamp(0, 1).sqrt()  # faint where nothing matters
    return ((1 - weight) * base + weight * plasma(heat.float())).clamp(0, 1)


def chosen_class(logits: torch.Tensor, target: int | None) -> int:
    """The class explained: ``target``, checked against the model's ``logits`` (1, K), or the predicted one."""
    classes = logits.shape[1]
    if target is None:
        return int(logits[0].argmax())
    if not 0 <= target < classes:
        raise ValueError(f"the model has {classes} classes (0..{classes - 1}); there is no class {target}")
    return int(target)


def unit_scaled(values: torch.Tensor) -> torch.Tensor:
    """``values`` over their maximum: [0, 1] for a map of evidence; zeros where nothing is above zero."""
    top = values.max()
    return values / top if top > 0 else torch.zeros_like(values)


OUTLIERS = 2.0  # percent of a map's total magnitude drawn at full colour when clipped: Captum's ``outlier_perc``


def clip_level(values: torch.Tensor, outliers: float = OUTLIERS) -> float:
    """The magnitude at which a map's colours top out when its largest values, ``outliers`` percent of its total
    magnitude, are clipped: the smallest of the sorted magnitudes whose running sum reaches the rest, (100 -
    ``outliers``)% of the total (Captum's ``visualize_image_attr``). 0 for a map of zeros; ``outliers`` = 0: the
    largest magnitude."""
    magnitudes = values.detach().abs().flatten().double().sort().values
    sums = magnitudes.cumsum(0)
    if not len(sums) or sums[-1] <= 0:
        return 0.0
    at = int(torch.searchsorted(sums, sums[-1] * (100 - outliers) / 100))  # the first running sum that reaches it
    return float(magnitudes[min(at, len(magnitudes) - 1)])


def clipped(values: torch.Tensor, outliers: float = OUTLIERS) -> torch.Tensor:
    """``values`` over their :func:`clip_level`, cut to [-1, 1] (to [0, 1] for a map of magnitudes): a few very
    large gradients no longer leave the rest of the map dark. Zeros for a map of zeros."""
    level = clip_level(values, outliers)
    return (values / level).clamp(-1, 1) if level > 0 else torch.zeros_like(values)


def signed_scaled(values: torch.Tensor) -> torch.Tensor:
    """``values`` over their largest magnitude: [-1, 1], the sign kept (evidence for and against)."""
    top = values.abs().max()
    return values / top if top > 0 else torch.zeros_like(values)
