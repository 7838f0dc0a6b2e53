"""Top-k activations against a brute-force computation, the patches, the disk cache."""

import copy
import os

import pytest
import torch

from explorer import data, extraction, inspect, models, receptive_field
from explorer import top_activations as top

SIZE = (28, 28)


@pytest.fixture(scope="module")
def model() -> torch.nn.Module:
    torch.manual_seed(1)  # module fixtures run before conftest's per-test seed
    return models.build("lenet5")  # random weights: nothing in the test depends on training


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    return data.shapes(200, size=28, channels=1, seed=0).images  # (200, 1, 28, 28) uint8


def _brute(model: torch.nn.Module, layer: str, images: torch.Tensor, k: int):
    """Every image at once, then per channel a plain sort by (-activation, image index).

    Positions: the first maximum in row-major order, found without ``max``/``argmax``.
    """
    with torch.no_grad():
        maps = extraction.extractor(model, [layer])(images.float() / 255)[layer]  # (N, C, H', W')
    n, c, _, width = maps.shape
    flat = maps.flatten(2)  # (N, C, P)
    peak = flat.amax(2)  # (N, C)
    cells = torch.arange(flat.shape[2])
    first = torch.where(flat == peak[..., None], cells, flat.shape[2]).amin(2)  # (N, C)
    indices = torch.tensor([sorted(range(n), key=lambda i: (-peak[i, ch].item(), i))[:k] for ch in range(c)])
    values = peak.T.gather(1, indices)
    where = first.T.gather(1, indices)
    return values, indices, torch.stack([where // width, where % width], -1), peak


@pytest.mark.parametrize("layer,batch_size", [("conv2", 64), ("relu1", 37), ("conv2", 1000)])
def test_top_k_equals_brute_force(model, images, layer, batch_size):
    values, indices, positions, _ = _brute(model, layer, images, 9)
    calls = []
    result = top.compute(model, layer, images, k=9, batch_size=batch_size, device="cpu",
                         progress=lambda done, total: calls.append((done, total)))
    assert result.values.shape == (values.shape[0], 9) and result.values.dtype == torch.float32
    assert torch.equal(result.indices, indices)
    assert torch.equal(result.positions, positions)
    torch.testing.assert_close(result.values, values)
    assert result.layer == layer and result.k == 9
    assert result.map_size == {"conv2": (10, 10), "relu1": (28, 28)}[layer]
    assert calls[-1] == (200, 200) and len(calls) == -(-200 // batch_size)


def test_large_images_go_through_the_cpu_in_smaller_batches(model, images, monkeypatch):
    monkeypatch.setattr(top, "CPU_BATCH_VALUES", 50 * 28 * 28)  # 50 digits per batch
    calls = []
    result = top.compute(model, "conv2", images, batch_size=512, device="cpu", progress=lambda *a: calls.append(a))
    assert calls == [(50, 200), (100, 200), (150, 200), (200, 200)]
    assert torch.equal(result.indices, _brute(model, "conv2", images, 9)[1])


def test_out_of_gpu_memory_it_goes_on_with_half_as_many_images_at_a_time(model, images, monkeypatch):
    real = top._feature_maps

    def at_most_60(graph, layer, x):  # a GPU with room for 60 images
        if len(x) > 60:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(graph, layer, x)

    monkeypatch.setattr(top, "_feature_maps", at_most_60)
    calls = []
    result = top.compute(model, "conv2", images, batch_size=256, device="cpu", progress=lambda *a: calls.append(a))
    assert calls == [(32, 200), (64, 200), (96, 200), (128, 200), (160, 200), (192, 200), (200, 200)]  # 256 -> 32
    assert torch.equal(result.indices, _brute(model, "conv2", images, 9)[1])
    monkeypatch.setattr(top, "_feature_maps", lambda *a: (_ for _ in ()).throw(torch.OutOfMemoryError("full")))
    with pytest.raises(torch.OutOfMemoryError):  # not even one image fits: said, not looped on
        top.compute(model, "conv2", images, batch_size=4, device="cpu")


def test_ties_go_to_the_lower_image_index(model):
    blank = torch.zeros(10, 1, 28, 28, dtype=torch.uint8)  # ten equal images, split over batches
    result = top.compute(model, "conv2", blank, k=4, batch_size=3, device="cpu")
    assert result.indices.tolist() == [[0, 1, 2, 3]] * result.indices.shape[0]
    _, _, positions, _ = _brute(model, "conv2", blank, 4)
    assert torch.equal(result.positions, positions)


def test_k_larger_than_the_set_gives_every_image(model, images):
    result = top.compute(model, "conv2", images[:5], k=9, device="cpu")
    assert result.k == 5 and result.positions.shape == (16, 5, 2)
    assert all(sorted(row) == [0, 1, 2, 3, 4] for row in result.indices.tolist())


def test_the_model_is_left_as_it_was(model, images):
    before = {name: t.clone() for name, t in model.state_dict().items()}
    top.compute(model, "conv2", images[:20], device="cpu")
    top.own_activation(model, "conv2", images[0].float() / 255)
    assert inspect.hooks_on(model) == 0 and not model.training
    assert all(torch.equal(t, before[name]) for name, t in model.state_dict().items())


def test_bad_arguments_are_refused(model, images):
    with pytest.raises(ValueError, match="uint8"):
        top.compute(model, "conv2", images.float(), device="cpu")
    with pytest.raises(ValueError, match="k and batch_size"):
        top.compute(model, "conv2", images, k=0, device="cpu")


@pytest.mark.parametrize("layer", ["flatten", "fc3"])
def test_a_layer_without_feature_maps_is_refused(model, images, layer):
    with pytest.raises(ValueError, match=f"layer '{layer}' has no feature maps"):
        top.compute(model, layer, images[:4], device="cpu")
    with pytest.raises(ValueError, match="no feature maps"):
        top.own_activation(model, layer, images[0].float() / 255)


def test_own_activation_is_the_brute_force_value(model, images):
    *_, peak = _brute(model, "conv2", images, 1)  # (N, C)
    for i in (0, 17, 199):
        torch.testing.assert_close(top.own_activation(model, "conv2", images[i].float() / 255), peak[i])


def test_patches_are_the_receptive_fields_of_the_recorded_units(model, images):
    result = top.compute(model, "conv2", images, k=9, device="cpu")
    for channel in (0, 7, 15):
        crops = top.patches(result, images, model, SIZE, channel)
        assert len(crops) == 9
        for crop, index, (y, x) in zip(crops, result.indices[channel].tolist(), result.positions[channel].tolist()):
            t, left, b, r = receptive_field.rf_box(model, "conv2", (y, x), SIZE)
            assert crop.dtype == torch.float32 and crop.shape == (1, b - t, r - left)
            torch.testing.assert_close(crop, images[index, :, t:b, left:r].float() / 255)
    assert max(c.shape[-1] for c in top.patches(result, images, model, SIZE, 0)) <= 14  # conv2 sees 14x14
    boxes = top.patch_boxes(result, model, SIZE, 7)  # where the whole images are outlined: where the patches come from
    assert [(b - t, r - left) for t, left, b, r in boxes] == [tuple(c.shape[1:]) for c in top.patches(
        result, images, model, SIZE, 7)]


# --- the cache --------------------------------------------------------------------------------


@pytest.fixture
def counted(monkeypatch):
    """Count the real computations behind cached_compute."""
    calls = []
    real = top.compute

    def compute(*args, **kw):
        calls.append(args[1])
        return real(*args, **kw)

    monkeypatch.setattr(top, "compute", compute)
    return calls


def _same(a: top.TopActivations, b: top.TopActivations) -> bool:
    return (torch.equal(a.values, b.values) and torch.equal(a.indices, b.indices)
            and torch.equal(a.positions, b.positions) and a.layer == b.layer and a.map_size == b.map_size)


def test_second_call_is_a_cache_hit(model, images, tmp_path, counted):
    first = top.cached_compute(model, "conv2", images, "shapes", tmp_path, device="cpu")
    again = top.cached_compute(model, "conv2", images, "shapes", tmp_path, device="cpu")
    assert counted == ["conv2"] and _same(first, again)
    assert [p.suffix for p in tmp_path.iterdir()] == [".safetensors"]  # no temporary file left behind


def test_a_cache_folder_that_cannot_be_written_goes_without_the_cache(model, images, tmp_path, counted):
    """A read-only checkout without EXPLORER_CACHE: the page had lost the result it had just computed."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    first = top.cached_compute(model, "conv2", images, "shapes", blocker / "cache", device="cpu")
    again = top.cached_compute(model, "conv2", images, "shapes", blocker / "cache", device="cpu")
    assert counted == ["conv2", "conv2"] and _same(first, again)  # computed each time, nothing kept


def test_changed_weights_layer_data_or_k_miss(model, images, tmp_path, counted):
    base = top.cached_compute(model, "conv2", images, "shapes", tmp_path, device="cpu")
    changed = copy.deepcopy(model)
    with torch.no_grad():
        changed.conv1.weight[0, 0, 0, 0] += 1.0
    top.cached_compute(changed, "conv2", images, "shapes", tmp_path, device="cpu")
    top.cached_compute(model, "relu1", images, "shapes", tmp_path, device="cpu")
    top.cached_compute(model, "conv2", images, "other", tmp_path, device="cpu")
    top.cached_compute(model, "conv2", images, "shapes", tmp_path, device="cpu", k=3)
    flipped = images.clone()
    flipped[0, 0, 0, 0] ^= 1
    top.cached_compute(model, "conv2", flipped, "shapes", tmp_path, device="cpu")
    assert len(counted) == 6 and len(list(tmp_path.iterdir())) == 6
    assert _same(top.cached_compute(model, "conv2", images, "shapes", tmp_path, device="cpu"), base)
    assert len(counted) == 6


def test_the_disk_cache_keeps_the_results_used_last(model, images, tmp_path, counted, monkeypatch):
    """A hosted server's cache does not grow over a term: past CACHE_FILES, the result used longest ago goes."""
    import os

    monkeypatch.setattr(top, "CACHE_FILES", 2)
    top.cached_compute(model, "conv2", images, "shapes", tmp_path, device="cpu")
    top.cached_compute(model, "relu1", images, "shapes", tmp_path, device="cpu")
    for path in tmp_path.iterdir():  # both written long ago: reading conv2 again marks it used now
        os.utime(path, (1, 1))
    top.cached_compute(model, "conv2", images, "shapes", tmp_path, device="cpu")
    top.cached_compute(model, "pool1", images, "shapes", tmp_path, device="cpu")  # a third: relu1's goes
    assert len(list(tmp_path.iterdir())) == 2 and counted == ["conv2", "relu1", "pool1"]
    top.cached_compute(model, "conv2", images, "shapes", tmp_path, device="cpu")
    assert counted == ["conv2", "relu1", "pool1"]  # still a hit
    top.cached_compute(model, "relu1", images, "shapes", tmp_path, device="cpu")
    assert counted == ["conv2", "relu1", "pool1", "relu1"]  # computed again


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_corrupt_file_is_computed_again(model, images, tmp_path, counted, damage):
    first = top.cached_compute(model, "conv2", images, "shapes", tmp_path, device="cpu")
    (path,) = tmp_path.iterdir()
    content = path.read_bytes()
    path.write_bytes(b"\x00not safetensors" if damage == "garbage" else content[: len(content) // 2])
    again = top.cached_compute(model, "conv2", images, "shapes", tmp_path, device="cpu")
    assert len(counted) == 2 and _same(first, again) and path.read_bytes() == content


def test_the_cache_folder_comes_from_the_environment(model, images, tmp_path, monkeypatch):
    monkeypatch.setenv(top.CACHE_ENV, str(tmp_path))
    assert top.cache_root() == tmp_path / "top_activations"
    top.cached_compute(model, "conv2", images[:20], "shapes", device="cpu")
    assert len(list((tmp_path / "top_activations").glob("*.safetensors"))) == 1
    monkeypatch.delenv(top.CACHE_ENV)
    assert top.cache_root() == top.REPO / ".cache" / "top_activations"
    assert not os.environ.get(top.CACHE_ENV)


def test_an_activation_ranks_after_every_value_that_beats_it_and_with_a_tie():
    values = torch.tensor([9.0, 7.5, 7.5, 3.0])  # a channel's top 4, best first
    assert [top.rank(values, own) for own in (10.0, 9.0, 8.0, 7.5, 3.0, 2.9)] == [1, 1, 2, 2, 4, 5]


def test_the_lowest_nine_are_the_images_whose_minimum_is_lowest(model, images):
    result = top.compute(model, "conv2", images, k=9, device="cpu", lowest=True)
    with torch.no_grad():
        maps = extraction.extractor(model, ["conv2"])(images.float() / 255)["conv2"]  # (N, C, H', W')
    lows = maps.flatten(2).min(2).values  # (N, C): each image's lowest response per channel
    for channel in (0, 9):
        expected = lows[:, channel].sort().values[:9]
        torch.testing.assert_close(result.values[channel], expected)
        y, x = result.positions[channel, 0].tolist()
        assert maps[result.indices[channel, 0], channel, y, x] == result.values[channel, 0]  # where that minimum is


def test_the_lowest_nine_are_cached_apart_from_the_top_nine(model, images, tmp_path):
    top_nine = top.cached_compute(model, "conv2", images, "set", cache_dir=tmp_path, device="cpu")
    lowest = top.cached_compute(model, "conv2", images, "set", cache_dir=tmp_path, device="cpu", lowest=True)
    assert len(list(tmp_path.glob("*.safetensors"))) == 2 and bool((lowest.values < top_nine.values).all())
    again = top.cached_compute(model, "conv2", images, "set", cache_dir=tmp_path, device="cpu", lowest=True)
    torch.testing.assert_close(again.values, lowest.values)


def test_a_rank_among_the_lowest_counts_the_lower_values():
    lowest = torch.tensor([-9.0, -7.0, -5.0])
    assert top.rank(lowest, -8.0, lowest=True) == 2 and top.rank(lowest, -1.0, lowest=True) == 4
    assert top.rank(torch.tensor([9.0, 7.0, 5.0]), 8.0) == 2


def test_a_network_that_scrambles_its_pixels_shows_whole_images_for_patches():
    """Its units' fields are scattered pixels, no box (receptive_field refuses it): the patch is the image."""
    from explorer import architecture

    model = architecture.build({"model": "lenet5", "data": "shapes", "scramble": True}, (1, 28, 28), 8)
    images = (torch.rand(12, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 255).to(torch.uint8)
    result = top.compute(model, "conv2", images, k=3, device="cpu")
    assert top.patch_boxes(result, model, (28, 28), 5) == [(0, 0, 28, 28)] * 3
    assert [tuple(p.shape) for p in top.patches(result, images, model, (28, 28), 5)] == [(1, 28, 28)] * 3
