"""What excites a channel most: the top-k images of a data set per channel (Zeiler & Fergus 2014).

For every channel ``c`` of a layer's output (C, H', W') and every image ``n`` the activation is
the strongest response anywhere in the map, ``a[n, c] = max_{y, x} A[n, c, y, x]``; a channel's
top-k are the k images with the largest ``a[n, c]``, and each comes with the position (y, x) of
that maximum, so the page can cut out the image patch the unit at (y, x) actually sees (its
receptive field). Zeiler & Fergus show the top-9 of this kind beside their deconvnet projections
(:mod:`explorer.deconvnet`); the patch here is the exact receptive-field box.

One batched forward pass over the whole set, no per-image loop: each batch's per-image maxima
(C, B) are concatenated with the running top-k (C, k) and sorted once more, so the memory stays
(C, k + B) however many images there are. Results are cached on disk (safetensors) by a hash of
the weights, the layer, k, the data and the precision.
"""

from __future__ import annotations

import copy
import contextlib
import hashlib
import logging
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import fx, nn

from explorer import extraction, inspect, networks, receptive_field, training

log = logging.getLogger(__name__)
CACHE_ENV = "EXPLORER_CACHE"
# Input values per CPU batch, at most: 512 MNIST digits fit, but 512 VGG16 inputs at 224x224 would
# need 6.6 GB for the first feature map alone; 2M values are 13 such images (~170 MB).
CPU_BATCH_VALUES = 2**21
REPO = Path(__file__).resolve().parent.parent
Progress = Callable[[int, int], None]  # (images done, images in all)


@dataclass(frozen=True, eq=False)  # eq=False: tensor fields have no single truth value
class TopActivations:
    """The top-k images of every channel of one layer, strongest first.

    Equal activations rank the lower image index first; within an image the position is the
    first maximum in row-major order. ``k`` is min(requested k, number of images).
    """

    values: torch.Tensor  # (C, k) float32: max over positions of the channel's map
    indices: torch.Tensor  # (C, k) int64: into the image set
    positions: torch.Tensor  # (C, k, 2) int64: (y, x) of that maximum in the (H', W') map
    layer: str
    map_size: tuple[int, int]  # (H', W')

    @property
    def k(self) -> int:
        return self.values.shape[1]


