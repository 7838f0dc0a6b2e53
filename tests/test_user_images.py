"""A user's own images as a data set: zip archives, folders and uploaded files."""

import io

import pytest
import torch

from explorer import data, user_images

def _png(colour: tuple[int, int, int], size: tuple[int, int] = (40, 30), fmt: str = "PNG") -> bytes:
    """A solid-colour image file of size (width, height)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, fmt)
    return buffer.getvalue()


def _zip(files: dict[str, bytes]) -> bytes:
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


GOOD = {"b/red.png": _png((255, 0, 0)), "a.jpg": _png((200, 200, 200), (50, 80), "JPEG"),
        "notes.txt": b"not an image", "__MACOSX/._a.jpg": b"\x00\x05\x16\x07", ".DS_Store": b"\x00"}


@pytest.mark.parametrize("channels", [1, 3])
def test_an_archive_becomes_a_data_set_and_names_what_it_skipped(channels):
    found, notes = user_images.from_archive(_zip(GOOD), "mine.zip", 28, channels)
    assert found.images.shape == (2, channels, 28, 28) and found.images.dtype == torch.uint8
    assert found.labels.tolist() == [0, 0] and found.classes == user_images.CLASSES and found.name == "mine.zip"
    assert notes == ["skipped notes.txt: the file is not an image in an allowed format (PNG, JPEG, WEBP, BMP, GIF)"]
    grey_jpeg, red = found.images[0].float(), found.images[1].float()  # name order: a.jpg, b/red.png
    assert (grey_jpeg - 200).abs().max() <= 2  # JPEG rounding
    expected_red = [76.0] if channels == 1 else [255.0, 0.0, 0.0]  # luma 0.299 * 255; or RGB kept
    assert red.amin((1, 2)).tolist() == expected_red == red.amax((1, 2)).tolist()


def test_grey_images_are_repeated_to_rgb_and_the_centre_is_cropped():
    from PIL import Image

    stripe = Image.new("L", (60, 20), 0)
    stripe.paste(255, (20, 0, 40, 20))  # the middle third white: the centre crop of a wide image
    buffer = io.BytesIO()
    stripe.save(buffer, "PNG")
    found, _ = user_images.from_archive(_zip({"stripe.png": buffer.getvalue()}), "s.zip", 28, 3)
    centre = found.images[0, :, :, 6:22]  # 20 px of 60 scale to 28 of 84; the crop keeps 28 of the middle
    assert found.images.shape == (1, 3, 28, 28) and centre.min() == 255
    assert torch.equal(found.images[0, 0], found.images[0, 2])


def test_an_empty_or_unusable_archive_is_unavailable():
    with pytest.raises(data.DataUnavailable, match="no usable image"):
        user_images.from_archive(_zip({}), "empty.zip", 28, 1)
    with pytest.raises(data.DataUnavailable, match="no usable image.*notes.txt"):
        user_images.from_archive(_zip({"notes.txt": b"hello"}), "text.zip", 28, 1)
    with pytest.raises(data.DataUnavailable, match="not a zip archive"):
        user_images.from_archive(b"plain text", "fake.zip", 28, 1)


def test_oversize_entries_and_zip_bombs_are_refused(monkeypatch):
    big = bytes(user_images.MAX_FILE_BYTES + 2**20)  # 21 MB of zeros: a few KB once deflated
    found, notes = user_images.from_archive(_zip({"big.png": big, "ok.png": _png((0, 0, 255))}), "z.zip", 28, 1)
    assert len(found) == 1 and notes == ["skipped big.png: it is 21.0 MB; the limit is 20 MB"]
    monkeypatch.setattr(user_images, "MAX_ARCHIVE_BYTES", 10_000)
    with pytest.raises(data.DataUnavailable, match="would unpack to"):
        user_images.from_archive(_zip({"ok.png": _png((0, 0, 255)), "zeros.bin": bytes(20_000)}), "bomb.zip", 28, 1)


def test_max_images_keeps_the_first_and_says_so():
    files = {f"{i}.png": _png((i * 40, 0, 0)) for i in range(4)}
    found, notes = user_images.from_archive(_zip(files), "four.zip", 16, 1, max_images=3)
    assert len(found) == 3 and notes == ["only the first 3 images are used: 1 more files were not read"]


def test_a_folder_becomes_a_data_set(tmp_path):
    for name, content in GOOD.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(content)
    from_folder, folder_notes = user_images.from_folder(tmp_path, 28, 1)
    from_zip, zip_notes = user_images.from_archive(_zip(GOOD), "mine.zip", 28, 1)
    assert torch.equal(from_folder.images, from_zip.images) and folder_notes == zip_notes
    assert from_folder.name == tmp_path.name
    (tmp_path / "empty").mkdir()
    with pytest.raises(data.DataUnavailable, match="no usable image"):
        user_images.from_folder(tmp_path / "empty", 28, 1)
    with pytest.raises(data.DataUnavailable, match="not a folder"):
        user_images.from_folder(tmp_path / "missing", 28, 1)


def test_from_files_reads_an_uploaded_folder():
    import io as _io

    from PIL import Image as _Image

    def png(value: int) -> bytes:
        buffer = _io.BytesIO()
        _Image.new("L", (10, 12), value).save(buffer, format="PNG")
        return buffer.getvalue()

    found, notes = user_images.from_files([("b.png", png(200)), ("a.png", png(100)), ("read me.txt", b"hello"),
                                    (".hidden.png", png(5))], "my folder", 8, 1)
    assert found.images.shape == (2, 1, 8, 8) and found.images[0].float().mean() == pytest.approx(100, abs=1)
    assert notes == [n for n in notes if n.startswith("skipped read me.txt")] and len(notes) == 1
    with pytest.raises(data.DataUnavailable, match="no usable image"):
        user_images.from_files([("x.txt", b"text")], "empty", 8, 1)


def test_a_long_thin_picture_in_a_folder_is_cut_before_it_is_resized(monkeypatch):
    import torch.nn.functional as F

    line = torch.linspace(0, 1, 2048)[None, None].expand(3, 1, 2048).clone()
    sizes = []
    resize = F.interpolate
    monkeypatch.setattr(F, "interpolate", lambda x, size, **kw: sizes.append(size) or resize(x, size=size, **kw))
    fitted = user_images._fit(line, 224, 3)
    assert fitted.shape == (3, 224, 224) and max(sizes[0]) <= 8 * 224  # a few crops, not 224 x 458,752
    middle = fitted[0, 0].float() / 255
    assert abs(float(middle.mean()) - 0.5) < 0.01  # the centre of the ramp, not its start


def test_a_set_decodes_at_most_its_pixel_budget_read_from_the_headers(monkeypatch):
    """Thousands of small files that each declare 16 megapixels pass every byte cap: the headers' sum stops them."""
    from explorer.images import load_bytes

    monkeypatch.setattr(user_images, "MAX_SET_PIXELS", 2 * 40 * 30 + 10)
    decoded = []
    monkeypatch.setattr(user_images, "load_bytes", lambda raw, name: decoded.append(raw) or load_bytes(raw, name))
    archive = _zip({f"{k}.png": _png((k, 0, 0)) for k in range(5)})
    found, notes = user_images.from_archive(archive, "a.zip", 16, 1)
    assert len(found) == 2 and len(decoded) == 2
    assert notes == ["only the first 2 images are used: with the next they add up to more than 0 megapixels: "
                     "3 more files were not read"]
