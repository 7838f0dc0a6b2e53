"""The model zoo: a registry of named builders with their metadata.

Every model the registry builds is one ``nn.Sequential`` whose children have readable names
(``normalize``, ``conv1``, ``relu1``, ``pool1`` ...), takes images in the project's convention
(float in [0, 1], NCHW) and normalises inside itself in a first layer named ``normalize``.
So no page normalises by hand and every layer name is a UI label. The project's own networks and
layers are defined in :mod:`explorer.networks`.

Weights: the project ships safetensors files in ``assets/models`` (made by
``scripts/train_default_models.py``); torchvision's ImageNet weights are downloaded on demand
through torchvision's weights API and loaded with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import json
import os
import pickle
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torchvision
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn
from torchvision.models import get_model_weights

from explorer import downloads
from explorer.networks import Normalize, lenet5, resnet_small, tinyvgg

MODELS_DIR = Path(__file__).resolve().parent.parent / "assets" / "models"
TORCHVISION_BASE = "https://download.pytorch.org/models/"

MNIST_MEAN, MNIST_STD = (0.1307,), (0.3081,)  # the MNIST training set's pixel statistics
CIFAR_MEAN, CIFAR_STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)
SHAPES_MEAN, SHAPES_STD = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)  # the built-in set: any colour on any colour
DIGITS = tuple(str(d) for d in range(10))
CIFAR_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


class WeightsUnavailable(RuntimeError):
    """Pretrained weights cannot be had (offline, a bad file, none exist); the message says what to do.

    ``summary``: the same in a line for a page's visitors, without the server's paths and settings.
    """

    def __init__(self, message: str, summary: str | None = None) -> None:
        super().__init__(message)
        self.summary = summary or message


@dataclass(frozen=True)
class ModelSpec:
    """A registry entry: how to build a model and what it expects and predicts."""

    name: str
    title: str
    input_size: int  # square input side in pixels
    channels: int  # 1 = grey, 3 = RGB
    classes: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    weights: str  # "shipped" (assets/models), "torchvision" (downloaded) or "none"
    about: str
    digit_like: bool = False  # inputs are prepared like MNIST digits (light ink, cropped, centred)
    resize: int = 0  # shorter side before the centre crop (torchvision's recipe); 0 = the input size
    data: str = ""  # the data set it was trained on (explorer.data's name), "" for one not of this app

    @property
    def sample(self) -> str:
        """The sample image (assets/samples) most like its training data."""
        return sample_for(self.data)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (self.channels, self.input_size, self.input_size)


# the sample image (assets/samples) most like each data set's images (Fashion-MNIST: the digit has its format)
SAMPLES = {"mnist": "digit", "fashion-mnist": "tshirt", "shapes": "triangle", "cifar10": "chelsea"}


def sample_for(data: str | None) -> str:
    """The sample image to show a network trained on ``data``: a photo when the data set is unknown."""
    return SAMPLES.get(data or "", "chelsea")


# --- torchvision's networks, flattened to one named Sequential --------------------------------

def _numbered(layers: list[nn.Module]) -> OrderedDict[str, nn.Module]:
    """Names in the papers' style: weight layers count up (conv1..conv5, fc6..fc8, as AlexNet's paper).

    A ReLU or a pooling layer takes its weight layer's number; dropout takes the next one's.
    """
    named: OrderedDict[str, nn.Module] = OrderedDict()
    n = 0
    for layer in layers:
        if isinstance(layer, (nn.Conv2d, nn.Linear)):
            n += 1
            name = f"{'conv' if isinstance(layer, nn.Conv2d) else 'fc'}{n}"
        elif isinstance(layer, nn.Dropout):
            name = f"drop{n + 1}"
        elif isinstance(layer, nn.MaxPool2d):
            name = f"pool{n}"
        elif isinstance(layer, (nn.AdaptiveAvgPool2d, nn.Flatten)):
            name = "avgpool" if isinstance(layer, nn.AdaptiveAvgPool2d) else "flatten"
        else:
            name = f"{type(layer).__name__.lower()}{n}"
        named[name] = layer
    return named


def _flatten_torchvision(name: str, model: nn.Module, normalize: Normalize) -> nn.Sequential:
    """The torchvision model as one Sequential with ``normalize`` first and an explicit ``flatten``.

    The children are the very modules of ``model`` (weights included), in forward order.
    """
    if name in ("alexnet", "vgg16"):
        children = _numbered([*model.features, model.avgpool, nn.Flatten(), *model.classifier])
    else:  # resnet18, googlenet: children in forward order; aux heads are not on the inference path
        children = OrderedDict()
        for child_name, child in model.named_children():
            if child_name.startswith("aux") or child is None:
                continue
            children[child_name] = child
            if child_name == "avgpool":
                children["flatten"] = nn.Flatten()
    return nn.Sequential(OrderedDict(normalize=normalize, **children))


def _torchvision_model(spec: ModelSpec, pretrained: bool) -> nn.Module:
    """torchvision's architecture; with ``pretrained``, its DEFAULT ImageNet weights from the cache."""
    kwargs: dict = {}
    if spec.name == "googlenet":
        # the pretrained weights expect transform_input: folded into our Normalize layer instead
        kwargs = {"aux_logits": pretrained, "init_weights": not pretrained, "transform_input": False}
    model = torchvision.models.get_model(spec.name, weights=None, **kwargs)
    if pretrained:
        path = weights_file(spec.name)
        if not path.exists():
            download_weights(spec.name)
        try:  # weights_only: a file that smuggles code in a pickle is refused, not run
            model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        except (pickle.UnpicklingError, RuntimeError, EOFError, KeyError) as exc:
            raise WeightsUnavailable(f"{path} is not a usable {spec.name} weights file ({exc}); "
                                     "delete it and download again",
                                     f"the trained weights of {spec.title} on this server are damaged") from exc
    return _flatten_torchvision(spec.name, model, Normalize(*_torchvision_stats(spec.name, pretrained)))