def compute(model: nn.Module, layer: str, images: torch.Tensor, k: int = 9, batch_size: int = 512,
            device: str = "auto", progress: Progress | None = None, lowest: bool = False) -> TopActivations:
    """The k images of ``images`` (N, C, H, W) uint8 at the model's input size that drive each channel hardest;
    ``lowest``: those that drive it down most (by the minimum over positions, lowest first: Distill's negative
    data set examples, where the activation can go below 0).

    ``layer`` is a node name as in ``inspect.layers``; its output must be feature maps (B, C, H', W')
    (ValueError otherwise). k larger than N gives all N images (k = N). ``batch_size`` images go
    through at a time, fewer on the CPU for large images (``CPU_BATCH_VALUES``). On CUDA the forward pass
    runs in bf16 autocast with channels_last (values then carry bf16's ~3 significant digits);
    on the CPU in float32. Out of GPU memory (a GPU shared with training runs), it goes on with half as
    many images at a time. The model itself is never moved or changed.
    """
    if images.dim() != 4 or images.dtype != torch.uint8 or len(images) == 0:
        raise ValueError(f"images must be a non-empty (N, C, H, W) uint8 tensor, got {tuple(images.shape)} {images.dtype}")
    if k < 1 or batch_size < 1:
        raise ValueError(f"k and batch_size must be at least 1, got k={k}, batch_size={batch_size}")
    n, k = len(images), min(k, len(images))
    dev = training.resolve_device(device)
    if dev.type == "cpu":
        batch_size = max(1, min(batch_size, CPU_BATCH_VALUES // images[0].numel()))
    graph = _extractor_on(model, layer, dev)
    best, map_size = None, (0, 0)
    start = 0
    with torch.inference_mode(), torch.autocast(dev.type, torch.bfloat16, enabled=dev.type == "cuda"):
        while start < n:
            try:
                maps = _feature_maps(graph, layer, _as_input(images[start:start + batch_size], dev))  # (B, C, H', W')
            except torch.OutOfMemoryError:  # a GPU shared with training runs: fewer images at a time
                if batch_size == 1:
                    raise
                batch_size //= 2
                torch.cuda.empty_cache()
                continue
            map_size = tuple(maps.shape[-2:])
            if lowest:  # the lowest minimum is the highest maximum of the negated maps
                maps = -maps
            peak, where = maps.flatten(2).max(2)  # (B, C) each: the strongest position per image and channel
            best = _merge(best, peak.float().T, where.T, start, k)
            start += len(maps)
            if progress is not None:
                progress(start, n)
    values, indices, flat = (t.cpu() for t in best)
    values = -values if lowest else values
    positions = torch.stack([flat // map_size[1], flat % map_size[1]], -1)  # (C, k, 2): row-major index -> (y, x)
    return TopActivations(values.contiguous(), indices.contiguous(), positions, layer, map_size)


def _extractor_on(model: nn.Module, layer: str, device: torch.device) -> fx.GraphModule:
    """The one-node feature extractor on ``device``.

    The extractor shares its modules with ``model``, so moving it would move the model (often a
    cached one, shared by every session): elsewhere than the model's device, a copy of only the
    modules up to ``layer`` is moved instead.
    """
    graph = extraction.extractor(model, [layer])
    here = inspect.device_of(model)
    if here.type == device.type and device.index in (None, here.index):  # "cuda" is the model's "cuda:0"
        return graph
    graph = copy.deepcopy(graph).to(device)
    return graph.to(memory_format=torch.channels_last) if device.type == "cuda" else graph


def _as_input(batch: torch.Tensor, device: torch.device) -> torch.Tensor:
    """uint8 (B, C, H, W) -> float [0, 1] on ``device``: converted there, so only bytes cross the bus."""
    x = batch.to(device, non_blocking=True).float().div_(255)
    return x.contiguous(memory_format=torch.channels_last) if device.type == "cuda" else x


def _feature_maps(graph: fx.GraphModule, layer: str, x: torch.Tensor) -> torch.Tensor:
    """The layer's output (B, C, H', W'); ValueError for vectors (flatten, linear layers)."""
    out = graph(x)[layer]
    if not isinstance(out, torch.Tensor) or out.dim() != 4:
        shape = tuple(out.shape[1:]) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(f"layer {layer!r} has no feature maps: its output per image is {shape}, not "
                         "(channels, height, width); choose a convolution, ReLU or pooling layer")
    return out


def _merge(best: tuple[torch.Tensor, ...] | None, peak: torch.Tensor, where: torch.Tensor, start: int,
           k: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The running top-k joined with one batch: (values, image indices, flat positions), each (C, k).

    ``peak``, ``where``: (C, B) for images start..start+B-1. A stable descending sort keeps equal
    values in concatenation order, which is image order, so ties go to the lower image index
    (``torch.topk`` makes no such promise).
    """
    index = torch.arange(start, start + peak.shape[1], device=peak.device).expand_as(peak)  # (C, B)
    if best is not None:
        peak, index, where = (torch.cat([old, new], 1) for old, new in zip(best, (peak, index, where)))
    order = peak.sort(dim=1, descending=True, stable=True).indices[:, :k]  # (C, k)
    return peak.gather(1, order), index.gather(1, order), where.gather(1, order)


def patches(result: TopActivations, images: torch.Tensor, model: nn.Module, input_size: tuple[int, int],
            channel: int) -> list[torch.Tensor]:
    """The k image patches behind ``channel``'s top-k: each (C, h, w) float [0, 1], strongest first.

    Patch r is image ``indices[channel, r]`` cut at the receptive-field box of the unit at
    ``positions[channel, r]``: every input pixel that can influence that unit, and no other.
    A box is clipped to the image, so patches of units near the border are smaller.
    """
    return [images[index, :, top:bottom, left:right].float() / 255 for index, (top, left, bottom, right) in
            zip(result.indices[channel].tolist(), patch_boxes(result, model, input_size, channel))]


def has_patches(model: nn.Module) -> bool:
    """Whether a unit's field is a box to cut (not in a network that scrambles its pixels first)."""
    return not any(isinstance(module, networks.Scramble) for module in model.modules())


def patch_boxes(result: TopActivations, model: nn.Module, input_size: tuple[int, int],
                channel: int) -> list[tuple[int, int, int, int]]:
    """Where :func:`patches` cuts each of ``channel``'s top-k images: (top, left, bottom, right), clipped to the
    image, bottom and right exclusive; the whole image where a unit's field is no box (a network that scrambles
    its pixels)."""
    height, width = input_size
    try:
        boxes = receptive_field.boxes(model, result.layer, result.positions[channel], input_size)  # (k, 4)
    except NotImplementedError:
        return [(0, 0, height, width)] * len(result.positions[channel])
    return [(max(top, 0), max(left, 0), min(bottom, height), min(right, width))
            for top, left, bottom, right in boxes.tolist()]


def own_activation(model: nn.Module, layer: str, image: torch.Tensor) -> torch.Tensor:
    """Every channel's activation for one image (C, H, W) float [0, 1]: ``max_{y, x} A[c, y, x]``, shape (C,).

    Float32 on the model's device, so it compares directly with a CPU :func:`compute`.
    """
    graph = extraction.extractor(model, [layer])
    with torch.inference_mode():
        maps = _feature_maps(graph, layer, image.unsqueeze(0).to(inspect.device_of(model)))  # (1, C, H', W')
    return maps[0].flatten(1).amax(1).float().cpu()


def rank(values: torch.Tensor, own: float, lowest: bool = False) -> int:
    """Where an activation of ``own`` would rank among ``values`` (a top k, best first; ``lowest``: a lowest k,
    lowest first): 1 + how many beat it, so a tie ranks with the value it ties; ``len(values) + 1``: past them all."""
    return int((values < own).sum() if lowest else (values > own).sum()) + 1


# --- the disk cache ---------------------------------------------------------------------------

CACHE_FILES = 2000  # results kept on disk: at most a few hundred megabytes


def cache_root() -> Path:
    """$EXPLORER_CACHE/top_activations if set, else <repo>/.cache/top_activations."""
    configured = os.environ.get(CACHE_ENV)
    return (Path(configured).expanduser().resolve() if configured else REPO / ".cache") / "top_activations"


def cached_compute(model: nn.Module, layer: str, images: torch.Tensor, data_id: str,
                   cache_dir: Path | None = None, **kw) -> TopActivations:
    """:func:`compute`, stored as ``<cache_dir>/<key>.safetensors`` (default :func:`cache_root`).

    The key is a sha256 of the model (its repr and every state_dict tensor's name, dtype, shape
    and bytes, so changed weights miss), the layer, k, ``data_id``, the images' bytes and the
    precision (bf16 on CUDA, float32 on the CPU). An unreadable or inconsistent file is computed
    again and replaced; files are written to a temporary name and renamed, so a reader never
    sees half a file; a folder that cannot be written (a read-only disk) only goes without the cache. ``kw``: the
    keyword arguments of :func:`compute`.
    """
    folder = Path(cache_dir) if cache_dir is not None else cache_root()
    precision = "bf16" if training.resolve_device(kw.get("device", "auto")).type == "cuda" else "fp32"
    key = _key(model, layer, images, data_id + (" lowest" if kw.get("lowest") else ""), kw.get("k", 9), precision)
    path = folder / f"{key}.safetensors"
    cached = _read(path, layer)
    if cached is not None:
        with contextlib.suppress(OSError):  # pruned by another server meanwhile: the result is read already
            path.touch()  # used now: the pruning below goes by the time of last use
        return cached
    result = compute(model, layer, images, **kw)
    try:
        _write(path, result)
        _prune(folder)
    except OSError as exc:  # a read-only or full disk: the result stands, computed again next time
        log.warning("top activations not cached in %s: %s", folder, exc)
    return result


def _prune(folder: Path, keep: int | None = None) -> None:
    """Delete all but the ``keep`` (default :data:`CACHE_FILES`) results used last, so that a hosted server's disk
    does not fill up over a term (a file is some kilobytes to a few hundred: 512 channels, 130 KB)."""
    def used(file: Path) -> float:
        try:
            return file.stat().st_mtime
        except OSError:  # deleted by another server meanwhile
            return 0.0

    files = sorted(folder.glob("*.safetensors"), key=used)
    for old in files[:max(0, len(files) - (CACHE_FILES if keep is None else keep))]:
        old.unlink(missing_ok=True)


def _key(model: nn.Module, layer: str, images: torch.Tensor, data_id: str, k: int, precision: str) -> str:
    """sha256 over everything the result depends on. The repr holds what the state_dict does not
    (the architecture, Normalize's statistics, which are non-persistent buffers)."""
    digest = hashlib.sha256()
    for part in (repr(model), layer, str(k), data_id, precision, str(tuple(images.shape)), _bytes_sha256(images)):
        digest.update(part.encode() + b"\0")  # a separator: ("ab", "c") and ("a", "bc") differ
    for name, tensor in model.state_dict().items():
        digest.update(f"{name} {tensor.dtype} {tuple(tensor.shape)}\0".encode())
        digest.update(_raw(tensor))
    return digest.hexdigest()


def _bytes_sha256(tensor: torch.Tensor) -> str:
    return hashlib.sha256(_raw(tensor)).hexdigest()


def _raw(tensor: torch.Tensor) -> memoryview:
    """A tensor's bytes (any dtype, bf16 included, which numpy lacks), without a copy when on the CPU."""
    flat = tensor.detach().cpu().contiguous().reshape(-1)
    return memoryview(flat.view(torch.uint8).numpy())


def _read(path: Path, layer: str) -> TopActivations | None:
    """The cached result, or None when the file is missing, unreadable or not a consistent result."""
    try:
        tensors = load_file(path)
        values, indices, positions, map_size = (tensors["values"], tensors["indices"], tensors["positions"],
                                                tensors["map_size"])
    except (OSError, SafetensorError, KeyError, ValueError, RuntimeError):
        return None
    c, k = values.shape if values.dim() == 2 else (-1, -1)
    if (values.dtype != torch.float32 or indices.shape != (c, k) or positions.shape != (c, k, 2)
            or indices.dtype != torch.int64 or positions.dtype != torch.int64 or map_size.shape != (2,)):
        return None
    return TopActivations(values, indices, positions, layer, tuple(map_size.tolist()))


def _write(path: Path, result: TopActivations) -> None:
    """Save to a temporary file in the same folder, then ``os.replace``: atomic on one file system."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {"values": result.values, "indices": result.indices, "positions": result.positions,
               "map_size": torch.tensor(result.map_size, dtype=torch.int64)}
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(handle)
    try:
        save_file(tensors, temporary, metadata={"layer": result.layer})
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
