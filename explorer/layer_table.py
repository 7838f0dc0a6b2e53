"""The page's table of layers: every layer's output shape and parameter count, before anything is built.

A table is a list of dicts, as a page holds it in session state::

    [{"type": "conv", "out": 8, "kernel": 3, "padding": 1}, {"type": "relu"}, {"type": "pool"}, ...]

:func:`plan` computes every layer's output shape and parameter count with the lecture's
formulas (``conv.output_size``, ``conv.param_count``) and marks the first impossible layer;
:func:`steps` is that same walk, which ``architecture.build`` turns into a named ``nn.Sequential``,
so the table a page shows is the network it trains.

Numbers may arrive as text from a table ("3"); blank cells (None, "", NaN) mean "the default"
(:mod:`explorer.table_cells`).
Error messages count layers from 1 ("layer 3 (conv): ..."), as a person reads the table.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections import Counter
from collections.abc import Callable, Iterator
from functools import partial

from torch import nn

from explorer import conv, labels
from explorer.table_cells import blank, cell_value

LAYER_TYPES = ("conv", "pool", "relu", "tanh", "sigmoid", "dropout", "batchnorm", "flatten", "linear")
SETTINGS = ("out", "kernel", "stride", "padding", "dilation", "kind", "size", "p")  # a layer's keys beside its type
MAX_LAYERS = 20  # a teaching network; more rows are a typo or a stuck key
MAX_PARAMS = 5_000_000  # trains in seconds to minutes on a CPU
MAX_WIDTH = 1024  # filters of a conv, units of a linear layer
# a kernel, stride, dilation, window or padding: far past any input here, and within PyTorch's 64-bit integers (a
# stride of 1e20 passed the plan and broke the first forward pass in C++)
MAX_SETTING = 1024

# Layer names for the UI and feature extraction: never "<name>_<digits>", which
# torchvision's feature extraction reads as a repeated call of one module.
_PREFIX = {"conv": "conv", "pool": "pool", "relu": "relu", "tanh": "tanh", "sigmoid": "sigmoid",
           "dropout": "drop", "batchnorm": "bn", "flatten": "flatten", "linear": "fc"}
_REQUIRED = {"out": "the number of filters or units"}


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
class Step:
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


# --- reading the table's cells ---------------------------------------------------------------

def _number(layer: dict, key: str, where: str) -> float | None:
    """The cell ``layer[key]`` as a finite float, None when blank; text like "3" is accepted."""
    value = layer.get(key)
    if blank(value):
        return None
    if isinstance(value, bool):
        raise ArchitectureError(f"{where}: {key} is {value!r}, not a number")
    try:
        number = float(value.strip() if isinstance(value, str) else value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ArchitectureError(f"{where}: {key} is {str(value)[:20]!r}, which is not a number"
                                f"{labels.decimal_comma(value)}") from None
    except OverflowError:  # a whole number too long for a float: 400 digits typed or linked
        raise ArchitectureError(f"{where}: {key} has {len(str(value))} digits, far too large") from None
    if not math.isfinite(number):
        raise ArchitectureError(f"{where}: {key} is {value!r}: give a finite number")
    return number


def _integer(layer: dict, key: str, where: str, default: int | None = None, low: int = 1,
             high: int = MAX_SETTING) -> int:
    """A whole number in ``[low, high]``; ``default`` when blank (None: the cell is required)."""
    number = _number(layer, key, where)
    if number is None:
        if default is None:
            raise ArchitectureError(f"{where}: needs {key} ({_REQUIRED.get(key, 'a whole number')})")
        return default
    if not number.is_integer():
        raise ArchitectureError(f"{where}: {key} must be a whole number, not {layer[key]!r}")
    if not low <= number <= high:
        raise ArchitectureError(f"{where}: {key} must be from {low} to {high}, not {str(layer[key]).strip()[:20]}")
    return int(number)


def _kind(layer: object, i: int) -> str:
    """The layer's type, lower-cased; an error naming the choices when it is missing or unknown."""
    if not isinstance(layer, dict):
        raise ArchitectureError(f"layer {i + 1}: expected a dict like {{'type': 'relu'}}, got {layer!r:.40}", i)
    kind = str(layer.get("type", "")).strip().lower()
    if kind not in LAYER_TYPES:
        what = "has no type" if blank(layer.get("type")) else f"has the unknown type {layer['type']!r}"
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
                f"output size = floor(({n} + 2·{padding} - {dilation}·({kernel} - 1) - 1) / {stride}) + 1 = {side}")
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
    kind = "max" if blank(layer.get("kind")) else str(layer["kind"]).strip().lower()
    if kind not in ("max", "avg"):
        raise ArchitectureError(f"{where}: kind must be 'max' or 'avg', not {layer['kind']!r}")
    size = _integer(layer, "size", where, default=2)
    if _integer(layer, "dilation", where, default=1) != 1:  # PyTorch's average pool has none; ours take none
        raise ArchitectureError(f"{where}: dilation is a convolution's setting here; a pooling window takes "
                                f"size, stride and padding (leave dil empty or 1)")
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


