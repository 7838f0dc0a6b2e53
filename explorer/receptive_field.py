"""Receptive fields: which input pixels each unit of each layer can see.

Two answers, both from the model's traced graph (torch.fx via torchvision's feature extraction),
so branching networks (ResNet's additions, GoogLeNet's concatenations) are walked as graphs:

- the textbook numbers per layer and axis (Araujo et al. 2019, "Computing receptive fields"):
  size ``r``, jump ``j`` (input pixels between neighbouring units) and ``start`` (the centre of
  unit 0), from ``r' = r + (k_eff - 1) j``, ``j' = j s``, ``start' = start + ((k_eff - 1)/2 - p) j``
  with ``k_eff = d (k - 1) + 1``;
- the exact box of one unit: the index sets it depends on, propagated back op by op per axis.
  At the borders this is smaller than the textbook box (padding, windows cut by stride, dilation
  holes): it is the bounding box of the input pixels with a non-zero gradient.

Plus the effective receptive field (Luo et al. 2016): the gradient of one unit with respect to
the input, which is concentrated in the middle of the theoretical box.
"""

from __future__ import annotations

import math
import operator
import weakref
from dataclasses import dataclass

import numpy as np
import torch
from torch import fx, nn

from explorer import extraction, networks

Box = tuple[int, int, int, int]  # (top, left, bottom, right), bottom and right exclusive
_ELEMENTWISE_FUNCTIONS = {
    "relu", "relu_", "add", "iadd", "sub", "mul", "truediv", "cat", "dropout", "sigmoid", "tanh", "gelu",
    "silu", "hardswish", "hardsigmoid", "leaky_relu", "batch_norm", "contiguous", "clone", "neg",
}
_GLOBAL_FUNCTIONS = {"flatten", "view", "reshape", "mean", "linear"}


@dataclass(frozen=True)
class _Op:
    """How one graph node maps positions along one axis: a window, an adaptive pool, same or global."""

    kind: str  # "input", "window", "adaptive", "same", "global"
    kernel: tuple[int, int] = (1, 1)
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)  # before the input (and after it, plus ``extra``)
    dilation: tuple[int, int] = (1, 1)
    ceil_mode: bool = False
    out: tuple[int | None, int | None] = (None, None)  # adaptive pooling's output size
    extra: tuple[int, int] = (0, 0)  # padding after the input beyond ``padding``: "same" around an even kernel


@dataclass(frozen=True)
class Field:
    """The textbook receptive field of one layer (per axis: rows, columns).

    ``size`` is the feature map's (H, W), None for a layer without a spatial map (it sees everything).
    """

    name: str
    op: str  # a short description: "conv 5x5, stride 1, pad 2"
    size: tuple[int, int] | None
    r: tuple[int, int]
    j: tuple[int, int]
    start: tuple[float, float]
    how: str = ""  # the recurrence filled with this layer's numbers (rows)
    inputs: tuple[str, ...] = ()  # the named layers feeding this one
    window: tuple[int, int, int, int, bool] | None = None  # conv/pool rows: kernel, stride, pad, dilation, ceil


def _pair(value) -> tuple[int, int]:
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


# --- reading the graph ------------------------------------------------------------------------

_GRAPHS: weakref.WeakKeyDictionary[nn.Module, fx.GraphModule] = weakref.WeakKeyDictionary()


def graph_of(model: nn.Module) -> fx.GraphModule:
    """The model's traced graph (every node returned), made once per model object."""
    if isinstance(model, fx.GraphModule):
        return model
    if model not in _GRAPHS:
        _GRAPHS[model] = extraction.extractor(model)
    return _GRAPHS[model]


def _names(graph_module: fx.GraphModule) -> dict[fx.Node, str]:
    output = next(n for n in graph_module.graph.nodes if n.op == "output")
    return {node: name for name, node in output.args[0].items()}


def _function_name(node: fx.Node) -> str:
    target = node.target
    return target if isinstance(target, str) else getattr(target, "__name__", str(target))


