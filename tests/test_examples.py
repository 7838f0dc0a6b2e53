"""The lecture's worked examples (explorer.examples) and what the page says when settings leave them."""

import pytest
import torch

from explorer import conv, examples


def test_the_lectures_own_settings_change_nothing():
    for e in examples.EXAMPLES.values():
        assert examples.departures(e, padding=e.padding, stride=e.stride) == []
        assert examples.departure_note(e, tuple(e.expected.shape), padding=e.padding, stride=e.stride) == ""


def test_a_change_of_padding_names_it_and_the_new_output_size_pytorch_gives():
    e = examples.EXAMPLES["laplacian"]
    out = conv.conv2d(e.image, e.kernel, padding=1)
    note = examples.departure_note(e, tuple(out.shape), padding=1)
    assert note == ("Changed from the lecture's example: padding 1 instead of 0. "
                    "So the output here is 4x5, not the lecture's 2x3.")


def test_every_departure_is_named_and_same_size_changes_say_the_values_differ():
    e = examples.EXAMPLES["zero_padding"]
    assert examples.departures(e, padding=1, padding_mode="reflect", stride=2, dilation=2, flip=True) == [
        "reflect padding instead of zeros", "stride 2 instead of 1", "dilation 2 instead of 1",
        "the kernel flipped (true convolution) instead of slid as it is"]
    assert examples.departure_note(e, (5, 5), padding=1, flip=True).endswith("So the values differ from the lecture's.")


def test_a_random_exercise_has_the_sizes_asked_and_numbers_to_add_by_hand():
    image, kernel = examples.random_problem(6, 3, seed=4)
    assert image.shape == (6, 6) and kernel.shape == (3, 3)
    assert int(image.min()) >= 0 and int(image.max()) <= 9 and int(kernel.abs().max()) <= 2
    assert torch.equal(examples.random_problem(6, 3, seed=4)[0], image)  # a seed gives one exercise
    assert examples.grid_text(torch.tensor([[1, 0], [-2, 3]])) == "1 0\n-2 3"
    with pytest.raises(ValueError, match="kernel size <= input size"):
        examples.random_problem(3, 5, seed=0)
