"""Data sets as whole-split uint8 tensors: MNIST, Fashion-MNIST, CIFAR-10 and procedural shapes.

Real data sets go through torchvision's own classes and download code (checksums included), so
the app downloads exactly what torchvision would. Three ways to get them without the internet:

- dev machines: ``stage_shared`` copies the verified ``.gz`` files from ``<repo>/../shared/data``
  into the default root, where torchvision's ``download=True`` finds them and never goes online;
- ``EXPLORER_DATA_MIRROR=http://host:port/``: torchvision downloads from that base URL instead;
- the ``"shapes"`` set, drawn by this module from signed-distance functions, needs no files at all.

A split is one tensor in memory (``images`` (N, C, H, W) uint8, ``labels`` (N,) int64), in the
spirit of cifar10-airbench: no DataLoader, batches are slices. Loaded splits are cached per
process and shared, so treat them as read-only.
"""

from __future__ import annotations

import io
import math
import os
import pickle
import shutil
import socket
import tarfile
import threading
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path

import torch
import torch.nn.functional as F
from torchvision import datasets

from explorer.images import ImageError, load_bytes, to_grey

NAMES: tuple[str, ...] = ("mnist", "fashion-mnist", "cifar10", "shapes")
MIRROR_ENV = "EXPLORER_DATA_MIRROR"
ROOT_ENV = "EXPLORER_DATA"
TIMEOUT_S = 20.0  # per socket operation while downloading; torchvision itself sets none
REPO = Path(__file__).resolve().parent.parent

# Each shape class: how it is drawn, and its fixed orientation in degrees (None = any rotation).
# Angles are in image coordinates (x right, y down), so -45 degrees runs up to the right: "/".
_SHAPE_SPECS: dict[str, tuple[str, float | None]] = {
    "circle": ("circle", None),
    "square": ("square", None),
    "triangle": ("triangle", None),
    "cross": ("cross", None),
    "line —": ("line", 0.0),
    "line |": ("line", 90.0),
    "line /": ("line", -45.0),
    "line \\": ("line", 45.0),
}
SHAPE_CLASSES: tuple[str, ...] = tuple(_SHAPE_SPECS)
_LINE_JITTER_DEG = 10.0  # small, because a line's orientation is its class
_CHUNK_PIXELS = 2**20  # pixels rendered at a time: temporaries of 4 MB, reused by the allocator

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
    """A data set cannot be loaded (offline, checksum mismatch, missing files); message says what to do."""


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
    return Path(configured).expanduser() if configured else REPO / ".data"


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
        stage_shared(root)
    return _load_torchvision(name, train, root, download)


def _load_torchvision(name: str, train: bool, root: Path, download: bool) -> DataSet:
    """Run torchvision's class (download and checksums included) and keep its tensors."""
    mirror = os.environ.get(MIRROR_ENV) or None
    try:
        with _socket_timeout(TIMEOUT_S):
            split = _torchvision_class(name, mirror)(root=str(root), train=train, download=download)
    except _FAILURES as exc:
        raise DataUnavailable(_explain(name, train, root, mirror, download, exc)) from exc
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


def _explain(name: str, train: bool, root: Path, mirror: str | None, download: bool, exc: BaseException) -> str:
    """A message naming the data set, the root, what went wrong and the three ways out."""
    detail = " ".join(str(exc).split())
    source = f"the mirror {mirror}" if mirror else "torchvision's download servers"
    if not download:
        reason = "its files are not in the root and downloading is switched off"
    elif "corrupted" in detail.lower():
        reason = f"a file from {source} failed torchvision's checksum (corrupted, truncated or not the expected file)"
    elif isinstance(exc, OSError) or "urlopen error" in detail or "timed out" in detail:
        reason = f"{source} could not be reached"
    else:
        reason = "its files could not be read"
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


