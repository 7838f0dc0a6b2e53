"""Hand-set kernels from the lecture (SEEDS section 2) and parsing of a user's own kernel.

``PRESETS`` holds fixed 2-D kernels by name; :func:`gaussian`, :func:`box` and :func:`gabor`
build the parametrised ones. A user's kernel is validated cell by cell by :func:`parse_grid`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from typing import Literal

import torch

from explorer import labels

MIN_SIZE, MAX_SIZE = 1, 15


def _t(rows: list[list[float]]) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float32)


def box(size: int = 3) -> torch.Tensor:
    """Mean blur: every weight ``1 / size^2``."""
    return torch.full((size, size), 1.0 / size**2)


def gaussian(size: int = 5, sigma: float = 1.0) -> torch.Tensor:
    """Gaussian blur ``exp(-(x^2 + y^2) / (2 sigma^2))``, normalised to sum 1 (a low-pass filter)."""
    if sigma <= 0:
        raise ValueError("sigma must be positive")
    axis = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(axis**2) / (2 * sigma**2))
    k = torch.outer(g, g)
    return (k / k.sum()).float()


def gabor(
    size: int = 7, theta_deg: float = 0.0, sigma: float = 2.0, wavelength: float = 4.0, gamma: float = 0.5
) -> torch.Tensor:
    """Real Gabor filter: a cosine grating of ``wavelength`` at angle ``theta`` under a Gaussian.

    ``g(x, y) = exp(-(x'^2 + gamma^2 y'^2) / (2 sigma^2)) cos(2 pi x' / wavelength)`` with
    ``(x', y')`` rotated by ``theta``; the mean is removed so flat regions give 0.
    """
    theta = math.radians(theta_deg)
    axis = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    y, x = torch.meshgrid(axis, axis, indexing="ij")
    xr = x * math.cos(theta) + y * math.sin(theta)
    yr = -x * math.sin(theta) + y * math.cos(theta)
    k = torch.exp(-(xr**2 + gamma**2 * yr**2) / (2 * sigma**2)) * torch.cos(2 * math.pi * xr / wavelength)
    return (k - k.mean()).float()


SOBEL_HORIZONTAL_EDGE = _t([[-1, -2, -1], [0, 0, 0], [1, 2, 1]])
LAPLACIAN = _t([[0, 1, 0], [1, -4, 1], [0, 1, 0]])

PRESETS: dict[str, torch.Tensor] = {
    "identity": _t([[0, 0, 0], [0, 1, 0], [0, 0, 0]]),
    "derivative [-1, 1]": _t([[-1, 1]]),
    "derivative [-1, 0, 1] (horizontal)": _t([[-1, 0, 1]]),
    "derivative [-1, 0, 1] (vertical)": _t([[-1], [0], [1]]),
    "laplacian": LAPLACIAN,
    "laplacian (negative)": -LAPLACIAN,
    "sobel (horizontal edges)": SOBEL_HORIZONTAL_EDGE,
    "sobel (vertical edges)": SOBEL_HORIZONTAL_EDGE.T.contiguous(),
    "box blur 3x3": box(3),
    "gaussian 5x5 (sigma 1)": gaussian(5, 1.0),
    "sharpen": _t([[0, -1, 0], [-1, 5, -1], [0, -1, 0]]),
    "emboss": _t([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]]),
    "gabor 7x7 (0 deg)": gabor(7, 0.0),
    "gabor 7x7 (45 deg)": gabor(7, 45.0),
    "X pattern": _t([[1, 0, 1], [0, 1, 0], [1, 0, 1]]),
}

FLIPPED_SIGNS = (" With the flip on, the kernel as applied is this one turned by 180 degrees, which is its negative: "
                 "the map's signs swap.")


def turns_negative(kernel: torch.Tensor) -> bool:
    """Whether ``kernel`` turned by 180 degrees is its own negative (a derivative, a Sobel): flipped, its map's signs
    swap, and a description of where it is positive says the opposite."""
    return bool(kernel.any()) and torch.allclose(kernel.flip(-2, -1), -kernel)


DESCRIPTIONS: dict[str, str] = {
    "identity": "Copies the input: a baseline to compare with.",
    "derivative [-1, 1]": "Finite difference along rows: positive where dark turns bright left to right (the "
                          "pattern found), 0 where nothing changes (no pattern), negative where bright turns dark "
                          "(the opposite pattern).",
    "derivative [-1, 0, 1] (horizontal)": "Central difference along rows: responds to vertical edges, positive from "
                                          "dark to bright (the pattern found), 0 on flat parts (no pattern), "
                                          "negative from bright to dark (the opposite pattern).",
    "derivative [-1, 0, 1] (vertical)": "Central difference down columns: responds to horizontal edges, positive "
                                        "from dark above to bright below (the pattern found), 0 on flat parts (no "
                                        "pattern), negative the other way (the opposite pattern).",
    "laplacian": "Second derivative in both directions: lights up blobs and thin lines, zero on ramps.",
    "laplacian (negative)": "The Laplacian with the sign flipped: bright spots become positive peaks.",
    "sobel (horizontal edges)": "Smoothed vertical derivative: finds horizontal edges.",
    "sobel (vertical edges)": "Smoothed horizontal derivative: finds vertical edges.",
    "box blur 3x3": "Mean of the 3x3 neighbourhood: a simple low-pass filter.",
    "gaussian 5x5 (sigma 1)": "Weighted mean, heavier at the centre: a smooth low-pass filter.",
    "sharpen": "Identity plus a negative Laplacian: boosts edges.",
    "emboss": "Directional difference that makes the image look raised.",
    "gabor 7x7 (0 deg)": "A striped, Gaussian-windowed wave: responds to vertical stripes of one frequency.",
    "gabor 7x7 (45 deg)": "The same Gabor wave turned by 45 degrees.",
    "X pattern": "The lecture's X-shaped kernel: counts ones on both diagonals.",
}


class KernelError(ValueError):
    """A user's kernel cannot be used; the message names the offending cell."""


def parse_grid(cells: Sequence[Sequence[object]], what: str = "kernel",
               typed: Literal["grid", "lines", "list"] = "grid", most: int = MAX_SIZE) -> torch.Tensor:
    """Validate a grid of cells (numbers or text) into a (kh, kw) float tensor.

    Sizes 1x1 to ``most`` x ``most`` (15 x 15); every cell a finite number. Errors name the grid (``what``: "kernel",
    "input", "signal") and the cell so the user can find it, counting from 1 as one counts what one
    typed: ``typed="grid"`` (an editor's cells) "cell at row r, column c"; ``"lines"`` (text, rows on
    lines) "line r, entry c"; ``"list"`` (one line) "entry c". Cells of a grid shown in a figure are
    counted from 0 there, as in PyTorch: "entry" keeps the typed text's count apart from them.
    Blank cells count as errors, not zeros.
    """
    rows = [list(row) for row in cells]
    if not rows or not rows[0]:
        raise KernelError(f"the {what} is empty: give it at least one cell")
    width = len(rows[0])
    if any(len(row) != width for row in rows):
        row, noun = ("row", "cells") if typed == "grid" else ("line", "entries")
        raise KernelError(f"every {row} of the {what} needs the same number of {noun}")
    if not (MIN_SIZE <= len(rows) <= most and MIN_SIZE <= width <= most):
        article = "an" if what[:1] in "aeiou" else "a"
        if typed == "list":  # one line of values: a length, not a grid's rows and columns
            raise KernelError(f"{article} {what} has 1 to {most} values; this one has {width}")
        raise KernelError(f"{article} {what} goes from 1x1 to {most}x{most}; this one is {len(rows)}x{width}")
    values, bad = [[0.0] * width for _ in rows], []
    for r, row in enumerate(rows):
        for c, cell in enumerate(row):
            place = {"grid": f"row {r + 1}, column {c + 1}", "lines": f"line {r + 1}, entry {c + 1}",
                     "list": f"entry {c + 1}"}[typed]
            try:
                values[r][c] = _parse_cell(cell, f"{what} cell at {place}" if typed == "grid" else f"{what} {place}")
            except KernelError as exc:
                bad.append((place, exc))
    if bad:  # the other bad cells are named too, so one look mends them all
        rest = [where for where, _ in bad[1:]]
        noun = ("cell", "cells") if typed == "grid" else ("entry", "entries")
        more = "" if not rest else (f"; {len(rest)} more {noun[len(rest) > 1]} need{'s' * (len(rest) == 1)} "
                                    f"mending too: {labels.listed(rest, most=5)}")
        raise KernelError(f"{bad[0][1]}{more}")
    return torch.tensor(values, dtype=torch.float32)


def _parse_cell(cell: object, where: str) -> float:
    if cell is None or (isinstance(cell, str) and not cell.strip()):
        raise KernelError(f"{where} is empty: type a number")
    if isinstance(cell, bool):
        raise KernelError(f"{where} holds {cell!r}, not a number")
    try:
        value = float(cell.strip()) if isinstance(cell, str) else float(cell)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        hint = labels.decimal_comma(cell)
        raise KernelError(f"{where} holds {str(cell)[:20]!r}, which is not a number{hint}") from None
    if not math.isfinite(value):
        raise KernelError(f"{where} is {value}: only finite numbers work here")
    if abs(value) > 1e6:
        raise KernelError(f"{where} is {value:g}: keep values within +/-1e6")
    return value


def parse_text(text: str, what: str = "kernel", most: int = MAX_SIZE) -> torch.Tensor:
    """A grid written as text: rows separated by ";" or new lines, cells by "," or spaces (see :func:`_entries`),
    of at most ``most`` rows and columns."""
    lines = [line for line in text.replace(";", "\n").splitlines() if line.strip()]
    return parse_grid([_entries(line) for line in lines], what, typed="lines", most=most)


def parse_values(text: str, what: str = "signal") -> torch.Tensor:
    """A 1-D list of numbers split by "," or spaces: (N,). Errors name "entry c" (1-based)."""
    return parse_grid([_entries(text)], what, typed="list")[0]


def _entries(line: str) -> list[str]:
    """A line's entries, split by spaces and commas ("0,1,0" or "1, -4, 1"). In a line split by spaces, a comma
    between two digits is a decimal comma ("1,5 2,5"): it stays in its entry, to be refused with a hint, where it
    made two numbers of one and a wrong grid nobody typed."""
    if len(line.split()) < 2:
        return line.replace(",", " ").split()
    return [entry for entry in re.split(r"\s+|(?<!\d),|,(?!\d)", line) if entry]


def parse_each(*parses: Callable[[], torch.Tensor | None]) -> list[torch.Tensor | None]:
    """Every parse run, in order. When several fail, one error names them all (signal and kernel), so
    one look mends both."""
    results, problems = [], []
    for parse in parses:
        try:
            results.append(parse())
        except KernelError as exc:
            problems.append(str(exc))
    if problems:
        raise KernelError("; and ".join(problems))
    return results


def to_text(kernel: torch.Tensor, decimals: int | None = None) -> str:
    """Inverse of :func:`parse_text`, compact: ``"0,1,0;1,-4,1;0,1,0"`` (used in URLs). ``decimals``: each weight
    rounded to that many places ("0.013" for a grid to edit by hand), else six significant digits."""
    def cell(v: float) -> str:
        return f"{float(v):.6g}" if decimals is None else f"{round(float(v), decimals) + 0.0:g}"  # + 0.0: no "-0"

    return ";".join(",".join(cell(v) for v in row) for row in kernel.reshape(kernel.shape[-2:]))


def grid_decimals(kernel: torch.Tensor, least: int = 3) -> int:
    """Decimal places for a grid to edit by hand: three significant digits of the largest weight, at least
    ``least`` places (0.162 for a gaussian, 0.0123 for a learned filter whose largest weight is 0.05)."""
    largest = float(kernel.detach().abs().max()) if kernel.numel() else 0.0
    return max(least, 2 - math.floor(math.log10(largest))) if largest > 0 else least


def similarity(kernel: torch.Tensor, reference: torch.Tensor) -> float:
    """Cosine similarity ``<k, r> / (|k| |r|)`` of two 2-D kernels, in [-1, 1].

    ``reference`` is first resampled (bilinear, corners aligned) to ``kernel``'s size, so a 3x3
    Sobel can be compared with an 11x11 learned filter. -1 means the same pattern, sign flipped.
    """
    if reference.shape != kernel.shape:
        reference = torch.nn.functional.interpolate(
            reference[None, None].float(), size=tuple(kernel.shape), mode="bilinear", align_corners=True)[0, 0]
    return torch.nn.functional.cosine_similarity(kernel.flatten().float(), reference.flatten(), dim=0).item()


def closest_presets(kernel: torch.Tensor, top: int = 3) -> list[tuple[str, float]]:
    """The ``top`` presets most like ``kernel`` (by |cosine|), with their signed cosine similarity.

    Compared: the 2-D presets (3x3 and larger), except the identity (resampled it becomes a blur)
    and the negative Laplacian (the Laplacian with the sign flipped already covers it).
    """
    scores = [(name, similarity(kernel, preset)) for name, preset in PRESETS.items()
              if min(preset.shape) >= 3 and name not in ("identity", "laplacian (negative)")]
    return sorted(scores, key=lambda item: -abs(item[1]))[:top]


RESEMBLANCE = ((0.8, "strong"), (0.5, "partial"), (0.0, "none"))  # |cosine| thresholds


def resemblance(cosine: float) -> str:
    """A cosine similarity in words, so a best match of 0.2 is not read as a match."""
    return next(word for low, word in RESEMBLANCE if abs(cosine) >= low)
