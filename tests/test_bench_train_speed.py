"""A smoke test of bench/train_speed.py: both benches on a few thousand MNIST images, on the CPU."""

import importlib.util
import sys
from pathlib import Path

import pytest
import torch

from explorer import data

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(data.shared_root() is None, reason="needs the shared MNIST files (../shared/data)")


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("train_speed", ROOT / "bench" / "train_speed.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["train_speed"] = module
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("train_speed", None)


@pytest.fixture(scope="module")
def mnist():
    train_set, test_set = data.load("mnist", True), data.load("mnist", False)
    return train_set.subset(4096), test_set.subset(500)


def test_bn_net_shapes(bench):
    model = bench.bn_net((8, 16, 32))
    assert next(iter(model.children())).__class__.__name__ == "Normalize"
    assert model(torch.rand(2, 1, 28, 28)).shape == (2, 10)
    assert bench.reference.Net()(torch.rand(2, 1, 28, 28)).shape == (2, 10)


def test_plan_fits_the_budget(bench):
    assert bench._plan(rate=1000.0, seconds=10.0, n=60000) == (1, 10000)  # less than an epoch: a subset
    assert bench._plan(rate=12000.0, seconds=10.0, n=60000) == (2, 60000)  # two whole epochs
    assert bench._plan(rate=10000.0, seconds=25.0, n=60000) == (5, 50000)  # 4.2 epochs: 5 of 50,000


def test_budget_bench_keys_and_ranges(bench, mnist):
    device = torch.device("cpu")
    loaders = bench.reference.loaders(data.default_root(), device, train_images=2000, test_images=500)
    result = bench.budget_bench(*mnist, loaders, seconds=1.5, device=device)
    assert {"device", "budget_s", "cpu_acc_60s", "reference_cpu_acc_60s", "ours", "reference"} <= result.keys()
    assert result["device"] == "cpu"
    for accuracy in (result["cpu_acc_60s"], result["reference_cpu_acc_60s"]):
        assert 0.0 <= accuracy <= 1.0
    assert result["ours"]["images_seen"] > 0 and result["reference"]["images_seen"] > 0
    ours = result["ours"]
    # cut at the first budget check past 1.5 s: checks come every log_every steps, whose time is
    # read off the run's own pace (a loaded machine slows both alike)
    config = bench.CPU_RECIPE.config
    between_checks = config.log_every * config.batch_size / (ours["images_seen"] / ours["seconds"])
    assert ours["seconds"] < 1.5 + 2 * between_checks + 0.5, ours


def test_to_target_bench_keys_and_ranges(bench, mnist):
    device = torch.device("cpu")
    loaders = bench.reference.loaders(data.default_root(), device, train_images=640, test_images=500)
    small = bench.Recipe((4, 8, 8), bench.GPU_RECIPE.config)
    graphed = bench.Recipe((4, 8, 8), bench.GRAPHED_RECIPE.config)  # on the CPU: the same body, run eagerly
    result = bench.to_target_bench(*mnist, loaders, seeds=2, device=device, target=0.0, recipe=small, graphed=graphed)
    assert {"device", "ours_s_to_99", "reference_s_to_99", "speedup", "ours_runs", "reference_run",
            "graphed_s_to_99", "graphed_max_s_to_99", "graphed_speedup", "graphed_all_reached"} <= result.keys()
    assert len(result["ours_runs"]) == len(result["graphed_runs"]) == 2 and result["graphed_all_reached"]
    for run in [*result["ours_runs"], *result["graphed_runs"], result["reference_run"]]:
        assert 0.0 <= run["accuracy"] <= 1.0
        assert run["reached"] and run["epochs"] == 1  # any accuracy reaches a target of 0
        assert run["seconds"] > 0


def test_a_failing_graphed_experiment_is_reported_beside_the_figures(bench, mnist):
    broken = bench.Recipe((4, 8, 8), bench.replace(bench.GRAPHED_RECIPE.config, cycle_momentum=True))
    result = bench.graphed_bench(broken, *mnist, seeds=1, device=torch.device("cpu"), target=0.0, reference_s=1.0)
    assert result == {"graphed_error": "ValueError: graphs: set cycle_momentum=False (a captured AdamW step keeps its betas)"}


def test_ours_tries_every_budget_when_the_target_is_out_of_reach(bench, mnist):
    small = bench.Recipe((4, 8, 8), bench.GPU_RECIPE.config)
    run = bench.ours_to_target(small, *mnist, seed=0, device=torch.device("cpu"), target=1.01)
    assert not run["reached"] and run["budget"] == bench.GPU_BUDGETS[-1] == run["epochs"]
    assert [f["budget"] for f in run["failed_budgets"]] == list(bench.GPU_BUDGETS[:-1])
    assert run["seconds_with_retries"] >= run["seconds"] > 0
    assert run["steps"] == bench.GPU_BUDGETS[-1] * (4096 // small.config.batch_size) and run["ms_per_step"] > 0


def test_missing_data_is_a_clear_json_error(bench, tmp_path, capsys):
    assert bench.main(["--data", str(tmp_path)]) == 1
    assert "MNIST cannot be loaded" in capsys.readouterr().out
