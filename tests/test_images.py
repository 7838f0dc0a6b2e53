"""Safe loading of uploads, mode normalisation, canvas conversion and the sample gallery."""

import io
import zlib
import struct

import numpy as np
import pytest
import torch
from PIL import Image

from explorer import images


def _encode(image: Image.Image, fmt: str = "PNG", **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **kwargs)
    return buffer.getvalue()


def _png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG that claims a huge size: decoding it would allocate width*height bytes."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * (width + 1) * 16)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def test_rgb_png_becomes_chw_float_in_unit_range():
    array = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    loaded = images.load_bytes(_encode(Image.fromarray(array)))
    assert loaded.tensor.shape == (3, 5, 7) and loaded.tensor.dtype == torch.float32
    assert torch.allclose(loaded.tensor, torch.from_numpy(array).permute(2, 0, 1).float() / 255)
    assert np.array_equal(images.to_display(loaded.tensor), array)


@pytest.mark.parametrize("mode,channels", [("L", 1), ("P", 3), ("RGBA", 3), ("LA", 1), ("CMYK", 3), ("1", 1)])
def test_modes_are_normalised(mode, channels):
    image = Image.new("RGB", (6, 4), (200, 30, 60)).convert(mode)
    fmt = "JPEG" if mode == "CMYK" else "PNG"
    tensor = images.load_bytes(_encode(image, fmt)).tensor
    assert tensor.shape == (channels, 4, 6)
    assert 0 <= tensor.min() and tensor.max() <= 1


def test_sixteen_bit_grey_keeps_its_range():
    array = np.array([[0, 65535], [32768, 1000]], dtype=np.uint16)
    tensor = images.load_bytes(_encode(Image.fromarray(array))).tensor
    assert tensor.shape == (1, 2, 2)
    assert tensor[0, 0, 1] == 1.0 and abs(tensor[0, 1, 0].item() - 0.5) < 0.01


def test_transparent_pixels_are_composited_on_white():
    image = Image.new("RGBA", (2, 2), (0, 0, 0, 0))
    assert torch.all(images.load_bytes(_encode(image)).tensor == 1.0)


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P"])
def test_a_light_drawing_on_transparency_is_laid_on_black_and_a_dark_one_on_white(mode):
    """A white digit on a transparent ground (as a gallery shows it over its dark ground) stays a digit."""
    for ink, ground in ((255, 0.0), (0, 1.0)):
        drawing = Image.new("LA", (12, 12), (0, 0))
        drawing.paste((ink, 255), (5, 2, 8, 10))
        image = drawing.convert(mode) if mode != "P" else drawing.convert("RGBA").quantize(3)
        if mode == "P":  # a palette with one colour marked transparent, as GIFs and small PNGs keep it
            image.info["transparency"] = image.getpixel((0, 0))
        tensor = images.load_bytes(_encode(image)).tensor
        assert float(tensor[0, 0, 0]) == ground and float(tensor[0, 5, 6]) == ink / 255, (mode, ink)


