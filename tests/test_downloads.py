"""One file downloaded from a local server: streamed with progress, its sha256 prefix checked."""

import hashlib
import os
import threading
import time
from pathlib import Path

import pytest

from explorer import downloads
from tests.local_server import closed_port, serve


def _hashed_file(directory: Path, payload: bytes, stem: str = "weights") -> Path:
    """``payload`` saved under a torch.hub-style name carrying its own sha256 prefix."""
    directory.mkdir(exist_ok=True)
    path = directory / f"{stem}-{hashlib.sha256(payload).hexdigest()[:8]}.pth"
    path.write_bytes(payload)
    return path


def test_download_streams_checks_and_reports_progress(tmp_path):
    path = _hashed_file(tmp_path / "served", os.urandom(3 * 2**20 + 17))
    seen: list[tuple[int, int]] = []
    with serve(path.parent) as (base, requests):
        got = downloads.download(base + path.name, tmp_path / "cache", lambda d, t: seen.append((d, t)), chunk=1 << 16)
    assert requests == ["/" + path.name]
    assert got == tmp_path / "cache" / path.name and got.read_bytes() == path.read_bytes()
    assert seen[-1] == (path.stat().st_size, path.stat().st_size) and len(seen) > 10
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_a_file_whose_hash_does_not_match_its_name_is_refused_and_removed(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    (served / "weights-0123abcd.pth").write_bytes(b"not what the name promises" * 100)
    with serve(served) as (base, _), pytest.raises(downloads.DownloadError, match="corrupted"):
        downloads.download(base + "weights-0123abcd.pth", tmp_path / "cache")
    assert not any((tmp_path / "cache").iterdir())  # no partial file left behind


def test_a_missing_file_or_an_unreachable_server_fails_fast(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    with serve(served) as (base, _), pytest.raises(downloads.DownloadError, match="(?i)not found"):
        downloads.download(base + "absent-01234567.pth", tmp_path / "cache")
    start = time.perf_counter()
    with pytest.raises(downloads.DownloadError, match="refused"):
        downloads.download(f"http://127.0.0.1:{closed_port()}/weights.pth", tmp_path / "cache")
    assert time.perf_counter() - start < 5 and not any((tmp_path / "cache").iterdir())


def test_a_folder_that_cannot_be_made_or_written_is_named_as_such_not_as_a_network_fault(tmp_path, monkeypatch):
    """A host without a writable home folder: the weights' folder (torch.hub's, under it) cannot be made."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(downloads.FolderUnwritable, match="a-file/weights cannot be made"):
        downloads.download("http://127.0.0.1:9/weights.pth", blocker / "weights")
    from explorer import models

    monkeypatch.setenv("EXPLORER_WEIGHTS_DIR", str(blocker / "weights"))
    with pytest.raises(models.WeightsUnavailable) as failed:
        models.download_weights("alexnet")
    assert failed.value.summary == ("the trained weights of AlexNet (ImageNet) cannot be saved on this server (its "
                                    "weights folder is not writable: whoever runs it can set another)")
    assert "EXPLORER_WEIGHTS_DIR" in str(failed.value)


def test_visitors_pressing_download_at_once_share_one_download(tmp_path):
    path = _hashed_file(tmp_path / "served", os.urandom(2**20))
    started, got = threading.Event(), []

    def slow(done: int, total: int) -> None:  # the first download, held until the second caller waits
        started.set()
        time.sleep(0.02)

    with serve(path.parent) as (base, requests):
        first = threading.Thread(target=lambda: got.append(
            downloads.download(base + path.name, tmp_path / "cache", slow, chunk=1 << 14)))
        first.start()
        started.wait(10)
        seen: list[tuple[int, int]] = []
        got.append(downloads.download(base + path.name, tmp_path / "cache", lambda *done: seen.append(done)))
        first.join(30)
    assert requests == ["/" + path.name]  # fetched once
    assert seen and all(total == 2**20 for _, total in seen)  # the waiter follows the first download
    assert [done for done, _ in seen] == sorted(done for done, _ in seen) and 0 < seen[0][0] < 2**20
    assert got == [tmp_path / "cache" / path.name] * 2 and got[0].read_bytes() == path.read_bytes()
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [path.name]  # no partial file left