def _op(graph_module: fx.GraphModule, node: fx.Node) -> _Op:
    """The spatial behaviour of ``node``; unknown operations are refused rather than guessed."""
    if node.op == "placeholder":
        return _Op("input")
    if node.op == "call_module":
        module = graph_module.get_submodule(node.target)
        if isinstance(module, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
            return _window(module)
        if isinstance(module, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
            return _Op("adaptive", out=_pair(module.output_size))
        if isinstance(module, (nn.Linear, nn.Flatten)):
            return _Op("global")
        if isinstance(module, networks.Scramble):
            raise NotImplementedError(f"{node.name} moves the pixels to random places, so a unit sees pixels "
                                      "scattered over the image, not a box")
        return _Op("same")  # activations, normalisations, dropout: position by position
    name = _function_name(node)
    if name in ("max_pool2d", "avg_pool2d"):
        return _functional_pool(node, name)
    if name in _GLOBAL_FUNCTIONS:
        return _Op("global")
    if name in _ELEMENTWISE_FUNCTIONS or node.target in (operator.add, operator.mul):
        if name == "cat" and node.kwargs.get("dim", node.args[1] if len(node.args) > 1 else 0) not in (1, -3):
            raise NotImplementedError(f"{node.name}: concatenation along a spatial axis")
        return _Op("same")
    raise NotImplementedError(f"the receptive field cannot be followed through {node.name} ({name})")


def _window(module: nn.Module) -> _Op:
    kernel, stride = _pair(module.kernel_size), _pair(module.stride or module.kernel_size)
    dilation = _pair(getattr(module, "dilation", 1))
    padding, extra = module.padding, (0, 0)
    if padding == "valid":
        padding = (0, 0)
    elif padding == "same":  # PyTorch puts the odd pixel of padding at the end
        padding = tuple(d * (k - 1) // 2 for k, d in zip(kernel, dilation))
        extra = tuple(d * (k - 1) % 2 for k, d in zip(kernel, dilation))
    return _Op("window", kernel, stride, _pair(padding), dilation, bool(getattr(module, "ceil_mode", False)),
               extra=extra)


def _functional_pool(node: fx.Node, name: str) -> _Op:
    """``F.max_pool2d(x, kernel, stride, padding, dilation, ceil_mode)`` / ``F.avg_pool2d(x, kernel, stride,
    padding, ceil_mode)``, read from the call's arguments."""
    order = ["input", "kernel_size", "stride", "padding"] + (["dilation"] if name == "max_pool2d" else []) + ["ceil_mode"]
    given = {**dict(zip(order, node.args)), **node.kwargs}
    kernel = _pair(given["kernel_size"])
    return _Op("window", kernel, _pair(given.get("stride") or kernel), _pair(given.get("padding", 0)),
               _pair(given.get("dilation", 1)), bool(given.get("ceil_mode", False)))


def _spatial_inputs(node: fx.Node, sizes: dict) -> list[fx.Node]:
    """The inputs of ``node`` that carry a feature map."""
    return [n for n in node.all_input_nodes if n in sizes]


def _window_size(n: int, op: _Op, axis: int) -> int:
    """PyTorch's output length of a window op (conv or pooling) on ``n`` positions."""
    k, s, p, d = op.kernel[axis], op.stride[axis], op.padding[axis], op.dilation[axis]
    span = n + 2 * p + op.extra[axis] - d * (k - 1) - 1
    out = (math.ceil(span / s) if op.ceil_mode else span // s) + 1
    if op.ceil_mode and (out - 1) * s >= n + p:  # the last window must start inside the input or left padding
        out -= 1
    return out


def _walk(graph_module: fx.GraphModule, input_size: tuple[int, int]) -> tuple[list, dict, dict]:
    """Nodes in order with their ops, and the spatial size (H, W) of every node with a feature map."""
    ops: dict[fx.Node, _Op] = {}
    sizes: dict[fx.Node, tuple[int, int]] = {}
    order = []
    for node in graph_module.graph.nodes:
        if node.op == "output" or (node.op != "placeholder" and not any(n in ops for n in node.all_input_nodes)):
            continue  # the output dict, and nodes that do not touch the image (e.g. x.size())
        if node.op in ("call_function", "call_method") and _function_name(node) in ("size", "getattr", "dim"):
            continue
        op = ops[node] = _op(graph_module, node) if _spatial_inputs(node, sizes) or node.op == "placeholder" \
            else _Op("global")  # after a flatten nothing is spatial any more
        order.append(node)
        if op.kind == "input":
            sizes[node] = tuple(input_size)
            continue
        if op.kind == "global":
            continue
        before = sizes[_spatial_inputs(node, sizes)[0]]
        if op.kind == "window":
            sizes[node] = (_window_size(before[0], op, 0), _window_size(before[1], op, 1))
        elif op.kind == "adaptive":
            sizes[node] = tuple(o if o is not None else n for o, n in zip(op.out, before))
        elif op.kind == "same":
            sizes[node] = before
    return order, ops, sizes


# --- the textbook numbers -----------------------------------------------------------------------

def fields(model: nn.Module, input_size: tuple[int, int]) -> list[Field]:
    """The textbook receptive field (size, jump, start) of every named layer, in forward order."""
    graph_module = graph_of(model)
    names = _names(graph_module)
    order, ops, sizes = _walk(graph_module, input_size)
    state: dict[fx.Node, tuple] = {}
    result = []
    for node in order:
        op = ops[node]
        before = [state[n] for n in node.all_input_nodes if n in state]
        state[node] = _textbook(op, before, [sizes[n] for n in node.all_input_nodes if n in sizes], input_size)
        if node in names and op.kind != "input":
            r, j, start = state[node]
            result.append(Field(names[node], _describe(op), sizes.get(node), r, j, start,
                                _how(op, before, state[node]), tuple(names[n] for n in node.all_input_nodes
                                                                     if n in names),
                                (op.kernel[0], op.stride[0], op.padding[0], op.dilation[0], op.ceil_mode)
                                if op.kind == "window" else None))
    return result


def _how(op: _Op, before: list[tuple], after: tuple) -> str:
    """The recurrence for the rows, with numbers: ``r = 5 + (5 - 1) * 2 = 13``."""
    r, j, start = after
    if op.kind == "global" or not before:
        return "the whole input"
    if op.kind == "same":
        return "unchanged" if len(before) == 1 else \
            f"the branches meet: the union of what they see, r = {r[0]}"
    r0, j0, s0 = (v[0] for v in before[0])
    k_eff = int(round((r[0] - r0) / j0)) + 1 if j0 else 1
    return (f"r = {r0} + ({k_eff} - 1) x {j0} = {r[0]};  j = {j0} x {j[0] // j0 if j0 else 0} = {j[0]};  "
            f"start = {s0:g} + ({k_eff - 1}/2 - {op.padding[0]}) x {j0} = {start[0]:g}")


def _textbook(op: _Op, before: list[tuple], before_sizes: list, input_size: tuple[int, int]) -> tuple:
    """(r, j, start) per axis after ``op``, from the states of its inputs."""
    if op.kind == "input":
        return (1, 1), (1, 1), (0.0, 0.0)
    if op.kind == "global" or not before:
        return tuple(input_size), (0, 0), tuple((n - 1) / 2 for n in input_size)
    if op.kind == "same":
        return _union(before)
    (r, j, start), n = before[0], before_sizes[0]
    out = {"r": [], "j": [], "start": []}
    for axis in range(2):
        if op.kind == "window":
            k, s, p, d = op.kernel[axis], op.stride[axis], op.padding[axis], op.dilation[axis]
        else:  # adaptive pooling: windows of about n / out (exact when it divides)
            o = op.out[axis] or n[axis]
            k, s, p, d = math.ceil(n[axis] / o), n[axis] // o, 0, 1
        k_eff = d * (k - 1) + 1
        out["r"].append(r[axis] + (k_eff - 1) * j[axis])
        out["j"].append(j[axis] * s)
        out["start"].append(start[axis] + ((k_eff - 1) / 2 - p) * j[axis])
    return tuple(out["r"]), tuple(out["j"]), tuple(out["start"])


def _union(before: list[tuple]) -> tuple:
    """Inputs that meet (add, cat): unit 0 sees the union of what each input's unit 0 sees."""
    r, j, start = [], [], []
    for axis in range(2):
        low = min(s[axis] - (rr[axis] - 1) / 2 for rr, _, s in before)
        high = max(s[axis] + (rr[axis] - 1) / 2 for rr, _, s in before)
        r.append(int(round(high - low)) + 1)
        j.append(max(jj[axis] for _, jj, _ in before))
        start.append((low + high) / 2)
    return tuple(r), tuple(j), tuple(start)


def _describe(op: _Op) -> str:
    if op.kind == "window":
        k, s, p, d = op.kernel, op.stride, op.padding, op.dilation
        text = f"{k[0]}x{k[1]}, stride {s[0]}, pad {p[0]}" + (f", dilation {d[0]}" if d[0] > 1 else "")
        return text + (", ceil" if op.ceil_mode else "")
    return {"adaptive": "adaptive pooling", "same": "position by position", "global": "whole input"}[op.kind]


def unit_centre(field: Field, unit: tuple[int, int]) -> tuple[float, float]:
    """The input pixel (row, column) at the centre of ``unit``'s textbook field: ``start + unit * j``."""
    return field.start[0] + unit[0] * field.j[0], field.start[1] + unit[1] * field.j[1]


def textbook_box(field: Field, unit: tuple[int, int]) -> tuple[float, float, float, float]:
    """The textbook box of ``unit``: centred on :func:`unit_centre`, ``r`` wide; may reach past the image."""
    centre = unit_centre(field, unit)
    half = [(field.r[a] - 1) / 2 for a in range(2)]
    return centre[0] - half[0], centre[1] - half[1], centre[0] + half[0] + 1, centre[1] + half[1] + 1


def unit_nearest(field: Field, point: tuple[float, float]) -> tuple[int, int]:
    """The unit of ``field`` whose textbook centre lies nearest the input pixel ``point`` (row, column).

    It lets a page keep looking at the same spot of the image when the user moves to another layer.
    """
    return tuple(min(max(round((point[a] - field.start[a]) / field.j[a]), 0), field.size[a] - 1)
                 for a in range(2))


# --- the exact box ------------------------------------------------------------------------------

def rf_box(model: nn.Module, layer: str, unit: tuple[int, int], input_size: tuple[int, int]) -> Box:
    """The exact input box (top, left, bottom, right; bottom/right exclusive) of unit (y, x) of ``layer``.

    It is the bounding box of the input pixels that can influence the unit.
    Raises ValueError for a layer without a feature map, a unit off the map, or a unit that sees only padding.
    """
    return tuple(int(v) for v in boxes(model, layer, torch.tensor([unit]), input_size)[0])


def boxes(model: nn.Module, layer: str, units: torch.Tensor, input_size: tuple[int, int]) -> torch.Tensor:
    """:func:`rf_box` for many units (K, 2) of one layer at once: (K, 4) int64."""
    graph_module = graph_of(model)
    order, ops, sizes = _walk(graph_module, input_size)
    target = next((n for n, name in _names(graph_module).items() if name == layer), None)
    if target is None:
        raise ValueError(f"there is no layer {layer!r}")
    if target not in sizes:
        raise ValueError(f"{layer} has no feature map: each of its units sees the whole image")
    height, width = sizes[target]
    result = []
    for y, x in units.tolist():
        if not (0 <= y < height and 0 <= x < width):
            raise ValueError(f"unit ({y}, {x}) is outside {layer}'s {height}x{width} map")
        rows, cols = _back(order, ops, sizes, target, y, x)
        if not rows.any() or not cols.any():
            raise ValueError(f"unit ({y}, {x}) of {layer} sees only padding")
        r, c = np.flatnonzero(rows), np.flatnonzero(cols)
        result.append((r[0], c[0], r[-1] + 1, c[-1] + 1))
    return torch.tensor(result, dtype=torch.int64)


def _back(order: list, ops: dict, sizes: dict, target: fx.Node, y: int, x: int) -> tuple[np.ndarray, np.ndarray]:
    """Propagate the unit's position sets back to the input, one boolean mask per axis."""
    masks: dict[fx.Node, list[np.ndarray]] = {target: [np.zeros(sizes[target][0], bool), np.zeros(sizes[target][1], bool)]}
    masks[target][0][y] = masks[target][1][x] = True
    for node in reversed(order[:order.index(target) + 1]):
        if node not in masks:
            continue
        if ops[node].kind == "input":
            return masks[node][0], masks[node][1]
        for source in node.all_input_nodes:
            if source not in sizes:
                continue
            before = [_back_axis(ops[node], masks[node][a], sizes[source][a], a) for a in range(2)]
            if source in masks:
                masks[source] = [masks[source][a] | before[a] for a in range(2)]
            else:
                masks[source] = before
    raise ValueError("the layer is not connected to the input")


def _back_axis(op: _Op, mask: np.ndarray, n_in: int, axis: int) -> np.ndarray:
    """Input positions (a mask of length ``n_in``) that the marked output positions read."""
    out = np.zeros(n_in, bool)
    marked = np.flatnonzero(mask)
    if op.kind == "same":
        out[marked] = True
    elif op.kind == "global":
        out[:] = True
    elif op.kind == "window":
        k, s, p, d = op.kernel[axis], op.stride[axis], op.padding[axis], op.dilation[axis]
        taps = (marked[:, None] * s - p + np.arange(k)[None, :] * d).ravel()
        out[taps[(taps >= 0) & (taps < n_in)]] = True
    else:  # adaptive pooling: PyTorch's windows [floor(i n / o), ceil((i + 1) n / o))
        o = len(mask)
        for i in marked:
            out[(i * n_in) // o:-((-(i + 1) * n_in) // o)] = True
    return out


# --- the effective receptive field ------------------------------------------------------------

def effective(model: nn.Module, layer: str, images: torch.Tensor, unit: tuple[int, int],
              channel: int | None = None) -> torch.Tensor:
    """``mean_n sum_c |d a / d x|``: the gradient magnitude of one unit over the input (H, W).

    ``images`` is (N, C, H, W) or (C, H, W) in [0, 1]; the unit is (y, x) of ``layer``, its
    activation summed over channels unless ``channel`` is given. Averaged over the batch.
    """
    graph_module = graph_of(model)
    x = (images if images.dim() == 4 else images[None]).detach().clone().requires_grad_(True)
    out = graph_module(x)[layer]
    if out.dim() != 4:
        raise ValueError(f"{layer} has no feature map: each of its units sees the whole image")
    y0, x0 = unit
    activation = out[:, channel, y0, x0] if channel is not None else out[:, :, y0, x0].sum(1)
    (grad,) = torch.autograd.grad(activation.sum(), x)
    return grad.abs().sum(1).mean(0)
