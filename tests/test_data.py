"""Data sets: loading, and torchvision's real download code against local servers."""

import io
import socket
import tarfile
import time
from pathlib import Path

import pytest
import torch

from explorer import data
from tests.local_server import closed_port, serve


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


@pytest.fixture
def mirror(monkeypatch):
    """Point downloads at a base URL, never through a proxy."""
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    return lambda url: monkeypatch.setenv(data.MIRROR_ENV, url)


def test_mnist_downloads_from_a_mirror_with_torchvisions_code(tmp_path, mirror):
    shared = data.shared_root()
    if shared is None:
        pytest.skip("no shared/data on this machine")
    with serve(shared / "mnist" / "MNIST" / "raw") as (url, requested):
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
    with serve(served) as (url, requested):
        mirror(url)
        with pytest.raises(data.DataUnavailable) as failure:
            data.load("cifar10", root=tmp_path / "root")
    message = str(failure.value)
    assert "/cifar-10-python.tar.gz" in requested
    assert "checksum" in message and "corrupted" in message and "'shapes'" in message
    assert "cifar10" in message and str(tmp_path / "root") in message
    assert failure.value.summary == ("CIFAR-10's training images are not on this server: their download arrived "
                                     "corrupted.")  # for a page's visitors: no path, no setting


@pytest.mark.parametrize("name", ["mnist", "cifar10"])
def test_unreachable_mirror_fails_fast(tmp_path, mirror, name):
    mirror(f"http://127.0.0.1:{closed_port()}")
    start = time.perf_counter()
    with pytest.raises(data.DataUnavailable, match="could not be reached") as failure:
        data.load(name, root=tmp_path)  # for mnist the shared files exist, but this root is not staged
    assert time.perf_counter() - start < 5
    assert data.MIRROR_ENV in str(failure.value) and "'shapes'" in str(failure.value)
    assert failure.value.summary.endswith("training images are not on this server: the server could not download "
                                          "them (it may be offline).")


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
    mirror(f"http://127.0.0.1:{closed_port()}")  # any download attempt would fail
    assert data.default_root() == tmp_path
    assert len(data.load("mnist", train=False)) == 10000
    assert (tmp_path / "MNIST" / "raw" / "t10k-images-idx3-ubyte.gz").is_file()


def test_staged_files_load_without_downloads_allowed(tmp_path, mirror):
    """Packed .gz files are enough: a server that may not download still reads them (a fresh checkout)."""
    if data.shared_root() is None:
        pytest.skip("no shared/data on this machine")
    data.stage_shared(tmp_path)
    mirror(f"http://127.0.0.1:{closed_port()}")  # any download attempt would fail
    assert len(data.load("mnist", train=False, root=tmp_path, download=False)) == 10000
    assert (tmp_path / "MNIST" / "raw" / "t10k-images-idx3-ubyte").is_file()  # unpacked beside the .gz


def test_a_data_folder_the_server_may_not_write_is_named_not_blamed_on_the_network(tmp_path):
    denied = PermissionError(13, "Permission denied", str(tmp_path / ".data"))
    assert data._failure(True, denied) == "unwritable"
    assert data._summary("mnist", False, True, denied) == (
        "MNIST's test images are not on this server: the server may not write into its data folder (whoever runs it: "
        "see the details).")
    assert f"the folder {tmp_path} cannot be written (set EXPLORER_DATA to a writable one)" in data._explain(
        "mnist", False, tmp_path, None, True, denied)
    assert data._failure(True, ConnectionRefusedError(111, "refused")) == "unreachable"  # an OSError too


def test_a_data_folder_the_server_cannot_write_is_unavailable_data_not_a_crash(tmp_path, monkeypatch):
    """Staging the shared files into a read-only checkout (or onto a file) had raised OSError past the pages'
    fallback to the built-in shapes."""
    shared = tmp_path / "shared"
    raw = shared / data._SHARED_FOLDERS["mnist"] / "MNIST" / "raw"
    raw.mkdir(parents=True)
    (raw / "t10k-images-idx3-ubyte.gz").write_bytes(b"x")
    monkeypatch.setattr(data, "shared_root", lambda: shared)
    (tmp_path / "a file").write_text("not a folder")
    monkeypatch.setenv(data.ROOT_ENV, str(tmp_path / "a file"))
    with pytest.raises(data.DataUnavailable) as caught:
        data.load("mnist", train=False, download=False)
    assert caught.value.summary.startswith("MNIST's test images are not on this server: ")
