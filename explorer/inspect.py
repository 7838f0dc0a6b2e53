"""Look inside a network: its layers in forward order, their shapes, parameters and activations.

Everything goes through ``torchvision.models.feature_extraction`` (:mod:`explorer.extraction`): one FX
trace names every operation (``conv1``, ``layer1.0.add``), and ``create_feature_extractor`` returns their
outputs. No hooks are registered on the model, so nothing can leak into a cached model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import fx, nn

from explorer import labels
from explorer.extraction import extractor

_SKIP_FUNCTIONS = {"size", "getattr", "dim"}  # graph nodes that are not tensors of the data path


@dataclass(frozen=True)
class Layer:
    """One operation of the forward pass, as the app shows it."""

    name: str  # the node name feature extraction uses (e.g. "conv1", "layer1.0.add")
    type: str  # module class ("Conv2d") or function ("add", "cat", "flatten")
    in_shape: tuple[int, ...]  # first input, without the batch
    out_shape: tuple[int, ...]  # without the batch
    params: int  # learned parameters owned by this layer (a shared module counts once)
    mult_adds: int  # multiply-adds per image (conv and linear layers)
    module: nn.Module | None  # None for functions
    shortcut: str = ""  # an addition's skip path: "" for x itself, else its projection (a 1x1 conv, stride 2, ...)
    source: str = ""  # the layer whose output is this one's (first) input; "" for the image itself

    def row(self) -> dict:
        """The table row: name, type, out_shape, params, mult_adds (and in_shape)."""
        return {"name": self.name, "type": self.type, "in_shape": self.in_shape, "out_shape": self.out_shape,
                "params": self.params, "mult_adds": self.mult_adds}


def layers(model: nn.Module, input_shape: tuple[int, ...], graph_module: fx.GraphModule | None = None) -> list[Layer]:
    """Every tensor-valued operation of ``model`` on an input of ``input_shape`` (C, H, W), in forward order.

    Shapes come from a real forward pass of a zero image (on the model's device; a model on the
    ``meta`` device gives shapes without computing anything). ``graph_module``: the model's
    :func:`extractor`, if already made.
    """
    graph_module = graph_module or extractor(model)
    wanted = _output_names(graph_module)
    device = device_of(model)
    with torch.no_grad():
        outputs = graph_module(torch.zeros(1, *input_shape, device=device))
    shapes = _node_shapes(graph_module, wanted, outputs, tuple(input_shape))
    seen: set[int] = set()
    result = []
    for node in graph_module.graph.nodes:
        if node not in wanted or not isinstance(outputs[wanted[node]], torch.Tensor):
            continue
        module = graph_module.get_submodule(node.target) if node.op == "call_module" else None
        params = 0
        if module is not None and id(module) not in seen:
            seen.add(id(module))
            params = sum(p.numel() for p in module.parameters())
        name, out_shape = wanted[node], shapes[node]
        in_shape = shapes.get(node.args[0], ()) if node.args and isinstance(node.args[0], fx.Node) else ()
        result.append(Layer(name, _type_name(node, module), in_shape, out_shape, params,
                            mult_adds(module, in_shape, out_shape), module, _shortcut(graph_module, node, shapes),
                            wanted.get(node.args[0], "") if node.args and isinstance(node.args[0], fx.Node) else ""))
    return result


def _shortcut(graph_module: fx.GraphModule, node: fx.Node, shapes: dict[fx.Node, tuple[int, ...]]) -> str:
    """For an addition whose second term is a projection of the block's input (ResNet's downsampling blocks:
    a strided 1x1 convolution, then batch norm), that projection in words; else "" (the term is x itself)."""
    if _func_name(node) not in ("add", "iadd") or len(node.args) < 2 or not isinstance(node.args[1], fx.Node):
        return ""
    term, passed = node.args[1], []
    while term.op == "call_module":
        module = graph_module.get_submodule(term.target)
        if isinstance(module, nn.Conv2d):
            x = shapes.get(term.args[0], ())
            kh, kw = module.kernel_size
            return (f"the block's input x{f' ({_by(x)})' if x else ''} goes through a {kh}x{kw} convolution with "
                    f"stride {_pair(module.stride)[0]}" + "".join(f", then {what}" for what in reversed(passed)))
        if not isinstance(module, (nn.BatchNorm2d, nn.Identity)):  # the block's input itself (a ReLU's output)
            return ""
        if isinstance(module, nn.BatchNorm2d):
            passed.append("batch norm")
        term = term.args[0]
    return ""


def layer_table(model: nn.Module, input_shape: tuple[int, ...]) -> list[dict]:
    """:func:`layers` as plain rows with the keys name, type, in_shape, out_shape, params, mult_adds."""
    return [layer.row() for layer in layers(model, input_shape)]


def _output_names(graph_module: fx.GraphModule) -> dict[fx.Node, str]:
    """Node -> the name it is returned under (the extractor's output dict)."""
    output = next(n for n in graph_module.graph.nodes if n.op == "output")
    return {node: name for name, node in output.args[0].items() if node.op != "placeholder"
            and not (node.op in ("call_function", "call_method") and _func_name(node) in _SKIP_FUNCTIONS)}


def _node_shapes(graph_module: fx.GraphModule, wanted: dict[fx.Node, str], outputs: dict,
                 input_shape: tuple[int, ...]) -> dict[fx.Node, tuple[int, ...]]:
    shapes = {n: input_shape for n in graph_module.graph.nodes if n.op == "placeholder"}
    for node, name in wanted.items():
        if isinstance(outputs[name], torch.Tensor):
            shapes[node] = tuple(outputs[name].shape[1:])
    return shapes


def _func_name(node: fx.Node) -> str:
    target = node.target
    return target if isinstance(target, str) else getattr(target, "__name__", str(target))


def _type_name(node: fx.Node, module: nn.Module | None) -> str:
    return type(module).__name__ if module is not None else _func_name(node)


def mult_adds(module: nn.Module | None, in_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> int:
    """Multiply-adds per image: ``out elements * (C_in / groups * F_h * F_w)`` for a conv,
    ``n_out * n_in`` for a linear layer, 0 otherwise (the convention of torchvision's ``_ops``).
    """
    out_numel = int(torch.Size(out_shape).numel()) if out_shape else 0
    if isinstance(module, nn.Conv2d):
        kh, kw = module.kernel_size
        return out_numel * (module.in_channels // module.groups) * kh * kw
    if isinstance(module, nn.Linear):
        return out_numel * module.in_features
    return 0


def activations(graph_module: fx.GraphModule, image: torch.Tensor) -> dict[str, torch.Tensor]:
    """Every node's output for one image (C, H, W) in [0, 1]: ``{name: tensor without batch}``."""
    device = next(iter(graph_module.parameters()), torch.empty(0)).device
    with torch.no_grad():
        out = graph_module(image.unsqueeze(0).to(device))
    return {k: v[0].cpu() for k, v in out.items() if isinstance(v, torch.Tensor)}


def formula(layer: Layer) -> list[str]:
    """The arithmetic behind a layer's output shape and parameter count, in markdown with LaTeX."""
    module, (c_in, *hw_in), out = layer.module, (layer.in_shape or (0,)), layer.out_shape
    if isinstance(module, nn.Conv2d):
        return _conv_formula(module, layer)
    if isinstance(module, (nn.MaxPool2d, nn.AvgPool2d)):
        return [*_size_lines(layer, _pair(module.kernel_size), _pair(module.stride), _pair(module.padding),
                             _pair(getattr(module, "dilation", 1)), module.ceil_mode),
                f"{'Max' if isinstance(module, nn.MaxPool2d) else 'Average'}-pooling: no parameters; "
                f"each of the {out[0]} maps is pooled on its own."]
    if isinstance(module, nn.Linear):
        bias = int(module.bias is not None)
        return [f"Parameters $= (n_{{in}} + 1) \\cdot n_{{out}} = ({module.in_features} + {bias}) \\cdot "
                f"{module.out_features} = {labels.tex_int(layer.params)}$: every input meets every output.",
                f"Multiply-adds $= {module.in_features} \\cdot {module.out_features} = "
                f"{labels.tex_int(layer.mult_adds)}$" + (" (the bias additions not counted)." if bias else ".")]
    if isinstance(module, nn.BatchNorm2d):
        return [f"Batch norm: $y = \\gamma (x - \\mu) / \\sqrt{{\\sigma^2 + \\epsilon}} + \\beta$ per channel; "
                f"parameters $= 2 \\cdot C = 2 \\cdot {module.num_features} = {layer.params}$ "
                "($\\gamma$, $\\beta$; the running mean and variance are buffers, not learned).",
                "Multiply-adds counted 0, as torchvision counts them: at inference the batch norm folds into the "
                "convolution before it (a scale of its weights, a shift of its bias); unfolded it is one multiply "
                f"and one add per value, ${_product(layer.out_shape)} = {labels.tex_int(_numel(layer.out_shape))}$."]
    if isinstance(module, nn.ReLU) or layer.type == "relu":
        return ["ReLU: $\\max(0, x)$ elementwise; no parameters, the shape is kept."]
    if isinstance(module, nn.Flatten) or layer.type == "flatten":
        return [f"Flatten: ${_product(layer.in_shape)} = {labels.tex_int(out[0])}$ values in one vector."]
    if isinstance(module, nn.AdaptiveAvgPool2d):
        return [f"Adaptive average pooling: each of the {c_in} maps of "
                f"{' x '.join(map(str, hw_in))} is averaged down to {' x '.join(map(str, out[1:]))}."]
    if isinstance(module, nn.Dropout):
        return ["Dropout: zeroes random values while training; at inference it passes everything through."]
    if layer.type == "Scramble":
        return [f"Scramble: the {module.height} x {module.width} pixels moved to fixed random places, the same for "
                "every image and channel. A convolution after it sees random pixels side by side, no neighbourhood; "
                "a fully connected layer could undo it by moving its own weights the same way."]
    if layer.type == "Normalize":
        return ["Normalisation: $(x - \\text{mean}) / \\text{std}$ per channel, with the numbers the network is "
                f"built with ({module.extra_repr()}): a data set's own statistics (MNIST, CIFAR-10, ImageNet), or "
                "fixed ones (0.5 and 0.25 for the built-in shapes; 0.5 and 0.5 for GoogLeNet's ported weights)."]
    if layer.type in ("add", "iadd") and layer.shortcut:
        return [f"Skip connection with a projection: {layer.shortcut}, $W_s$, to take the shape of the block's "
                f"output ({_by(out)}): $y = F(x) + W_s x$. The addition has no parameters (the projection's are "
                "counted in its own layers); gradients flow through it to both terms."]
    if layer.type in ("add", "iadd"):
        return ["Skip connection: the block's output is added to its input, $y = F(x) + x$: same shape, "
                "no parameters; gradients flow straight through the addition."]
    if layer.type == "cat":
        return [f"Concatenation of the Inception branches along the channels: {out[0]} maps in all."]
    return [f"{layer.type}: {layer.params:,} parameters."]


def _by(shape: tuple[int, ...]) -> str:
    return " x ".join(map(str, shape))


def _product(shape: tuple[int, ...]) -> str:
    return " \\cdot ".join(map(str, shape))


def _pair(value) -> tuple[int, int]:
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


def _size_lines(layer: Layer, kernel, stride, padding, dilation, ceil: bool = False) -> list[str]:
    """The output-size formula per axis, one line for both where they read alike (a square input and layer); a pooling
    in ceil mode rounds up (GoogLeNet's do). The quotient shows its rounding only where it is not whole."""
    low, high = ("\\lceil", "\\rceil") if ceil else ("\\lfloor", "\\rfloor")
    sums = []
    for n_in, n_out, f, s, p, d in zip(layer.in_shape[1:], layer.out_shape[1:], kernel, stride, padding, dilation):
        dil = f"{d} \\cdot ({f} - 1)" if d != 1 else f"({f} - 1)"
        quotient = (n_in + 2 * p - d * (f - 1) - 1) / s  # rounded only where it is not whole
        whole = quotient == int(quotient)
        rounded = f"{quotient:g}" if whole else f"{low} {quotient:g} {high}"
        # PyTorch drops a last window that would start in the right padding: one fewer than the ceiling's
        dropped = ceil and math.ceil(quotient) + 1 > n_out
        sums.append(f"{low} ({n_in} + 2 \\cdot {p:g} - {dil} - 1) / {s} {high} + 1 = {rounded} + 1"
                    + (" - 1" if dropped else "") + f" = {n_out}$"
                    + (" (ceil mode: rounded up" + (", less a last window that would start in the padding)"
                                                    if dropped else ")") if ceil and not whole else ""))
    if len(sums) == 2 and sums[0] == sums[1]:
        return [f"$H_{{out}} = W_{{out}} = {sums[0]}"]
    return [f"${axis}_{{out}} = {line}" for axis, line in zip(("H", "W"), sums)]


def _padding(module: nn.Conv2d) -> tuple[float, float]:
    """P per axis; "same" pads d(F - 1) in all, half a side (PyTorch puts an odd one at the end), "valid" none."""
    if module.padding == "valid":
        return (0, 0)
    if module.padding == "same":
        return tuple(d * (k - 1) / 2 for k, d in zip(module.kernel_size, module.dilation))
    return module.padding


def _conv_formula(module: nn.Conv2d, layer: Layer) -> list[str]:
    kh, kw = module.kernel_size
    c_in, groups, bias = module.in_channels, module.groups, int(module.bias is not None)
    per = f"{kh} \\cdot {kw} \\cdot {c_in // groups}"
    plus = " + 1" if bias else ""
    return [*_size_lines(layer, module.kernel_size, module.stride, _padding(module), module.dilation),
            f"Parameters $= (F_h F_w C_{{in}}{plus}) \\cdot C_{{out}} = ({per}{plus}) \\cdot "
            f"{module.out_channels} = {labels.tex_int(layer.params)}$"
            + ("" if bias else " (no bias: a batch norm follows)"),
            f"Multiply-adds $= {_product(layer.out_shape)} \\cdot {per} = {labels.tex_int(layer.mult_adds)}$"
            + (f" (the {_numel(layer.out_shape):,} bias additions not counted, as torchvision counts)"
               if bias else "")]


def _numel(shape: tuple[int, ...]) -> int:
    return int(torch.Size(shape).numel())


def device_of(model: nn.Module) -> torch.device:
    """Where the model's parameters live (the CPU for a model without any): where its inputs must go."""
    parameter = next(iter(model.parameters()), None)
    return parameter.device if parameter is not None else torch.device("cpu")


def hooks_on(model: nn.Module) -> int:
    """How many forward/backward hooks sit on ``model``'s modules (0 unless something leaked)."""
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks)
               + len(getattr(m, "_backward_pre_hooks", {})) for m in model.modules())


def depth(model: nn.Module) -> int:
    """The number of weight layers (conv, linear) on the longest path from input to output.

    This is how papers count depth: GoogLeNet is "22 layers" although it holds 57 convolutions,
    and ResNet18's 1x1 shortcut convolutions sit beside the path, not on it.
    """
    graph = extractor(model).graph
    deep: dict[fx.Node, int] = {}
    for node in graph.nodes:
        before = max((deep[a] for a in node.all_input_nodes), default=0)
        is_weight = node.op == "call_module" and isinstance(model.get_submodule(node.target), (nn.Conv2d, nn.Linear))
        deep[node] = before + int(is_weight)
    return max(deep.values())


def rows_for_display(layers_: list[Layer]) -> list[dict]:
    """The layer table as the page shows it: shapes as text, counts as numbers (the page writes their thousands
    separators, and the table's CSV download keeps numbers a spreadsheet can add up)."""
    return [{"#": i + 1, "name": l.name, "type": l.type, "output shape": " x ".join(map(str, l.out_shape)),
             "parameters": l.params, "multiply-adds": l.mult_adds} for i, l in enumerate(layers_)]


def totals(layers_: list[Layer]) -> str:
    """The network in one line: "13 operations, 61,706 parameters, 416,520 multiply-adds per image"."""
    return (f"{len(layers_)} operations, {sum(l.params for l in layers_):,} parameters, "
            f"{sum(l.mult_adds for l in layers_):,} multiply-adds per image")


def zero_share(output: torch.Tensor) -> float:
    """The share of a layer's output values that are exactly 0 (what a ReLU switched off)."""
    return float((output == 0).float().mean()) if output.numel() else 0.0


def summary_table(layer: Layer) -> str:
    """A one-row markdown table: input and output shape, parameters, multiply-adds."""
    shapes = f"| {_by(layer.in_shape) or '-'} | {_by(layer.out_shape) or '-'} |"
    return ("| Input shape | Output shape | Parameters | Multiply-adds |\n|---|---|---|---|\n"
            f"{shapes} {layer.params:,} | {layer.mult_adds:,} |")