@dataclass(frozen=True)
class _Strokes:
    """Where each shape is drawn, in pixels (pixel centres at 0.5, 1.5, ...)."""

    cx: torch.Tensor  # (N,) centre x
    cy: torch.Tensor  # (N,) centre y
    radius: torch.Tensor  # (N,) circumradius; half-length for lines
    angle: torch.Tensor  # (N,) rotation in radians
    half_width: torch.Tensor  # (N,) half the pen width

    def take(self, index: torch.Tensor | slice) -> _Strokes:
        """The same fields for a subset of images."""
        return _Strokes(*(getattr(self, f.name)[index] for f in fields(self)))


@dataclass(frozen=True)
class _Palette:
    """Per-image colours and noise level, values in [0, 1]."""

    ink: torch.Tensor  # (N, C)
    paper: torch.Tensor  # (N, C)
    noise: torch.Tensor  # (N,) standard deviation of the pixel noise

    def take(self, index: slice) -> _Palette:
        """The same fields for a subset of images."""
        return _Palette(self.ink[index], self.paper[index], self.noise[index])


def shapes(n: int, size: int = 28, channels: int = 1, seed: int = 0) -> DataSet:
    """A procedural data set of pen-drawn outlines in 8 balanced classes (``SHAPE_CLASSES``).

    Each image: one shape at a random position, size and rotation (lines only jitter by
    +-10 degrees, their orientation being their class), a random pen width, colours and
    Gaussian noise. Drawn from distances to the outline, anti-aliased as pixel coverage
    ``clamp(w + 1/2 - d, 0, 1)`` (a 1-pixel ramp at the pen's edge, width ``2w``).
    Grey: light ink on dark paper like MNIST; RGB: random ink on random paper, every channel
    at least 0.3 apart. The same seed gives the same images. Returns images (n, channels, size, size).
    """
    if n < 0 or size < 12 or channels not in (1, 3):
        raise ValueError(f"need n >= 0, size >= 12 and channels 1 or 3; got n={n}, size={size}, channels={channels}")
    generator = torch.Generator().manual_seed(seed)
    labels = (torch.arange(n) % len(SHAPE_CLASSES))[torch.randperm(n, generator=generator)]  # (N,) balanced
    strokes = _random_strokes(labels, size, generator)
    palette = _random_palette(n, channels, generator)
    images = torch.empty(n, channels, size, size, dtype=torch.uint8)
    chunk = max(1, _CHUNK_PIXELS // (size * size))
    for start in range(0, n, chunk):
        part = slice(start, start + chunk)
        coverage = _coverage(strokes.take(part), labels[part], size)  # (B, H, W)
        images[part] = _paint(coverage, palette.take(part), generator)
    return DataSet("shapes", images, labels, SHAPE_CLASSES)


def _random_strokes(labels: torch.Tensor, size: int, generator: torch.Generator) -> _Strokes:
    """Pen width, size, rotation and a centre that keeps the whole stroke off the border pixels."""
    u = torch.rand(len(labels), 5, generator=generator)  # one draw: the order of randomness is fixed
    half_width = size / 28 * (0.7 + 0.8 * u[:, 0])  # pen 1.4-3 px wide at 28 px, like MNIST digits
    # Ink reaches half_width + 0.5 from the outline; 1 px more keeps the outermost pixels clear.
    room = size / 2 - half_width - 1.5
    low = 0.22 * size
    radius = low + (torch.clamp(room, max=0.4 * size) - low) * u[:, 1]
    margin = radius + half_width + 1.5
    cx = margin + (size - 2 * margin) * u[:, 2]
    cy = margin + (size - 2 * margin) * u[:, 3]
    return _Strokes(cx, cy, radius, _random_angles(labels, u[:, 4]), half_width)


def _random_angles(labels: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Any rotation for closed shapes and crosses; a fixed orientation +-10 degrees for lines."""
    fixed = torch.tensor([math.nan if deg is None else math.radians(deg) for _, deg in _SHAPE_SPECS.values()])
    base = fixed[labels]  # (N,) nan where the rotation is free
    jitter = math.radians(_LINE_JITTER_DEG) * (2 * u - 1)
    return torch.where(base.isnan(), 2 * math.pi * u, base + jitter)


def _random_palette(n: int, channels: int, generator: torch.Generator) -> _Palette:
    """Grey: ink 0.75-1 on paper 0-0.12. RGB: a dark (<= 0.35) and a light (>= 0.65) colour, randomly
    ink or paper, so every channel differs by at least 0.3. Noise sd 0-0.06."""
    u = torch.rand(n, 2 * channels + 2, generator=generator)
    if channels == 1:
        ink, paper = 0.75 + 0.25 * u[:, :1], 0.12 * u[:, 1:2]
    else:
        dark, light = 0.35 * u[:, :3], 0.65 + 0.35 * u[:, 3:6]
        light_ink = (u[:, -2] < 0.5).unsqueeze(1)
        ink, paper = torch.where(light_ink, light, dark), torch.where(light_ink, dark, light)
    return _Palette(ink, paper, 0.06 * u[:, -1])


def _coverage(strokes: _Strokes, labels: torch.Tensor, size: int) -> torch.Tensor:
    """Pen coverage in [0, 1], (B, H, W): distance to each class's outline, one class at a time."""
    centres = torch.arange(size, dtype=torch.float32) + 0.5
    px, py = centres.view(1, 1, size), centres.view(1, size, 1)  # broadcast to (B, H, W)
    coverage = torch.zeros(len(labels), size, size)
    for k, (kind, _) in enumerate(_SHAPE_SPECS.values()):
        index = (labels == k).nonzero().squeeze(1)
        if len(index):
            part = strokes.take(index)
            distance = _OUTLINES[kind](px, py, part).sqrt_()  # (b, H, W) in pixels
            coverage[index] = distance.neg_().add_(part.half_width.view(-1, 1, 1) + 0.5).clamp_(0, 1)
    return coverage


def _paint(coverage: torch.Tensor, palette: _Palette, generator: torch.Generator) -> torch.Tensor:
    """Mix paper and ink by coverage, add noise, quantise: (B, H, W) -> (B, C, H, W) uint8."""
    paper = palette.paper[:, :, None, None]  # (B, C, 1, 1)
    ink = palette.ink[:, :, None, None]
    image = paper + (ink - paper) * coverage.unsqueeze(1)  # (B, C, H, W)
    noise = torch.randn(image.shape, generator=generator)
    image.add_(noise.mul_(palette.noise[:, None, None, None]))
    return image.mul_(255).round_().clamp_(0, 255).to(torch.uint8)


# Squared distance from pixel centres (px (1, 1, W), py (1, H, 1)) to each outline: (b, H, W).
# Squared, so that the nearest of several strokes costs one square root, not one per stroke.


def _segment_distance2(px: torch.Tensor, py: torch.Tensor, a: tuple[torch.Tensor, torch.Tensor],
                       b: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """Squared distance to segments a-b (endpoints (b,) each): |p - a - t (b - a)|^2, t = clamp(proj, 0, 1).

    In place where possible: at 64x64 the allocations, not the arithmetic, set the speed.
    """
    ax, ay = a[0].view(-1, 1, 1), a[1].view(-1, 1, 1)
    dx, dy = b[0].view(-1, 1, 1) - ax, b[1].view(-1, 1, 1) - ay
    rx, ry = px - ax, py - ay  # (b, 1, W), (b, H, 1): cheap until combined
    t = (rx * dx + ry * dy).mul_(1 / (dx * dx + dy * dy)).clamp_(0, 1)  # (b, H, W) position along a-b
    across_x = torch.sub(rx, t * dx).square_()
    return torch.sub(ry, t.mul_(dy), out=t).square_().add_(across_x)


def _point(s: _Strokes, angle: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The point at `angle` on the circle of radius s.radius around the centre: ((b,), (b,))."""
    return s.cx + s.radius * torch.cos(angle), s.cy + s.radius * torch.sin(angle)


def _circle(px: torch.Tensor, py: torch.Tensor, s: _Strokes) -> torch.Tensor:
    """(|p - c| - r)^2: the exact distance to a circle, squared."""
    cx, cy, r = (t.view(-1, 1, 1) for t in (s.cx, s.cy, s.radius))
    return torch.hypot(px - cx, py - cy).sub_(r).square_()


def _polygon(sides: int) -> Callable[[torch.Tensor, torch.Tensor, _Strokes], torch.Tensor]:
    """Squared distance to a regular polygon's outline (corners on the circle): the nearest edge."""
    def outline(px: torch.Tensor, py: torch.Tensor, s: _Strokes) -> torch.Tensor:
        corners = [_point(s, s.angle + 2 * math.pi * j / sides) for j in range(sides + 1)]
        nearest = _segment_distance2(px, py, corners[0], corners[1])
        for j in range(1, sides):
            torch.minimum(nearest, _segment_distance2(px, py, corners[j], corners[j + 1]), out=nearest)
        return nearest
    return outline


def _line(px: torch.Tensor, py: torch.Tensor, s: _Strokes) -> torch.Tensor:
    """Squared distance to a stroke through the centre along `angle`, half-length `radius` (round caps)."""
    return _segment_distance2(px, py, _point(s, s.angle + math.pi), _point(s, s.angle))


def _cross(px: torch.Tensor, py: torch.Tensor, s: _Strokes) -> torch.Tensor:
    """Two perpendicular strokes through the centre: the nearer of two lines."""
    turned = _Strokes(s.cx, s.cy, s.radius, s.angle + math.pi / 2, s.half_width)
    return torch.minimum(_line(px, py, s), _line(px, py, turned))


_OUTLINES = {"circle": _circle, "square": _polygon(4), "triangle": _polygon(3), "cross": _cross, "line": _line}


# ----------------------------------------------------------------------------------- your images


USER_CLASSES: tuple[str, ...] = ("your images",)
MAX_ARCHIVE_BYTES = 500 * 2**20  # a zip's total uncompressed size, from its directory, before reading anything
MAX_FILE_BYTES = 20 * 2**20  # per image file, the limit of a single upload (images.MAX_BYTES)
_MAX_NOTES = 20  # skipped files named one by one; the rest are counted


def from_archive(data: bytes, name: str, size: int, channels: int,
                 max_images: int = 2000) -> tuple[DataSet, list[str]]:
    """The images in a zip file as a uint8 DataSet (N, channels, size, size), and notes on what was skipped.

    Nothing is extracted to disk: entries are read in memory, in name order. A zip bomb is refused
    whole (the directory's uncompressed total above ``MAX_ARCHIVE_BYTES``); an entry above
    ``MAX_FILE_BYTES``, an encrypted or damaged entry and any file that is not an image are
    skipped with a note. Folders, hidden files and macOS's ``__MACOSX`` copies are ignored.
    Every image is decoded by :func:`explorer.images.load_bytes` and fitted by :func:`_fit`.
    Raises DataUnavailable when no usable image is left.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise DataUnavailable(f"{name} is not a zip archive ({exc}); upload a .zip of PNG or JPEG images") from None
    with archive:
        entries = sorted((e for e in archive.infolist() if not e.is_dir() and not _hidden(e.filename)),
                         key=lambda e: e.filename)
        total = sum(e.file_size for e in entries)
        if total > MAX_ARCHIVE_BYTES:
            raise DataUnavailable(f"{name} would unpack to {total / 2**20:.0f} MB; the limit is "
                                  f"{MAX_ARCHIVE_BYTES // 2**20} MB (fewer or smaller images, please)")
        files = [(e.filename, lambda e=e: _read_entry(archive, e)) for e in entries]
        return _user_set(name, files, size, channels, max_images)


def from_folder(path: Path, size: int, channels: int, max_images: int = 2000) -> tuple[DataSet, list[str]]:
    """The images in a folder and its subfolders, as :func:`from_archive` does for a zip file."""
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise DataUnavailable(f"{folder} is not a folder")
    paths = sorted(p for p in folder.rglob("*") if p.is_file() and not _hidden(p.relative_to(folder).as_posix()))
    files = [(p.relative_to(folder).as_posix(), lambda p=p: _read_file(p)) for p in paths]
    return _user_set(folder.name, files, size, channels, max_images)


def from_files(files: list[tuple[str, bytes]], name: str, size: int, channels: int,
               max_images: int = 2000) -> tuple[DataSet, list[str]]:
    """Uploaded files (file name, bytes), e.g. a folder picked in the browser, as :func:`from_archive` does."""
    files = sorted((f for f in files if not _hidden(f[0])), key=lambda f: f[0])
    return _user_set(name, [(n, lambda b=b: _bounded(b, n)) for n, b in files], size, channels, max_images)


def _bounded(data: bytes, name: str) -> bytes:
    if len(data) > MAX_FILE_BYTES:
        raise ImageError(_too_big(len(data)))
    return data


def _hidden(relative: str) -> bool:
    """Dot files and folders, and the resource forks macOS adds to zips (``__MACOSX/._photo.jpg``)."""
    return any(part.startswith(".") or part == "__MACOSX" for part in relative.split("/"))


def _read_entry(archive: zipfile.ZipFile, entry: zipfile.ZipInfo) -> bytes:
    """An entry's bytes; at most MAX_FILE_BYTES + 1 are read, whatever its header claims."""
    if entry.file_size > MAX_FILE_BYTES:
        raise ImageError(_too_big(entry.file_size))
    try:
        with archive.open(entry) as handle:
            return handle.read(MAX_FILE_BYTES + 1)
    except (zipfile.BadZipFile, RuntimeError, NotImplementedError, zlib.error, EOFError, OSError) as exc:
        raise ImageError(f"it cannot be read from the archive (damaged or encrypted: {exc})") from None


def _read_file(path: Path) -> bytes:
    """A file's bytes, refused from its size before reading."""
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ImageError(_too_big(path.stat().st_size))
    return path.read_bytes()


def _too_big(n_bytes: int) -> str:
    return f"it is {n_bytes / 2**20:.1f} MB; the limit is {MAX_FILE_BYTES // 2**20} MB"


def _user_set(name: str, files: list[tuple[str, Callable[[], bytes]]], size: int, channels: int,
              max_images: int) -> tuple[DataSet, list[str]]:
    """Decode and fit ``files`` (name, reader) in order until ``max_images``; labels all 0."""
    if size < 1 or channels not in (1, 3) or max_images < 1:
        raise ValueError(f"need size >= 1, channels 1 or 3 and max_images >= 1; got {size}, {channels}, {max_images}")
    fitted: list[torch.Tensor] = []
    skipped: list[str] = []
    unread = 0
    for i, (file_name, read) in enumerate(files):
        if len(fitted) == max_images:
            unread = len(files) - i
            break
        try:
            fitted.append(_fit(load_bytes(read(), "the file").tensor, size, channels))
        except (ImageError, OSError) as exc:
            skipped.append(f"skipped {file_name}: {exc}")
    notes = skipped[:_MAX_NOTES] + ([f"... and {len(skipped) - _MAX_NOTES} more skipped"] if len(skipped) > _MAX_NOTES else [])
    if unread:
        notes.append(f"only the first {max_images} images are used: {unread} more files were not read")
    if not fitted:
        detail = "; ".join(notes[:3]) or "it is empty"
        raise DataUnavailable(f"{name} holds no usable image ({detail}); use PNG, JPEG, WEBP, BMP or GIF files")
    images = torch.stack(fitted)  # (N, channels, size, size)
    return DataSet(name, images, torch.zeros(len(images), dtype=torch.int64), USER_CLASSES), notes


def _fit(image: torch.Tensor, size: int, channels: int) -> torch.Tensor:
    """(C, H, W) float [0, 1] -> (channels, size, size) uint8: grey by luma or RGB by repeating the grey,
    the shorter side resized to ``size`` (bilinear, antialiased), then the centre cropped."""
    if image.shape[0] != channels:
        image = to_grey(image) if channels == 1 else image.expand(3, -1, -1)
    h, w = image.shape[-2:]
    scale = size / min(h, w)
    new_h, new_w = max(size, round(h * scale)), max(size, round(w * scale))
    if (new_h, new_w) != (h, w):
        image = F.interpolate(image[None], size=(new_h, new_w), mode="bilinear", antialias=True,
                              align_corners=False)[0]
    top, left = (new_h - size) // 2, (new_w - size) // 2
    return image[:, top:top + size, left:left + size].mul(255).round().clamp(0, 255).to(torch.uint8)
