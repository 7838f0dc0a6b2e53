"""What a run's files must hold, checked as :mod:`explorer.run_import` brings a run in from a zip: only what the
Train page and a worker write, in the types and ranges they write it. A value outside them is refused in words
(:class:`Refused`), so that nothing brought in can break a page for the class, or train past the Train page's
limits when resumed.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Callable

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_tensors
from torch import nn
from torchvision import datasets

from explorer import architecture, data, labels, layer_table, runs, shapes, training, worker
from explorer.layer_table import ArchitectureError
from explorer.run_fields import is_number, is_whole

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
TEST_IMAGES = {"shapes": 2000}  # the worker's test split of the shapes, unless a run asks for another size


class Refused(ValueError):
    """A file of a run that is not what the app writes; the message says which, in the page's words."""


def _init(value: object) -> bool:
    """Hand-set first filters as the Train page writes them: ``{"kernels": [...], "frozen": bool}`` or nothing."""
    if not value:
        return isinstance(value, dict) or value is None
    if not isinstance(value, dict):
        return False
    kernels = value.get("kernels", [])
    return (set(value) <= {"kernels", "frozen"} and isinstance(kernels, list)
            and len(kernels) <= len(architecture.HAND_SET) and all(k in architecture.HAND_SET for k in kernels)
            and isinstance(value.get("frozen", False), bool))


def _transfer(value: object) -> bool:
    """A start from trained weights as the Train page writes it: ``{"from": <network or run:<id>>, "train": ...}``."""
    if not value:
        return isinstance(value, dict) or value is None
    source = value.get("from") if isinstance(value, dict) else None
    return (isinstance(value, dict) and set(value) <= {"from", "train"} and isinstance(source, str)
            and (source in architecture.REGISTRY_MODELS or (source.startswith("run:") and runs.is_id(source[4:])))
            and value.get("train", "head") in architecture.TRANSFER_MODES)


# the Train page's settings (and the test split's size, which benchmarks and tests set), each with its check
SETTINGS: dict[str, Callable[[object], bool]] = {
    "optimizer": lambda v: v in ("adamw", "sgd"),
    "lr": lambda v: is_number(v) and 0 < v <= 1e6,
    "batch_size": lambda v: is_whole(v) and 1 <= v <= 1024,
    "epochs": lambda v: is_whole(v) and 1 <= v <= 50,
    "seed": lambda v: is_whole(v) and 0 <= v <= 1_000_000,
    "augment": lambda v: isinstance(v, bool),
    "scramble": lambda v: isinstance(v, bool),
    "train_images": lambda v: v is None or (is_whole(v) and 1 <= v <= 60_000),
    "test_images": lambda v: v is None or (is_whole(v) and 1 <= v <= 10_000),
    "shapes_size": lambda v: is_whole(v) and 8 <= v <= 128,
    "shapes_channels": lambda v: v in (1, 3) and is_whole(v),
    "init": _init,
    "transfer": _transfer,
}


def settings(given: dict) -> dict:
    """config.json as the Train page would write it: its data set, network and settings, each checked; keys the
    page never writes (a device, a snapshot interval, a resume flag) are left out."""
    if given.get("data") not in data.NAMES:
        raise Refused(f"config.json trains on {str(given.get('data'))[:40]!r}, not one of this app's data sets "
                      f"({', '.join(data.NAMES)})")
    config = {"data": given["data"], "model": given.get("model", "custom")}
    if config["model"] not in (*architecture.REGISTRY_MODELS, "custom"):
        raise Refused(f"config.json's network {str(config['model'])[:40]!r} is not one this app trains")
    if config["model"] == "custom":
        try:  # as a link writes them: what "Use these settings" and the layer editor read
            layers = given.get("layers")
            layers = architecture.default_layers() if layers is None else layer_table.as_list(layers)
            config["layers"] = layer_table.from_text(layer_table.to_text(layers))
        except (ValueError, TypeError, AttributeError) as exc:
            raise Refused(f"config.json's layers are not a network this app builds ({exc})") from None
    for key, fits in SETTINGS.items():
        if key in given:
            if not fits(given[key]):
                raise Refused(f"config.json's {key} ({json.dumps(given[key])[:40]}) is not a setting the Train "
                              "page makes")
            config[key] = given[key]
    return config


