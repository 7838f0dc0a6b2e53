"""Data sets: the procedural shapes, and torchvision's real download code against local servers."""

import http.server
import io
import socket
import tarfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch

from explorer import data

LINES = [data.SHAPE_CLASSES.index(name) for name in ("line —", "line |", "line /", "line \\")]
CLOSED = [data.SHAPE_CLASSES.index(name) for name in ("circle", "square", "triangle")]
CROSS = data.SHAPE_CLASSES.index("cross")


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
    assert len(grey) == 1600 and grey.classes == data.SHAPE_CLASSES and len(data.SHAPE_CLASSES) == 8
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
        assert at_centroid[grey.labels == k].float().mean() < 0.05, data.SHAPE_CLASSES[k]  # hollow
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


def test_load_shapes_needs_no_files(tmp_path, monkeypatch):
    monkeypatch.setenv(data.ROOT_ENV, str(tmp_path / "nowhere"))
    train, test = data.load("shapes"), data.load("shapes", train=False)
    assert train.images.shape == (12000, 1, 28, 28) and test.images.shape == (2000, 1, 28, 28)
    assert not torch.equal(train.images[:2000], test.images)  # different seeds
    assert data.load("shapes") is train
    assert not (tmp_path / "nowhere").exists()


def test_unknown_name_lists_the_names():
    with pytest.raises(ValueError, match="mnist, fashion-mnist, cifar10, shapes"):
        data.load("imagenet")


def test_no_download_and_no_files_is_unavailable(tmp_path):
    with pytest.raises(data.DataUnavailable, match="shapes") as info:
        data.load("mnist", root=tmp_path, download=False)
    assert str(tmp_path) in str(info.value) and "downloading is switched off" in str(info.value)


@contextmanager
def _serve(folder: Path) -> Iterator[tuple[str, list[str]]]:
    """A local HTTP server for folder's files: (base URL, list of requested paths)."""
    requested: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(folder), **kwargs)

        def do_GET(self):
            requested.append(self.path)
            super().do_GET()

        def log_message(self, *args):
            pass

    class Server(http.server.ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request, client_address):
            pass  # torchvision's redirect probe hangs up before reading the body

    server = Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", requested
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def mirror(monkeypatch):
    """Point downloads at a base URL, never through a proxy."""
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    return lambda url: monkeypatch.setenv(data.MIRROR_ENV, url)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_mnist_downloads_from_a_mirror_with_torchvisions_code(tmp_path, mirror):
    shared = data.shared_root()
    if shared is None:
        pytest.skip("no shared/data on this machine")
    with _serve(shared / "mnist" / "MNIST" / "raw") as (url, requested):
        mirror(url)
        test = data.load("mnist", train=False, root=tmp_path)  # an explicit root: nothing is staged
    assert test.images.shape == (10000, 1, 28, 28) and test.images.dtype == torch.uint8
    assert "/t10k-images-idx3-ubyte.gz" in requested and "/t10k-labels-idx1-ubyte.gz" in requested
    assert (tmp_path / "MNIST" / "raw" / "t10k-images-idx3-ubyte").is_file()


def test_cifar10_with_a_bad_checksum_is_unavailable(tmp_path, mirror):
    served = tmp_path / "served"
    served.mkdir()
    with tarfile.open(served / "cifar-10-python.tar.gz", "w:gz") as archive:
        info = tarfile.TarInfo("cifar-10-batches-py/readme.html")
        info.size = 5
        archive.addfile(info, io.BytesIO(b"bogus"))
    with _serve(served) as (url, requested):
        mirror(url)
        with pytest.raises(data.DataUnavailable) as failure:
            data.load("cifar10", root=tmp_path / "root")
    message = str(failure.value)
    assert "/cifar-10-python.tar.gz" in requested
    assert "checksum" in message and "corrupted" in message and "'shapes'" in message
    assert "cifar10" in message and str(tmp_path / "root") in message


@pytest.mark.parametrize("name", ["mnist", "cifar10"])
def test_unreachable_mirror_fails_fast(tmp_path, mirror, name):
    mirror(f"http://127.0.0.1:{_closed_port()}")
    start = time.perf_counter()
    with pytest.raises(data.DataUnavailable, match="could not be reached") as failure:
        data.load(name, root=tmp_path)  # for mnist the shared files exist, but this root is not staged
    assert time.perf_counter() - start < 5
    assert data.MIRROR_ENV in str(failure.value) and "'shapes'" in str(failure.value)


def test_a_stalled_mirror_times_out(tmp_path, mirror, monkeypatch):
    monkeypatch.setattr(data, "TIMEOUT_S", 0.5)
    with socket.socket() as silent:  # the kernel accepts connections; nobody ever answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        mirror(f"http://127.0.0.1:{silent.getsockname()[1]}/")
        start = time.perf_counter()
        with pytest.raises(data.DataUnavailable, match="could not be reached"):
            data.load("cifar10", root=tmp_path)
    assert time.perf_counter() - start < 5
    assert socket.getdefaulttimeout() is None  # the process-wide default is restored


# ----------------------------------------------------------------------------------- shared files


@pytest.fixture(scope="module")
def staged(tmp_path_factory) -> Path:
    """A root holding copies of the shared .gz files, as on a dev machine (never the repo's .data)."""
    if data.shared_root() is None:
        pytest.skip("no shared/data on this machine")
    root = tmp_path_factory.mktemp("data")
    assert data.stage_shared(root) == ["mnist", "fashion-mnist"]
    return root


