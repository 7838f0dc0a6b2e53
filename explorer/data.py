"""Data sets as whole-split uint8 tensors: MNIST, Fashion-MNIST, CIFAR-10 and procedural shapes.

Real data sets go through torchvision's own classes and download code (checksums included), so
the app downloads exactly what torchvision would. Three ways to get them without the internet:

- dev machines: ``stage_shared`` copies the verified ``.gz`` files from ``<repo>/../shared/data``
  into the default root, where torchvision's ``download=True`` finds them and never goes online;
- ``EXPLORER_DATA_MIRROR=http://host:port/``: torchvision downloads from that base URL instead;
- the ``"shapes"`` set, drawn by :mod:`explorer.shapes` from signed distances, needs no files at all.

A split is one tensor in memory (``images`` (N, C, H, W) uint8, ``labels`` (N,) int64), in the
spirit of cifar10-airbench: no DataLoader, batches are slices. Loaded splits are cached per
process and shared, so treat them as read-only. A user's own images (a zip, a folder) become a
DataSet in :mod:`explorer.user_images`.
"""

from __future__ import annotations

import os
import pickle
import shutil
import socket
import tarfile
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
from torchvision import datasets

from explorer import shapes as drawn_shapes

NAMES: tuple[str, ...] = ("mnist", "fashion-mnist", "cifar10", "shapes")
MIRROR_ENV = "EXPLORER_DATA_MIRROR"
ROOT_ENV = "EXPLORER_DATA"
TIMEOUT_S = 20.0  # per socket operation while downloading; torchvision itself sets none
REPO = Path(__file__).resolve().parent.parent

SHAPE_CLASSES: tuple[str, ...] = drawn_shapes.CLASSES

_TORCHVISION: dict[str, type] = {
    "mnist": datasets.MNIST,
    "fashion-mnist": datasets.FashionMNIST,
    "cifar10": datasets.CIFAR10,
}
_SHARED_FOLDERS = {"mnist": "mnist", "fashion-mnist": "fashion-mnist"}  # under shared/data
_FAILURES = (RuntimeError, OSError, EOFError, ValueError, zlib.error, tarfile.TarError, pickle.UnpicklingError)

_CACHE: dict[tuple[str, bool, str | None], DataSet] = {}
_LOCK = threading.Lock()  # Streamlit runs sessions in threads: one download into a root at a time


class DataUnavailable(Exception):
    """A data set cannot be loaded (offline, checksum mismatch, missing files); message says what to do.

    ``summary``: the same in a line for a page's visitors, without the server's paths and settings (the message
    itself, when it has none).
    """

    def __init__(self, message: str, summary: str | None = None) -> None:
        super().__init__(message)
        self.summary = summary or message


@dataclass(frozen=True, eq=False)  # eq=False: comparing tensor fields elementwise has no single truth value
class DataSet:
    """One split of a data set, held whole in memory."""

    name: str
    images: torch.Tensor  # (N, C, H, W) uint8, C = 1 or 3
    labels: torch.Tensor  # (N,) int64, indices into classes
    classes: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.images.dim() != 4 or self.images.dtype != torch.uint8 or self.images.shape[1] not in (1, 3):
            raise ValueError(f"images must be (N, 1|3, H, W) uint8, got {tuple(self.images.shape)} {self.images.dtype}")
        if self.labels.shape != (self.images.shape[0],) or self.labels.dtype != torch.int64:
            raise ValueError(f"labels must be ({self.images.shape[0]},) int64, got {tuple(self.labels.shape)}")

    def __len__(self) -> int:
        return self.labels.shape[0]

    def subset(self, n: int) -> DataSet:
        """The first n examples (views, no copy)."""
        return DataSet(self.name, self.images[:n], self.labels[:n], self.classes)


# ----------------------------------------------------------------------------------- roots


def default_root() -> Path:
    """Where downloads go: $EXPLORER_DATA if set, else <repo>/.data (git-ignored)."""
    configured = os.environ.get(ROOT_ENV)
    return Path(configured).expanduser().resolve() if configured else REPO / ".data"  # as the workers find it