def input_of(config: dict) -> tuple[tuple[int, int, int], tuple[str, ...]]:
    """The input shape and the class names of a run on ``config``'s data set (the shapes set's size and colour
    are the run's settings, as the worker reads them)."""
    name = config["data"]
    if name == "shapes":
        size, channels = config.get("shapes_size", 28), config.get("shapes_channels", 1)
        return (channels, size, size), data.SHAPE_CLASSES
    named = {"mnist": datasets.MNIST.classes, "fashion-mnist": datasets.FashionMNIST.classes}
    return ((3, 32, 32), CIFAR10_CLASSES) if name == "cifar10" else ((1, 28, 28), tuple(named[name]))


def test_images(config: dict) -> int:
    """How many test images the run's confusion matrix counts."""
    if config["data"] == "shapes":  # drawn, as many as asked
        return config.get("test_images") or TEST_IMAGES["shapes"]
    return min(config.get("test_images") or 10_000, 10_000)


def network(config: dict, card: dict) -> nn.Module:
    """The network ``config`` builds, checked against ``card`` (checkpoint.json): the input, classes and statistics
    it names must be the data set's; and training it at the run's batch must fit the Train page's memory limit."""
    shape, classes = input_of(config)
    mean, std = architecture.normalization(config["data"], shape[0])
    try:
        named = shapes.current_names(card["classes"]) if isinstance(card["classes"], list) else ()
        fits = (list(card["input_shape"]) == list(shape) and named == classes
                and all(is_number(v) for v in (*card["mean"], *card["std"], card["epoch"])) and is_whole(card["step"])
                and card["step"] >= 0 and len(card["mean"]) == len(card["std"]) == shape[0]
                and all(abs(a - b) < 1e-6 for a, b in zip((*card["mean"], *card["std"]), (*mean, *std))))
    except (KeyError, TypeError):
        fits = False
    if not fits:
        raise Refused("checkpoint.json does not describe the network's input, classes and statistics for "
                      f"{labels.data(config['data'])}")
    try:
        model = architecture.build(config, shape, len(classes))
    except ArchitectureError as exc:
        raise Refused(f"config.json's network cannot be built here ({exc})") from None
    batch = config.get("batch_size", training.TrainConfig.batch_size)
    if (held := architecture.training_bytes(model, shape, batch)) > architecture.TRAINING_BYTES:
        raise Refused(f"training its network at a batch of {batch} would hold about {held / 2**30:.0f} GB, over "
                      f"this app's limit of {architecture.TRAINING_BYTES // 2**30} GB")
    return model


def tensors(raw: bytes, name: str) -> dict[str, torch.Tensor]:
    try:
        return load_tensors(raw)
    except (SafetensorError, ValueError, OverflowError) as exc:
        raise Refused(f"{name} is not a safetensors file ({exc})") from None


def metadata(raw: bytes) -> dict:
    """A safetensors file's metadata (its header's ``__metadata__``): text keys and values."""
    length = int.from_bytes(raw[:8], "little")
    return json.loads(raw[8:8 + length]).get("__metadata__") or {}


def weights(model: nn.Module, raw: bytes, name: str) -> None:
    """``raw`` (a safetensors file) as the network's weights: every one a finite float, each name and shape the
    network's own; the step and epoch it was saved at, numbers."""
    arrays = tensors(raw, name)
    if not all(t.dtype.is_floating_point and bool(torch.isfinite(t).all()) for t in arrays.values()):
        raise Refused(f"{name} holds weights that are not finite numbers")
    try:
        model.load_state_dict(arrays)
        stamp = metadata(raw)
        if int(stamp.get("step", 0)) < 0 or not math.isfinite(float(stamp.get("epoch", 0.0))):
            raise ValueError
    except RuntimeError as exc:  # missing or unexpected names, or other shapes
        first = str(exc).split("\n\t")[1] if "\n\t" in str(exc) else str(exc)
        raise Refused(f"{name} does not fit the network config.json builds ({first[:200]})") from None
    except ValueError:
        raise Refused(f"{name} was saved at a step that is not a number") from None


