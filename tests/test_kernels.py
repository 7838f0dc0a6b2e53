"""Presets of the lecture and validation of a user's kernel."""

import math

import pytest
import torch

from explorer import conv, kernels


def test_presets_hold_every_kernel_of_the_lecture():
    p = kernels.PRESETS
    assert torch.equal(p["derivative [-1, 1]"], torch.tensor([[-1.0, 1.0]]))
    assert torch.equal(p["derivative [-1, 0, 1] (horizontal)"], torch.tensor([[-1.0, 0, 1]]))
    assert torch.equal(p["derivative [-1, 0, 1] (vertical)"], torch.tensor([[-1.0], [0], [1]]))
    assert torch.equal(p["laplacian"], torch.tensor([[0.0, 1, 0], [1, -4, 1], [0, 1, 0]]))
    assert torch.equal(p["laplacian (negative)"], torch.tensor([[0.0, -1, 0], [-1, 4, -1], [0, -1, 0]]))
    assert torch.equal(p["sobel (horizontal edges)"], torch.tensor([[-1.0, -2, -1], [0, 0, 0], [1, 2, 1]]))
    assert torch.equal(p["sobel (vertical edges)"], p["sobel (horizontal edges)"].T)
    assert torch.allclose(p["box blur 3x3"], torch.full((3, 3), 1 / 9))
    assert set(kernels.DESCRIPTIONS) == set(p)


def test_derivative_responses_pattern_found_none_and_opposite():
    """The deck's three cases: dark-to-bright (+), flat (0), bright-to-dark (-)."""
    row = torch.tensor([[0.0, 0, 1, 1, 1, 0, 0]])
    response = conv.conv2d(row, kernels.PRESETS["derivative [-1, 1]"])
    assert response.tolist() == [[0.0, 1.0, 0.0, 0.0, -1.0, 0.0]]


def test_sobel_finds_edges_of_its_orientation():
    image = torch.zeros(8, 8)
    image[:, 4:] = 1  # a vertical edge
    assert conv.conv2d(image, kernels.PRESETS["sobel (vertical edges)"]).abs().max() == 4
    assert conv.conv2d(image, kernels.PRESETS["sobel (horizontal edges)"]).abs().max() == 0