def test_exif_orientation_is_applied():
    image = Image.new("RGB", (40, 20), (255, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    tensor = images.load_bytes(_encode(image, "JPEG", exif=exif)).tensor
    assert tensor.shape[-2:] == (40, 20)


def test_animated_gif_uses_the_first_frame():
    frames = [Image.new("L", (8, 8), v) for v in (10, 200)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:])
    loaded = images.load_bytes(buffer.getvalue())
    assert loaded.tensor.shape[-2:] == (8, 8)
    assert abs(loaded.tensor.mean().item() - 10 / 255) < 0.02
    assert any("first frame" in note for note in loaded.notes)


def test_a_uniform_image_is_read_with_a_note_that_it_has_no_edges():
    assert images.load_bytes(_encode(Image.new("L", (9, 9), 7))).notes == (
        "every pixel has the same value: the image is blank, with no edge or shape to find",)
    clear = images.load_bytes(_encode(Image.new("RGBA", (9, 9), (255, 0, 0, 0))))  # transparent: all white
    assert bool((clear.tensor == 1).all()) and any("blank" in n for n in clear.notes)
    two_values = Image.new("L", (2, 1), 7)
    two_values.putpixel((1, 0), 8)
    assert images.load_bytes(_encode(two_values)).notes == ()
    for one_colour in (Image.new("RGB", (1, 1), (255, 0, 0)), Image.new("RGB", (5, 4), (10, 200, 30))):
        assert any("blank" in n for n in images.load_bytes(_encode(one_colour)).notes)  # its channels differ


def test_large_images_are_downscaled_with_a_note():
    loaded = images.load_bytes(_encode(Image.new("L", (3000, 1000), 128)))
    assert loaded.tensor.shape == (1, 683, 2048)
    assert "downscaled from 3000x1000" in loaded.notes[0]


def test_pixel_bomb_is_refused_from_the_header():
    data = _png_header_only(10_000, 10_000)
    assert len(data) < 20_000
    with pytest.raises(images.ImageError, match="megapixels"):
        images.load_bytes(data, "bomb.png")


@pytest.mark.parametrize("data,match", [
    (b"", "empty"),
    (b"hello, this is text", "not an image"),
    (b"%PDF-1.4 not an image", "not an image"),
])
def test_non_images_are_refused(data, match):
    with pytest.raises(images.ImageError, match=match):
        images.load_bytes(data, "file.png")


def test_formats_outside_the_allow_list_are_refused():
    with pytest.raises(images.ImageError, match="allowed format"):
        images.load_bytes(_encode(Image.new("RGB", (4, 4)), "TIFF"), "scan.tiff")


def test_truncated_and_corrupt_files_are_refused():
    data = _encode(Image.fromarray(np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)))
    with pytest.raises(images.ImageError, match="damaged or truncated"):
        images.load_bytes(data[: len(data) // 2], "cut.png")
    corrupt = data[:60] + bytes(200) + data[260:]
    with pytest.raises(images.ImageError):
        images.load_bytes(corrupt, "corrupt.png")


def test_oversized_files_are_refused_before_decoding():
    with pytest.raises(images.ImageError, match="limit is 20 MB"):
        images.load_bytes(b"\x00" * (images.MAX_BYTES + 1), "huge.png")


def test_canvas_rgba_png_becomes_a_grey_image_with_dark_ink():
    """The drawing canvas sends an RGBA PNG: it goes through the same safe decoder."""
    rgba = np.zeros((10, 12, 4), dtype=np.uint8)  # transparent everywhere...
    rgba[4:6, 2:9] = (0, 0, 0, 255)  # ...but a black stroke
    tensor = images.load_bytes(_encode(Image.fromarray(rgba, "RGBA")), "your drawing").tensor
    assert tensor.shape == (1, 10, 12)
    assert tensor[0, 5, 5] == 0 and tensor[0, 0, 0] == 1


def test_grey_conversion_uses_luma_weights():
    rgb = torch.tensor([1.0, 0.0, 0.0]).reshape(3, 1, 1)
    assert images.to_grey(rgb).item() == pytest.approx(0.299)


def test_every_sample_loads():
    samples = images.samples()
    assert {"edges", "checkerboard", "circles", "text", "digit", "tshirt", "triangle"} <= {s.key for s in samples}
    assert any(s.kind == "photo" for s in samples)
    for sample in samples:
        tensor = images.load_sample(sample.key)
        assert tensor.shape[0] in (1, 3) and 0 <= tensor.min() <= tensor.max() <= 1
    with pytest.raises(images.ImageError):
        images.load_sample("missing")


def test_resize_keeps_aspect_and_never_upscales():
    image = torch.rand(3, 100, 50)
    assert images.resize(image, 40).shape == (3, 40, 20)
    assert images.resize(image, 400) is image


@pytest.mark.parametrize("name", ["edges", "checkerboard", "circles", "digit", "tshirt", "triangle"])
def test_the_generated_samples_are_what_their_script_makes(name):
    """assets/samples holds the script's output, pixel for pixel (the text sample depends on the font build)."""
    made = _make_samples().__dict__[f"make_{name}"]()
    with Image.open(images.SAMPLES_DIR / f"{name}.png") as stored:
        assert np.array_equal(np.asarray(made), np.asarray(stored))


def _make_samples():
    """scripts/make_samples.py as a module."""
    import importlib.util

    path = images.SAMPLES_DIR.parent.parent / "scripts" / "make_samples.py"
    spec = importlib.util.spec_from_file_location("make_samples", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
