"""What a model receives: channel and size conversion, and MNIST's recipe for drawn digits."""

import io

import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from explorer import data, images, inputs, models


def _stroke_drawing(size: int = 280) -> torch.Tensor:
    """A dark '1'-like stroke with a flag, off centre, on a white page (as the canvas draws)."""
    page = torch.ones(3, size, size)
    page[:, 40:200, 150:172] = 0.0  # the vertical bar, upper right of centre
    page[:, 40:62, 120:172] = 0.0  # the flag
    return page


def _canvas_png(image: torch.Tensor) -> bytes:
    """The RGBA PNG the drawing canvas sends."""
    rgb = (image.permute(1, 2, 0) * 255).round().to(torch.uint8).numpy()
    buffer = io.BytesIO()
    Image.fromarray(rgb).convert("RGBA").save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_drawing_is_prepared_like_an_mnist_digit():
    prepared = inputs.prepare(models.spec("lenet5"), _stroke_drawing())
    x = prepared.tensor
    assert x.shape == (1, 28, 28) and 0 <= x.min() and x.max() <= 1
    assert x[0, 0].max() < 0.05 and x[0, :, 0].max() < 0.05  # dark background, light ink
    ys, xs = torch.nonzero(x[0] >= inputs.INK, as_tuple=True)
    assert max(ys.max() - ys.min(), xs.max() - xs.min()) + 1 in (20, 21)  # fits MNIST's 20x20 box
    mass = x[0].sum()
    cy = (x[0].sum(1) * torch.arange(28)).sum() / mass
    cx = (x[0].sum(0) * torch.arange(28)).sum() / mass
    assert abs(cy - 13.5) <= 1 and abs(cx - 13.5) <= 1  # centred by mass
    assert any("inverted" in n for n in prepared.notes) and any("grey" in n for n in prepared.notes)


def test_a_photo_of_grey_paper_gets_a_black_background_not_a_grey_box():
    """Inverted, paper at 0.8 is 0.2: all of it counted as ink, and the model saw the digit in a grey box."""
    photo = _stroke_drawing() * 0.7 + 0.1  # ink at 0.1, paper at 0.8
    prepared = inputs.prepare(models.spec("lenet5"), photo)
    x = prepared.tensor[0]
    assert x[0].max() == 0 and x[:, 0].max() == 0 and (x == 0).float().mean() > 0.6  # black around the digit
    assert x.max() > 0.95  # the ink as white as MNIST's
    assert any("the paper's grey (0.20) made black" in n for n in prepared.notes)
    assert not any("paper's grey" in n for n in inputs.prepare(models.spec("lenet5"), _stroke_drawing()).notes)


@pytest.mark.parametrize("trouble", ["grain", "uneven light"])
def test_a_photo_with_grain_or_uneven_light_keeps_its_digit_whole_on_black(trouble):
    """Grain above the ink threshold made the whole photo the digit's box (the digit shrank to half); a ramp of
    light left a grey band beside it."""
    torch.manual_seed(0)
    photo = _stroke_drawing() * 0.7 + 0.1  # ink at 0.1, paper at 0.8
    if trouble == "grain":
        photo = (photo + torch.randn_like(photo[:1]) * 8 / 255).clamp(0, 1)
    else:
        photo = (photo + torch.linspace(-0.12, 0.12, photo.shape[-1])).clamp(0, 1)
    prepared = inputs.prepare(models.spec("lenet5"), photo)
    clean = inputs.prepare(models.spec("lenet5"), _stroke_drawing()).tensor
    x = prepared.tensor[0]
    ys, xs = torch.nonzero(x >= inputs.INK, as_tuple=True)
    assert max(ys.max() - ys.min(), xs.max() - xs.min()) + 1 in (20, 21)  # the stroke fills MNIST's box
    assert x[0].max() < 0.05 and x[:, 0].max() < 0.05 and x[-1].max() < 0.05  # black round it
    assert (x - clean[0]).abs().mean() < 0.05  # much as the clean drawing comes out


def test_the_canvas_path_gives_the_same_input_as_the_tensor():
    drawing = _stroke_drawing()
    loaded = images.load_bytes(_canvas_png(drawing), "drawing.png").tensor
    spec = models.spec("lenet5")
    assert torch.allclose(inputs.prepare(spec, loaded).tensor, inputs.prepare(spec, drawing).tensor, atol=1e-2)


def test_a_blank_drawing_is_just_resized():
    prepared = inputs.prepare(models.spec("lenet5"), torch.ones(1, 280, 280))
    assert prepared.tensor.shape == (1, 28, 28) and prepared.tensor.max() == 0


