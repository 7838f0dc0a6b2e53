"""The model zoo against torchvision: architectures, names, normalisation, weights and their download."""

import hashlib
import pickle
import threading
from pathlib import Path

import pytest
import torch
import torchvision
from torch import nn
from torchvision.models import get_model_weights

from explorer import data, downloads, images, models, networks, training
from tests.local_server import closed_port, serve

TORCHVISION = ("alexnet", "vgg16", "googlenet", "resnet18")


def test_names_hold_the_contract():
    assert {"lenet5", "alexnet", "vgg16", "googlenet", "resnet18", "tinyvgg", "resnet_small"} <= set(models.names())
    with pytest.raises(ValueError, match="lenet5"):
        models.spec("lenet6")


@pytest.mark.parametrize("name", ["lenet5", "tinyvgg", "resnet_small"])
def test_own_models_classify_an_input_in_the_project_convention(name):
    spec = models.spec(name)
    model = models.build(name)
    assert isinstance(model[0], networks.Normalize) and list(model.named_children())[0][0] == "normalize"
    assert all(not child.isdigit() for child, _ in model.named_children())  # readable names
    out = model(torch.rand(2, *spec.input_shape))
    assert out.shape == (2, len(spec.classes)) and len(spec.classes) >= 8


@pytest.mark.parametrize("name", TORCHVISION)
def test_torchvision_models_keep_torchvision_parameter_counts(name):
    with torch.device("meta"):
        ours = models.build(name)
        theirs = torchvision.models.get_model(
            name, weights=None, **({"aux_logits": False, "init_weights": False} if name == "googlenet" else {}))
    count = sum(p.numel() for p in ours.parameters())
    assert count == sum(p.numel() for p in theirs.parameters())
    assert count == get_model_weights(name).DEFAULT.meta["num_params"]
    assert all(not child.isdigit() for child, _ in ours.named_children())


@pytest.mark.parametrize("name", TORCHVISION)
def test_flattened_model_computes_what_torchvision_computes(name):
    torch.manual_seed(0)
    kwargs = {"aux_logits": False, "init_weights": True, "transform_input": False} if name == "googlenet" else {}
    reference = torchvision.models.get_model(name, weights=None, **kwargs).eval()
    preset = get_model_weights(name).DEFAULT.transforms()
    x = torch.rand(2, 3, 64, 64)
    expected = reference(torchvision.transforms.functional.normalize(x, preset.mean, preset.std))
    flat = models._flatten_torchvision(name, reference, networks.Normalize(tuple(preset.mean), tuple(preset.std)))
    assert torch.allclose(flat(x), expected, atol=1e-4, rtol=1e-4)


def test_googlenet_transform_input_is_folded_into_the_normalisation():
    torch.manual_seed(0)
    reference = torchvision.models.googlenet(weights=None, aux_logits=False, init_weights=True,
                                             transform_input=True).eval()
    preset = get_model_weights("googlenet").DEFAULT.transforms()
    x = torch.rand(1, 3, 64, 64)
    expected = reference(torchvision.transforms.functional.normalize(x, preset.mean, preset.std))
    reference.transform_input = False
    flat = models._flatten_torchvision("googlenet", reference,
                                       networks.Normalize(*models._torchvision_stats("googlenet", True)))
    assert torch.allclose(flat(x), expected, atol=1e-4, rtol=1e-4)


def test_alexnet_and_vgg_layers_are_named_like_the_papers():
    with torch.device("meta"):
        alexnet, vgg = models.build("alexnet"), models.build("vgg16")
    assert [n for n, m in alexnet.named_children() if isinstance(m, (nn.Conv2d, nn.Linear))] == [
        "conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8"]
    assert sum(isinstance(m, nn.Conv2d) for m in vgg.children()) == 13 and "fc16" in dict(vgg.named_children())


def test_normalize_is_the_training_statistics():
    layer = networks.Normalize((0.5,), (0.25,))
    assert torch.equal(layer(torch.tensor([[[[0.0, 0.5, 1.0]]]])), torch.tensor([[[[-2.0, 0.0, 2.0]]]]))


