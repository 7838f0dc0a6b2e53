"""The parsers that turn a setting's text in the URL into its value (:class:`explorer.ui.state.Setting`'s
``parse``), each raising a ValueError that says in words why a value cannot be used."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence


def choice(options: Sequence[str]) -> Callable[[str], str]:
    """Parser that accepts only one of ``options``, in any case, or the words before the one option's brackets
    that they start (``custom`` or ``Custom`` for "custom (edit the grid)", as a teacher types a link; ``sobel``
    names two: refused, saying so)."""

    def parse(text: str) -> str:
        if text in options:
            return text
        named = text.strip().casefold()
        whole_name = [o for o in options if o.casefold() == named]  # LAPLACIAN is laplacian, not its negative too
        if len(whole_name) == 1:
            return whole_name[0]
        short = [o for o in options if o.split(" (")[0].casefold() == named]
        if len(short) == 1:
            return short[0]
        if short:
            raise ValueError(f"{text!r} could be {' or '.join(short)}: name one")
        raise ValueError(f"{text!r} is not one of {', '.join(options)}")

    return parse


def choices(options: Sequence[str]) -> Callable[[str], list[str]]:
    """Parser of a comma-separated list, each one of ``options`` (none twice)."""
    one = choice(options)

    def parse(text: str) -> list[str]:
        picked = [one(part) for part in text.split(",") if part]
        if len(set(picked)) != len(picked):
            raise ValueError("a choice is named twice")
        return picked

    return parse


def whole(text: str) -> int:
    """An integer from the link, or a ValueError that says so in words."""
    try:
        return int(text)
    except ValueError:
        pass
    try:  # 1e9 or 3.0 is whole: the range check then names what is wrong with it ("not a whole number" was not)
        value = float(text)
    except ValueError:
        value = math.nan
    if not value.is_integer():
        raise ValueError(f"{text[:20]!r} is not a whole number")
    return int(value)


def number(text: str) -> float:
    """A number from the link (not NaN), or a ValueError that says so in words."""
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{text[:20]!r} is not a number") from None
    if value != value:  # NaN passes float() and fails every range check silently
        raise ValueError("nan is not a number")
    return value


def int_choice(options: Sequence[int]) -> Callable[[str], int]:
    """Parser that accepts only one of the integer ``options``."""

    def parse(text: str) -> int:
        value = whole(text)
        if value not in options:
            raise ValueError(f"{value} is not one of {', '.join(map(str, options))}")
        return value

    return parse


def float_choice(options: Sequence[float]) -> Callable[[str], float]:
    """Parser that accepts only one of the number ``options`` (``0.25``, ``.25`` and ``2.5e-1`` alike)."""

    def parse(text: str) -> float:
        value = number(text)
        for option in options:
            if abs(value - option) <= 1e-9 * max(1.0, abs(option)):
                return option
        raise ValueError(f"{text[:20]} is not one of {', '.join(map(str, options))}")

    return parse


def _within(value: float, low: float, high: float) -> None:
    """Refuse ``value`` outside ``[low, high]``. Below it, only the bottom is named: the top is often a cap far
    above what the page has (a layer's channels are 0..15, the cap 4095)."""
    shown = f"{value:g}" if abs(value) >= 1e15 else value  # 1e+30, not the 31 digits of its float
    if value < low:
        raise ValueError(f"{shown} is below {low}, the smallest")
    if value > high:
        raise ValueError(f"{shown} is outside {low}..{high}")


def int_between(low: int, high: int) -> Callable[[str], int]:
    """Parser for an integer in ``[low, high]``."""

    def parse(text: str) -> int:
        _within(value := whole(text), low, high)
        return value

    return parse


def index_below(cap: int, owner: str, things: str) -> Callable[[str], int]:
    """Parser for an index from 0 into an ``owner``'s ``things`` (a layer's channels), which :func:`at_most` keeps
    within the page's own range; ``cap``, far above any, only refuses absurd values, named without the cap
    (``channel=99999`` said "outside 0..4095" of a layer with 16 channels)."""

    def parse(text: str) -> int:
        _within(value := whole(text), 0, math.inf)
        if value >= cap:
            raise ValueError(f"no {owner} here has {value + 1:,} {things}")
        return value

    return parse


def float_between(low: float, high: float) -> Callable[[str], float]:
    """Parser for a float in ``[low, high]``."""

    def parse(text: str) -> float:
        _within(value := number(text), low, high)
        return value

    return parse


def boolean(text: str) -> bool:
    """Parser for "1"/"0" (also true/false and yes/no)."""
    if text.lower() in ("1", "true", "yes"):
        return True
    if text.lower() in ("0", "false", "no"):
        return False
    raise ValueError(f"{text!r} is not 1 or 0")


def dump_bool(value: bool) -> str:
    return "1" if value else "0"
