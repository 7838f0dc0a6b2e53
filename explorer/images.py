"""One image convention for the whole app, and safe loading of what users bring.

Images are float32 tensors, CHW, values in [0, 1], with 1 (grey) or 3 (RGB) channels.
Uploads are decoded by Pillow with a format allow-list, a pixel cap checked from the header
before any decoding, EXIF orientation applied and every mode normalised to L or RGB.
"""

from __future__ import annotations

import io
import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

ALLOWED_FORMATS: tuple[str, ...] = ("PNG", "JPEG", "WEBP", "BMP", "GIF")
MAX_PIXELS = 16_000_000  # refuse before decoding: Pillow itself only warns below 178 MP
MAX_SIDE = 2048  # larger images are downscaled for interactive work
MAX_BYTES = 20 * 1024 * 1024
SAMPLES_DIR = Path(__file__).resolve().parent.parent / "assets" / "samples"


class ImageError(ValueError):
    """An upload cannot be used; the message says why in the user's words."""


@dataclass(frozen=True)
class LoadedImage:
    """A decoded image in the app's convention and what was done to it on the way."""

    tensor: torch.Tensor  # (C, H, W) float32 in [0, 1], C in {1, 3}
    notes: tuple[str, ...] = ()


def load_bytes(data: bytes, name: str = "upload") -> LoadedImage:
    """Decode an uploaded file into (C, H, W) float32 [0, 1], refusing anything unsafe or broken."""
    if not data:
        raise ImageError(f"{name} is empty")
    if len(data) > MAX_BYTES:
        raise ImageError(f"{name} is {len(data) / 2**20:.1f} MB; the limit is {MAX_BYTES // 2**20} MB")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=list(ALLOWED_FORMATS))
            _check_pixels(image, name)
            image.load()
    except UnidentifiedImageError:
        raise ImageError(f"{name} is not an image in an allowed format ({', '.join(ALLOWED_FORMATS)})") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(f"{name} has too many pixels (the limit is {MAX_PIXELS / 1e6:.0f} megapixels)") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        if isinstance(exc, ImageError):
            raise
        raise ImageError(f"{name} is damaged or truncated and cannot be decoded ({exc})") from None
    return _normalise(image)


def _check_pixels(image: Image.Image, name: str) -> None:
    """Refuse from the header: decoding a 12 KB 10000x10000 PNG would cost ~490 MB."""
    width, height = image.size
    if width < 1 or height < 1:
        raise ImageError(f"{name} has no pixels")
    if width * height > MAX_PIXELS:
        raise ImageError(
            f"{name} is {width}x{height} = {width * height / 1e6:.0f} megapixels; "
            f"the limit is {MAX_PIXELS / 1e6:.0f} megapixels"
        )


def _normalise(image: Image.Image) -> LoadedImage:
    """Apply EXIF orientation, reduce any mode to L or RGB, cap the side, convert to a tensor."""
    notes: list[str] = []
    if getattr(image, "n_frames", 1) > 1:
        image.seek(0)
        notes.append("animated image: the first frame is used")
    image = ImageOps.exif_transpose(image)
    image = _to_l_or_rgb(image)
    if max(image.size) > MAX_SIDE:
        original = image.size
        image.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
        notes.append(f"downscaled from {original[0]}x{original[1]} to {image.size[0]}x{image.size[1]} px")
    tensor = from_pil(image)
    # every pixel the same colour, e.g. a fully transparent PNG composited on white, or one red pixel (whose channels
    # differ: the note once compared them too)
    if bool((tensor == tensor[:, :1, :1]).all()):
        notes.append("every pixel has the same value: the image is blank, with no edge or shape to find")
    return LoadedImage(tensor, tuple(notes))


def _to_l_or_rgb(image: Image.Image) -> Image.Image:
    """Modes L, LA, I;16, I, F, P, RGBA, CMYK... to L or RGB; transparency composited on white, or on black under
    a light drawing (a white digit drawn on a transparent background had come out a blank white image)."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        array = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") or array.max() > 255 else 255.0
        return Image.fromarray(np.clip(array / top * 255.0, 0, 255).astype(np.uint8), "L")
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA"):
        image = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", image.size, _backdrop(image)), image)
    if image.mode in ("L", "1"):
        return image.convert("L")
    rgb = image.convert("RGB")
    return rgb.convert("L") if _is_grey(rgb) else rgb


def _backdrop(image: Image.Image) -> tuple[int, int, int, int]:
    """What shows through an RGBA image's transparency: white, or black where what is drawn (its pixels weighed by
    their opacity) is light on average, so the drawing stands out as a gallery's dark or checkered ground shows it."""
    alpha = np.asarray(image.getchannel("A"), dtype=np.float64)
    light = np.asarray(image.convert("RGB").convert("L"), dtype=np.float64)
    drawn = alpha.sum()
    return (0, 0, 0, 255) if drawn and (light * alpha).sum() / drawn > 127.5 else (255, 255, 255, 255)


