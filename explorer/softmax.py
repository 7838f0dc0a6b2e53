"""The softmax written out, class by class, as a lecture writes it: p_k = exp(z_k) / sum_j exp(z_j)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from explorer import labels


@dataclass(frozen=True)
class Softmax:
    """The rows of the written-out softmax: the largest scores first, the rest summed in one line."""

    rows: list[dict]  # class, score z, exp(z), probability: one per class shown
    rest: int  # classes not shown, summed in ``rest_exp``
    rest_exp: float
    total: float  # sum_j exp(z_j - shift) over every class
    shift: float = 0.0  # subtracted from every score first (their largest), where exp(z) itself is out of range


def written_out(logits: torch.Tensor, classes: tuple[str, ...] = (), shown: int = 10) -> Softmax:
    """The ``shown`` largest scores of ``logits`` (K,) with their exponentials and probabilities, and the sum.

    In float64, exp(z) is finite for scores up to 700, and the largest is not lost below -700. Outside that range
    every score is first lowered by the largest, ``shift`` (as ``torch.softmax`` does inside), which leaves the
    probabilities as they were: the rows then write exp(z - shift).
    """
    z = logits.detach().double().flatten()
    top = float(z.max())
    shift = top if abs(top) > 700 else 0.0
    e = (z - shift).exp()
    total = float(e.sum())
    order = z.argsort(descending=True)
    rows = [{"class": classes[k] if k < len(classes) else str(k), "score z": float(z[k]), "exp(z)": float(e[k]),
             "probability": float(e[k]) / total} for k in order[:shown].tolist()]
    rest = order[shown:]
    return Softmax(rows, len(rest), float(e[rest].sum()) if len(rest) else 0.0, total, shift)


def number(value: float) -> str:
    """An exponential as the table writes it: whole from 100 (1,235), else 3 significant digits, zeros kept (5.80);
    a power of ten past a million or below 0.001 (4.85e8)."""
    if value == 0:
        return "0"
    if 1e-3 <= abs(value) < 1e6:
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:#.3g}".rstrip(".")
    mantissa, exponent = f"{value:.2e}".split("e")  # rounded before the exponent is chosen: 9.9996e7 is 1.00e8
    return f"{mantissa}e{int(exponent)}"


def table(out: Softmax) -> list[dict[str, str]]:
    """``out`` as the page's rows: each class's probability first (a narrow table keeps it in sight), then its score,
    its exponential and the division that makes the probability; the classes not shown in one row."""
    total = number(out.total)
    rows = [{"class": r["class"], "probability": labels.share(r["probability"]), "score z": f"{r['score z']:.2f}",
             "exp(z)": number(r["exp(z)"]), "exp(z) / sum": f"{number(r['exp(z)'])} / {total}"} for r in out.rows]
    if out.rest:
        other = "the other class" if out.rest == 1 else f"the other {out.rest:,} classes"
        rows.append({"class": other, "probability": labels.share(out.rest_exp / out.total), "score z": "",
                     "exp(z)": number(out.rest_exp), "exp(z) / sum": f"{number(out.rest_exp)} / {total}"})
    return rows
