"""The types a run's JSON files hold (explorer.run_fields)."""

import json
import math

import pytest

from explorer.run_fields import CONFIG_TYPES, STATUS_TYPES, is_number, is_whole, sound


@pytest.mark.parametrize("value, number, whole", [(3, True, True), (0.5, True, False), (True, False, False),
                                                  (math.nan, False, False), (math.inf, False, False),
                                                  ("3", False, False), (None, False, False)])
def test_a_number_is_finite_and_never_a_bool(value, number, whole):
    assert is_number(value) is number and is_whole(value) is whole


def test_a_number_json_reads_from_nan_or_infinity_is_no_number():
    """Python's JSON reads the words NaN and Infinity: a status with such a time must not sort the run list."""
    status = json.loads('{"status": "finished", "created": NaN, "updated": Infinity}')
    assert not sound(status, STATUS_TYPES)


def test_sound_fields_hold_their_types_and_the_required_ones_are_there():
    status = {"status": "finished", "created": 1.0, "updated": 2.0, "name": "LeNet-5 #1", "pid": None}
    assert sound(status, STATUS_TYPES, ("created", "updated"))
    assert not sound({**status, "name": 123}, STATUS_TYPES)  # one such name had stopped Train for every visitor
    assert not sound({"status": "finished"}, STATUS_TYPES, ("created", "updated"))
    assert sound({"model": "lenet5", "lr": 0.003, "train_images": None}, CONFIG_TYPES)  # None: all the images
    assert not sound({"model": "lenet5", "lr": "fast"}, CONFIG_TYPES)
    assert not sound({"epochs": 2.5}, CONFIG_TYPES) and sound({"mystery": object()}, CONFIG_TYPES)  # unnamed: free
