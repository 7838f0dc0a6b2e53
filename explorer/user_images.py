"""A user's own images as a data set: a zip archive, a folder on the server, or files picked in the browser.

Every file goes through the app's image decoder (format allow-list, pixel and byte caps) and is
fitted to a model's input (grey or RGB, resized and centre-cropped); what cannot be used is
skipped with a note. The set has one class, so it serves the pages that look, not train.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image

from explorer.data import DataSet, DataUnavailable
from explorer.images import ALLOWED_FORMATS, LONG, ImageError, centre_for_crop, load_bytes, to_grey

FORMATS = ", ".join(ALLOWED_FORMATS[:-1]) + f" or {ALLOWED_FORMATS[-1]}"  # what a set's images may be

CLASSES: tuple[str, ...] = ("your images",)
MAX_ARCHIVE_BYTES = 500 * 2**20  # a zip's total uncompressed size, from its directory, before reading anything
MAX_FILE_BYTES = 20 * 2**20  # per image file, the limit of a single upload (images.MAX_BYTES)
MAX_SET_PIXELS = 400 * 10**6  # decoded per set, read from each header first: 9,000 16-megapixel PNGs are hours
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
        raise DataUnavailable(f"{name} is not a zip archive ({exc}); upload a .zip of images ({FORMATS})") from None
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
    unread, pixels, why = 0, 0, f"only the first {max_images} images are used"
    for i, (file_name, read) in enumerate(files):
        if len(fitted) == max_images:
            unread = len(files) - i
            break
        try:
            raw = read()
            pixels += _declared_pixels(raw)
            if pixels > MAX_SET_PIXELS:
                unread, why = len(files) - i, (f"only the first {len(fitted)} images are used: with the next they "
                                               f"add up to more than {MAX_SET_PIXELS // 10**6} megapixels")
                break
            fitted.append(_fit(load_bytes(raw, "the file").tensor, size, channels))
        except (ImageError, OSError) as exc:
            skipped.append(f"skipped {file_name}: {exc}")
    notes = skipped[:_MAX_NOTES] + ([f"... and {len(skipped) - _MAX_NOTES} more skipped"] if len(skipped) > _MAX_NOTES else [])
    if unread:
        notes.append(f"{why}: {unread} more files were not read")
    if not fitted:
        detail = "; ".join(notes[:3]) or "it is empty"
        raise DataUnavailable(f"{name} holds no usable image ({detail}); use {FORMATS} files")
    images = torch.stack(fitted)  # (N, channels, size, size)
    return DataSet(name, images, torch.zeros(len(images), dtype=torch.int64), CLASSES), notes


def _declared_pixels(raw: bytes) -> int:
    """The pixels an image's header declares (0 where it has none: the decoder names what is wrong)."""
    try:
        with Image.open(io.BytesIO(raw)) as image:  # reads the header, decodes nothing
            return image.width * image.height
    except (OSError, ValueError, Image.DecompressionBombError):
        return 0


def _fit(image: torch.Tensor, size: int, channels: int) -> torch.Tensor:
    """(C, H, W) float [0, 1] -> (channels, size, size) uint8: grey by luma or RGB by repeating the grey,
    the shorter side resized to ``size`` (bilinear, antialiased), then the centre cropped."""
    if image.shape[0] != channels:
        image = to_grey(image) if channels == 1 else image.expand(3, -1, -1)
    h, w = image.shape[-2:]
    scale = size / min(h, w)
    new_h, new_w = max(size, round(h * scale)), max(size, round(w * scale))
    if max(new_h, new_w) > LONG * size:  # a long, thin picture: only what the crop keeps is resized
        image = centre_for_crop(image, scale, size)
        h, w = image.shape[-2:]
        new_h, new_w = max(size, round(h * scale)), max(size, round(w * scale))
    if (new_h, new_w) != (h, w):
        image = F.interpolate(image[None], size=(new_h, new_w), mode="bilinear", antialias=True,
                              align_corners=False)[0]
    top, left = (new_h - size) // 2, (new_w - size) // 2
    return image[:, top:top + size, left:left + size].mul(255).round().clamp(0, 255).to(torch.uint8)
