"""Build a trainable CNN from a plain description: a registry model, or the page's own table of layers.

A description is a dict, as a page holds it in session state::

    {"model": "custom", "data": "mnist",
     "layers": [{"type": "conv", "out": 8, "kernel": 3, "padding": 1}, {"type": "relu"}, ...],
     "init": {"kernels": ["sobel (horizontal edges)", "laplacian"], "frozen": True}}

The layers are read and checked by :mod:`explorer.layer_table` (whose ``plan`` the page shows);
registry models are fitted to the data's channels and size; the first conv may get hand-set kernels.
"""

from __future__ import annotations

import copy
import dataclasses
from collections import OrderedDict
from collections.abc import Callable

import torch
from torch import nn

from explorer import kernels, models, networks
from explorer.layer_table import MAX_PARAMS, ArchitectureError, as_list, check_input, default_layers, steps

REGISTRY_MODELS = ("lenet5", "tinyvgg", "resnet_small")  # models.build's own small networks
HAND_SET = ("sobel (horizontal edges)", "sobel (vertical edges)", "laplacian", "gaussian 5x5 (sigma 1)",
            "box blur 3x3", "X pattern")  # the lecture's kernels (SEEDS section 2) a page offers as first filters

_STATS: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "mnist": (models.MNIST_MEAN, models.MNIST_STD),
    "fashion-mnist": ((0.2860,), (0.3530,)),  # the Fashion-MNIST training set's pixel statistics
    "cifar10": (models.CIFAR_MEAN, models.CIFAR_STD),
    "shapes": ((0.5,), (0.25,)),  # the built-in set: any ink on any paper, so the middle of [0, 1]
}
_LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601, as images.to_grey


# --- normalisation ---------------------------------------------------------------------------

