"""The built-in shapes set: balanced classes, drawn inside the frame, orientation as the class."""

import pytest
import torch

from explorer import data, shapes

LINES = [shapes.CLASSES.index(name) for name in ("line —", "line |", "line /", "line ╲")]
CLOSED = [shapes.CLASSES.index(name) for name in ("circle", "square", "triangle")]
CROSS = shapes.CLASSES.index("cross")


@pytest.fixture(scope="module")
def grey() -> data.DataSet:
    return data.shapes(1600, size=28, channels=1, seed=0)


def _ink(images: torch.Tensor) -> torch.Tensor:
    """(N, 1, H, W) uint8 -> (N, H, W) bool: pixels clearly brighter than paper plus noise."""
    return images[:, 0] > 128


def _moments(ink: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Ink centroid (x, y) and second central moments (var x, var y, cov xy) per image: (N,) each."""
    ys, xs = torch.meshgrid(torch.arange(ink.shape[1]), torch.arange(ink.shape[2]), indexing="ij")
    w = ink.float() / ink.float().sum((1, 2), keepdim=True)
    mx, my = (w * xs).sum((1, 2)), (w * ys).sum((1, 2))
    dx, dy = xs - mx.view(-1, 1, 1), ys - my.view(-1, 1, 1)
    return mx, my, (w * dx * dx).sum((1, 2)), (w * dy * dy).sum((1, 2)), (w * dx * dy).sum((1, 2))


# ----------------------------------------------------------------------------------- shapes


def test_shapes_tensors_and_classes(grey):
    assert grey.images.shape == (1600, 1, 28, 28) and grey.images.dtype == torch.uint8
    assert grey.labels.shape == (1600,) and grey.labels.dtype == torch.int64
    assert len(grey) == 1600 and grey.classes == shapes.CLASSES and len(shapes.CLASSES) == 8
    assert grey.images.max() > 200 and grey.images.min() < 20  # uses the range: light ink, dark paper
    assert torch.bincount(grey.labels, minlength=8).tolist() == [200] * 8
    part = grey.subset(10)
    assert len(part) == 10 and torch.equal(part.images, grey.images[:10]) and part.classes == grey.classes


def test_shapes_are_deterministic_per_seed():
    first, again, other = data.shapes(64, seed=3), data.shapes(64, seed=3), data.shapes(64, seed=4)
    assert torch.equal(first.images, again.images) and torch.equal(first.labels, again.labels)
    assert not torch.equal(first.images, other.images)
    assert not torch.equal(first.labels[:16], data.shapes(16, seed=0).labels)  # labels are shuffled per seed


def test_shapes_stay_inside_the_frame(grey):
    ink = _ink(grey.images)
    border = torch.cat([ink[:, 0], ink[:, -1], ink[:, :, 0], ink[:, :, -1]], dim=1)
    assert border.float().mean() < 1e-3
    assert ink[:, 1:-1, 1:-1].any((1, 2)).all()  # and every image has a shape in it


def test_lines_carry_less_ink_than_closed_outlines(grey):
    amount = _ink(grey.images).sum((1, 2)).float()
    per_class = torch.stack([amount[grey.labels == k].mean() for k in range(8)])
    # perimeters for circumradius R: circle 6.3R, square 5.7R, triangle 5.2R, cross 4R, line 2R
    assert per_class[LINES].max() < 0.6 * per_class[CLOSED].min()
    assert per_class[LINES].mean() * 1.4 < per_class[CROSS] < per_class[CLOSED].min()


def test_closed_shapes_are_outlines_and_crosses_cross_at_the_centre(grey):
    ink = _ink(grey.images)
    mx, my = _moments(ink)[:2]
    at_centroid = ink[torch.arange(len(ink)), my.round().long(), mx.round().long()]  # (N,)
    for k in CLOSED:
        assert at_centroid[grey.labels == k].float().mean() < 0.05, shapes.CLASSES[k]  # hollow
    assert at_centroid[grey.labels == CROSS].float().mean() > 0.95


def test_line_orientation_is_the_class(grey):
    _, _, var_x, var_y, cov = _moments(_ink(grey.images))
    corr = cov / (var_x * var_y).sqrt()
    horizontal, vertical, slash, backslash = (grey.labels == k for k in LINES)
    assert (var_x[horizontal] > 5 * var_y[horizontal]).all()
    assert (var_y[vertical] > 5 * var_x[vertical]).all()
    assert (corr[slash] < -0.8).all()  # y points down: "/" rises to the right
    assert (corr[backslash] > 0.8).all()


def test_rgb_shapes_have_contrasting_ink_and_paper():
    rgb = data.shapes(64, size=64, channels=3, seed=5)
    assert rgb.images.shape == (64, 3, 64, 64) and rgb.images.dtype == torch.uint8
    pixels = rgb.images.int()
    paper = pixels[:, :, 0, :].median(dim=2).values.view(64, 3, 1, 1)  # the top row is all paper
    contrast = (pixels - paper).abs().amin(dim=1).flatten(1).amax(dim=1)  # weakest channel, best pixel
    assert (contrast > 60).all()  # every channel of ink and paper differ by >= 0.3 * 255 before noise
    assert paper.flatten(1).float().std(0).min() > 20  # paper colours vary between images


def test_shapes_rejects_bad_arguments():
    with pytest.raises(ValueError):
        data.shapes(8, channels=2)
    with pytest.raises(ValueError):
        data.shapes(8, size=8)


# ----------------------------------------------------------------------------------- load


def test_no_class_name_holds_a_character_markdown_reads_as_markup():
    """"line \\" broke every sentence that named it in bold: "**line \\**" left "**line **" on the page."""
    assert all(not set(name) & set("\\*_`[]<>#$") for name in shapes.CLASSES)


def test_a_run_saved_with_an_old_class_name_reads_with_the_present_one():
    assert shapes.current_names(["circle", "line \\"]) == ("circle", "line ╲")
