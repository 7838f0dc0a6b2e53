"""Build a CNN from a plain description: a registry model, or the page's own table of layers.

A description is a dict, as a page holds it in session state::

    {"model": "custom", "data": "mnist",
     "layers": [{"type": "conv", "out": 8, "kernel": 3, "padding": 1}, {"type": "relu"}, ...],
     "init": {"kernels": ["sobel (horizontal edges)", "laplacian"], "frozen": True}}

:func:`plan` computes every layer's output shape and parameter count with the lecture's
formulas (``conv.output_size``, ``conv.param_count``) without building anything, and marks the
first impossible layer; :func:`build` turns the same walk into a named ``nn.Sequential``. Both
share one walk over the layers, so the table a page shows is the network it trains.

Numbers may arrive as text from a table ("3"); blank cells (None, "", NaN) mean "the default".
Error messages count layers from 1 ("layer 3 (conv): ..."), as a person reads the table.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import numbers
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator
from functools import partial

import torch
from torch import nn

from explorer import conv, kernels, models

LAYER_TYPES = ("conv", "pool", "relu", "tanh", "sigmoid", "dropout", "batchnorm", "flatten", "linear")
REGISTRY_MODELS = ("lenet5", "tinyvgg", "resnet_small")  # models.build's own small networks
HAND_SET = ("sobel (horizontal edges)", "sobel (vertical edges)", "laplacian", "gaussian 5x5 (sigma 1)",
            "box blur 3x3", "X pattern")  # the lecture's kernels (SEEDS section 2) a page offers as first filters

MAX_LAYERS = 20  # a teaching network; more rows are a typo or a stuck key
MAX_PARAMS = 5_000_000  # trains in seconds to minutes on a CPU
MAX_WIDTH = 1024  # filters of a conv, units of a linear layer

# Layer names for the UI and feature extraction: never "<name>_<digits>", which
# torchvision's feature extraction reads as a repeated call of one module.
_PREFIX = {"conv": "conv", "pool": "pool", "relu": "relu", "tanh": "tanh", "sigmoid": "sigmoid",
           "dropout": "drop", "batchnorm": "bn", "flatten": "flatten", "linear": "fc"}
_REQUIRED = {"out": "the number of filters or units"}

_STATS: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "mnist": (models.MNIST_MEAN, models.MNIST_STD),
    "fashion-mnist": ((0.2860,), (0.3530,)),  # the Fashion-MNIST training set's pixel statistics
    "cifar10": (models.CIFAR_MEAN, models.CIFAR_STD),
    "shapes": ((0.5,), (0.25,)),  # the built-in set: any ink on any paper, so the middle of [0, 1]
}
_LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601, as images.to_grey


class ArchitectureError(ValueError):
    """Impossible settings; the message names the layer (e.g. "layer 3 (conv): the 5x5 kernel is larger than its 4x4 input").

    ``index``: the position (from 0) of the offending layer in the list, None when it is not one
    of the user's layers (the classifier, the model as a whole).
    """

    def __init__(self, message: str, index: int | None = None):
        super().__init__(message)
        self.index = index


_Made = tuple[Callable[[], nn.Module], tuple[int, ...], int]  # (module factory, output shape, parameters)


@dataclasses.dataclass(frozen=True)
class _Step:
    """One layer of the walk: what it is, what it outputs, and how to make it."""

    index: int | None  # position in the user's list; None for a layer added automatically
    name: str
    type: str
    out_shape: tuple[int, ...]  # (C, H, W) or (F,), without the batch
    params: int
    make: Callable[[], nn.Module]

    def row(self) -> dict:
        return {"index": self.index, "name": self.name, "type": self.type, "out_shape": self.out_shape,
                "params": self.params, "error": None}


# --- normalisation ---------------------------------------------------------------------------

def normalization(data_name: str, channels: int | None = None) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel (mean, std) of a data set's training pixels in [0, 1], for ``models.Normalize``.

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


# --- reading the table's cells ---------------------------------------------------------------

def _blank(value: object) -> bool:
    """None, empty text, or NaN: how a table shows a cell nobody filled in."""
    return value is None or (isinstance(value, str) and not value.strip()) or (
        isinstance(value, float) and math.isnan(value))


def _number(layer: dict, key: str, where: str) -> float | None:
    """The cell ``layer[key]`` as a finite float, None when blank; text like "3" is accepted."""
    value = layer.get(key)
    if _blank(value):
        return None
    if isinstance(value, bool):
        raise ArchitectureError(f"{where}: {key} is {value!r}, not a number")
    try:
        number = float(value.strip() if isinstance(value, str) else value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ArchitectureError(f"{where}: {key} is {str(value)[:20]!r}, which is not a number") from None
    if not math.isfinite(number):
        raise ArchitectureError(f"{where}: {key} is {value!r}: give a finite number")
    return number


def _integer(layer: dict, key: str, where: str, default: int | None = None, low: int = 1,
             high: int | None = None) -> int:
    """A whole number in ``[low, high]``; ``default`` when blank (None: the cell is required)."""
    number = _number(layer, key, where)
    if number is None:
        if default is None:
            raise ArchitectureError(f"{where}: needs {key} ({_REQUIRED.get(key, 'a whole number')})")
        return default
    if not number.is_integer():
        raise ArchitectureError(f"{where}: {key} must be a whole number, not {layer[key]!r}")
    if number < low or (high is not None and number > high):
        limit = f"at least {low}" if high is None else f"from {low} to {high}"
        raise ArchitectureError(f"{where}: {key} must be {limit}, not {int(number)}")
    return int(number)


def _kind(layer: object, i: int) -> str:
    """The layer's type, lower-cased; an error naming the choices when it is missing or unknown."""
    if not isinstance(layer, dict):
        raise ArchitectureError(f"layer {i + 1}: expected a dict like {{'type': 'relu'}}, got {layer!r:.40}", i)
    kind = str(layer.get("type", "")).strip().lower()
    if kind not in LAYER_TYPES:
        what = "has no type" if _blank(layer.get("type")) else f"has the unknown type {layer['type']!r}"
        raise ArchitectureError(f"layer {i + 1} {what}; choose one of {', '.join(LAYER_TYPES)}", i)
    return kind