# each optimizer's state of one parameter, as PyTorch keeps it: a resume reads every key, and needs no other
KEYS = {"adamw": {"step", "exp_avg", "exp_avg_sq"}, "sgd": {"momentum_buffer"}}


def optimizer_state(model: nn.Module, config: dict, raw: bytes, step: int) -> bytes | None:
    """``optimizer.pt`` as a worker saves it beside the weights of ``step``, cleaned to what resuming reads: each
    parameter's moments (its shape, finite) and step count; None where it is not that. ``model``: the network
    ``config`` builds, whose parameters the state numbers in the order of the worker's optimizer groups."""
    try:  # a pickle of tensors and plain containers only: weights_only refuses anything that would run code
        saved = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
        state, groups = saved["optimizer"]["state"], saved["optimizer"]["param_groups"]
        numbered = [index for group in groups for index in group["params"]]
    except Exception:  # noqa: BLE001 - bytes from a stranger: whatever the unpickler raises, it is not a worker's file
        return None
    parameters = training.ordered_parameters(_grouped(model, config))
    if saved.get("step") != step or numbered != list(range(len(parameters))) or not isinstance(state, dict):
        return None
    keys = KEYS[config.get("optimizer", training.TrainConfig.optimizer)]
    if set(state) != {i for i, parameter in enumerate(parameters) if parameter.requires_grad}:
        return None  # a parameter that trains without its moments would start afresh, unsaid
    try:  # an odd tensor (sparse, float8) fails a check it cannot take: not the worker's either
        if not all(isinstance(moments, dict) and set(moments) == keys and _moments_fit(moments, parameters[index],
                                                                                        step)
                   for index, moments in state.items()):
            return None
    except (RuntimeError, NotImplementedError, TypeError):
        return None
    # copies: a view keeps its whole storage, which torch.save would write (150 numbers of a 180 MB tensor)
    state = {index: {key: value.clone() for key, value in moments.items()} for index, moments in state.items()}
    kept = {"step": step, "optimizer": {"state": state, "param_groups": [{"params": g["params"]} for g in groups]}}
    buffer = io.BytesIO()
    torch.save(kept, buffer)
    return buffer.getvalue()


ADAM_RATIO = 8.0  # |exp_avg| <= 7.3 sqrt(exp_avg_sq) for AdamW's betas (0.9, 0.999), by Cauchy-Schwarz; and a margin


def _moments_fit(moments: dict, parameter: torch.Tensor, step: int) -> bool:
    """One parameter's optimizer state: finite moments of its shape and dtype (AdamW's second moment, of squares,
    never below 0, nor too small for its first: the two come from the same gradients), a step count of at most the
    run's steps."""
    if not all(isinstance(t, torch.Tensor) and t.layout == torch.strided and t.dtype.is_floating_point
               for t in moments.values()):
        return False
    count, means, squares = moments.get("step"), moments.get("exp_avg"), moments.get("exp_avg_sq")
    shaped = {key: t for key, t in moments.items() if key != "step"}
    if not all(t.shape == parameter.shape and t.dtype == parameter.dtype and bool(torch.isfinite(t).all())
               for t in shaped.values()):
        return False
    return ((squares is None or (bool((squares >= 0).all())
                                 and bool((means.abs() <= ADAM_RATIO * squares.sqrt() * (1 + 1e-6) + 1e-30).all())))
            and (count is None or (count.numel() == 1 and 0 <= float(count) <= step)))


def _grouped(model: nn.Module, config: dict) -> nn.Module:
    """``model`` with a transfer's marks on its parameters (fixed, or at a smaller rate), as the worker's has: they
    decide the optimizer's groups. The network's own weights stand in for the source's."""
    source = config.get("transfer") or {}
    if source.get("from"):
        architecture.transfer(model, model.state_dict(), source.get("train", "head"))
    return model