def test_imagenet_models_get_resize_and_centre_crop():
    prepared = inputs.prepare(models.spec("resnet18"), torch.rand(1, 300, 400))
    assert prepared.tensor.shape == (3, 224, 224)
    assert any("grey to colour" in n for n in prepared.notes)
    assert any("256x341" in n and "224x224" in n for n in prepared.notes)


def test_a_square_image_is_only_resized_and_the_note_says_so():
    prepared = inputs.prepare(models.spec("tinyvgg"), torch.rand(3, 28, 28))
    assert prepared.tensor.shape == (3, 64, 64) and prepared.notes == ("resized from 28x28 to 64x64",)


def test_an_input_of_the_right_size_is_left_alone():
    image = torch.rand(3, 64, 64)
    prepared = inputs.prepare(models.spec("tinyvgg"), image)
    assert torch.equal(prepared.tensor, image) and prepared.notes == ()


@pytest.mark.skipif(data.shared_root() is None, reason="needs ../shared/data (real MNIST)")
def test_mnist_digits_drawn_big_on_white_are_still_read_right(tmp_path):
    """Real test digits, inverted and enlarged 10x like a canvas drawing, through the whole upload path."""
    data.stage_shared(tmp_path)
    test = data.load("mnist", train=False, root=tmp_path).subset(200)
    model = models.build("lenet5", pretrained=True)
    spec = models.spec("lenet5")
    drawn = 1 - F.interpolate(test.images.float() / 255, scale_factor=10, mode="bilinear")
    batch = torch.stack([inputs.prepare(spec, images.load_bytes(_canvas_png(d.expand(3, -1, -1)), "d.png").tensor).tensor
                         for d in drawn])
    with torch.no_grad():
        accuracy = (model(batch).argmax(1) == test.labels).float().mean().item()
    assert accuracy >= 0.97


def test_reference_batches_fit_their_models():
    for name in ("lenet5", "tinyvgg", "resnet_small", "resnet18"):
        spec = models.spec(name)
        batch, about = inputs.reference_batch(spec, 4)
        assert batch.shape[1:] == spec.input_shape and 0 <= batch.min() and batch.max() <= 1 and about
    assert inputs.reference_batch(models.spec("resnet18"), 4)[1] == "the 4 sample photos"


def test_fit_batch_converts_a_data_set_to_the_models_input():
    digits = (torch.rand(5, 1, 28, 28) * 255).to(torch.uint8)
    fitted = inputs.fit_batch(digits, models.spec("tinyvgg"))
    assert fitted.shape == (5, 3, 64, 64) and fitted.dtype == torch.uint8
    assert torch.equal(fitted[:, 0], fitted[:, 2])  # grey copied to R, G and B
    same = inputs.fit_batch(digits, models.spec("lenet5"))
    assert torch.equal(same, digits)
    colour = (torch.rand(3, 3, 32, 32) * 255).to(torch.uint8)
    grey = inputs.fit_batch(colour, models.spec("lenet5"))
    expected = images.to_grey(colour[0].float() / 255)
    assert grey.shape == (3, 1, 28, 28) and grey[0].float().mean() == pytest.approx(expected.mean() * 255, abs=2)


def _ramp(height: int, width: int) -> torch.Tensor:
    """A grey ramp along the longer side: a shift of the crop shows as a change of value."""
    ramp = torch.linspace(0, 1, max(height, width))
    return (ramp[None, None, :width] if width > height else ramp[None, :height, None]).expand(3, height, width).clone()


@pytest.mark.parametrize(("height", "width"), [(1, 2048), (40, 1000), (900, 5)])
def test_a_long_thin_picture_is_cut_before_it_is_resized_and_gives_the_same_crop(monkeypatch, height, width):
    """A 4000x1 line scaled to a shorter side of 256 had made a 3 x 256 x 1,024,000 tensor (1.8 GB) for a 224 crop."""
    image = _ramp(height, width)
    scale = 64 / min(height, width)
    size = (max(64, round(height * scale)), max(64, round(width * scale)))
    whole = F.interpolate(image[None], size=size, mode="bilinear", antialias=True, align_corners=False)[0]
    top, left = (size[0] - 64) // 2, (size[1] - 64) // 2
    sizes = []
    resize = F.interpolate
    monkeypatch.setattr(F, "interpolate", lambda x, size, **kw: sizes.append(size) or resize(x, size=size, **kw))
    notes = []
    ours = inputs._resize_crop(image, 64, 64, notes)
    torch.testing.assert_close(ours, whole[:, top:top + 64, left:left + 64], rtol=0, atol=1e-3)  # within a pixel
    assert max(sizes[0]) <= 2 * images.LONG * 64 and notes == [f"resized from {height}x{width} to {size[0]}x{size[1]} "
                                                           "and the centre 64x64 cropped"]
