"""The built-in offline data set: pen-drawn outlines in 8 classes, drawn from signed distances.

Each class is a shape (circle, square, triangle, cross) at any rotation, or a line at one of four
orientations. The images are drawn from the distance of every pixel centre to the outline, so
they are anti-aliased and need no files: the app trains and explores offline with them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields

import torch

# Each class: how it is drawn, and its fixed orientation in degrees (None = any rotation).
# Angles are in image coordinates (x right, y down), so -45 degrees runs up to the right: "/".
_SPECS: dict[str, tuple[str, float | None]] = {
    "circle": ("circle", None),
    "square": ("square", None),
    "triangle": ("triangle", None),
    "cross": ("cross", None),
    "line —": ("line", 0.0),
    "line |": ("line", 90.0),
    "line /": ("line", -45.0),
    "line ╲": ("line", 45.0),  # a box-drawing diagonal: Markdown read the "\*" of "**line \**" as an escape
}
CLASSES: tuple[str, ...] = tuple(_SPECS)
RENAMED = {"line \\": "line ╲"}  # names that runs saved before may hold


def current_names(classes: Sequence[str]) -> tuple[str, ...]:
    """``classes`` as a run saved them, with this module's present name for any class renamed since."""
    return tuple(RENAMED.get(name, name) for name in classes)


_LINE_JITTER_DEG = 10.0  # small, because a line's orientation is its class
_CHUNK_PIXELS = 2**20  # pixels rendered at a time: temporaries of 4 MB, reused by the allocator

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


def draw(n: int, size: int = 28, channels: int = 1, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Images of pen-drawn outlines in 8 balanced classes (``CLASSES``) and their labels.

    Each image: one shape at a random position, size and rotation (lines only jitter by
    +-10 degrees, their orientation being their class), a random pen width, colours and
    Gaussian noise. Drawn from distances to the outline, anti-aliased as pixel coverage
    ``clamp(w + 1/2 - d, 0, 1)`` (a 1-pixel ramp at the pen's edge, width ``2w``).
    Grey: light ink on dark paper like MNIST; RGB: random ink on random paper, every channel
    at least 0.3 apart. The same seed gives the same images.
    Returns images (n, channels, size, size) uint8 and labels (n,) int64.
    """
    if n < 0 or size < 12 or channels not in (1, 3):
        raise ValueError(f"need n >= 0, size >= 12 and channels 1 or 3; got n={n}, size={size}, channels={channels}")
    generator = torch.Generator().manual_seed(seed)
    labels = (torch.arange(n) % len(CLASSES))[torch.randperm(n, generator=generator)]  # (N,) balanced
    strokes = _random_strokes(labels, size, generator)
    palette = _random_palette(n, channels, generator)
    images = torch.empty(n, channels, size, size, dtype=torch.uint8)
    chunk = max(1, _CHUNK_PIXELS // (size * size))
    for start in range(0, n, chunk):
        part = slice(start, start + chunk)
        coverage = _coverage(strokes.take(part), labels[part], size)  # (B, H, W)
        images[part] = _paint(coverage, palette.take(part), generator)
    return images, labels


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
    fixed = torch.tensor([math.nan if deg is None else math.radians(deg) for _, deg in _SPECS.values()])
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
    for k, (kind, _) in enumerate(_SPECS.values()):
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