def result_fits(result: dict[str, torch.Tensor], classes: int, tested: int) -> bool:
    """Whether a result is what :func:`worker.result` writes: a confusion matrix of ``classes`` counting the
    ``tested`` test images, and mistakes that are among them, read as one of the classes."""
    confusion, wrong, said = (result.get(k) for k in ("confusion", "misclassified", "misclassified_predicted"))
    if any(t is None or t.dtype != torch.int64 for t in (confusion, wrong, said)) or set(result) != {
            "confusion", "misclassified", "misclassified_predicted"}:
        return False
    return (confusion.shape == (classes, classes) and bool((confusion >= 0).all()) and int(confusion.sum()) == tested
            and wrong.ndim == 1 and said.shape == wrong.shape and len(wrong) <= worker.MISTAKES
            and bool(((wrong >= 0) & (wrong < tested)).all()) and bool(((said >= 0) & (said < classes)).all()))


def snapshot_shapes(model: nn.Module, shape: tuple[int, int, int], probes: int, reads: int) -> dict[str, tuple]:
    """Each array a worker's snapshot of this network holds, with its shape and dtype, for ``probes`` probe images
    and ``reads`` read ones (:func:`worker.snapshot`)."""
    with torch.no_grad():
        made = worker.snapshot(model, torch.zeros(probes, *shape), torch.zeros(reads, *shape) if reads else None)
    model.eval()
    kept = {"probe_images": ((probes, *shape), torch.float32), "probe_labels": ((probes,), torch.int64)}
    if reads:
        kept |= {"read_images": ((reads, *shape), torch.uint8), "read_labels": ((reads,), torch.int64)}
    return {**{k: (tuple(v.shape), v.dtype) for k, v in made.items()}, **kept}


def snapshot_fits(arrays: dict[str, torch.Tensor], raw: bytes, expected: dict[str, tuple], classes: tuple[str, ...]
                  ) -> bool:
    """Whether a snapshot holds the arrays ``expected`` (:func:`snapshot_shapes`), finite, its labels among the
    classes, its images in range, and its class names (where it names them) the run's."""
    if set(arrays) != set(expected) or any((tuple(arrays[k].shape), arrays[k].dtype) != v for k, v in expected.items()):
        return False
    if not all(bool(torch.isfinite(t).all()) for t in arrays.values() if t.dtype.is_floating_point):
        return False
    labelled = [arrays[k] for k in ("probe_labels", "read_labels") if k in arrays]
    if not all(bool(((t >= 0) & (t < len(classes))).all()) for t in labelled):
        return False
    probe = arrays["probe_images"]
    try:
        named = metadata(raw).get("classes")
        return bool(((probe >= 0) & (probe <= 1)).all()) and (
            named is None or shapes.current_names(json.loads(named)) == classes)
    except (ValueError, TypeError):
        return False


_RECORD_NUMBERS = ("epoch", "elapsed", "images_per_s", "lr", "time")  # a metrics record's figures
_RECORD_MAYBE = ("loss", "accuracy", "test_accuracy", "test_loss")  # and those a diverged run writes as null


def record(line: object) -> dict | None:
    """A metrics record as a worker writes it (phase, step and steps, its figures as numbers or null), with only
    those keys; None where it is not one."""
    if not isinstance(line, dict) or line.get("phase") not in ("train", "eval", "done", "diverged", "resume"):
        return None
    if not all(is_whole(line.get(k, 0)) and line.get(k, 0) >= 0 for k in ("step", "steps")) or "step" not in line:
        return None
    if not all(is_number(line.get(k, 0)) for k in _RECORD_NUMBERS):
        return None
    if not all(line.get(k) is None or is_number(line[k]) for k in _RECORD_MAYBE):
        return None
    device = line.get("device", "")
    kept = {k: line[k] for k in ("phase", "step", "steps", *_RECORD_NUMBERS, *_RECORD_MAYBE) if k in line}
    return kept | ({"device": labels.plain_name(device, 100)} if isinstance(device, str) and device else {})
