"""The types a run's JSON files hold, field by field: what the run store (:mod:`explorer.runs`), its metrics log
and the checks of a run brought in (:mod:`explorer.run_checks`) take for a sound value."""

from __future__ import annotations

import math
from collections.abc import Callable


def is_number(value: object) -> bool:
    """A finite JSON number (a bool is not one; Python's JSON reads NaN and Infinity too)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def is_whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_text(value: object) -> bool:
    return isinstance(value, str)


# what a run's files hold, where they hold it: a name of 123 in one status.json had stopped Train for every visitor
STATUS_TYPES: dict[str, Callable[[object], bool]] = {
    "status": is_text, "created": is_number, "updated": is_number, "queued": is_number, "reason": is_text,
    "name": is_text, "owner": is_text, "device": is_text, "pid": lambda v: v is None or is_whole(v),
    "request_id": lambda v: v is None or is_text(v)}
# config.json's settings that the pages show or compute with (a "fast" learning rate had broken the run's view)
CONFIG_TYPES: dict[str, Callable[[object], bool]] = {
    "model": is_text, "data": is_text, "optimizer": is_text, "lr": is_number, "weight_decay": is_number,
    "batch_size": is_whole, "epochs": is_whole, "seed": is_whole,
    "train_images": lambda v: v is None or is_whole(v), "test_images": lambda v: v is None or is_whole(v)}  # None: all


def sound(fields: dict, types: dict[str, Callable[[object], bool]], required: tuple[str, ...] = ()) -> bool:
    """Whether each of ``fields``' keys that ``types`` names holds its type, and the ``required`` ones are there."""
    return all(k in fields for k in required) and all(holds(fields[k]) for k, holds in types.items() if k in fields)
