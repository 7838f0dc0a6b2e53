"""Step-by-step traces of convolution and pooling, one record per output cell.

Built with ``F.unfold`` (no Python loop over pixels): for every output cell, the input
positions under the window, the values there, the element-wise products and their sum.
The sums equal :func:`explorer.conv.conv2d`; tests check that.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from explorer import conv, export


@dataclass(frozen=True)
class Trace:
    """Windows of a 2-D operation over a padded grid.

    ``rows``/``cols``: (L, K) positions of each window's K taps in ``padded`` (L output cells,
    row-major). ``values``: (L, K) the input under the taps. ``weights``: (K,) the kernel as
    applied (flipped for true convolution), or the pooling routing for pooling traces.
    ``output``: (H', W').
    """

    padded: torch.Tensor  # (Hp, Wp)
    window_hw: tuple[int, int]
    rows: torch.Tensor  # (L, K)
    cols: torch.Tensor  # (L, K)
    values: torch.Tensor  # (L, K)
    terms: torch.Tensor  # (L, K) products for convolution, values for pooling
    output: torch.Tensor  # (H', W')
    padding: tuple[int, int, int, int]  # (left, right, top, bottom)
    weights: torch.Tensor | None = None  # (kh, kw) kernel as applied (flipped for convolution); None for pooling
    stride: int = 1
    dilation: int = 1

    @property
    def unpadded(self) -> torch.Tensor:
        """(H, W) the input before padding."""
        left, right, top, bottom = self.padding
        height, width = self.padded.shape
        return self.padded[top:height - bottom, left:width - right]

    @property
    def steps(self) -> int:
        return self.rows.shape[0]

    def cell(self, step: int) -> tuple[int, int]:
        """Output (row, col) filled at ``step``."""
        return divmod(step, self.output.shape[1])

    def window(self, step: int) -> torch.Tensor:
        """(kh, kw) the padded input under the window at ``step``."""
        return self.values[step].reshape(self.window_hw)

    def window_terms(self, step: int) -> torch.Tensor:
        """(kh, kw) what is summed (or pooled) at ``step``: the products written into each cell."""
        return self.terms[step].reshape(self.window_hw)


def _windows(padded: torch.Tensor, window_hw, stride: int, dilation: int):
    """(values, rows, cols), each (L, K), of every window position over a (Hp, Wp) grid."""
    height, width = padded.shape
    grid = padded.reshape(1, 1, height, width)
    index = torch.arange(height * width, dtype=torch.float64).reshape(1, 1, height, width)
    values = F.unfold(grid, window_hw, dilation=dilation, stride=stride)[0].T  # (L, K)
    flat = F.unfold(index, window_hw, dilation=dilation, stride=stride)[0].T.long()
    return values, flat // width, flat % width


def conv_trace(
    image: torch.Tensor,
    kernel: torch.Tensor,
    *,
    padding: str | int = "valid",
    padding_mode: conv.PaddingMode = "zeros",
    stride: int = 1,
    dilation: int = 1,
    flip: bool = False,
) -> Trace:
    """Trace of :func:`explorer.conv.conv2d` on a single-channel (H, W) grid.

    Each output cell is ``sum_k values[l, k] * w[k]`` with ``w`` the kernel, flipped when
    ``flip`` (true convolution).
    """
    kernel = kernel.double()
    applied = kernel.flip(-1, -2) if flip else kernel
    pads = conv.resolve_padding(padding, tuple(kernel.shape), dilation)
    padded = conv.pad(image.double().unsqueeze(0), pads, padding_mode)[0]
    conv.check_fits(padded.shape, kernel.shape, dilation)
    values, rows, cols = _windows(padded, tuple(kernel.shape), stride, dilation)
    terms = values * applied.flatten()  # (L, K)
    out_hw = _out_hw(padded.shape, kernel.shape, stride, dilation)
    return Trace(padded, tuple(kernel.shape), rows, cols, values, terms, terms.sum(1).reshape(out_hw), pads, applied,
                 stride, dilation)


def _out_hw(padded_hw, window_hw, stride: int, dilation: int) -> tuple[int, int]:
    return tuple(int(conv.output_size(n, k, 0, stride, dilation)) for n, k in zip(padded_hw, window_hw))


def pool_trace(image: torch.Tensor, kind: conv.PoolKind, size: int, stride: int | None = None) -> Trace:
    """Trace of :func:`explorer.conv.pool2d` on a (H, W) grid; ``terms`` are the window values."""
    stride = stride or size
    grid = image.double()
    if size > min(grid.shape):
        raise ValueError(f"a {size}x{size} pooling window does not fit a {grid.shape[0]}x{grid.shape[1]} map")
    values, rows, cols = _windows(grid, (size, size), stride, 1)
    out = _reduce(values, kind).reshape(_out_hw(grid.shape, (size, size), stride, 1))
    return Trace(grid, (size, size), rows, cols, values, values, out, (0, 0, 0, 0), stride=stride)


def _reduce(values: torch.Tensor, kind: str) -> torch.Tensor:
    if kind == "max":
        return values.max(1).values
    if kind == "avg":
        return values.mean(1)
    if kind == "sum":
        return values.sum(1)
    if kind == "l2":
        return values.pow(2).sum(1).sqrt()
    raise ValueError(f"pooling kind must be one of {conv.POOL_KINDS}, not {kind!r}")


def pool_routing(trace: Trace, kind: conv.PoolKind) -> torch.Tensor:
    """(L, K) d output / d input for each window: where each output's gradient goes.

    Max sends it all to the (first) maximum; average ``1/(r c)`` to each input; sum 1 to each;
    L2 ``x / ||x||`` (0 for an all-zero window).
    """
    values = trace.values
    if kind == "max":
        return F.one_hot(values.argmax(1), values.shape[1]).to(values.dtype)
    if kind == "avg":
        return torch.full_like(values, 1.0 / values.shape[1])
    if kind == "sum":
        return torch.ones_like(values)
    if kind == "l2":
        norm = values.pow(2).sum(1, keepdim=True).sqrt()
        return torch.where(norm > 0, values / norm.clamp_min(1e-300), torch.zeros_like(values))
    raise ValueError(f"pooling kind must be one of {conv.POOL_KINDS}, not {kind!r}")


def input_gradient(trace: Trace, routing: torch.Tensor, upstream: torch.Tensor) -> torch.Tensor:
    """(Hp, Wp) gradient on the (padded) input: each output's ``upstream`` routed and summed.

    ``routing`` (L, K) is d out / d tap (the kernel for convolution, :func:`pool_routing` for
    pooling); overlapping windows add up, as shared weights' gradients do.
    """
    contributions = routing * upstream.reshape(-1, 1).to(routing.dtype)  # (L, K)
    grad = torch.zeros_like(trace.padded).flatten()
    flat = trace.rows * trace.padded.shape[1] + trace.cols
    return grad.index_add_(0, flat.flatten(), contributions.flatten()).reshape(trace.padded.shape)


def conv1d_trace(
    signal: torch.Tensor,
    kernel: torch.Tensor,
    *,
    padding: int = 0,
    padding_mode: conv.PaddingMode = "zeros",
    stride: int = 1,
    dilation: int = 1,
    flip: bool = False,
) -> Trace:
    """Trace of :func:`explorer.conv.conv1d` on a signal (N,): a one-row 2-D trace, padded left and right."""
    conv.check_signal(signal.numel(), kernel.numel(), padding=(padding, padding), padding_mode=padding_mode,
                      dilation=dilation)
    row = signal.double().reshape(1, 1, -1)
    padded = conv.pad(row, (padding, padding, 0, 0), padding_mode)[0]  # (1, N + 2P)
    traced = conv_trace(padded, kernel.double().reshape(1, -1), stride=stride, dilation=dilation, flip=flip)
    return dataclasses.replace(traced, padding=(padding, padding, 0, 0))


def size_notes(trace: Trace) -> list[str]:
    """The lecture's output size ``(W - F + 2P) / S + 1`` for each axis it does not divide evenly: PyTorch takes the
    floor, and the last rows or columns of the (padded) input are never under the window. Empty when it tiles."""
    left, right, top, bottom = trace.padding
    one_row = trace.padded.shape[0] == 1 and trace.window_hw[0] == 1  # a 1-D signal: its positions only
    axes = [("positions", 1, left + right)] if one_row else [("rows", 0, top + bottom), ("columns", 1, left + right)]
    notes = []
    for axis, dim, pads in axes:
        n, k = trace.padded.shape[dim] - pads, trace.window_hw[dim]
        report = conv.size_report(n, k, pads / 2, trace.stride, trace.dilation)
        if report.exact:
            continue
        span = trace.dilation * (k - 1) + 1
        spread = f" (the dilated window spans {trace.dilation}·({k}-1)+1 = {span})" if trace.dilation > 1 else ""
        dropped = report.left_out(axis, "padded input" if pads else "input")
        notes.append(f"{axis.capitalize()}: (W - F + 2P) / S + 1 = ({n} - {span} + {pads}) / {trace.stride} + 1 = "
                     f"{export.number(report.formula)}{spread}, not an integer: PyTorch takes the floor, "
                     f"{report.actual}, so {dropped} never under the window (shaded on the input).")
    return notes


def unread(trace: Trace) -> tuple[list[int], list[int]]:
    """Rows and columns of the padded input that no tap of any window reads: past the last window (a size the
    stride does not divide), or between windows or dilated taps (a stride or dilation larger than the gap)."""
    height, width = trace.padded.shape
    rows, cols = set(trace.rows.flatten().tolist()), set(trace.cols.flatten().tolist())
    return [r for r in range(height) if r not in rows], [c for c in range(width) if c not in cols]


def unread_notes(trace: Trace) -> list[str]:
    """The rows and columns :func:`unread` finds, in words, where they lie inside the last window's reach (those
    past it, :func:`size_notes` explains); empty when there are none."""
    notes = []
    one_row = trace.padded.shape[0] == 1 and trace.window_hw[0] == 1
    missed_rows, missed_cols = unread(trace)
    pooling = trace.weights is None  # windows without a kernel: nothing between taps, no products
    for axis, missed, read in (("row", missed_rows, trace.rows), ("column", missed_cols, trace.cols)):
        inside = [i for i in missed if i < int(read.max())]
        if inside and not (one_row and axis == "row"):
            name, many = "position" if one_row else axis, len(inside) > 1
            where = (f"between the windows (stride {trace.stride}, window {trace.window_hw[0 if axis == 'row' else 1]}"
                     "): no window ever reads" if pooling else f"between the kernel's taps (stride {trace.stride}, "
                     f"dilation {trace.dilation}): no product ever uses")
            notes.append(f"{name.capitalize()}{'s' if many else ''} {', '.join(map(str, inside))} of the "
                         f"{'padded input' if any(trace.padding) else 'input'} {'lie' if many else 'lies'} {where} "
                         f"{'them' if many else 'it'}, so {'they' if many else 'it'} cannot change the output (shaded "
                         "on the input).")
    return notes


def as_subsampling(trace: Trace) -> tuple[torch.Tensor, list[int], list[int]] | None:
    """A strided convolution as the lecture puts it, the stride-1 convolution followed by subsampling: the stride-1
    output over the same padded input, and the rows and columns of it that are ``trace.output``, cell for cell.
    None for stride 1, and for pooling (its stride is its own step, usually the window)."""
    if trace.stride == 1 or trace.weights is None:
        return None
    values, _, _ = _windows(trace.padded, trace.window_hw, 1, trace.dilation)
    full = (values * trace.weights.flatten()).sum(1).reshape(_out_hw(trace.padded.shape, trace.window_hw, 1,
                                                                     trace.dilation))
    rows, cols = trace.output.shape
    return full, [r * trace.stride for r in range(rows)], [c * trace.stride for c in range(cols)]


def skipped_words(trace: Trace) -> str:
    """The page's warning (Markdown): an output size that is not whole (:func:`size_notes`) and input between the
    kernel's taps or the windows (:func:`unread_notes`), each under its heading; "" when the windows tile the input."""
    sizes, between = size_notes(trace), unread_notes(trace)
    parts = [("The output size is not a whole number:", sizes), ("Input that no window reads:", between)]
    return "\n\n".join(heading + "".join(f"\n- {note}" for note in notes) for heading, notes in parts if notes)