# --- one function per layer type: (layer, input shape, where) -> (factory, output shape, parameters)

def _feature_map(shape: tuple[int, ...], where: str, what: str) -> tuple[int, int, int]:
    if len(shape) != 3:
        raise ArchitectureError(f"{where}: {what} needs a C x H x W feature map, but the data are already "
                                f"a flat vector of {shape[0]:,} values (a conv or pool cannot follow a flatten)")
    return shape  # type: ignore[return-value]


def _side(hw: tuple[int, int], kernel: int, padding: int, stride: int, dilation: int, where: str,
          what: str) -> tuple[int, int]:
    """Output height and width, ``floor((n + 2P - D(F-1) - 1) / S) + 1``; an error with the numbers if < 1."""
    sides = tuple(math.floor(conv.output_size(n, kernel, padding, stride, dilation)) for n in hw)
    for n, side in zip(hw, sides):
        if side < 1:  # the (dilated) window is wider than the padded input
            dilated = f" (dilated to {dilation * (kernel - 1) + 1})" if dilation > 1 else ""
            padded = f" (padded {padding} on each side)" if padding else ""
            raise ArchitectureError(
                f"{where}: the {kernel}x{kernel} {what}{dilated} is larger than its {hw[0]}x{hw[1]} input{padded}: "
                f"output size = floor(({n} + 2*{padding} - {dilation}*({kernel} - 1) - 1) / {stride}) + 1 = {side}")
    return sides  # type: ignore[return-value]