# --- shipped weights ------------------------------------------------------------------------

def test_shipped_lenet5_loads_offline_with_its_card():
    model = models.build("lenet5", pretrained=True)
    card = models.shipped_card("lenet5")
    assert card["data"] == "mnist" and card["test_accuracy"] >= 0.99 and card["seed"] == 0
    assert "train_default_models.py" in card["command"] and card["date"]
    assert not model.training


def test_shipped_tinyvgg_classifies_the_shapes_test_set():
    card = models.shipped_card("tinyvgg")
    assert card["test_accuracy"] >= 0.95
    test = data.shapes(500, size=64, channels=3, seed=1)
    assert training.evaluate(models.build("tinyvgg", pretrained=True), test, "cpu") >= 0.9


@pytest.mark.skipif(data.shared_root() is None, reason="needs ../shared/data (real MNIST)")
def test_shipped_lenet5_reads_the_mnist_test_set_at_99_percent(tmp_path):
    data.stage_shared(tmp_path)
    accuracy = training.evaluate(models.build("lenet5", pretrained=True), data.load("mnist", False, tmp_path), "cpu")
    assert accuracy >= 0.99
    assert abs(accuracy - models.shipped_card("lenet5")["test_accuracy"]) < 1e-3  # the card states the truth


def test_save_shipped_round_trips_through_safetensors(tmp_path):
    model = models.build("lenet5")
    path = models.save_shipped("lenet5", model, {"note": "test"}, directory=tmp_path)
    assert path.suffix == ".safetensors" and (tmp_path / "lenet5.json").exists()
    from safetensors.torch import load_file

    again = networks.lenet5(models.spec("lenet5"))
    again.load_state_dict(load_file(path))
    x = torch.rand(1, 1, 28, 28)
    assert torch.equal(again(x), model(x))


def test_models_without_weights_say_so():
    assert not models.has_pretrained("resnet_small")
    assert all(models.has_pretrained(n) for n in ("lenet5", "tinyvgg", *TORCHVISION))


# --- downloads from a local server ------------------------------------------------------------

def _weights_file(directory: Path, state: dict) -> tuple[Path, str]:
    """Save ``state`` under a torch.hub-style name carrying its own sha256 prefix."""
    scratch = directory / "scratch.pth"
    torch.save(state, scratch)
    digest = hashlib.sha256(scratch.read_bytes()).hexdigest()
    path = directory / f"resnet18-{digest[:8]}.pth"
    scratch.rename(path)
    return path, digest


def test_pretrained_torchvision_model_loads_downloaded_weights(tmp_path, monkeypatch):
    """The whole path: download from a mirror into the cache, then build() loads it (weights_only)."""
    monkeypatch.setenv("EXPLORER_WEIGHTS_DIR", str(tmp_path / "cache"))
    served = tmp_path / "served"
    served.mkdir()
    torch.manual_seed(2)
    state = torchvision.models.resnet18().state_dict()
    path, _ = _weights_file(served, state)
    with serve(served) as (base, _):
        downloads.download(base + path.name, tmp_path / "cache")
    # the registry expects torchvision's file name: put the verified file there
    (tmp_path / "cache" / path.name).rename(models.weights_file("resnet18"))
    model = models.build("resnet18", pretrained=True)
    assert torch.equal(model.conv1.weight, state["conv1.weight"])
    assert torch.equal(model.layer4[1].bn2.running_var, state["layer4.1.bn2.running_var"])


def test_a_corrupted_download_is_refused_and_removed(tmp_path, monkeypatch):
    served = tmp_path / "served"
    served.mkdir()
    real_name = get_model_weights("resnet18").DEFAULT.url.rsplit("/", 1)[1]
    (served / real_name).write_bytes(b"not the weights" * 1000)
    monkeypatch.setenv("EXPLORER_WEIGHTS_DIR", str(tmp_path / "cache"))
    with serve(served) as (base, requests):
        monkeypatch.setenv("EXPLORER_WEIGHTS_MIRROR", base)
        with pytest.raises(models.WeightsUnavailable, match="corrupted"):
            models.build("resnet18", pretrained=True)
    assert requests == ["/" + real_name]
    assert not any((tmp_path / "cache").iterdir())  # no partial file left behind