def pool_equation(trace: Trace, kind: str, step: int, decimals: int = 2) -> str:
    """The pooling at ``step`` written out: ``max(1, 5, 3) = 5``, rounded as the grids round (``:.3g`` gave 14.6
    above a cell that said 14.59)."""
    r, c = trace.cell(step)
    values = ", ".join(export.number(v, decimals) for v in trace.values[step].tolist())
    return f"{kind}({values}) = {export.number(float(trace.output[r, c]), decimals)}"


def equation(trace: Trace, step: int, decimals: int = 2, printed: int | None = None) -> str:
    """The sum at ``step`` of a convolution trace written out: ``x1·w1 + x2·w2 + ... = y``; ``printed``: also the
    result to that many decimals where it differs (``= 1.67 ≈ 1.7``, a worked example's output as the lecture
    prints it)."""
    weights = trace.weights

    def term(v: float) -> str:
        text = export.number(v, decimals)
        return f"({text})" if text.startswith("-") else text

    r, c = trace.cell(step)
    result = export.number(float(trace.output[r, c]), decimals)
    if printed is not None and (rounded := export.number(float(trace.output[r, c]), printed)) != result:
        result += f" ≈ {rounded}"
    if (n := export.common_fraction(weights)) is not None:  # 3·0.11 + ... printed products that did not add up to 1.67
        values = trace.values[step].tolist()
        total = export.number(sum(values), decimals)
        return f"({' + '.join(term(x) for x in values)}) / {n} = {total} / {n} = {result}"
    pairs = [f"{term(x)}·{term(w)}" for x, w in zip(trace.values[step].tolist(), weights.flatten().tolist())]
    return " + ".join(pairs) + f" = {result}"


def window_centres(trace: Trace) -> torch.Tensor:
    """(L, 2) the (row, col) centre of every window position: the path the window takes."""
    return torch.stack([trace.rows.double().mean(1), trace.cols.double().mean(1)], dim=1)