def _conv(layer: dict, shape: tuple[int, ...], where: str) -> _Made:
    """``nn.Conv2d``: ``(C, H, W) -> (out, H', W')``, ``(F*F*C + 1) * out`` parameters."""
    c, h, w = _feature_map(shape, where, "a convolution")
    out = _integer(layer, "out", where, high=MAX_WIDTH)
    kernel = _integer(layer, "kernel", where, default=3)
    stride = _integer(layer, "stride", where, default=1)
    dilation = _integer(layer, "dilation", where, default=1)
    padding = _integer(layer, "padding", where, default=0, low=0)
    most = dilation * (kernel // 2)  # "same" padding; beyond it the border windows see little but zeros
    if padding > most:
        raise ArchitectureError(f"{where}: padding {padding} is more than half the {kernel}x{kernel} kernel "
                                f"(at most {most} with dilation {dilation})")
    out_h, out_w = _side((h, w), kernel, padding, stride, dilation, where, "kernel")
    make = partial(nn.Conv2d, c, out, kernel, stride=stride, padding=padding, dilation=dilation)
    return make, (out, out_h, out_w), conv.param_count(c, out, kernel)


def _pool(layer: dict, shape: tuple[int, ...], where: str) -> _Made:
    """``nn.MaxPool2d`` or ``nn.AvgPool2d`` over ``size x size`` windows (stride: the size); no parameters."""
    c, h, w = _feature_map(shape, where, "pooling")
    kind = "max" if _blank(layer.get("kind")) else str(layer["kind"]).strip().lower()
    if kind not in ("max", "avg"):
        raise ArchitectureError(f"{where}: kind must be 'max' or 'avg', not {layer['kind']!r}")
    size = _integer(layer, "size", where, default=2)
    stride = _integer(layer, "stride", where, default=size)
    padding = _integer(layer, "padding", where, default=0, low=0)
    if padding > size // 2:  # PyTorch's own rule for pooling
        raise ArchitectureError(f"{where}: padding {padding} is more than half the {size}x{size} window "
                                f"(at most {size // 2})")
    out_h, out_w = _side((h, w), size, padding, stride, 1, where, "window")
    module = nn.MaxPool2d if kind == "max" else nn.AvgPool2d
    return partial(module, size, stride, padding), (c, out_h, out_w), 0


def _activation(module: type[nn.Module]) -> Callable[[dict, tuple[int, ...], str], _Made]:
    """ReLU, tanh, sigmoid: elementwise, the shape kept, no parameters."""
    return lambda layer, shape, where: (module, shape, 0)


def _dropout(layer: dict, shape: tuple[int, ...], where: str) -> _Made:
    """``nn.Dropout(p)``: zeroes each value with probability ``p`` while training (and scales by ``1/(1-p)``)."""
    p = _number(layer, "p", where)
    p = 0.5 if p is None else p
    if not 0 <= p < 1:
        raise ArchitectureError(f"{where}: p is the chance to drop a value, from 0 up to (not including) 1; not {p:g}")
    return partial(nn.Dropout, p), shape, 0


def _batchnorm(layer: dict, shape: tuple[int, ...], where: str) -> _Made:
    """Batch norm per channel (``BatchNorm2d``) or per feature once flat (``BatchNorm1d``): ``2 C`` parameters."""
    module = nn.BatchNorm2d if len(shape) == 3 else nn.BatchNorm1d
    return partial(module, shape[0]), shape, 2 * shape[0]


def _flatten(layer: dict, shape: tuple[int, ...], where: str) -> _Made:
    """``(C, H, W) -> (C*H*W,)``."""
    if len(shape) != 3:
        raise ArchitectureError(f"{where}: the data are already a flat vector of {shape[0]:,} values")
    return nn.Flatten, (math.prod(shape),), 0


def _linear(layer: dict, shape: tuple[int, ...], where: str) -> _Made:
    """``nn.Linear``: ``(F,) -> (out,)``, ``(F + 1) * out`` parameters."""
    out = _integer(layer, "out", where, high=MAX_WIDTH)
    return partial(nn.Linear, shape[0], out), (out,), conv.dense_param_count(shape[0], out, bias=True)


_LAYERS: dict[str, Callable[[dict, tuple[int, ...], str], _Made]] = {
    "conv": _conv, "pool": _pool, "relu": _activation(nn.ReLU), "tanh": _activation(nn.Tanh),
    "sigmoid": _activation(nn.Sigmoid), "dropout": _dropout, "batchnorm": _batchnorm, "flatten": _flatten,
    "linear": _linear,
}


# --- the walk shared by plan and build ------------------------------------------------------

def _names(layers: list) -> list[str]:
    """conv1, relu1, pool1, conv2, ..., flatten, fc1: numbered per type in order; "layerN" for bad rows."""
    counts: Counter[str] = Counter()
    names = []
    for i, layer in enumerate(layers):
        kind = str(layer.get("type", "")).strip().lower() if isinstance(layer, dict) else ""
        if kind not in _PREFIX:
            names.append(f"layer{i + 1}")
            continue
        counts[kind] += 1
        names.append("flatten" if kind == "flatten" else f"{_PREFIX[kind]}{counts[kind]}")
    return names


def _check_input(input_shape: tuple[int, int, int], classes: int) -> tuple[int, int, int]:
    """``input_shape`` as plain ints (a torch.Size or NumPy ints are fine); an error if it cannot be one."""
    shape = tuple(input_shape)
    if len(shape) != 3 or not all(_whole(n) and n >= 1 for n in shape):
        raise ArchitectureError(f"the input shape must be (channels, height, width) of positive ints, not {input_shape}")
    if not _whole(classes) or classes < 1:
        raise ArchitectureError(f"classes must be a positive int, not {classes!r}")
    return tuple(int(n) for n in shape)  # type: ignore[return-value]


def _whole(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _steps(layers: list, input_shape: tuple[int, int, int], classes: int) -> Iterator[_Step]:
    """Every layer in forward order with its output shape: the user's, then flatten (if needed) and fc_out.

    A linear layer on a feature map gets a flatten before it, as the classifier does.
    Raises ArchitectureError at the first impossible layer (after yielding the ones before it).
    """
    shape: tuple[int, ...] = _check_input(input_shape, classes)
    classes = int(classes)
    names, total = _names(layers), 0
    for i, layer in enumerate(layers):
        if i >= MAX_LAYERS:
            raise ArchitectureError(f"layer {i + 1}: this app builds at most {MAX_LAYERS} layers; remove some", i)
        kind = _kind(layer, i)
        if kind == "linear" and len(shape) == 3:
            yield (step := _made(None, "flatten", "flatten", _flatten({}, shape, "")))
            shape = step.out_shape
        where = f"layer {i + 1} ({kind})"
        try:
            step = _made(i, names[i], kind, _LAYERS[kind](layer, shape, where))
        except ArchitectureError as exc:
            raise ArchitectureError(str(exc), i) from None
        total = _add_params(total, step, where)
        yield step
        shape = step.out_shape
    if len(shape) == 3:
        yield (step := _made(None, "flatten", "flatten", _flatten({}, shape, "")))
        shape = step.out_shape
    step = _made(None, "fc_out", "linear", _linear({"out": classes}, shape, "the classifier"))
    _add_params(total, step, "the classifier (fc_out)")
    yield step


def _made(index: int | None, name: str, kind: str, made: _Made) -> _Step:
    make, out_shape, params = made
    return _Step(index, name, kind, out_shape, params, make)


def _add_params(total: int, step: _Step, where: str) -> int:
    """The running parameter count; an error where it passes ``MAX_PARAMS``."""
    if total + step.params > MAX_PARAMS:
        raise ArchitectureError(
            f"{where}: its {step.params:,} parameters bring the network to {total + step.params:,}, over this "
            f"app's limit of {MAX_PARAMS:,}; use fewer filters or units, or pool more before flattening", step.index)
    return total + step.params


def plan(layers: list[dict], input_shape: tuple[int, int, int], classes: int) -> list[dict]:
    """The builder table: one row per layer, ``{"index", "name", "type", "out_shape", "params", "error"}``.

    Shapes and parameter counts come from the formulas, not from building the network. The
    classifier ``fc_out`` (to ``classes`` outputs) is appended, with a flatten before it if needed
    (rows added automatically have ``index`` None). Bad layers do not raise: the first impossible
    one gets its message in ``"error"``, and the rows after it have ``out_shape`` and ``params`` None.
    Only a bad ``input_shape`` or ``classes`` (no fault of the table) raises ArchitectureError.
    """
    _check_input(input_shape, classes)
    rows: list[dict] = []
    try:
        for step in _steps(_as_list(layers), input_shape, classes):
            rows.append(step.row())
    except ArchitectureError as exc:
        rows += _failed_rows(_as_list(layers), exc)
    return rows


def _as_list(layers: list[dict]) -> list:
    if not isinstance(layers, (list, tuple)):
        raise ArchitectureError(f"layers must be a list of dicts, not {type(layers).__name__}")
    return list(layers)


def _failed_rows(layers: list, exc: ArchitectureError) -> list[dict]:
    """The failing layer's row with its message, then the rest uncomputed (the classifier last)."""
    if exc.index is None:  # the classifier failed: every user layer before it was fine
        return [_row(None, "fc_out", "linear", str(exc))]
    names = _names(layers)
    rows = [_row(i, names[i], _type_text(layers[i]), str(exc) if i == exc.index else None)
            for i in range(exc.index, len(layers))]
    return rows + [_row(None, "fc_out", "linear", None)]


def _type_text(layer: object) -> str:
    return str(layer.get("type", "")).strip().lower() if isinstance(layer, dict) else ""


def _row(index: int | None, name: str, kind: str, error: str | None) -> dict:
    return {"index": index, "name": name, "type": kind, "out_shape": None, "params": None, "error": error}


def default_layers() -> list[dict]:
    """A small sensible CNN: two conv-relu-pool stages (8 and 16 filters of 3x3), then 64 hidden units.

    On a 1 x 28 x 28 input: 8 x 28 x 28 -> 8 x 14 x 14 -> 16 x 14 x 14 -> 16 x 7 x 7 -> 784 -> 64 -> classes.
    """
    return [
        {"type": "conv", "out": 8, "kernel": 3, "stride": 1, "padding": 1, "dilation": 1}, {"type": "relu"},
        {"type": "pool", "kind": "max", "size": 2, "stride": 2},
        {"type": "conv", "out": 16, "kernel": 3, "stride": 1, "padding": 1, "dilation": 1}, {"type": "relu"},
        {"type": "pool", "kind": "max", "size": 2, "stride": 2},
        {"type": "flatten"}, {"type": "linear", "out": 64}, {"type": "relu"}, {"type": "dropout", "p": 0.25},
    ]


# --- building -------------------------------------------------------------------------------

def build(config: dict, input_shape: tuple[int, int, int], classes: int) -> nn.Module:
    """A fresh model in eval mode (``torch.manual_seed`` first makes it reproducible), taking [0, 1] images.

    ``config``: ``"model"``: "custom" (default) with ``"layers"`` (default: :func:`default_layers`),
    or one of ``REGISTRY_MODELS``, fitted to ``input_shape`` and ``classes``; ``"data"``: the data
    set whose :func:`normalization` the model applies (none given: mean 0.5, std 0.25 per channel);
    ``"init"``: ``{"kernels": [PRESETS names], "frozen": bool}``, see :func:`set_filters`.
    The model is an ``nn.Sequential`` whose first child, ``normalize``, is a ``models.Normalize``.
    Raises ArchitectureError naming the layer when the settings are impossible.
    """
    if not isinstance(config, dict):
        raise ArchitectureError(f"config must be a dict, not {type(config).__name__}")
    shape = _check_input(input_shape, classes)
    mean, std = _stats(config, shape[0])
    name = config.get("model") or "custom"
    if name == "custom":
        layers = config.get("layers")
        model = _custom(default_layers() if layers is None else _as_list(layers), shape, classes, mean, std)
    elif name in REGISTRY_MODELS:
        model = _registry_model(name, shape, classes, mean, std)
    else:
        raise ArchitectureError(f"unknown model {name!r}; choose custom or one of {', '.join(REGISTRY_MODELS)}")
    init = config.get("init") or {}
    if not isinstance(init, dict):
        raise ArchitectureError(f"init must be a dict like {{'kernels': [...], 'frozen': False}}, not {init!r:.40}")
    if init.get("kernels") or init.get("frozen"):
        set_filters(model, init.get("kernels") or [], bool(init.get("frozen")))
    return model.eval()


def _stats(config: dict, channels: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    data_name = config.get("data")
    if data_name is None:
        return (0.5,) * channels, (0.25,) * channels  # neutral: [0, 1] maps to [-2, 2]
    return normalization(data_name, channels)


def _custom(layers: list, input_shape: tuple[int, int, int], classes: int, mean: tuple[float, ...],
            std: tuple[float, ...]) -> nn.Sequential:
    """The walk's layers as modules, made in order (so a seed fixes every weight)."""
    steps = list(_steps(layers, input_shape, classes))  # every check passes before anything is built
    children = OrderedDict(normalize=models.Normalize(mean, std))
    children.update((step.name, step.make()) for step in steps)
    return nn.Sequential(children)


_BUILDERS: dict[str, Callable[[models.ModelSpec], nn.Sequential]] = {
    "lenet5": models.lenet5, "tinyvgg": models.tinyvgg, "resnet_small": models.resnet_small,
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


# --- hand-set first filters --------------------------------------------------------------------

def set_filters(model: nn.Module, names: list[str], frozen: bool = False) -> nn.Conv2d:
    """Put named kernels (``kernels.PRESETS``) into the first conv's filters, in order; returns that conv.

    A kernel smaller than the conv's is centred in zeros (a 3x3 Sobel in a 5x5 filter); a larger
    one is refused. On C input channels each channel gets ``kernel / C``, so a grey image repeated
    over RGB gives the same response as the kernel on grey. Hand-set filters get bias 0; the rest
    keep their random initialisation. ``frozen``: the whole conv (weight and bias) stops learning,
    so training can be compared with the filters we know against the filters it finds.
    """
    conv_name, layer = _first_conv(model)
    names = _kernel_names(names, layer, conv_name)
    with torch.no_grad():
        for f, kernel_name in enumerate(names):
            kernel = _centred(kernels.PRESETS[kernel_name], layer.kernel_size, kernel_name, conv_name)
            layer.weight[f] = kernel / layer.in_channels  # (kh, kw) broadcast over (C_in, kh, kw)
            if layer.bias is not None:
                layer.bias[f] = 0.0
    for parameter in layer.parameters():
        parameter.requires_grad_(not frozen)
    return layer


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