def shared_root() -> Path | None:
    """The verified offline copies on dev machines (<repo>/../shared/data), or None elsewhere."""
    shared = REPO.parent / "shared" / "data"
    return shared if shared.is_dir() else None


def stage_shared(root: Path) -> list[str]:
    """Copy the shared MNIST / Fashion-MNIST .gz files into root/<Class>/raw where missing.

    torchvision's ``download=True`` then finds each .gz with the right md5 and skips the network,
    but it unpacks next to the .gz, so the files are copied (a symlinked folder would make it
    write into shared/). Returns the names of the data sets for which files were copied.
    """
    shared = shared_root()
    if shared is None:
        return []
    root = Path(root).resolve()
    if root.is_relative_to(shared.resolve()):
        raise ValueError(f"refusing to stage into {root}: it lies inside the read-only {shared}")
    staged = []
    for name, folder in _SHARED_FOLDERS.items():
        class_name = _TORCHVISION[name].__name__
        sources = sorted((shared / folder / class_name / "raw").glob("*.gz"))
        copied = [_copy_missing(source, root / class_name / "raw") for source in sources]
        if any(copied):
            staged.append(name)
    return staged


def _copy_missing(source: Path, folder: Path) -> bool:
    """Copy source into folder unless it (or its unpacked form) is there; True if copied."""
    target = folder / source.name
    if target.exists() or target.with_suffix("").exists():
        return False
    folder.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    shutil.copyfile(source, partial)
    os.replace(partial, target)  # atomic: an interrupted copy never looks like a (corrupt) .gz
    return True


# ----------------------------------------------------------------------------------- loading


def load(name: str, train: bool = True, root: Path | None = None, download: bool = True) -> DataSet:
    """One whole split of a named data set, cached per (name, train, root) for the process.

    Real data sets come from torchvision under ``root`` (default ``default_root()``). Shared
    offline files are staged only into the default root: an explicit root is used as given, so
    a test can exercise the real download path against a local server.
    Raises ``DataUnavailable`` (with what to do) when the files cannot be found or downloaded.
    """
    if name not in NAMES:
        raise ValueError(f"unknown data set {name!r}; choose one of: {', '.join(NAMES)}")
    folder = Path(root if root is not None else default_root()).expanduser().resolve()
    key = (name, train, None if name == "shapes" else str(folder))
    with _LOCK:
        if key not in _CACHE:
            _CACHE[key] = _load_uncached(name, train, folder, download)
        return _CACHE[key]


def _load_uncached(name: str, train: bool, root: Path, download: bool) -> DataSet:
    """Generate shapes, or stage (default root only) and read a torchvision split."""
    if name == "shapes":
        return shapes(n=12000 if train else 2000, size=28, channels=1, seed=0 if train else 1)
    if root == default_root().expanduser().resolve():
        try:
            stage_shared(root)
        except OSError as exc:  # a read-only checkout, a data folder that is a file: as a failed download says
            raise DataUnavailable(_explain(name, train, root, None, download, exc),
                                  _summary(name, train, download, exc)) from exc
    # torchvision unpacks only when asked to download; with every .gz here (md5-checked) nothing is fetched
    return _load_torchvision(name, train, root, download or _packed_here(name, root))


def _packed_here(name: str, root: Path) -> bool:
    """Whether every .gz file of ``name`` lies in its raw folder under ``root``, so loading needs no network."""
    resources = getattr(_TORCHVISION[name], "resources", ())
    raw = root / _TORCHVISION[name].__name__ / "raw"
    return bool(resources) and all((raw / filename).is_file() for filename, _ in resources)


def _load_torchvision(name: str, train: bool, root: Path, download: bool) -> DataSet:
    """Run torchvision's class (download and checksums included) and keep its tensors."""
    mirror = os.environ.get(MIRROR_ENV) or None
    try:
        with _socket_timeout(TIMEOUT_S):
            split = _torchvision_class(name, mirror)(root=str(root), train=train, download=download)
    except _FAILURES as exc:
        raise DataUnavailable(_explain(name, train, root, mirror, download, exc),
                              _summary(name, train, download, exc)) from exc
    images = torch.as_tensor(split.data)
    # MNIST-style .data is (N, H, W); CIFAR's is (N, H, W, C) as numpy: both become (N, C, H, W)
    images = images.unsqueeze(1) if images.dim() == 3 else images.permute(0, 3, 1, 2).contiguous()
    labels = torch.as_tensor(split.targets, dtype=torch.int64)
    return DataSet(name, images, labels, tuple(split.classes))