def _torchvision_stats(name: str, pretrained: bool) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The normalisation the weights were trained with, from the weights' own ``transforms()``."""
    if name == "googlenet" and pretrained:
        # GoogLeNet's transform_input maps ImageNet-normalised input to (x - 0.5) / 0.5
        return (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)
    preset = get_model_weights(name).DEFAULT.transforms()
    return tuple(preset.mean), tuple(preset.std)


def _torchvision_spec(name: str, title: str, about: str) -> ModelSpec:
    weights = get_model_weights(name).DEFAULT
    preset = weights.transforms()
    return ModelSpec(
        name=name, title=title, input_size=preset.crop_size[0], channels=3,
        classes=tuple(weights.meta["categories"]), mean=tuple(preset.mean), std=tuple(preset.std),
        weights="torchvision", about=about, resize=preset.resize_size[0],
    )


_SPECS: tuple[ModelSpec, ...] = (
    ModelSpec("lenet5", "LeNet-5 (MNIST digits)", 28, 1, DIGITS, MNIST_MEAN, MNIST_STD, "shipped",
              "LeCun's digit reader, as built today (ReLU and max pooling where LeCun et al. 1998 had "
              "squashing and trained subsampling): two conv-pool stages and three fully connected layers, "
              "trained by this project on MNIST.", digit_like=True, data="mnist"),
    ModelSpec("tinyvgg", "TinyVGG (shapes)", 64, 3, (), SHAPES_MEAN, SHAPES_STD, "shipped",
              "CNN Explainer's network: two conv-conv-pool blocks of 10 filters, trained by this project "
              "on its built-in shapes set: 8 classes (circles, squares, triangles, crosses, and lines in 4 "
              "directions).",
              data="shapes"),
    ModelSpec("resnet_small", "Small ResNet (CIFAR-10 size)", 32, 3, CIFAR_CLASSES, CIFAR_MEAN, CIFAR_STD, "none",
              "Three residual blocks for 32x32 colour images: see the skip connections add up. "
              "Random weights until you train it."),
)
_TORCHVISION = (
    ("alexnet", "AlexNet (ImageNet)", "Krizhevsky's network as torchvision builds it (the one-GPU version of his 2014 paper: 64 first "
     "filters where the 2012 paper had 96, and no response normalisation): 5 conv and 3 fully connected layers, "
     "61M parameters."),
    ("vgg16", "VGG16 (ImageNet)", "Simonyan & Zisserman 2014: 13 convs of 3x3 in 5 blocks, 3 fully connected, 138M."),
    ("googlenet", "GoogLeNet (ImageNet)", "Szegedy et al. 2014: 22 layers deep, 9 Inception modules, 1x1 bottlenecks."),
    ("resnet18", "ResNet18 (ImageNet)", "He et al. 2015: 8 residual blocks; each adds its input back (skip), through a 1x1 projection "
     "where the shape changes."),
)
_BUILDERS: dict[str, Callable[[ModelSpec], nn.Module]] = {
    "lenet5": lenet5, "tinyvgg": tinyvgg, "resnet_small": resnet_small,
}


def _registry() -> OrderedDict[str, ModelSpec]:
    from explorer import data  # the shapes set's class names

    specs = [s if s.name != "tinyvgg" else _with_classes(s, data.SHAPE_CLASSES) for s in _SPECS]
    specs += [_torchvision_spec(*entry) for entry in _TORCHVISION]
    return OrderedDict((s.name, s) for s in specs)


def _with_classes(spec: ModelSpec, classes: tuple[str, ...]) -> ModelSpec:
    return ModelSpec(**{**spec.__dict__, "classes": tuple(classes)})


REGISTRY = _registry()


def names() -> list[str]:
    """Every model the registry can build, in menu order."""
    return list(REGISTRY)


def spec(name: str) -> ModelSpec:
    """The registry entry for ``name`` (ValueError naming the choices otherwise)."""
    if name not in REGISTRY:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(REGISTRY)}")
    return REGISTRY[name]


# Held while a model is built. Torch's default generator is one for all threads: a seeded build in one
# session must draw its seed's numbers, not share them with a build in another.
BUILDING = threading.RLock()


