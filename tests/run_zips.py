"""A run's Download as the tests change it: its members, a zip of members, a member replaced or left out."""

import io
import zipfile

TINY = {"model": "lenet5", "data": "shapes", "train_images": 256, "test_images": 64, "epochs": 2,
        "batch_size": 64, "snapshot_every": 1, "seed": 0}


def members(archive: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(archive)) as opened:
        return {name: opened.read(name) for name in opened.namelist()}


def zipped(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def changed(archive: bytes, run_id: str, files: dict[str, bytes | None]) -> bytes:
    """The zip with some of the run's files replaced (None: left out)."""
    inside = members(archive)
    for name, raw in files.items():
        inside.pop(f"{run_id}/{name}", None)
        if raw is not None:
            inside[f"{run_id}/{name}"] = raw
    return zipped(inside)