def normalization(data_name: str, channels: int | None = None) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel (mean, std) of a data set's training pixels in [0, 1], for ``networks.Normalize``.

    ``channels``: the count the model sees, when it differs from the data set's own (MNIST,
    Fashion-MNIST and shapes are grey, CIFAR-10 is RGB). Grey statistics are repeated for RGB;
    RGB ones become grey with the luma weights ``0.299 R + 0.587 G + 0.114 B`` (exact for the
    mean; for the std an upper bound, reached when the channels move together, as they nearly do).
    """
    if data_name not in _STATS:
        raise ArchitectureError(f"no statistics for the data set {data_name!r}; known: {', '.join(_STATS)}")
    mean, std = _STATS[data_name]
    if channels is None or channels == len(mean):
        return mean, std
    if len(mean) == 1 and channels >= 1:
        return mean * channels, std * channels
    if channels == 1:
        return (_luma(mean),), (_luma(std),)
    raise ArchitectureError(f"{data_name} has {len(mean)} channels; a model for it takes 1 or {len(mean)}, "
                            f"not {channels}")


def _luma(values: tuple[float, ...]) -> float:
    return round(sum(w * v for w, v in zip(_LUMA, values)), 4)


# --- building -------------------------------------------------------------------------------

def build(config: dict, input_shape: tuple[int, int, int], classes: int) -> nn.Module:
    """A fresh model in eval mode (``torch.manual_seed`` first makes it reproducible), taking [0, 1] images.

    ``config``: ``"model"``: "custom" (default) with ``"layers"`` (default: :func:`default_layers`),
    or one of ``REGISTRY_MODELS``, fitted to ``input_shape`` and ``classes``; ``"data"``: the data
    set whose :func:`normalization` the model applies (none given: mean 0.5, std 0.25 per channel);
    ``"init"``: ``{"kernels": [PRESETS names], "frozen": bool}``, see :func:`set_filters`.
    The model is an ``nn.Sequential`` whose first child, ``normalize``, is a ``networks.Normalize``.
    Raises ArchitectureError naming the layer when the settings are impossible.
    """
    if not isinstance(config, dict):
        raise ArchitectureError(f"config must be a dict, not {type(config).__name__}")
    shape = check_input(input_shape, classes)
    mean, std = _stats(config, shape[0])
    name = config.get("model") or "custom"
    with models.BUILDING:  # its draws from torch's generator are not another thread's seeded build's
        if name == "custom":
            layers = config.get("layers")
            model = _custom(default_layers() if layers is None else as_list(layers), shape, classes, mean, std)
        elif name in REGISTRY_MODELS:
            model = _registry_model(name, shape, classes, mean, std)
        else:
            raise ArchitectureError(f"unknown model {name!r}; choose custom or one of "
                                    f"{', '.join(REGISTRY_MODELS)}")
    init = config.get("init") or {}
    if not isinstance(init, dict):
        raise ArchitectureError(f"init must be a dict like {{'kernels': [...], 'frozen': False}}, not {init!r:.40}")
    if init.get("kernels") or init.get("frozen"):
        set_filters(model, init.get("kernels") or [], bool(init.get("frozen")))
    if config.get("scramble"):
        model = _scrambled(model, shape)
    return model.eval()


SCRAMBLE_SEED = 0  # one scramble for every run: a CNN's and an MLP's runs see the same images


def _scrambled(model: nn.Sequential, shape: tuple[int, int, int]) -> nn.Sequential:
    """``model`` with :class:`networks.Scramble` after its ``normalize``: the pixels moved to fixed random places."""
    children = list(model.named_children())
    return nn.Sequential(OrderedDict([children[0], ("scramble", networks.Scramble(*shape[1:], SCRAMBLE_SEED)),
                                      *children[1:]]))


def _stats(config: dict, channels: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    data_name = config.get("data")
    if data_name is None:
        return (0.5,) * channels, (0.25,) * channels  # neutral: [0, 1] maps to [-2, 2]
    return normalization(data_name, channels)


def _custom(layers: list, input_shape: tuple[int, int, int], classes: int, mean: tuple[float, ...],
            std: tuple[float, ...]) -> nn.Sequential:
    """The walk's layers as modules, made in order (so a seed fixes every weight)."""
    walk = list(steps(layers, input_shape, classes))  # every check passes before anything is built
    children = OrderedDict(normalize=networks.Normalize(mean, std))
    children.update((step.name, step.make()) for step in walk)
    return nn.Sequential(children)


_BUILDERS: dict[str, Callable[[models.ModelSpec], nn.Sequential]] = {
    "lenet5": networks.lenet5, "tinyvgg": networks.tinyvgg, "resnet_small": networks.resnet_small,
}


def _registry_model(name: str, input_shape: tuple[int, int, int], classes: int, mean: tuple[float, ...],
                    std: tuple[float, ...]) -> nn.Sequential:
    """A registry network for this input and these classes.

    The builders assume their own input (LeNet-5 one grey channel, TinyVGG a 64 x 64 input for
    its ``fc`` of 10 * 13 * 13): the first conv is remade for other channel counts and the first
    linear layer after ``flatten`` for other sizes. Too small an input is refused with the size needed.
    """
    c, h, _ = input_shape
    entry = dataclasses.replace(models.spec(name), input_size=h, channels=c, mean=mean, std=std,
                                classes=tuple(str(k) for k in range(classes)))
    model = _BUILDERS[name](entry)
    first_name, first = _first_conv(model)
    if first.in_channels != c:
        model.set_submodule(first_name, _conv_like(first, c))
    _fit_classifier_input(model, name, input_shape)
    return model


def _first_conv(model: nn.Module) -> tuple[str, nn.Conv2d]:
    """The first ``nn.Conv2d`` in forward order (registration order, as in every Sequential here)."""
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d):
            return name, module
    raise ArchitectureError("this network has no convolution to set filters on")


def _conv_like(layer: nn.Conv2d, in_channels: int) -> nn.Conv2d:
    return nn.Conv2d(in_channels, layer.out_channels, layer.kernel_size, layer.stride, layer.padding,
                     layer.dilation, bias=layer.bias is not None)