@pytest.mark.parametrize("size,sigma", [(3, 0.5), (5, 1.0), (9, 2.5)])
def test_gaussian_is_normalised_symmetric_and_peaked(size, sigma):
    g = kernels.gaussian(size, sigma)
    assert g.sum().item() == pytest.approx(1.0, abs=1e-6)
    assert torch.allclose(g, g.T) and torch.allclose(g, g.flip(0))
    assert g[size // 2, size // 2] == g.max()
    ratio = (g[size // 2, size // 2 + 1] / g[size // 2, size // 2]).item()
    assert ratio == pytest.approx(math.exp(-1 / (2 * sigma**2)), rel=1e-5)


def test_gabor_orientation_rotates_the_filter():
    assert torch.allclose(kernels.gabor(7, 90), kernels.gabor(7, 0).T, atol=1e-6)
    assert kernels.gabor(7, 0).sum().abs() < 1e-5


@pytest.mark.parametrize("theta", [0, 45, 90, 135])
def test_gabor_is_the_formula_cell_by_cell(theta):
    """exp(-(x'^2 + gamma^2 y'^2) / (2 sigma^2)) cos(2 pi x' / lambda), x' = x cos t + y sin t, y' = -x sin t + y cos t
    (x to the right, y down, from the centre), its mean taken out: written out here cell by cell."""
    sigma, wavelength, gamma, t = 2.0, 4.0, 0.5, math.radians(theta)
    cells = [[0.0] * 7 for _ in range(7)]
    for row in range(7):
        for col in range(7):
            x, y = col - 3, row - 3
            xr, yr = x * math.cos(t) + y * math.sin(t), -x * math.sin(t) + y * math.cos(t)
            cells[row][col] = math.exp(-(xr ** 2 + gamma ** 2 * yr ** 2) / (2 * sigma ** 2)) * math.cos(
                2 * math.pi * xr / wavelength)
    mean = sum(map(sum, cells)) / 49
    expected = torch.tensor([[v - mean for v in line] for line in cells])
    torch.testing.assert_close(kernels.gabor(7, theta), expected.float(), atol=1e-6, rtol=0)


def test_the_45_degree_gabor_answers_its_own_grating_most():
    """Stripes across the down-right diagonal (period 4, as its wavelength) excite it; the other diagonal's do not."""
    y, x = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
    own, across = torch.cos(2 * math.pi * (x + y) / (4 * math.sqrt(2))), torch.cos(2 * math.pi * (x - y) / (4 * math.sqrt(2)))
    k = kernels.PRESETS["gabor 7x7 (45 deg)"]
    energy = [float(conv.conv2d(image, k).pow(2).mean()) for image in (own, across)]
    assert energy[0] > 10 * energy[1], energy


def test_parse_grid_accepts_numbers_and_text_numbers():
    assert torch.equal(kernels.parse_grid([[1, "2"], [" -3.5 ", 4.0]]), torch.tensor([[1.0, 2], [-3.5, 4]]))
    assert torch.equal(kernels.parse_text("0,1,0; 1 -4 1\n0 1 0"), kernels.PRESETS["laplacian"])
    k = kernels.PRESETS["gabor 7x7 (45 deg)"]
    assert torch.allclose(kernels.parse_text(kernels.to_text(k)), k, atol=1e-5)


def test_a_decimal_comma_in_a_line_split_by_spaces_is_named_not_split():
    """"1,5 2,5" became the four numbers 1 5 2 5, and the step-by-step page convolved a grid nobody typed."""
    with pytest.raises(kernels.KernelError, match=r"^input line 1, entry 1 holds '1,5', which is not a number "
                                                  r"\(decimals take a point: 1\.5\); 3 more entries"):
        kernels.parse_text("1,5 2,5\n3,5 4,5", "input")
    with pytest.raises(kernels.KernelError, match=r"signal entry 2 holds '0,5'.*\(decimals take a point: 0\.5\)"):
        kernels.parse_values("1 0,5 2")
    assert kernels.parse_text("1, -4, 1; 0,1,0").tolist() == [[1, -4, 1], [0, 1, 0]]  # commas that split stay so
    assert kernels.parse_values("-1,-2 3").tolist() == [-1, -2, 3]


@pytest.mark.parametrize("cells,where", [
    ([["1", "abc"]], "row 1, column 2"),
    ([["1"], ["nan"]], "row 2, column 1"),
    ([["inf", "1"]], "row 1, column 1"),
    ([[1, float("-inf")]], "row 1, column 2"),
    ([["1", ""]], "row 1, column 2"),
    ([[None]], "row 1, column 1"),
    ([[True]], "row 1, column 1"),
    ([["1e9"]], "row 1, column 1"),
])
def test_parse_grid_names_the_bad_cell(cells, where):
    with pytest.raises(kernels.KernelError, match=where):
        kernels.parse_grid(cells)


def test_parse_grid_names_every_bad_cell_in_one_message():
    with pytest.raises(kernels.KernelError) as caught:
        kernels.parse_text("1 x 3; 4 5 nan; 7 inf 9")
    assert str(caught.value) == ("kernel line 1, entry 2 holds 'x', which is not a number; 2 more entries need "
                                 "mending too: line 2, entry 3 and line 3, entry 2")
    with pytest.raises(kernels.KernelError, match="; 1 more entry needs mending too: line 2, entry 1$"):
        kernels.parse_text("1 a; b 4")
    with pytest.raises(kernels.KernelError, match="8 more cells .*row 1, column 2, .* and 3 others$"):
        kernels.parse_grid([["a"] * 3] * 3)


def test_a_signal_names_its_entries_as_typed():
    """Typed text is counted from 1 and its places are "entries", kept apart from a figure's 0-based positions."""
    assert kernels.parse_values("1, 2 3").tolist() == [1.0, 2.0, 3.0]
    with pytest.raises(kernels.KernelError, match="^signal entry 2 holds 'x', which is not a number; 1 more entry "
                                                  "needs mending too: entry 4$"):
        kernels.parse_values("1 x 3 inf")
    with pytest.raises(kernels.KernelError, match="^a signal has 1 to 15 values; this one has 100$"):  # not "1x100"
        kernels.parse_values(" ".join(["1"] * 100))


def test_parse_each_names_every_grid_that_fails():
    signal, kernel = kernels.parse_each(lambda: kernels.parse_values("1 2"), lambda: kernels.parse_values("3"))
    assert signal.tolist() == [1.0, 2.0] and kernel.tolist() == [3.0]
    with pytest.raises(kernels.KernelError, match="^signal entry 1 is nan: .*; and kernel entry 2 holds 'x'"):
        kernels.parse_each(lambda: kernels.parse_values("nan"), lambda: kernels.parse_values("1 x", "kernel"))


@pytest.mark.parametrize("cells,match", [
    ([], "empty"), ([[1, 2], [3]], "same number"), ([[0] * 16], "1x1 to 15x15"), ([[0]] * 16, "1x1 to 15x15"),
])
def test_parse_grid_refuses_bad_shapes(cells, match):
    with pytest.raises(kernels.KernelError, match=match):
        kernels.parse_grid(cells)


def test_a_grid_that_is_not_a_kernel_is_named_in_its_errors():
    with pytest.raises(kernels.KernelError, match="^input line 2, entry 1 holds 'x'"):
        kernels.parse_text("1 2\nx 3", "input")
    with pytest.raises(kernels.KernelError, match="^every line of the signal needs the same number of entries"):
        kernels.parse_text("1 2\n3", "signal")
    with pytest.raises(kernels.KernelError, match="^every row of the kernel needs the same number of cells"):
        kernels.parse_grid([[1, 2], [3]])


def test_sizes_1_and_15_are_accepted():
    assert kernels.parse_grid([[2]]).shape == (1, 1)
    assert kernels.parse_grid([[0] * 15] * 15).shape == (15, 15)


def test_similarity_is_cosine_with_the_sign():
    sobel = kernels.PRESETS["sobel (vertical edges)"]
    assert kernels.similarity(sobel, sobel) == pytest.approx(1.0)
    assert kernels.similarity(-sobel, sobel) == pytest.approx(-1.0)
    assert kernels.similarity(sobel, kernels.PRESETS["sobel (horizontal edges)"]) == pytest.approx(0.0, abs=1e-6)


def test_similarity_resamples_a_small_preset_to_a_large_kernel():
    big = torch.nn.functional.interpolate(kernels.LAPLACIAN[None, None], size=(11, 11), mode="bilinear",
                                          align_corners=True)[0, 0]
    assert kernels.similarity(big, kernels.LAPLACIAN) == pytest.approx(1.0)


@pytest.mark.parametrize("cosine,word", [(-0.97, "strong"), (0.8, "strong"), (0.62, "partial"), (-0.5, "partial"),
                                         (0.2, "none"), (0.0, "none")])
def test_a_cosine_is_put_in_words(cosine, word):
    assert kernels.resemblance(cosine) == word


def test_closest_presets_finds_an_edge_filter_with_its_polarity():
    name, score = kernels.closest_presets(-kernels.PRESETS["sobel (horizontal edges)"] + 0.01 * torch.randn(3, 3))[0]
    assert name == "sobel (horizontal edges)" and score < -0.95


def test_a_kernel_as_text_to_edit_is_rounded_without_minus_zero():
    kernel = torch.tensor([[-0.0001, 1.0], [-4.0, 0.12345]])
    assert kernels.to_text(kernel, decimals=3) == "0,1;-4,0.123"
    assert kernels.to_text(kernel) == "-0.0001,1;-4,0.12345"


@pytest.mark.parametrize(("largest", "places"), [(1.0, 3), (0.162, 3), (0.05, 4), (0.0012, 5), (40.0, 3), (0.0, 3)])
def test_a_grid_to_edit_keeps_three_significant_digits_of_its_largest_weight(largest, places):
    kernel = torch.tensor([[largest, -largest / 7], [0.0, largest / 3]])
    assert kernels.grid_decimals(kernel) == places
    assert abs(round(largest, places) - largest) <= 0.005 * largest  # within half a unit of its third digit


def test_a_decimal_comma_in_a_grid_cell_is_named_with_the_point_it_needs():
    with pytest.raises(kernels.KernelError, match=r"^kernel cell at row 1, column 2 holds '2,5', which is not a number "
                                                  r"\(decimals take a point: 2\.5\)$"):
        kernels.parse_grid([["1", "2,5"]])
    with pytest.raises(kernels.KernelError, match=r"holds '1,2,3', which is not a number$"):  # no guess
        kernels.parse_grid([["1,2,3"]])


@pytest.mark.parametrize("name", ["derivative [-1, 1]", "derivative [-1, 0, 1] (horizontal)"])
def test_a_derivative_finds_its_pattern_nothing_on_flat_parts_and_the_opposite_below_zero(name):
    """The lecture's three responses of a finite difference, which its description names."""
    step_up_and_down = torch.tensor([[0.0, 0, 0, 1, 1, 1, 0, 0, 0]])
    response = conv.conv2d(step_up_and_down, kernels.PRESETS[name])[0]
    assert response.max() > 0 and (response == 0).any() and response.min() < 0
    assert response.argmax() < response.argmin()  # dark to bright comes first, left to right
    words = kernels.DESCRIPTIONS[name]
    assert all(w in words for w in ("(the pattern found)", "(no pattern)", "(the opposite pattern)"))


def test_a_kernel_turned_into_its_negative_is_told_apart():
    """Flipped, a derivative's description had kept saying "positive where dark turns bright"."""
    assert kernels.turns_negative(kernels.PRESETS["derivative [-1, 1]"])
    assert kernels.turns_negative(kernels.PRESETS["sobel (vertical edges)"])
    assert not kernels.turns_negative(kernels.PRESETS["laplacian"]) and not kernels.turns_negative(torch.zeros(3, 3))


def test_a_grid_too_large_names_its_own_limit_with_the_right_article():
    with pytest.raises(kernels.KernelError, match="^an input goes from 1x1 to 12x12; this one is 13x1$"):
        kernels.parse_text("1\n" * 13, "input", most=12)
    with pytest.raises(kernels.KernelError, match="^an upstream gradient goes from 1x1 to 15x15"):
        kernels.parse_text("1 " * 16, "upstream gradient")
