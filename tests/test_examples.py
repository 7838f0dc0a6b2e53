"""The lecture's worked examples (explorer.examples) and what the page says when settings leave them."""

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
