"""Shift, rotate and scale sweeps: the transforms, the probabilities and each layer's correlation."""

import numpy as np
import pytest
import torch

from explorer import extraction, inspect, invariance


@pytest.fixture(scope="module")
def seven() -> torch.Tensor:
    image = torch.zeros(1, 28, 28)
    image[0, 6:9, 7:21] = 1  # the bar of a 7
    for row in range(9, 23):
        image[0, row, 19 - (row - 9) // 2:22 - (row - 9) // 2] = 1  # its stem
    return image


def test_the_identity_changes_nothing():
    image = torch.rand(3, 12, 12)
    for kind, value in invariance.IDENTITY.items():
        torch.testing.assert_close(invariance.transform(image, kind, value), image, atol=1e-6, rtol=0)


def test_a_shift_moves_whole_pixels_and_fills_with_the_border_colour():
    image = torch.rand(1, 9, 9)
    right = invariance.transform(image, "shift_x", 3)
    torch.testing.assert_close(right[:, :, 3:], image[:, :, :-3])
    torch.testing.assert_close(right[:, :, :3], torch.full((1, 9, 3), invariance.border_colour(image)[0]))
    down = invariance.transform(image, "shift_y", -2)
    torch.testing.assert_close(down[:, :-2], image[:, 2:])


def test_a_quarter_turn_is_rot90_clockwise_and_scaling_keeps_the_centre():
    image = torch.rand(2, 9, 9)
    torch.testing.assert_close(invariance.transform(image, "rotate", 90), torch.rot90(image, -1, (1, 2)), atol=1e-5, rtol=0)
    torch.testing.assert_close(invariance.transform(image, "scale", 2.0)[:, 4, 4], image[:, 4, 4], atol=1e-5, rtol=0)


@pytest.mark.parametrize("kind,value,message", [("flip", 1, "unknown transformation"), ("scale", 0, "positive")])
def test_bad_transformations_are_refused(kind, value, message):
    with pytest.raises(ValueError, match=message):
        invariance.transform(torch.rand(1, 8, 8), kind, value)


def test_the_sweep_runs_every_version_and_compares_it_with_the_original(lenet, seven):
    layers = invariance.compared_layers(inspect.layers(lenet, (1, 28, 28)))
    assert layers == ["conv1", "pool1", "conv2", "pool2", "fc3", "fc4", "fc5"]
    values = torch.tensor([-4.0, 0.0, 4.0])
    sweep = invariance.sweep(lenet, seven, "shift_x", values, layers)
    assert sweep.images.shape == (3, 1, 28, 28) and sweep.correlation.shape == (7, 3)
    with torch.no_grad():
        expected = torch.softmax(lenet(sweep.images), 1)
        reference = int(lenet(seven[None]).argmax())
    torch.testing.assert_close(sweep.probabilities, expected)
    assert sweep.reference_class == reference == 7
    torch.testing.assert_close(sweep.confidence, expected[:, 7])
    torch.testing.assert_close(sweep.correlation[:, 1], torch.ones(7))  # the unshifted version is the original
    graph = extraction.extractor(lenet, ["conv2"])
    with torch.no_grad():
        a, b = (graph(x[None])["conv2"].flatten().numpy() for x in (seven, sweep.images[0]))
    assert np.isclose(float(sweep.correlation[2, 0]), np.corrcoef(a, b)[0, 1], atol=1e-5)


def test_early_layers_decorrelate_under_shifts_faster_than_the_last(lenet, seven):
    """The page's claim: convolutions move their maps with the image; the class scores hold on longer."""
    layers = ["conv1", "conv2", "fc5"]
    sweep = invariance.sweep(lenet, seven, "shift_x", torch.tensor([-3.0, -2.0, 2.0, 3.0]), layers)
    mean = sweep.correlation.mean(1)
    assert mean[0] < mean[2] - 0.3 and mean[1] < mean[2], mean


def test_unknown_layers_are_named(lenet, seven):
    with pytest.raises(ValueError, match="no layer nope"):
        invariance.sweep(lenet, seven, "rotate", torch.tensor([10.0]), ["nope"])


def test_a_constant_output_correlates_as_zero_or_one():
    rows = torch.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0], [3.0, 2.0, 1.0]])
    r = invariance._pearson(rows)
    torch.testing.assert_close(r, torch.tensor([0.0, -1.0]))
    torch.testing.assert_close(invariance._pearson(torch.zeros(2, 4)), torch.tensor([1.0]))
    # constant but not zero: float32's rounding of the mean had left r = 0.0555 for two rows of 0.1, -1.0000001
    for low, high, n in ((0.1, 0.1, 1000), (0.123, 0.9, 50_000), (1 / 3, 1 / 3, 53_248)):
        flat = torch.stack([torch.full((n,), low), torch.full((n,), high)])
        torch.testing.assert_close(invariance._pearson(flat), torch.tensor([1.0]))
    ramp = torch.linspace(0, 1, 1000)
    torch.testing.assert_close(invariance._pearson(torch.stack([ramp, torch.full((1000,), 0.1), -ramp])),
                               torch.tensor([0.0, -1.0]))


def test_chunks_give_the_same_sweep_as_one_batch(lenet, seven, monkeypatch):
    values = torch.tensor([-20.0, -5.0, 0.0, 5.0, 20.0])
    layers = ["conv1", "pool2", "fc5"]
    whole = invariance.sweep(lenet, seven, "rotate", values, layers)
    monkeypatch.setattr(invariance, "CHUNK_VALUES", 2 * 28 * 28)  # two versions at a time
    chunked = invariance.sweep(lenet, seven, "rotate", values, layers)
    torch.testing.assert_close(chunked.probabilities, whole.probabilities)
    torch.testing.assert_close(chunked.correlation, whole.correlation)
    assert chunked.reference_class == whole.reference_class