def test_offline_download_fails_fast_with_a_clear_message(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPLORER_WEIGHTS_DIR", str(tmp_path))
    monkeypatch.setenv("EXPLORER_WEIGHTS_MIRROR", f"http://127.0.0.1:{closed_port()}/")
    with pytest.raises(models.WeightsUnavailable, match="random weights") as failed:
        models.download_weights("alexnet")
    assert failed.value.summary.endswith("could not be downloaded: this server may be offline")


def test_a_pickle_with_code_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPLORER_WEIGHTS_DIR", str(tmp_path))

    class Payload:
        def __reduce__(self):
            return (Path.touch, (tmp_path / "pwned",))

    models.weights_file("resnet18").write_bytes(pickle.dumps({"conv1.weight": Payload()}))
    with pytest.raises(models.WeightsUnavailable, match="not a usable") as refused:
        models.build("resnet18", pretrained=True)
    assert not (tmp_path / "pwned").exists()
    assert refused.value.summary == "the trained weights of ResNet18 (ImageNet) on this server are damaged"
    assert str(tmp_path) not in refused.value.summary  # the server's paths only in the full message


def test_every_model_suggests_a_sample_like_its_training_data():
    keys = {s.key for s in images.samples()}
    assert {models.spec(n).sample for n in models.names()} <= keys
    assert set(models.SAMPLES.values()) <= keys
    assert (models.spec("lenet5").sample, models.spec("tinyvgg").sample) == ("digit", "triangle")
    assert (models.sample_for("fashion-mnist"), models.sample_for("cifar10")) == ("tshirt", "chelsea")


def test_a_seeded_build_has_its_seeds_weights_whatever_other_threads_draw_meanwhile():
    state = torch.random.get_rng_state()
    alone = models.build("tinyvgg", seed=0).state_dict()
    assert torch.equal(torch.random.get_rng_state(), state)  # the caller's random state is left alone
    built = []
    threads = [threading.Thread(target=lambda: built.append(models.build("tinyvgg", seed=0))) for _ in range(4)]
    threads.append(threading.Thread(target=lambda: [models.build("lenet5") for _ in range(20)]))  # unseeded draws
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(built) == 4
    for model in built:
        assert all(torch.equal(alone[k], v) for k, v in model.state_dict().items())
    other = models.build("tinyvgg", seed=1).state_dict()
    assert not all(torch.equal(alone[k], v) for k, v in other.items())


def test_damaged_shipped_weights_are_named_as_such(tmp_path, monkeypatch):
    """A file cut short, or a Git LFS pointer in its place, had said a library's words and "Change a setting"."""
    import shutil

    for name in ("lenet5.safetensors", "tinyvgg.safetensors"):
        shutil.copy(models.shipped_weights(name.split(".")[0]), tmp_path / name)
    (tmp_path / "lenet5.safetensors").write_bytes((tmp_path / "lenet5.safetensors").read_bytes()[:3000])
    (tmp_path / "tinyvgg.safetensors").write_text("version https://git-lfs.github.com/spec/v1\noid sha256:ab\nsize 9\n")
    monkeypatch.setattr(models, "MODELS_DIR", tmp_path)
    for name, title in (("lenet5", "LeNet-5"), ("tinyvgg", "TinyVGG")):
        with pytest.raises(models.WeightsUnavailable) as caught:
            models.build(name, pretrained=True)
        assert caught.value.summary.startswith(f"the trained weights shipped with {title}")
        assert caught.value.summary.endswith(f"are damaged on this server (assets/models/{name}.safetensors)")
        assert str(tmp_path) in str(caught.value)  # the path: for whoever runs the server, under the details
        models.build(name, pretrained=False)  # random weights still build
    from explorer import architecture, worker

    with pytest.raises(architecture.ArchitectureError, match="shipped with LeNet-5 .MNIST digits. are damaged"):
        worker.trained_weights("lenet5")  # a transfer's start: refused before launch in these words
