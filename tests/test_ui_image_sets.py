"""The data-set picker's count (explorer.ui.image_sets): what one search may cost a shared server."""

import pytest
from streamlit.testing.v1 import AppTest

from tests.apptest import TIMEOUT


def _page(model: str, count: str) -> None:
    import streamlit as st

    from explorer import models
    from explorer.ui import image_sets

    st.session_state.ta_count = count
    st.markdown(f"count {image_sets._count(models.spec(model))}")


@pytest.mark.parametrize("model,count,searched,capped", [
    ("alexnet", "10000", 500, True), ("vgg16", "auto", 200, False), ("alexnet", "500", 500, False),
    ("lenet5", "10000", 10_000, False), ("lenet5", "auto", 10_000, False)])
def test_an_imagenet_size_network_searches_at_most_500_images_on_a_cpu(model, count, searched, capped):
    """A shared link with n=10000 on VGG16 had a class's server compute for hours."""
    at = AppTest.from_function(_page, args=(model, count), default_timeout=TIMEOUT).run()
    assert at.markdown[0].value == f"count {searched}"
    assert bool(at.caption) == capped
    if capped:
        assert at.caption[0].value.startswith("10,000 images are too many for a 224 px network on this server's CPU")


def _png(shade: int) -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("L", (8, 8), shade).save(out, "PNG")
    return out.getvalue()


def test_a_set_of_your_own_is_cached_by_how_many_images_it_read():
    """Two visitors uploading one zip with "How many" at 500 and at 100 had shared one top-9 result: the second
    page's indices ran past its 100 images (IndexError), or a page said 500 and showed 100."""
    import hashlib
    import io
    import zipfile

    from explorer import models
    from explorer.ui import image_sets

    spec = models.spec("lenet5")
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w") as archive:
        for i in range(12):
            archive.writestr(f"{i:02}.png", _png(20 * i))
    raw = raw.getvalue()
    digest = hashlib.sha256(raw).hexdigest()
    few, _ = image_sets._unzip(digest, raw, "mine.zip", spec.name, 5, spec)
    many, _ = image_sets._unzip(digest, raw, "mine.zip", spec.name, 12, spec)
    assert (len(few.images), len(many.images)) == (5, 12) and few.data_id != many.data_id
    pairs = [(f"{i:02}.png", _png(20 * i)) for i in range(12)]
    few, _ = image_sets._read_folder(image_sets.folder_digest(pairs), pairs, spec.name, 5, spec)
    many, _ = image_sets._read_folder(image_sets.folder_digest(pairs), pairs, spec.name, 12, spec)
    assert (len(few.images), len(many.images)) == (5, 12) and few.data_id != many.data_id


def test_a_folder_of_the_same_pictures_under_other_names_reads_out_its_own_names():
    """The folder's digest had been of its contents alone: a classmate's folder of the same bytes was told
    "skipped fa/alice_medical_record.png", the first uploader's name."""
    from explorer import models
    from explorer.ui import image_sets

    spec = models.spec("lenet5")
    mine = [("fa/photo.png", _png(200)), ("fa/alice_medical_record.png", b"not an image")]
    theirs = [("fb/p1.png", _png(200)), ("fb/z1.png", b"not an image")]
    assert image_sets.folder_digest(mine) != image_sets.folder_digest(theirs)
    _, notes = image_sets._read_folder(image_sets.folder_digest(mine), mine, spec.name, 10, spec)
    assert any("alice_medical_record" in note for note in notes)
    _, notes = image_sets._read_folder(image_sets.folder_digest(theirs), theirs, spec.name, 10, spec)
    assert notes and not any("fa/" in note for note in notes) and any("fb/z1.png" in note for note in notes)


def test_tile_numbers_stay_short_in_a_narrow_grid():
    from explorer.ui import image_sets

    assert image_sets.tile_numbers([7.774, 7.5, 7.224]) == ["7.774", "7.500", "7.224"]
    assert image_sets.tile_numbers([2.833e-8, 1e-9]) == ["2.83e-08", "1e-09"]
    assert image_sets.tile_numbers([0.0, 0.0]) == ["0.000", "0.000"]


@pytest.mark.parametrize(("rule", "lowest", "values", "largest", "said"), [
    ("deconvnet", False, [3.0, 2.0], [0.5, 0.4], "Grey is 0, lighter above it"),
    ("deconvnet", True, [0.0, 0.0], [0.0, 0.0], "Nothing comes back: read after a ReLU, a unit sends -1"),
    ("guided", True, [0.001, 0.0], [0.0, 0.0], "Nothing comes back: read after a ReLU"),
    ("gradient", True, [0.001, 0.0], [0.2, 0.0], "1 tile stays grey: its unit is 0, and a ReLU passes nothing back"),
    ("deconvnet", False, [0.0, 0.0], [0.2, 0.1], "These units are all 0, yet drawn"),
    ("deconvnet", False, [0.0, 1.0], [0.2, 0.1], "1 of these units is 0, yet drawn"),
    ("guided", False, [0.0, 0.0], [0.0, 0.0], "2 tiles stay grey: their units are 0"),
    ("guided", False, [1.0, 2.0], [0.0, 0.3], "1 tile stays grey: nothing comes back from that unit"),
])
def test_the_projections_caption_says_why_a_tile_is_blank_or_a_silent_unit_drawn(rule, lowest, values, largest, said):
    from explorer.ui import image_sets

    words = image_sets.projection_words(rule, lowest, values, largest)
    assert said in words and words.startswith(image_sets.PROJECTED_ABOUT[rule])
    assert ("goes back from -1" in words) == lowest
    assert ("Grey is 0" in words) == any(largest)
    assert not image_sets.projection_words(rule, lowest, values, largest, explained=False).startswith(
        image_sets.PROJECTED_ABOUT[rule])
