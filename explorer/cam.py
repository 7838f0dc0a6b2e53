"""Class activation maps: where, at one layer's resolution, the evidence for a class lies.

A layer's feature maps ``A`` (M, h, w), the class score ``S_k`` before the softmax and its gradients
``g = dS_k/dA``. Each method weighs the maps and sums them, ``L = ReLU(sum_m w_m A_m)`` (h, w), with
pytorch-grad-cam's formulas, epsilons included (the tests write them out):

- Grad-CAM (Selvaraju et al. 2017): ``w_m = mean_ij g_mij``.
- Grad-CAM++ (Chattopadhyay et al. 2018): the positive gradients, each position weighed by its share.
- XGrad-CAM (Fu et al. 2020): ``w_m = sum_ij g_mij A_mij / sum_ij A_mij``.
- HiResCAM (Draelos & Carin 2020): ``g * A`` position by position, summed over the maps.
- Layer-CAM (Jiang et al. 2021): ``ReLU(g) * A`` position by position.
- Score-CAM (Wang et al. 2020), no gradients: each map, scaled to [0, 1], masks the image; the masked images'
  class scores, softmaxed over the maps, are the weights.
- Ablation-CAM (Desai & Ramaswamy 2020), no gradients: ``w_m = (S_k - S_k(A_m = 0)) / |S_k|``, how far the score
  falls when the network runs on with map m set to zero.
- Eigen-CAM (Muhammad & Yeasin 2020), no class at all: each position's value along the maps' first principal
  component. EigenGrad-CAM: the same of ``g * A``, so for the class. KPCA-CAM (Karmani et al. 2024): the first
  principal component in a sigmoid kernel's space. FEM (Fuad et al. 2020): each map weighed by its share of
  positions more than two standard deviations above its mean (:mod:`explorer.map_components`).
- ShapleyCAM (Cai 2025): ``w_m = mean_ij (g - H A / 2)_mij``, the Hessian of the score along the maps too. A ReLU
  network's logit is piecewise linear in the maps (``H = 0``: Grad-CAM); the softmax bends a probability or ReST.
- FullGrad (Srinivas & Fleuret 2019) takes no layer but every one with a bias (:func:`full_gradient`).

In place of ``S_k``: the class's probability, ReST or Finer-CAM's contrast (:mod:`explorer.targets`).

pytorch-grad-cam's two smoothings: ``eigen_smooth``, the weighed maps' first principal component in place of their
sum (less noise; turned to agree with the sum, where pytorch-grad-cam keeps the sign its SVD happens to give), and
``aug_smooth``, the mean map of the image mirrored and brightened (:func:`augmented`).

Each value is drawn at the centre of its unit's receptive field and bilinear between them (a plain resize, as other
tools do, puts a network without padding's evidence pixels off).

Guided Grad-CAM (Selvaraju et al. 2017) multiplies a map at the input's size by guided backprop's gradient, pixel
by pixel (:func:`guided_map`): the gradient's fine detail, only where the class's evidence lies.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import fx, nn

from explorer import extraction, field_overlay, inspect, map_components, receptive_field, targets
from explorer.attribution import Attribution, chosen_class, per_pass, unit_scaled
from explorer.networks import Normalize

log = logging.getLogger(__name__)

METHODS = {  # pytorch-grad-cam's names
    "gradcam": "Grad-CAM",
    "gradcampp": "Grad-CAM++",
    "xgradcam": "XGrad-CAM",
    "hirescam": "HiResCAM",
    "gradcamelementwise": "Grad-CAM EW",  # element-wise: the whole name is cut in a 150 px title
    "layercam": "Layer-CAM",
    "scorecam": "Score-CAM",
    "ablationcam": "Ablation-CAM",
    "eigencam": "Eigen-CAM",
    "eigengradcam": "EigenGrad-CAM",
    "kpcacam": "KPCA-CAM",
    "fem": "FEM",
    "shapleycam": "ShapleyCAM",
    "fullgrad": "FullGrad",
}
PASSES = ("scorecam", "ablationcam")  # a forward pass per map: progress is counted in maps
CLASS_BLIND = ("eigencam", "kpcacam", "fem")  # the same map whichever class is explained
PRINCIPAL = ("eigencam", "eigengradcam", "kpcacam")  # a principal component always (eigen_smooth or not)
LAYERLESS = ("fullgrad",)  # every layer with a bias, whichever layer is picked

_ELEMENTWISE = {"ReLU", "relu", "BatchNorm2d", "add", "iadd", "cat", "Dropout"}  # keep a conv's map size
Progress = Callable[[int, int], None]


def class_map(model: nn.Module, image: torch.Tensor, layer: str, target: int | None = None, method: str = "gradcam",
              batch: int | None = None, progress: Progress | None = None, eigen_smooth: bool = False,
              aug_smooth: bool = False, of: targets.Score = targets.LOGIT) -> Attribution:
    """The class activation map of class ``target`` (default: the predicted class) at ``layer``, which must have
    feature maps, by ``method`` (a key of :data:`METHODS`, Grad-CAM by default). Score-CAM and Ablation-CAM run the
    network once per map, ``batch`` maps a pass, ``progress(done, maps)`` after each pass. ``of``: the class's score
    explained (:mod:`explorer.targets`; the result's ``score``), its logit by default.

    pytorch-grad-cam's two smoothings: ``eigen_smooth`` takes the weighed maps' first principal component where the
    method sums them (the Eigen-CAMs always do); ``aug_smooth`` is :func:`augmented`'s mean over six copies."""
    if method not in METHODS:
        raise ValueError(f"{method!r} is not one of the class activation maps ({', '.join(METHODS)})")
    if aug_smooth:
        return augmented(model, image, layer, target, method, batch, progress, eigen_smooth, of)
    if method == "fullgrad":
        return full_gradient(model, image, target, eigen_smooth, of)
    names = extraction.node_names(model)
    if layer not in names or layer == names[-1]:
        raise ValueError(f"{layer!r} is not a layer with feature maps of this model")
    output = names[-1]
    graph = extraction.extractor(model, [layer, output])
    x = image[None].detach().to(inspect.device_of(model)).requires_grad_(True)  # the maps' gradients need a graph
    with torch.enable_grad():
        out = graph(x)
        maps, logits = out[layer], out[output]
        if maps.dim() != 4:
            raise ValueError(f"{layer} has no feature maps (its output is {tuple(maps.shape[1:])}): a class "
                             "activation map needs a convolution, ReLU or pooling layer; the last convolution is usual")
        target = chosen_class(logits, target)
        scored = targets.scorer(logits.shape[1], target, of)
        explained = scored(logits)[0]
        (grads,) = torch.autograd.grad(explained, maps, create_graph=method == "shapleycam")
        if method == "shapleycam" and grads.requires_grad:  # the Hessian along the maps, H A, as its hvp; no
            # graph behind the gradient (a frozen ResNet's logit, a pool and a linear layer from the maps): H = 0
            (bent,) = torch.autograd.grad(grads, maps, grad_outputs=maps.detach(), allow_unused=True)
            grads = grads - 0.5 * (0 if bent is None else bent)  # None: no path bends (a ReLU network's logit)
    maps, x, grads, score = maps.detach(), x.detach(), grads.detach(), float(explained.detach())
    if method == "scorecam":
        weighed = _score_weights(model, x, maps, scored, batch, progress) * maps
    elif method == "ablationcam":
        rest = run_on(model, layer, x, graph)  # the graph just traced, its forward pass done
        weighed = _ablation_weights(rest, x, maps, scored, score, batch, progress) * maps
    elif method in PRINCIPAL:
        weighed, eigen_smooth = maps if method in CLASS_BLIND else grads * maps, True
    elif method == "fem":
        weighed = map_components.fem_weights(maps) * maps
    else:
        weighed = _weighed_maps(method, maps, grads)
    cam = weighed.sum(1, keepdim=True)  # (1, 1, h, w)
    if eigen_smooth:
        component = map_components.kernel_component if method == "kpcacam" else map_components.first_component
        summed, cam = cam, component(weighed)
        if method not in PRINCIPAL and (cam * summed).sum() < 0:
            cam = -cam  # the component's side the plain sum takes: else the background had lit up for the class
    cam = cam.relu()
    heat = on_input(model, layer, cam[0, 0], tuple(image.shape[-2:]))
    return Attribution(unit_scaled(heat).cpu(), cam[0, 0].cpu(), target, score,
                       torch.softmax(logits[0].detach().float(), 0).cpu(), method=method)


def full_gradient(model: nn.Module, image: torch.Tensor, target: int | None = None, eigen_smooth: bool = False,
                  of: targets.Score = targets.LOGIT) -> Attribution:
    """FullGrad (Srinivas & Fleuret 2019) as pytorch-grad-cam computes it: ``|input gradient * input|`` for each
    colour channel, and for each convolution and batch norm with a bias (a batch norm's: what it adds, its running
    mean's share included), ``|bias * the gradient at its output|``, each channel from 0 to 1 first and summed over
    the layer's channels; all added up (``eigen_smooth``: each map from 0 to 1, their first principal component, at
    the image's size where pytorch-grad-cam shrinks the maps 8 times first), from 0 to 1. The input is what the first
    convolution reads, the image normalised (the Normalize layer's output). ``raw``: the sum at the image's size.
    ``of``: as :func:`class_map`'s."""
    layers = inspect.layers(model, tuple(image.shape))
    biased = [l for l in layers if isinstance(l.module, (nn.Conv2d, nn.BatchNorm2d)) and l.module.bias is not None
              and len(l.out_shape) == 3]
    start = next((l.name for l in layers if isinstance(l.module, Normalize)), None)
    output = extraction.node_names(model)[-1]
    graph = extraction.extractor(model, [*([start] if start else []), *(l.name for l in biased), output])
    x = image[None].detach().to(inspect.device_of(model)).requires_grad_(True)
    with torch.enable_grad():
        out = graph(x)
        logits, seen = out[output], out[start] if start else x
        target = chosen_class(logits, target)
        explained = targets.scorer(logits.shape[1], target, of)(logits)[0]
        grads = torch.autograd.grad(explained, [seen, *(out[l.name] for l in biased)], allow_unused=True)
    size = tuple(image.shape[-2:])
    fields = _fields(model, size)
    parts = [_spread_each((grads[0] * seen).detach().abs()[0])]  # (C, H, W)
    for layer, grad in zip(biased, grads[1:]):
        if grad is None:  # a branch the class score does not read
            continue
        part = _spread_each((_bias(layer.module)[:, None, None] * grad[0]).abs()).sum(0)
        parts.append(_placed(part, fields.get(layer.name), size)[None])
    stacked = torch.cat(parts)  # (M, H, W): M = the colours and the layers
    # eigen_smooth: each map from 0 to 1 first, as pytorch-grad-cam's shrinking does (else the widest layer's sum
    # made the component)
    total = map_components.first_component(_spread_each(stacked)[None])[0, 0] if eigen_smooth else stacked.sum(0)
    low = total.min()  # from 0 to 1 as scale_cam_image, without its 1e-7: a random network's map is that small
    return Attribution(unit_scaled(total - low).cpu(), total.cpu(), target, float(explained.detach()),
                       torch.softmax(logits[0].detach().float(), 0).cpu(), method="fullgrad")


def has_biases(model: nn.Module) -> bool:
    """Whether any of ``model``'s convolutions and batch norms adds something (:func:`_bias`) that FullGrad's bias
    terms can weigh: a torchvision network's fresh batch norms add 0, and its convolutions have no bias."""
    return any(bool(_bias(m).any()) for m in model.modules()
               if isinstance(m, (nn.Conv2d, nn.BatchNorm2d)) and m.bias is not None)


def _bias(module: nn.Module) -> torch.Tensor:
    """What a convolution or a batch norm adds to each channel, whatever its input: a batch norm's bias less its
    running mean, scaled as it scales (FullGrad's reference code)."""
    bias = module.bias.detach()
    if isinstance(module, nn.BatchNorm2d) and module.running_mean is not None:
        bias = bias - module.running_mean * module.weight.detach() / torch.sqrt(module.running_var + module.eps)
    return bias


def _spread_each(maps: torch.Tensor) -> torch.Tensor:
    """Each of ``maps`` (M, h, w) from its least (0) to its largest value (1): pytorch-grad-cam's
    ``scale_accross_batch_and_channels``."""
    low = maps.amin((1, 2), keepdim=True)
    return (maps - low) / (maps.amax((1, 2), keepdim=True) - low + 1e-7)


def guided_map(gradient: Attribution, mapped: Attribution) -> Attribution:
    """Guided Grad-CAM (Selvaraju et al. 2017), or the same product with another class activation map: ``gradient``
    (guided backprop's, in the paper) times ``mapped`` at the input's size, pixel by pixel, both for one class.
    ``raw``: the gradient (C, H, W) times the map's ``heat`` in [0, 1]: at a layer as large as the image, Captum's
    ``GuidedGradCam`` up to that scale; at a smaller one the map's values sit at their units' field centres, where
    Captum stretches them over the image. ``heat``: its largest magnitude over the colour channels, scaled to [0, 1]."""
    if gradient.target != mapped.target or gradient.heat.shape != mapped.heat.shape:
        raise ValueError("a gradient and a class activation map of one class, at one size, are multiplied")
    raw = gradient.raw * mapped.heat
    return Attribution(unit_scaled(raw.abs().amax(0)), raw, gradient.target, gradient.score, gradient.probabilities,
                       method=f"{gradient.method}_x_{mapped.method}")


AUGMENTATIONS = [(flip, factor) for flip in (False, True) for factor in (0.9, 1.0, 1.1)]  # ttach's, as aug_smooth's


def augmented(model: nn.Module, image: torch.Tensor, layer: str, target: int | None, method: str,
              batch: int | None = None, progress: Progress | None = None, eigen_smooth: bool = False,
              of: targets.Score = targets.LOGIT) -> Attribution:
    """pytorch-grad-cam's ``aug_smooth``: the mean of the maps of six copies of ``image``, as they are and mirrored
    left to right, each with its pixels times 0.9, 1 and 1.1, a mirrored copy's map mirrored back. Each map is scaled
    to [0, 1] from its least to its largest value first, as pytorch-grad-cam's ``scale_cam_image``. Two differences:
    the class stays the one the image itself is explained for (pytorch-grad-cam's default takes each copy's own
    prediction), and the factors scale the pixels in [0, 1], a change of brightness (ttach scales the tensor already
    normalised). ``raw``: the layer's maps, each scaled alike, their mean (mirrored back alike: a column off where the
    units' fields are not symmetric left to right)."""
    with torch.no_grad():
        target = chosen_class(model(image[None].to(inspect.device_of(model))), target)
    heats, raws, steps, own = [], [], len(AUGMENTATIONS), None
    for k, (flip, factor) in enumerate(AUGMENTATIONS):
        seen = (image * factor).flip(-1) if flip else image * factor
        report = None if progress is None else lambda done, total, k=k: progress(k * total + done, steps * total)
        made = class_map(model, seen, layer, target, method, batch, report, eigen_smooth, of=of)
        own = made if (flip, factor) == (False, 1.0) else own
        heat, raw = spread(made.heat), spread(made.raw)
        heats.append(heat.flip(-1) if flip else heat)
        raws.append(raw.flip(-1) if flip else raw)
    return Attribution(unit_scaled(torch.stack(heats).mean(0)), torch.stack(raws).mean(0), target, own.score,
                       own.probabilities, method=method)


def spread(values: torch.Tensor) -> torch.Tensor:
    """``values`` from their least (0) to their largest (1), as pytorch-grad-cam's ``scale_cam_image``."""
    low = values.min()
    return (values - low) / (values.max() - low + 1e-7)


def _weighed_maps(method: str, maps: torch.Tensor, grads: torch.Tensor) -> torch.Tensor:
    """The maps ``maps`` (1, M, h, w) weighed by the gradients ``grads`` as ``method`` does, before the sum over them
    and the ReLU."""
    if method == "hirescam":
        return grads * maps
    if method == "gradcamelementwise":  # pytorch-grad-cam's GradCAMElementWise: each product's negatives cut first
        return (grads * maps).relu()
    if method == "layercam":
        return grads.relu() * maps
    totals = maps.sum((2, 3), keepdim=True)
    if method == "gradcampp":  # the paper's eq. 19, for a score that is the exponential of S_k
        squared = grads ** 2
        share = squared / (2 * squared + totals * squared * grads + 1e-6)
        weights = (grads.relu() * torch.where(grads != 0, share, 0)).sum((2, 3), keepdim=True)
    elif method == "xgradcam":
        weights = (grads * maps / (totals + 1e-7)).sum((2, 3), keepdim=True)
    else:
        weights = grads.mean((2, 3), keepdim=True)  # alpha_m: (1, M, 1, 1)
    return weights * maps


def _score_weights(model: nn.Module, x: torch.Tensor, maps: torch.Tensor, scored: targets.Scorer,
                   batch: int | None, progress: Progress | None) -> torch.Tensor:
    """Score-CAM's weights (1, M, 1, 1): each map, resized to the image and scaled to [0, 1], masks the image
    ``x`` (1, C, H, W); the masked images' class scores (``scored``), softmaxed over the maps."""
    masks = F.interpolate(maps, size=x.shape[-2:], mode="bilinear", align_corners=True)[0]  # (M, H, W)
    low = masks.amin((1, 2), keepdim=True)
    masks = (masks - low) / (masks.amax((1, 2), keepdim=True) - low + 1e-8)
    count, batch = masks.shape[0], batch or per_pass(x, 16)
    scores = []
    with torch.no_grad():
        for first in range(0, count, batch):
            scores.append(scored(model(x * masks[first:first + batch, None])).float())
            if progress is not None:
                progress(min(first + batch, count), count)
    return torch.softmax(torch.cat(scores), 0).to(maps)[None, :, None, None]


def _ablation_weights(rest: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, maps: torch.Tensor,
                      scored: targets.Scorer, score: float, batch: int | None, progress: Progress | None
                      ) -> torch.Tensor:
    """Ablation-CAM's weights (1, M, 1, 1): the class score's fall, over its size, when the network runs on
    (``rest``, :func:`run_on`) with one of the layer's ``maps`` (1, M, h, w) set to zero. Zero as in the paper, where pytorch-grad-cam puts
    1e7 below the layer's least value on a layer that has values below zero; over ``|score|``, where it divides by
    the score itself and turns every weight round for a class scored below zero."""
    count, batch = maps.shape[1], batch or per_pass(x, 16)
    falls = []
    with torch.no_grad():
        for first in range(0, count, batch):
            ablated = torch.arange(first, min(first + batch, count), device=maps.device)
            changed = maps.repeat(len(ablated), 1, 1, 1)
            changed[torch.arange(len(ablated), device=maps.device), ablated] = 0
            falls.append(score - scored(rest(changed)).float())
            if progress is not None:
                progress(first + len(ablated), count)
    return (torch.cat(falls) / (abs(score) or 1.0)).to(maps)[None, :, None, None]


def run_on(model: nn.Module, layer: str, x: torch.Tensor,
            graph_module: fx.GraphModule | None = None) -> Callable[[torch.Tensor], torch.Tensor]:
    """The network from ``layer`` on for the image ``x`` (1, C, H, W): ``maps`` (n, M, h, w) -> class scores
    (n, K), the maps used wherever the network uses the layer's output. What does not depend on it (a residual
    branch that skips the layer) is computed once from ``x``; without that, each pass ran the whole network."""
    output = extraction.node_names(model)[-1]
    graph_module = graph_module or extraction.extractor(model, [layer, output])  # changed in place below
    reader = fx.Interpreter(graph_module, garbage_collect_values=False)
    with torch.no_grad():
        reader.run(x)
    graph = graph_module.graph
    returned = next(node for node in graph.nodes if node.op == "output")
    taken, scores = returned.args[0][layer], returned.args[0][output]
    after = _downstream(taken)
    start = next(node for node in graph.nodes if node.op == "placeholder")
    known = {}  # a placeholder for each tensor a node downstream reads from upstream, and its value for x
    for node in [n for n in graph.nodes if n.op.startswith("call_") and n not in after and n is not taken]:
        value = reader.env[node]
        if any(user in after for user in node.users) and isinstance(value, torch.Tensor) and value.shape[:1] == (1,):
            with graph.inserting_after(start):
                stand_in = graph.placeholder(f"known_{node.name}")
            known[stand_in] = value
            node.replace_all_uses_with(stand_in)
    with graph.inserting_after(start):
        given = graph.placeholder("maps")
    taken.replace_all_uses_with(given)
    returned.args = (scores,)
    graph.eliminate_dead_code()  # what only led to the layer
    graph_module.recompile()
    order = [node for node in graph.nodes if node.op == "placeholder"]

    def run(maps: torch.Tensor) -> torch.Tensor:
        values = {start: x, given: maps, **known}
        return graph_module(*(values[node].expand(len(maps), *values[node].shape[1:]) if node is not given
                              else maps for node in order))

    return run


def _downstream(node: fx.Node) -> set[fx.Node]:
    """Every node that reads ``node``'s output, directly or through others (the graph's output excluded)."""
    seen, waiting = set(), [node]
    while waiting:
        for user in waiting.pop().users:
            if user not in seen and user.op != "output":
                seen.add(user)
                waiting.append(user)
    return seen


def on_input(model: nn.Module, layer: str, cam: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``cam`` (h, w), or several (k, h, w), of ``layer`` at the input's ``size``: each unit at its receptive field's
    centre; a plain bilinear resize where the field is not known (a graph the tracer cannot follow)."""
    field = _fields(model, size).get(layer)
    return torch.stack([_placed(one, field, size) for one in cam]) if cam.dim() == 3 else _placed(cam, field, size)


def _fields(model: nn.Module, size: tuple[int, int]) -> dict[str, receptive_field.Field]:
    """Each layer's receptive field, by name; none where the tracer cannot follow the graph."""
    try:
        return {f.name: f for f in receptive_field.fields(model, size)}
    except Exception:  # noqa: BLE001 - any tracing failure: the usual resize still shows the maps
        log.warning("no receptive fields: maps are resized plainly", exc_info=True)
        return {}


def _placed(cam: torch.Tensor, field: receptive_field.Field | None, size: tuple[int, int]) -> torch.Tensor:
    """``cam`` (h, w) at the input's ``size``, each value at its unit's ``field`` centre, or resized plainly."""
    if field is None or field.size != tuple(cam.shape) or min(field.j) <= 0:
        return F.interpolate(cam[None, None], size=size, mode="bilinear", align_corners=False)[0, 0]
    return field_overlay.to_input(cam.cpu(), field, size).to(cam.device)


def usable_layers(layers: list[inspect.Layer]) -> list[str]:
    """The layers a class activation map can use: those whose output is feature maps (the input's Normalize
    excluded)."""
    return [l.name for l in layers if len(l.out_shape) == 3 and l.type != "Normalize"]


def suggested_layer(layers: list[inspect.Layer]) -> str:
    """The usual layer: the last convolution's output after what keeps its map size (BN, ReLU, a residual add, an
    Inception concat), so the last and most semantic maps before the spatial pooling."""
    convs = [i for i, l in enumerate(layers) if l.type == "Conv2d"]
    if not convs:
        spatial = usable_layers(layers)
        if not spatial:
            raise ValueError("the model has no layer with feature maps (a network of fully connected layers only)")
        return spatial[-1]
    here = convs[-1]
    size = layers[here].out_shape[1:]
    while here + 1 < len(layers) and layers[here + 1].type in _ELEMENTWISE and layers[here + 1].out_shape[1:] == size:
        here += 1
    return layers[here].name
