"""A worked example as Markdown and LaTeX tables, for handouts and slides."""

from __future__ import annotations

import torch


def number(value: float, decimals: int = 2) -> str:
    """A value as a short decimal: trailing zeros dropped, never "-0"."""
    text = f"{value:.{decimals}f}".rstrip("0").rstrip(".") if decimals else f"{value:.0f}"
    return "0" if text in ("-0", "") else text


def _rows(matrix: torch.Tensor, decimals: int) -> list[list[str]]:
    grid = matrix.reshape(-1, matrix.shape[-1]) if matrix.dim() > 1 else matrix.reshape(1, -1)
    return [[number(float(v), decimals) for v in row] for row in grid]


def markdown_table(matrix: torch.Tensor, decimals: int = 2) -> str:
    """A (H, W) matrix as a Markdown table, its rows and columns numbered from 0 as on the page's grids.

    (A Markdown table needs a header row: the column numbers are it, and each row starts with its own.)
    """
    rows = _rows(matrix, decimals)
    header = "| | " + " | ".join(str(c) for c in range(len(rows[0]))) + " |"
    rule = "|---:|" + "---:|" * len(rows[0])
    return "\n".join([header, rule] + [f"| **{r}** | " + " | ".join(row) + " |" for r, row in enumerate(rows)])


def latex_matrix(matrix: torch.Tensor, decimals: int = 2) -> str:
    """A (H, W) matrix as a LaTeX ``bmatrix``."""
    body = " \\\\\n".join("  " + " & ".join(row) for row in _rows(matrix, decimals))
    return "\\begin{bmatrix}\n" + body + "\n\\end{bmatrix}"


def example_markdown(named: dict[str, torch.Tensor], decimals: int = 2) -> str:
    """Several named matrices (input, kernel, output...) as one Markdown document."""
    return "\n\n".join(f"**{name}**\n\n{markdown_table(m, decimals)}" for name, m in named.items())


def example_latex(named: dict[str, torch.Tensor], decimals: int = 2) -> str:
    """The same as LaTeX: ``name = \\begin{bmatrix}...``, one display per matrix."""
    return "\n\n".join(f"% {name}\n\\[\n{latex_matrix(m, decimals)}\n\\]" for name, m in named.items())