def build(name: str, pretrained: bool = False, seed: int | None = None) -> nn.Module:
    """A fresh model in eval mode. ``pretrained``: shipped weights, or torchvision's (downloaded once).

    ``seed``: the random weights are this seed's, the same at every build, whatever other threads
    build meanwhile; the caller's random state is left as it was.
    Raises WeightsUnavailable when the weights cannot be had (offline, none shipped).
    """
    with BUILDING:
        if seed is None:
            return _build(name, pretrained)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return _build(name, pretrained)


def _build(name: str, pretrained: bool) -> nn.Module:
    entry = spec(name)
    if entry.weights == "torchvision":
        model = _torchvision_model(entry, pretrained)
    else:
        model = _BUILDERS[name](entry)
        if pretrained:
            model.load_state_dict(shipped_state(name))
    return _out_of_place(model).eval()


def shipped_state(name: str) -> dict[str, torch.Tensor]:
    """A shipped model's weights; WeightsUnavailable naming the file where it is damaged (cut short, a Git LFS
    pointer in its place) or does not fit the network."""
    file = shipped_weights(name)
    try:
        return load_file(file)
    except (SafetensorError, OSError) as exc:
        raise WeightsUnavailable(f"the weights file {file} cannot be read ({exc})",
                                 f"the trained weights shipped with {spec(name).title} are damaged on this server "
                                 f"(assets/models/{file.name})") from None


def _out_of_place(model: nn.Module) -> nn.Module:
    """Turn off ``inplace`` (torchvision's ReLUs): every layer's output must survive for inspection."""
    for module in model.modules():
        if getattr(module, "inplace", False):
            module.inplace = False
    return model


def has_pretrained(name: str) -> bool:
    """Whether ``build(name, pretrained=True)`` can work at all (shipped or downloadable)."""
    entry = spec(name)
    return entry.weights == "torchvision" or (entry.weights == "shipped" and shipped_weights(name).exists())


# --- shipped weights (safetensors + a JSON sidecar) ------------------------------------------

def shipped_weights(name: str) -> Path:
    return MODELS_DIR / f"{name}.safetensors"


def save_shipped(name: str, model: nn.Module, sidecar: dict, directory: Path = MODELS_DIR) -> Path:
    """Write ``<name>.safetensors`` and ``<name>.json`` (what the weights are and how they were made)."""
    directory.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    path = directory / f"{name}.safetensors"
    save_file(state, path)
    (directory / f"{name}.json").write_text(json.dumps(sidecar, indent=2) + "\n")
    return path


def shipped_card(name: str) -> dict | None:
    """The JSON sidecar of a shipped model (data set, test accuracy, seed, command, date), if any."""
    path = MODELS_DIR / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


# --- torchvision weights: download with progress, hash check, cache ---------------------------

def weights_dir() -> Path:
    """Where downloaded weights live: ``EXPLORER_WEIGHTS_DIR`` or torch.hub's checkpoint folder."""
    override = os.environ.get("EXPLORER_WEIGHTS_DIR")
    return Path(override).expanduser().resolve() if override else Path(torch.hub.get_dir()) / "checkpoints"


def weights_url(name: str) -> str:
    """torchvision's URL for the DEFAULT weights, or the same file on ``EXPLORER_WEIGHTS_MIRROR``."""
    url = get_model_weights(name).DEFAULT.url
    mirror = os.environ.get("EXPLORER_WEIGHTS_MIRROR")
    return mirror.rstrip("/") + "/" + url.rsplit("/", 1)[1] if mirror else url


def weights_file(name: str) -> Path:
    return weights_dir() / weights_url(name).rsplit("/", 1)[1]


def download_size_mb(name: str) -> float:
    """The size of torchvision's weights file, from the weights' metadata."""
    return float(get_model_weights(name).DEFAULT.meta.get("_file_size", 0.0))


def is_downloaded(name: str) -> bool:
    return spec(name).weights == "torchvision" and weights_file(name).exists()


def download_weights(name: str, progress: downloads.Progress | None = None) -> Path:
    """Fetch the DEFAULT weights of torchvision model ``name`` into :func:`weights_dir`."""
    url = weights_url(name)
    try:
        return downloads.download(url, weights_dir(), progress)
    except downloads.FolderUnwritable as exc:
        raise WeightsUnavailable(
            f"the pretrained {name} weights cannot be saved: {exc}. Set EXPLORER_WEIGHTS_DIR to a writable folder",
            f"the trained weights of {spec(name).title} cannot be saved on this server (its weights folder is not "
            "writable: whoever runs it can set another)") from exc
    except downloads.DownloadError as exc:
        raise WeightsUnavailable(
            f"the pretrained {name} weights could not be downloaded ({exc}). This server may be offline: "
            "use random weights instead, or put the file in "
            f"{weights_dir()} (or set EXPLORER_WEIGHTS_MIRROR)",
            f"the trained weights of {spec(name).title} could not be downloaded: this server may be offline") from exc