def _fit_classifier_input(model: nn.Sequential, name: str, input_shape: tuple[int, int, int]) -> None:
    """Remake the first linear layer after ``flatten`` when the flattened features differ from its inputs."""
    children = list(model.named_children())
    cut = [n for n, _ in children].index("flatten") + 1
    features = copy.deepcopy(nn.Sequential(*[m for _, m in children[1:cut]])).to("meta")  # shapes only
    features_out = _flat_size(features, input_shape)
    if features_out is None:
        need = next(n for n in range(1, 1025) if _flat_size(features, (input_shape[0], n, n)) is not None)
        raise ArchitectureError(f"{name} needs inputs of at least {need}x{need} pixels; "
                                f"this one is {input_shape[1]}x{input_shape[2]}")
    fc_name, fc = next((n, m) for n, m in children[cut:] if isinstance(m, nn.Linear))
    if fc.in_features != features_out:
        if features_out * fc.out_features > MAX_PARAMS:
            raise ArchitectureError(f"{name} on {input_shape[1]}x{input_shape[2]} inputs would need "
                                    f"{features_out * fc.out_features:,} weights in {fc_name}, over this "
                                    f"app's limit of {MAX_PARAMS:,}")
        setattr(model, fc_name, nn.Linear(features_out, fc.out_features))


def _flat_size(features: nn.Module, input_shape: tuple[int, int, int]) -> int | None:
    """Values after ``flatten`` for one image, from a forward pass on the meta device; None if too small."""
    try:
        return features(torch.zeros(1, *input_shape, device="meta")).shape[1]
    except RuntimeError:  # PyTorch: "Kernel size can't be greater than actual input size" and kin
        return None


# --- transfer learning -------------------------------------------------------------------------

TRAINING_BYTES = 6 * 2**30  # feature maps and their gradients a run may hold: a classroom server's worker share


def feature_values(model: nn.Module, input_shape: tuple[int, int, int]) -> int:
    """The values every layer outputs for one image (a forward pass on the meta device, no memory): what training
    keeps for the backward pass, and as many gradients again."""
    meta = copy.deepcopy(model).to("meta")
    counted: list[int] = []
    hooks = [m.register_forward_hook(lambda _m, _x, out: counted.append(out.numel()))
             for m in meta.modules() if not list(m.children())]
    with torch.no_grad():
        meta(torch.zeros(1, *input_shape, device="meta"))
    for hook in hooks:
        hook.remove()
    return sum(counted)


def training_bytes(model: nn.Module, input_shape: tuple[int, int, int], batch: int) -> int:
    """About the memory a training step of ``batch`` images holds: each layer's output and its gradient, float32.
    1,024 filters of 1x1 at 28x28, four times over, at a batch of 1,024: 26 GB, on a 24 GB server."""
    return feature_values(model, input_shape) * batch * 4 * 2


PRETRAINED_SCALE = 0.1  # fine-tuning: transferred layers learn at a tenth of the rate (the lecture: 0.001 vs 0.01)
# train a new classifier on fixed features, new fully connected layers on fixed convolutions, or everything
TRANSFER_MODES = ("head", "convs", "all")


