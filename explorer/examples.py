"""The lecture's four worked convolution examples (SEEDS section 1), verbatim.

Each is a cross-correlation (no flip). ``expected`` is the deck's output, rounded as printed. The deck gives only
the size of its stride example (a 6x6 input, a 3x3 kernel, stride 2: 2.5); its grids here are this app's.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class WorkedExample:
    """An input grid, a kernel, the padding used and the output the lecture prints."""

    key: str
    title: str
    image: torch.Tensor  # (H, W)
    kernel: torch.Tensor  # (kh, kw)
    padding: int
    expected: torch.Tensor  # (H', W') as printed
    decimals: int  # how the deck rounds the output
    note: str
    stride: int = 1


def _t(rows) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float64)


EXAMPLES: dict[str, WorkedExample] = {
    e.key: e
    for e in (
        WorkedExample(
            "laplacian", "Laplacian, valid padding",
            _t([[6, 2, 3, 1, 0], [9, 5, 1, 1, 3], [2, 6, 5, 8, 7], [3, 4, 4, 8, 3]]),
            _t([[0, 1, 0], [1, -4, 1], [0, 1, 0]]), 0,
            _t([[-2, 10, 9], [-8, -1, -11]]), 0,
            "A 4x5 input and a 3x3 kernel give a 2x3 output, filled one cell at a time.",
        ),
        WorkedExample(
            "box", "Box blur 1/9, valid padding",
            _t([[3, 3, 2, 1, 0], [0, 0, 1, 3, 1], [3, 1, 2, 2, 3], [2, 0, 0, 2, 2], [2, 0, 0, 0, 1]]),
            torch.full((3, 3), 1 / 9, dtype=torch.float64), 0,
            _t([[1.7, 1.7, 1.7], [1.0, 1.2, 1.8], [1.1, 0.8, 1.3]]), 1,
            "Output size = input - kernel + 1: 5 - 3 + 1 = 3. The lecture prints one decimal: 1.67 as 1.7.",
        ),
        WorkedExample(
            "x_kernel", 'The "X" kernel on a binary image',
            _t([[1, 1, 1, 0, 0], [0, 1, 1, 1, 0], [0, 0, 1, 1, 1], [0, 0, 1, 1, 0], [0, 1, 1, 0, 0]]),
            _t([[1, 0, 1], [0, 1, 0], [1, 0, 1]]), 0,
            _t([[4, 3, 4], [2, 4, 3], [2, 3, 4]]), 0,
            "Each output counts the ones under the X: a match of the pattern scores high.",
        ),
        WorkedExample(
            "zero_padding", "Zero padding keeps the size",
            _t([[0, 1, 1, 1, 0], [0, 0, 1, 0, 0], [0, 1, 0, 1, 0], [0, 1, 1, 1, 0], [0, 1, 1, 1, 0]]),
            _t([[0.2, 0.5, 1], [-1.5, 2, 0], [0, -1, -0.2]]), 1,
            _t([[0, 1.8, -0.5, 0.5, -1.5], [0.8, 0.5, 3.5, -1.8, 0.2], [-0.2, 1.8, -2.2, 1.2, -1.5],
                [0.8, 1.3, 0.5, 0, -1.3], [1, 3.5, 2.2, 1.2, -1.3]]), 1,
            "One ring of zeros around a 5x5 image keeps a 5x5 output; in the lecture, cell (1, 2) = 3.5.",
        ),
        WorkedExample(
            "stride_2", "Stride 2 on a 6x6 input: size 2.5",
            _t([[0, 0, 1, 0, 0, 1]] * 6),
            _t([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]), 0,
            _t([[4, -4], [4, -4]]), 0,
            "(6 - 3) / 2 + 1 = 2.5 positions: PyTorch takes 2, and the last row and column are never under the "
            "window. The Sobel kernel finds the line in column 2, and misses the one in column 5.",
            stride=2,
        ),
    )
}


def departures(example: WorkedExample, *, padding: int, padding_mode: str = "zeros", stride: int = 1,
               dilation: int = 1, flip: bool = False) -> list[str]:
    """What the chosen settings change from the lecture's example, in words (empty: the lecture's own)."""
    changed = []
    if padding != example.padding:
        changed.append(f"padding {padding} instead of {example.padding}")
    if padding and padding_mode != "zeros":
        changed.append(f"{padding_mode} padding instead of zeros")
    if stride != example.stride:
        changed.append(f"stride {stride} instead of {example.stride}")
    if dilation != 1:
        changed.append(f"dilation {dilation} instead of 1")
    if flip:
        changed.append("the kernel flipped (true convolution) instead of slid as it is")
    return changed


def departure_note(example: WorkedExample, output_shape: tuple[int, ...], **settings) -> str:
    """A line for the page when the settings (see :func:`departures`) leave the lecture's example ("" if not)."""
    changed = departures(example, **settings)
    if not changed:
        return ""
    shape, lecture = "x".join(map(str, output_shape)), "x".join(map(str, example.expected.shape))
    result = f"the output here is {shape}, not the lecture's {lecture}" if shape != lecture else \
        "the values differ from the lecture's"
    return f"Changed from the lecture's example: {'; '.join(changed)}. So {result}."


def random_problem(size: int, kernel_size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A new exercise: a ``size`` x ``size`` input of whole numbers 0..9 and a ``kernel_size`` square kernel of -2..2,
    small enough to add up by hand, as the lecture's examples are."""
    if not (1 <= kernel_size <= size <= 12):
        raise ValueError(f"an exercise needs 1 <= kernel size <= input size <= 12, got {kernel_size} and {size}")
    generator = torch.Generator().manual_seed(seed)
    image = torch.randint(0, 10, (size, size), generator=generator)
    kernel = torch.randint(-2, 3, (kernel_size, kernel_size), generator=generator)
    return image, kernel


def grid_text(grid: torch.Tensor) -> str:
    """A grid as the page's text boxes write one: a row per line, numbers split by spaces."""
    return "\n".join(" ".join(f"{float(v):g}" for v in row) for row in grid.reshape(-1, grid.shape[-1]))