# --- the walk shared by plan and architecture.build ------------------------------------------

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


def check_input(input_shape: tuple[int, int, int], classes: int) -> tuple[int, int, int]:
    """``input_shape`` as plain ints (a torch.Size or NumPy ints are fine); an error if it cannot be one."""
    shape = tuple(input_shape)
    if len(shape) != 3 or not all(_whole(n) and n >= 1 for n in shape):
        raise ArchitectureError(f"the input shape must be (channels, height, width) of positive ints, not {input_shape}")
    if not _whole(classes) or classes < 1:
        raise ArchitectureError(f"classes must be a positive int, not {classes!r}")
    return tuple(int(n) for n in shape)  # type: ignore[return-value]


def _whole(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def steps(layers: list, input_shape: tuple[int, int, int], classes: int) -> Iterator[Step]:
    """Every layer in forward order with its output shape: the user's, then flatten (if needed) and fc_out.

    A linear layer on a feature map gets a flatten before it, as the classifier does.
    Raises ArchitectureError at the first impossible layer (after yielding the ones before it).
    """
    shape: tuple[int, ...] = check_input(input_shape, classes)
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


def _made(index: int | None, name: str, kind: str, made: _Made) -> Step:
    make, out_shape, params = made
    return Step(index, name, kind, out_shape, params, make)


def _add_params(total: int, step: Step, where: str) -> int:
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
    check_input(input_shape, classes)
    rows: list[dict] = []
    try:
        for step in steps(as_list(layers), input_shape, classes):
            rows.append(step.row())
    except ArchitectureError as exc:
        rows += _failed_rows(as_list(layers), exc)
    return rows


def as_list(layers: list[dict]) -> list:
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


def to_text(layers: list[dict]) -> str:
    """Layers for a link: ``conv,out=8,kernel=3;relu;pool,kind=max,size=2``; :func:`from_text` reads it back."""
    def value(v: object) -> str:  # typed text keeps its place: its commas and the like would split the layer
        if isinstance(v, float):  # short where that is exact; a dropout of 0.1234567 had come back 0.123457
            return f"{v:g}" if float(f"{v:g}") == v else repr(v)
        return labels.link_cell(str(v).strip())

    return ";".join(",".join([str(layer.get("type", ""))] + [f"{k}={value(v)}" for k, v in layer.items()
                                                             if k != "type"]) for layer in layers)


def from_text(text: str) -> list[dict]:
    """The layers a link names (see :func:`to_text`); ValueError names what is wrong. The plan checks the rest."""
    layers = []
    for part in filter(None, (p.strip() for p in text.split(";"))):
        kind, *pairs = (p.strip() for p in part.split(","))
        if kind not in LAYER_TYPES:
            raise ValueError(f"{kind[:20]!r} is not a layer type ({', '.join(LAYER_TYPES)})")
        layer: dict = {"type": kind}
        for pair in pairs:
            key, _, raw = pair.partition("=")
            if not key or not raw:
                raise ValueError(f"{pair[:20]!r} in a {kind} layer is not key=value")
            if key not in SETTINGS:  # the editor has no column for it: the network would quietly differ
                raise ValueError(f"{key[:20]!r} is not a layer setting here ({', '.join(SETTINGS)})")
            raw = labels.from_link_cell(raw)
            layer[key] = raw if key == "kind" else cell_value(raw)  # text that is no number: the plan names it
        layers.append(layer)
    if not 1 <= len(layers) <= MAX_LAYERS:
        raise ValueError(f"a network here has 1 to {MAX_LAYERS} layers")
    return layers
