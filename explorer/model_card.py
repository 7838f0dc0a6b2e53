"""A trained run for use outside the app: a ``model.py`` that rebuilds its network with PyTorch alone, and a README
(a model card) that says what goes in, what comes out and how to load it.

The network's first layer, ``normalize``, keeps the data set's mean and standard deviation out of the weights file
(:class:`explorer.networks.Normalize`): ``model.py`` writes them out, so that ``model.safetensors`` loads into
``build()`` with nothing else.
"""

from __future__ import annotations

import inspect as python_inspect

from torch import nn

from explorer import labels, models, networks

# the app's own layers: model.py carries their source
_OWN = (networks.Normalize, networks.Scramble, networks.BasicBlock)


def plain_source(model: nn.Sequential, title: str) -> str:
    """Python source of a module whose ``build()`` makes ``model``'s network (untrained): every child is a
    ``torch.nn`` layer or one of the app's own, whose class definitions come along. ``title``: the run's name, written
    as a Python string literal (``repr``), never inside the docstring, whatever quotes it holds."""
    if not isinstance(model, nn.Sequential):
        raise ValueError(f"only a network of layers in a row can be written out, not a {type(model).__name__}")
    own = [kind for kind in _OWN if any(type(m) is kind for m in model.modules())]
    rows = "\n".join(f"        ({name!r}, {_call(module)})," for name, module in model.named_children())
    classes = "\n\n".join(python_inspect.getsource(kind) for kind in own)
    return f'''"""A trained network (its run's name: ``RUN``) in plain PyTorch. Load the weights with

    from safetensors.torch import load_file
    model = build()
    model.load_state_dict(load_file("model.safetensors"))
    model.eval()
"""

from collections import OrderedDict

import torch
from torch import nn

RUN = {title!r}


{classes}


def build() -> nn.Sequential:
    """The untrained network; it takes images (N, C, H, W) with values in [0, 1] and gives class scores."""
    return nn.Sequential(OrderedDict([
{rows}
    ]))
'''


def _call(module: nn.Module) -> str:
    """The constructor call that makes ``module``: torch.nn's layers print their arguments as ``extra_repr``."""
    if isinstance(module, networks.Normalize):  # all digits: extra_repr rounds to 4
        return (f"Normalize(mean={tuple(module.mean.flatten().tolist())!r}, "
                f"std={tuple(module.std.flatten().tolist())!r})")
    if isinstance(module, networks.Scramble):  # its places come with the weights (the buffer ``order``)
        return f"Scramble({module.extra_repr()})"
    if isinstance(module, networks.BasicBlock):
        conv = module.conv1
        return f"BasicBlock({conv.in_channels}, {conv.out_channels}, stride={conv.stride[0]})"
    if type(module).__module__.startswith("torch.nn.") and not list(module.children()):
        words = module.extra_repr()
        if isinstance(module, nn.modules.batchnorm._BatchNorm):  # its default, and a word older PyTorch refuses
            words = words.replace(", bias=True", "")
        return f"nn.{type(module).__name__}({words})"
    raise ValueError(f"{type(module).__name__} cannot be written out in plain PyTorch here")


def readme(title: str, run_id: str, summary: str, model: nn.Sequential, spec: models.ModelSpec,
           accuracy: float | None, plain: bool) -> str:
    """The zip's README.md: what the run is, the input and output, how to load it, the network as PyTorch prints
    it. ``summary``: the run's settings in one line; ``plain``: whether ``model.py`` came along."""
    channels, height, width = spec.input_shape
    classes = ", ".join(f"{i} {name!r}" for i, name in enumerate(spec.classes))
    scored = f", test accuracy {accuracy:.1%}" if accuracy is not None else ""
    params = sum(p.numel() for p in model.parameters())
    python = "- `model.py`: the network in plain PyTorch (`build()`).\n" if plain else ""
    load = ('''```python
import torch
from safetensors.torch import load_file
from model import build

model = build()
model.load_state_dict(load_file("model.safetensors"))
model.eval()
with torch.no_grad():
    probabilities = torch.softmax(model(images), dim=1)  # images: (N, %d, %d, %d), values in [0, 1]
```''' % (channels, height, width)) if plain else "This network cannot be written out in plain PyTorch: use the app."
    return f"""# {labels.plain_name(title)}

Trained in CNN Explorer's training lab: run `{run_id}`{scored}.
{summary}.

## Input and output
- Input: images as a tensor (N, {channels}, {height}, {width}), {"grey" if channels == 1 else "RGB"}, values in [0, 1]
  (8-bit values divided by 255).
- The network's first layer, `normalize`, subtracts the mean {list(spec.mean)} and divides by the
  standard deviation {list(spec.std)} it was trained with, channel by channel (the data set's own statistics;
  for the built-in shapes a fixed 0.5 and 0.25). These two are not in `model.safetensors`; `model.py`
  writes them out. Without them the network sees other numbers than it was trained on.
- Output: one score per class before the softmax, in this order: {classes}.

## Load it
{load}

## Files
- `model.safetensors`: the final weights (the network's `state_dict`).
{python}- `config.json`: the training settings; `checkpoint.json`: the input shape, classes, mean and std.
- `metrics.jsonl`: one JSON record per logged step (loss, accuracy, test accuracy, images per second).
- `result.safetensors`: `confusion` (rows: the true class, columns: the predicted one) and the test images got
  wrong (`misclassified`, their indices; `misclassified_predicted`, what the network said).
- `epochs/<epoch>.safetensors`: the weights kept along the way (0: before training).
- `snapshots/<step>.safetensors`: the first layer's filters and a probe image's feature maps at that step.
- `optimizer.pt` (a run stopped before its end): the optimizer's state at the last weights, for resuming;
  read it with `torch.load(path, weights_only=True)`.

## The network ({params:,} parameters)
```
{model}
```
"""
