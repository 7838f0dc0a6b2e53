"""A trained run for use outside the app: model.py rebuilds each network the lab trains with PyTorch alone, and the
exported zip says how."""

import io
import json
import types
import zipfile

import pytest
import torch
import torchvision
from safetensors.torch import load

from explorer import architecture, model_card, run_files, run_lifecycle
from tests.apptest import shapes_run

CUSTOM = [{"type": "conv", "out": 6, "kernel": 3, "padding": 1, "stride": 2}, {"type": "batchnorm"},
          {"type": "tanh"}, {"type": "pool", "kind": "avg", "kernel": 2}, {"type": "dropout", "p": 0.3},
          {"type": "conv", "out": 4, "kernel": 3, "dilation": 2}, {"type": "sigmoid"}, {"type": "pool"},
          {"type": "flatten"}, {"type": "linear", "out": 12}, {"type": "relu"}]


def _plain(source: str):
    """The module that ``source`` defines, with nothing of the app imported."""
    module = types.ModuleType("model")
    exec(compile(source, "model.py", "exec"), module.__dict__)  # noqa: S102 - the source this module wrote
    assert "explorer" not in source
    return module


@pytest.mark.parametrize("config,shape,classes", [
    ({"model": "lenet5", "data": "mnist"}, (1, 28, 28), 10),
    ({"model": "tinyvgg", "data": "cifar10"}, (3, 32, 32), 10),
    ({"model": "resnet_small", "data": "shapes"}, (3, 32, 32), 8),
    ({"model": "custom", "layers": CUSTOM, "data": "fashion-mnist"}, (1, 28, 28), 10),
    ({"model": "custom"}, (1, 28, 28), 3),
    ({"model": "lenet5", "data": "shapes", "scramble": True}, (1, 28, 28), 8),
], ids=["lenet5", "tinyvgg", "resnet_small", "custom", "default_layers", "scrambled"])
def test_model_py_rebuilds_each_network_in_plain_pytorch_that_takes_the_weights_and_gives_the_same_scores(
        config, shape, classes):
    torch.manual_seed(0)
    network = architecture.build(config, shape, classes)
    for module in network.modules():  # trained-looking statistics, so the batch norms' buffers count too
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.running_mean.uniform_(-1, 1)
            module.running_var.uniform_(0.5, 2)
    rebuilt = _plain(model_card.plain_source(network, "A run")).build()
    rebuilt.load_state_dict(network.state_dict(), strict=True)
    images = torch.rand(4, *shape)
    with torch.no_grad():
        torch.testing.assert_close(rebuilt.eval()(images), network.eval()(images), rtol=0, atol=0)
    assert str(rebuilt) == str(network)


def test_a_layer_with_no_plain_form_is_refused_by_name():
    with pytest.raises(ValueError, match="in a row"):
        model_card.plain_source(torchvision.models.resnet18(), "x")
    with pytest.raises(ValueError, match="Sequential cannot be written out"):
        model_card.plain_source(torch.nn.Sequential(torch.nn.Sequential(torch.nn.Identity())), "x")


def test_the_zip_carries_a_readme_and_model_py_that_reproduce_the_apps_predictions(tmp_path):
    run = shapes_run(tmp_path, name="LeNet-5 on Built-in shapes #1")
    run_lifecycle.set_status(run.id, "finished", "", tmp_path, owner="a-browsers-own-id-1234", test_accuracy=0.848)
    with zipfile.ZipFile(io.BytesIO(run_files.export(run.id, tmp_path))) as archive:
        read = {name.removeprefix(f"{run.id}/"): archive.read(name) for name in archive.namelist()}
    status = json.loads(read["status.json"])
    assert status["status"] == "finished" and not {"owner", "pid", "request_id"} & set(status)
    card = read["README.md"].decode()
    for words in ("# LeNet-5 on Built-in shapes #1", "test accuracy 84.8%", "(N, 1, 28, 28)", "mean [0.5]",
                  "standard deviation [0.25]", "0 '0', 1 '1'", "from model import build", "61,"):
        assert words in card, words
    rebuilt = _plain(read["model.py"].decode()).build()
    rebuilt.load_state_dict(load(read["model.safetensors"]), strict=True)
    images = torch.rand(3, 1, 28, 28)
    with torch.no_grad():
        torch.testing.assert_close(rebuilt.eval()(images), run_files.build_model(run.id, tmp_path)(images))


def test_a_run_without_weights_or_with_an_unreadable_card_still_zips(tmp_path):
    bare = shapes_run(tmp_path, saved=False, status="cancelled")
    with zipfile.ZipFile(io.BytesIO(run_files.export(bare.id, tmp_path))) as archive:
        assert sorted(n.split("/", 1)[1] for n in archive.namelist()) == ["config.json", "status.json"]
    damaged = shapes_run(tmp_path)
    (damaged.path / "checkpoint.json").write_text("{}")
    with zipfile.ZipFile(io.BytesIO(run_files.export(damaged.id, tmp_path))) as archive:
        names = {n.split("/", 1)[1] for n in archive.namelist()}
    assert "model.safetensors" in names and "README.md" not in names


@pytest.mark.parametrize("name", ['"""+str(globals().__setitem__("HACKED", 1))+"""',
                                  "'''\nHACKED = 1\n'''", 'x\\"""; HACKED = 1; """'])
def test_a_run_name_is_data_in_model_py_never_code(name):
    """A classmate names a run; whoever downloads it and imports its model.py must run nothing but the network."""
    network = architecture.build({"arch": "lenet5"}, (1, 28, 28), 8)
    module = _plain(model_card.plain_source(network, name))
    assert module.RUN == name and not hasattr(module, "HACKED")
    assert str(module.build()) == str(network)