def _torchvision_class(name: str, mirror: str | None) -> type:
    """torchvision's class, or a subclass that downloads from the mirror with the same checksums.

    MNIST builds each URL as f"{mirror}{filename}"; CIFAR10 fetches its one ``url``.
    The subclass keeps the class name because MNIST's raw folder is root/<class name>/raw.
    """
    base = _TORCHVISION[name]
    if not mirror:
        return base
    mirror = mirror if mirror.endswith("/") else mirror + "/"
    attrs = {"url": mirror + base.filename} if name == "cifar10" else {"mirrors": [mirror]}
    return type(base.__name__, (base,), attrs)


@contextmanager
def _socket_timeout(seconds: float) -> Iterator[None]:
    """Bound every socket operation: torchvision's urlopen passes no timeout, so a stalled server
    would freeze the app. Process-wide while it lasts; an existing default is left alone."""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds if previous is None else previous)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


def _failure(download: bool, exc: BaseException) -> str:
    """What went wrong: "absent" (not here, no download asked), "unwritable" (the data folder), "corrupted",
    "unreachable" or "unreadable"."""
    detail = " ".join(str(exc).split()).lower()
    if not download:
        return "absent"
    if isinstance(exc, PermissionError) or isinstance(exc.__cause__, PermissionError):
        return "unwritable"
    if "corrupted" in detail:
        return "corrupted"
    if isinstance(exc, OSError) or "urlopen error" in detail or "timed out" in detail:
        return "unreachable"
    return "unreadable"


TITLES = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST", "cifar10": "CIFAR-10", "shapes": "the built-in shapes"}


def _summary(name: str, train: bool, download: bool, exc: BaseException) -> str:
    """What a page's visitor needs of :func:`_explain`: which images are missing and why, in a line."""
    reason = {"absent": "they have not been downloaded yet",
              "corrupted": "their download arrived corrupted",
              "unwritable": "the server may not write into its data folder (whoever runs it: see the details)",
              "unreachable": "the server could not download them (it may be offline)",
              "unreadable": "their files could not be read"}[_failure(download, exc)]
    return f"{TITLES.get(name, name)}'s {'training' if train else 'test'} images are not on this server: {reason}."


def _explain(name: str, train: bool, root: Path, mirror: str | None, download: bool, exc: BaseException) -> str:
    """A message naming the data set, the root, what went wrong and the three ways out."""
    detail = " ".join(str(exc).split())
    source = f"the mirror {mirror}" if mirror else "torchvision's download servers"
    reason = {"absent": "its files are not in the root and downloading is switched off",
              "corrupted": f"a file from {source} failed torchvision's checksum (corrupted, truncated or not the "
                           "expected file)",
              "unreachable": f"{source} could not be reached",
              "unwritable": f"the folder {root} cannot be written (set {ROOT_ENV} to a writable one)",
              "unreadable": "its files could not be read"}[_failure(download, exc)]
    split = "training" if train else "test"
    use_mirror = (
        f"check that {MIRROR_ENV} (now {mirror}) serves torchvision's files"
        if mirror
        else f"set {MIRROR_ENV} to a base URL that serves torchvision's files"
    )
    return (
        f"The {name} {split} split is unavailable in {root}: {reason}. ({type(exc).__name__}: {detail[:300]}) "
        f"What to do: go online and load it again (torchvision downloads it into {root}), "
        f"or {use_mirror}, or use the built-in 'shapes' data set, which is generated offline."
    )


# ----------------------------------------------------------------------------------- shapes


def shapes(n: int, size: int = 28, channels: int = 1, seed: int = 0) -> DataSet:
    """The built-in offline set, drawn by :func:`explorer.shapes.draw`, as a DataSet named "shapes"."""
    images, labels = drawn_shapes.draw(n, size, channels, seed)
    return DataSet("shapes", images, labels, SHAPE_CLASSES)