def test_swept_shifts_are_whole_pixels_each_once_and_other_kinds_keep_the_count():
    shifts = invariance.swept_values("shift_x", -30, 30, 21, side=28)  # +-8.4 px: 17 whole shifts
    assert shifts.tolist() == [float(v) for v in range(-8, 9)]
    angles = invariance.swept_values("rotate", -45, 45, 21, side=28)
    assert len(angles) == 21 and angles[0] == -45 and angles[-1] == 45
    assert invariance.swept_values("rotate", 90, 90, 21, side=28).tolist() == [90.0]  # one spot: one version
    assert invariance.swept_values("scale", 1.5, 1.5, 21, side=28).tolist() == [1.5]


def test_the_favourite_is_the_class_with_the_highest_mean_probability_over_the_versions():
    probabilities = torch.tensor([[0.5, 0.3, 0.2], [0.1, 0.6, 0.3], [0.1, 0.6, 0.3]])  # class 0 wins once, 1 twice
    result = invariance.Sweep("rotate", torch.zeros(3), torch.zeros(3, 1, 2, 2), probabilities, 0, (), torch.zeros(0, 3))
    assert result.favourite[0] == 1 and result.favourite[1] == pytest.approx(0.5)


@pytest.mark.parametrize("count", range(1, 62))
def test_the_strip_shows_the_ends_and_the_original_evenly_or_alike_on_both_sides(count):
    shown = invariance.shown_versions(count)
    assert shown == sorted(set(shown)) and shown[0] == 0 and shown[-1] == count - 1 and len(shown) <= 9
    if count % 2:
        middle = (count - 1) // 2
        assert middle in shown and [middle - i for i in shown] == [i - middle for i in reversed(shown)]
    assert len(shown) >= min(count, 5)


def test_thirteen_turns_show_every_second_one():
    """Rounded evenly over all versions, the strip showed -90, -60, -45, -30, 0 degrees."""
    assert invariance.shown_versions(13) == [0, 2, 4, 6, 8, 10, 12]
    assert invariance.shown_versions(17) == list(range(0, 17, 2))


def test_most_versions_is_every_whole_pixel_shift_and_each_one_differs():
    assert invariance.most_versions("shift_x", -30, 30, 28) == 17  # -8..8 px
    assert invariance.most_versions("shift_y", -10, 20, 28) == 9  # -3..6 px: 10 pixels, 9 as an odd count
    assert invariance.most_versions("shift_x", 0, 5, 28) == 2 and invariance.most_versions("rotate", -90, 90, 28) == 61
    assert invariance.most_versions("rotate", 90, 90, 28) == 1 == invariance.most_versions("shift_x", 30, 30, 28)
    for first, last in ((-30, 30), (-50, 50), (-10, 20), (-10, 10), (-45, 40)):
        top = invariance.most_versions("shift_x", first, last, 28)
        assert len(invariance.swept_values("shift_x", first, last, top, 28)) == top  # all different


def test_the_strips_title_fits_a_phone_and_says_how_many_it_shows():
    assert invariance.strip_title(9, 17) == "9 of the 17 versions: change → class read"
    assert invariance.strip_title(7, 7) == "The 7 versions: change → class read"
    assert len(invariance.strip_title(9, 99)) <= 41  # the Versions slider stops at 61


def test_the_original_is_always_a_version_where_the_range_holds_it():
    """0.25x..3x in 3 versions had run 0.25x, 1.62x and 3x; -25%..30% of 28 px had skipped 0 px."""
    assert invariance.swept_values("scale", 0.25, 3.0, 3, 28).tolist() == [0.25, 1.0, 3.0]
    scales = invariance.swept_values("scale", 0.25, 3.0, 21, 28)
    assert len(scales) == 21 and 1.0 in scales.tolist() and scales[0] == 0.25 and scales[-1] == 3.0
    steps = scales.diff()
    assert float(steps.max()) < 1.2 * float(steps.min())  # each side's share in proportion to its length
    angles = invariance.swept_values("rotate", -10, 170, 9, 28).tolist()
    assert angles[:2] == [-10.0, 0.0] and len(angles) == 9  # not half of them on the 10 degrees below 0
    assert invariance.swept_values("shift_x", -1, 1, 3, 28).tolist() == [0.0]  # not -0
    assert invariance.swept_values("shift_x", -50, 30, 3, 28).tolist() == [-14.0, 0.0, 8.0]
    shifts = invariance.swept_values("shift_x", -25, 30, 15, 28)
    assert 0.0 in shifts.tolist() and len(shifts.unique()) == 15 and shifts.tolist() == sorted(shifts.tolist())
    assert invariance.swept_values("scale", 1.5, 3.0, 4, 28).tolist() == [1.5, 2.0, 2.5, 3.0]  # it leaves 1x out


@pytest.mark.parametrize(("count", "original"), [(17, 3), (25, 13), (30, 0), (30, 29), (12, 5)])
def test_the_strip_shows_an_original_off_the_middle(count, original):
    shown = invariance.shown_versions(count, original)
    assert original in shown and shown[0] == 0 and shown[-1] == count - 1 and len(shown) <= 9
    assert shown == sorted(set(shown))