def _is_grey(image: Image.Image) -> bool:
    array = np.asarray(image)
    return bool((array[..., 0] == array[..., 1]).all() and (array[..., 1] == array[..., 2]).all())


def from_pil(image: Image.Image) -> torch.Tensor:
    """A Pillow image (L or RGB) as (C, H, W) float32 in [0, 1]."""
    array = np.asarray(image, dtype=np.float32) / 255.0
    if array.ndim == 2:
        array = array[None]
    else:
        array = array.transpose(2, 0, 1)
    return torch.from_numpy(np.ascontiguousarray(array))


def to_display(image: torch.Tensor) -> np.ndarray:
    """(C, H, W) [0, 1] to a uint8 (H, W) or (H, W, 3) array for ``st.image``/plotly."""
    array = (image.detach().float().clamp(0, 1) * 255).round().byte().cpu().numpy()
    return array[0] if array.shape[0] == 1 else array.transpose(1, 2, 0)


def to_grey(image: torch.Tensor) -> torch.Tensor:
    """Luma (ITU-R BT.601, as Pillow's "L") of a (C, H, W) image: (1, H, W)."""
    if image.shape[0] == 1:
        return image
    weights = torch.tensor([0.299, 0.587, 0.114], dtype=image.dtype).reshape(3, 1, 1)
    return (image * weights).sum(0, keepdim=True)


def resize(image: torch.Tensor, max_side: int) -> torch.Tensor:
    """Downscale (C, H, W) so its longer side is at most ``max_side`` (area averaging)."""
    height, width = image.shape[-2:]
    scale = max_side / max(height, width)
    if scale >= 1:
        return image
    size = (max(1, round(height * scale)), max(1, round(width * scale)))
    return torch.nn.functional.interpolate(image[None], size=size, mode="area")[0]



LONG = 4  # a resize longer than this many crops is cut to the crop's centre first (a photo of 4:3 never is)


def centre_for_crop(image: torch.Tensor, scale: float, crop: int) -> torch.Tensor:
    """The centre of (C, H, W) that a resize by ``scale`` followed by a centre ``crop`` x ``crop`` keeps, with a
    margin for the resize's filter: only that is resized. A 4000x1 line scaled to a shorter side of 256 had made a
    3 x 256 x 1,024,000 tensor (1.8 GB, seconds) for a crop of 224 columns."""
    keep = int(crop / scale) + 2 * max(2, int(2 / scale))  # what the crop covers, and the filter's reach either side
    height, width = image.shape[-2:]
    top, left = max((height - keep) // 2, 0), max((width - keep) // 2, 0)
    return image[..., top:top + keep, left:left + keep]

@dataclass(frozen=True)
class Sample:
    """A sample image shipped in ``assets/samples`` (see its README for provenance)."""

    key: str
    file: str
    title: str
    kind: str
    description: str


def samples() -> list[Sample]:
    """Sample images in display order, from ``assets/samples/index.json``."""
    entries = json.loads((SAMPLES_DIR / "index.json").read_text())
    return [Sample(Path(e["file"]).stem, e["file"], e["title"], e["kind"], e["description"]) for e in entries]


def load_sample(key: str) -> torch.Tensor:
    """A sample by key (its file stem, e.g. ``"edges"``) as (C, H, W) float32 [0, 1]."""
    by_key = {s.key: s for s in samples()}
    if key not in by_key:
        raise ImageError(f"there is no sample image called {key!r}")
    try:
        raw = (SAMPLES_DIR / by_key[key].file).read_bytes()
    except OSError as exc:  # a copy of the app without its assets, or a file the server may not read
        raise ImageError(f"the sample image {by_key[key].title!r} (assets/samples/{by_key[key].file}) cannot be read "
                         f"on this server ({exc.strerror or exc})") from None
    return load_bytes(raw, by_key[key].file).tensor