def transfer(model: nn.Module, weights: dict[str, torch.Tensor], train: str = "head") -> list[str]:
    """Start ``model`` from a trained network's ``weights`` (its state dict: the same architecture).

    ``train``:

    - "head": copy everything but the classifier (the last ``nn.Linear``, new for the new classes) and
      fix what was copied, a feature extractor;
    - "convs": copy and fix what comes before the fully connected layers, which are all new: for a task
      unlike the source, the first layers' general edges and blobs help more than the last layers'
      answers to the old question (and the source may have seen images of another size);
    - "all": copy as "head" but fine-tune the copies at ``PRETRAINED_SCALE`` of the learning rate (an
      ``lr_scale`` on each parameter, which :func:`explorer.training.make_optimizer` reads).

    A network trained on colour images starts a grey one, and back (:func:`fit_channels`). Returns the
    names copied. Raises ArchitectureError, in words a student can act on, when the network does not fit.
    """
    if train not in TRANSFER_MODES:
        raise ArchitectureError(f"train must be one of {', '.join(TRANSFER_MODES)}, not {train!r}")
    linear = [name for name, module in model.named_modules() if isinstance(module, nn.Linear)]
    new = tuple(f"{name}." for name in (linear if train == "convs" else linear[-1:]))
    first = f"{_first_conv(model)[0]}.weight"
    state = model.state_dict()
    # a scramble's places are the network's own (one for every run), whichever network trained the weights
    copied = [key for key in state if not key.startswith(new) and not key.startswith("scramble.")]
    for key in copied:
        if key not in weights:
            raise ArchitectureError(f"the trained network is another architecture: it has no {key}")
        source = fit_channels(weights[key], state[key].shape[1]) if key == first else weights[key]
        if source.shape != state[key].shape:
            raise ArchitectureError(_misfit(model, key, tuple(weights[key].shape), tuple(state[key].shape)))
        state[key] = source
    model.load_state_dict(state)
    for name, parameter in model.named_parameters():
        if not name.startswith(new):
            if train in ("head", "convs"):
                parameter.requires_grad_(False)
            else:
                parameter.lr_scale = PRETRAINED_SCALE
    return copied


def linear_layers(config: dict) -> int:
    """How many fully connected layers the config's network has, its classifier included."""
    name = config.get("model") or "custom"
    if name in REGISTRY_MODELS:
        with torch.device("meta"):  # its modules, without memory or draws from the random generator
            return sum(isinstance(m, nn.Linear) for m in _BUILDERS[name](models.spec(name)).modules())
    layers = config.get("layers")
    return 1 + sum(isinstance(layer, dict) and layer.get("type") == "linear"
                   for layer in (default_layers() if layers is None else layers))


def fit_channels(filters: torch.Tensor, channels: int) -> torch.Tensor:
    """First-layer ``filters`` (O, C, k, k) for images of ``channels`` channels, answering the same to grey.

    RGB to grey sums the colour filters, so a grey image gives what the same image repeated over R, G
    and B gave before; grey to RGB splits each filter evenly, so R = G = B gives the grey answer. Other
    pairs come back as they are, for the caller to refuse.
    """
    if filters.dim() != 4 or filters.shape[1] == channels:
        return filters
    if channels == 1:
        return filters.sum(dim=1, keepdim=True)
    if filters.shape[1] == 1:
        return filters.repeat(1, channels, 1, 1) / channels
    return filters


def source_channels(weights: dict[str, torch.Tensor]) -> int | None:
    """The image channels a trained network read: its first 4-D weight's input channels (state dicts
    keep forward order here)."""
    return next((int(w.shape[1]) for w in weights.values() if w.dim() == 4), None)


def _misfit(model: nn.Module, key: str, theirs: tuple[int, ...], ours: tuple[int, ...]) -> str:
    """Why a trained tensor does not fit, in the terms of the images rather than of the tensors."""
    module = model.get_submodule(key.rsplit(".", 1)[0])
    if isinstance(module, nn.Linear) and len(theirs) == 2 and theirs[0] == ours[0]:
        return (f"the trained network saw images of another size: its {key.rsplit('.', 1)[0]} takes "
                f"{theirs[1]:,} values, this one's {ours[1]:,} (train new fully connected layers, or start from "
                "one trained on images of this data set's size)")
    return (f"the trained network has another shape: its {key} is {theirs}, this one's is {ours} "
            "(start from the same network)")


# --- hand-set first filters --------------------------------------------------------------------