@pytest.mark.parametrize(
    "name,first_labels",
    [("mnist", [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]), ("fashion-mnist", [9, 0, 0, 3, 0, 2, 7, 2, 5, 5])],
)
def test_shared_files_load_offline_and_are_cached(staged, name, first_labels):
    train, test = data.load(name, root=staged), data.load(name, train=False, root=staged)
    assert train.images.shape == (60000, 1, 28, 28) and test.images.shape == (10000, 1, 28, 28)
    assert train.labels.tolist()[:10] == first_labels
    assert len(train.classes) == 10 and int(train.labels.min()) == 0 and int(train.labels.max()) == 9
    start = time.perf_counter()
    assert data.load(name, root=staged) is train
    assert time.perf_counter() - start < 0.01


def test_staging_copies_once_and_never_into_shared(staged):
    assert data.stage_shared(staged) == []
    assert (staged / "FashionMNIST" / "raw" / "train-images-idx3-ubyte.gz").is_file()
    with pytest.raises(ValueError, match="read-only"):
        data.stage_shared(data.shared_root() / "mnist")


def test_default_root_is_staged_so_no_network_is_needed(tmp_path, monkeypatch, mirror):
    if data.shared_root() is None:
        pytest.skip("no shared/data on this machine")
    monkeypatch.setenv(data.ROOT_ENV, str(tmp_path))
    mirror(f"http://127.0.0.1:{_closed_port()}")  # any download attempt would fail
    assert data.default_root() == tmp_path
    assert len(data.load("mnist", train=False)) == 10000
    assert (tmp_path / "MNIST" / "raw" / "t10k-images-idx3-ubyte.gz").is_file()


# ----------------------------------------------------------------------------------- your images


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
    found, notes = data.from_archive(_zip(GOOD), "mine.zip", 28, channels)
    assert found.images.shape == (2, channels, 28, 28) and found.images.dtype == torch.uint8
    assert found.labels.tolist() == [0, 0] and found.classes == data.USER_CLASSES and found.name == "mine.zip"
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
    found, _ = data.from_archive(_zip({"stripe.png": buffer.getvalue()}), "s.zip", 28, 3)
    centre = found.images[0, :, :, 6:22]  # 20 px of 60 scale to 28 of 84; the crop keeps 28 of the middle
    assert found.images.shape == (1, 3, 28, 28) and centre.min() == 255
    assert torch.equal(found.images[0, 0], found.images[0, 2])


def test_an_empty_or_unusable_archive_is_unavailable():
    with pytest.raises(data.DataUnavailable, match="no usable image"):
        data.from_archive(_zip({}), "empty.zip", 28, 1)
    with pytest.raises(data.DataUnavailable, match="no usable image.*notes.txt"):
        data.from_archive(_zip({"notes.txt": b"hello"}), "text.zip", 28, 1)
    with pytest.raises(data.DataUnavailable, match="not a zip archive"):
        data.from_archive(b"plain text", "fake.zip", 28, 1)


def test_oversize_entries_and_zip_bombs_are_refused(monkeypatch):
    big = bytes(data.MAX_FILE_BYTES + 2**20)  # 21 MB of zeros: a few KB once deflated
    found, notes = data.from_archive(_zip({"big.png": big, "ok.png": _png((0, 0, 255))}), "z.zip", 28, 1)
    assert len(found) == 1 and notes == ["skipped big.png: it is 21.0 MB; the limit is 20 MB"]
    monkeypatch.setattr(data, "MAX_ARCHIVE_BYTES", 10_000)
    with pytest.raises(data.DataUnavailable, match="would unpack to"):
        data.from_archive(_zip({"ok.png": _png((0, 0, 255)), "zeros.bin": bytes(20_000)}), "bomb.zip", 28, 1)


def test_max_images_keeps_the_first_and_says_so():
    files = {f"{i}.png": _png((i * 40, 0, 0)) for i in range(4)}
    found, notes = data.from_archive(_zip(files), "four.zip", 16, 1, max_images=3)
    assert len(found) == 3 and notes == ["only the first 3 images are used: 1 more files were not read"]


def test_a_folder_becomes_a_data_set(tmp_path):
    for name, content in GOOD.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(content)
    from_folder, folder_notes = data.from_folder(tmp_path, 28, 1)
    from_zip, zip_notes = data.from_archive(_zip(GOOD), "mine.zip", 28, 1)
    assert torch.equal(from_folder.images, from_zip.images) and folder_notes == zip_notes
    assert from_folder.name == tmp_path.name
    (tmp_path / "empty").mkdir()
    with pytest.raises(data.DataUnavailable, match="no usable image"):
        data.from_folder(tmp_path / "empty", 28, 1)
    with pytest.raises(data.DataUnavailable, match="not a folder"):
        data.from_folder(tmp_path / "missing", 28, 1)


def test_from_files_reads_an_uploaded_folder():
    import io as _io

    from PIL import Image as _Image

    def png(value: int) -> bytes:
        buffer = _io.BytesIO()
        _Image.new("L", (10, 12), value).save(buffer, format="PNG")
        return buffer.getvalue()

    found, notes = data.from_files([("b.png", png(200)), ("a.png", png(100)), ("read me.txt", b"hello"),
                                    (".hidden.png", png(5))], "my folder", 8, 1)
    assert found.images.shape == (2, 1, 8, 8) and found.images[0].float().mean() == pytest.approx(100, abs=1)
    assert notes == [n for n in notes if n.startswith("skipped read me.txt")] and len(notes) == 1
    with pytest.raises(data.DataUnavailable, match="no usable image"):
        data.from_files([("x.txt", b"text")], "empty", 8, 1)