def set_filters(model: nn.Module, names: list[str], frozen: bool = False) -> nn.Conv2d:
    """Put named kernels (``kernels.PRESETS``) into the first conv's filters, in order; returns that conv.

    A kernel smaller than the conv's is centred in zeros (a 3x3 Sobel in a 5x5 filter); a larger
    one is refused. On C input channels each channel gets ``kernel / C``, so a grey image repeated
    over RGB gives the same response as the kernel on grey. Hand-set filters get bias 0; the rest
    keep their random initialisation. ``frozen``: the hand-set filters (weights and biases) stop
    learning while the conv's other filters learn beside them, so the filters we know can be compared
    with the filters training finds; with no kernel named, or one for every filter, the whole conv stops.
    """
    conv_name, layer = _first_conv(model)
    names = _kernel_names(names, layer, conv_name)
    with torch.no_grad():
        for f, kernel_name in enumerate(names):
            kernel = _centred(kernels.PRESETS[kernel_name], layer.kernel_size, kernel_name, conv_name)
            layer.weight[f] = kernel / layer.in_channels  # (kh, kw) broadcast over (C_in, kh, kw)
            if layer.bias is not None:
                layer.bias[f] = 0.0
    if frozen and 0 < len(names) < layer.out_channels:
        _fix_first(layer, len(names))
    else:
        for parameter in layer.parameters():
            parameter.requires_grad_(not frozen)
    return layer


def _fix_first(layer: nn.Conv2d, count: int) -> None:
    """Keep ``layer``'s first ``count`` filters as they are while the rest learn.

    Their rows of each gradient are zero, so AdamW's and SGD's momentum never moves them; weight decay
    would still shrink them, so the layer's parameters take none (``decay``, read by
    ``training.make_optimizer``).
    """
    def zero_rows(grad: torch.Tensor) -> torch.Tensor:
        grad = grad.clone()
        grad[:count] = 0
        return grad

    for parameter in layer.parameters():
        parameter.register_hook(zero_rows)
        parameter.decay = False
    layer.fixed_filters = count  # for :func:`learning`: the hooks leave these rows' parameters requiring a gradient


def learning(model: nn.Module) -> tuple[int, int]:
    """How many of ``model``'s parameters training moves, and how many it has: those that require no gradient (a
    transfer's fixed layers, a frozen first conv) and the rows of a first conv's fixed filters stay as they are."""
    total = sum(p.numel() for p in model.parameters())
    moving = sum(p.numel() for p in model.parameters() if p.requires_grad)
    for module in model.modules():
        if (fixed := getattr(module, "fixed_filters", 0)) and module.weight.requires_grad:  # else counted already
            moving -= fixed * (module.weight[0].numel() + (module.bias is not None))
    return moving, total


def _kernel_names(names: object, layer: nn.Conv2d, conv_name: str) -> list[str]:
    if isinstance(names, str) or not isinstance(names, (list, tuple)):
        raise ArchitectureError(f"init kernels must be a list of kernel names, not {names!r:.40}")
    unknown = [n for n in names if n not in kernels.PRESETS]
    if unknown:
        raise ArchitectureError(f"unknown kernel {unknown[0]!r}; choose from {', '.join(kernels.PRESETS)}")
    if len(names) > layer.out_channels:
        raise ArchitectureError(f"{len(names)} hand-set kernels, but {conv_name} has only "
                                f"{layer.out_channels} filters")
    return list(names)


def _centred(kernel: torch.Tensor, size: tuple[int, int], kernel_name: str, conv_name: str) -> torch.Tensor:
    """``kernel`` (kh, kw) in the middle of a zero (H, W) grid; the odd extra row/column goes after."""
    (kh, kw), (height, width) = kernel.shape, size
    if kh > height or kw > width:
        raise ArchitectureError(f"the {kh}x{kw} kernel {kernel_name!r} does not fit {conv_name}'s "
                                f"{height}x{width} filters; use a kernel size of at least {max(kh, kw)}")
    top, left = (height - kh) // 2, (width - kw) // 2
    grid = torch.zeros(height, width)
    grid[top:top + kh, left:left + kw] = kernel
    return grid
