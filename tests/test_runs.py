"""The run store: folders, atomic writes that survive a SIGKILL, dedup, recovery, checkpoints."""

import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
import zipfile

import pytest
import torch
from torch import nn

from explorer import runs
from tests.conftest import ROOT

CONFIG = {"model": "lenet5", "data": "shapes", "epochs": 1}


def test_create_get_list_rename_delete(tmp_path):
    first = runs.create(CONFIG, root=tmp_path)
    second = runs.create({**CONFIG, "epochs": 2}, root=tmp_path, name="mine")
    assert first.status == "queued" and first.config == CONFIG and first.name == "lenet5 on shapes"
    assert (first.path / "config.json").exists() and first.path.parent == tmp_path
    assert [r.id for r in runs.list_runs(tmp_path)] == [second.id, first.id]  # newest first
    assert runs.rename(first.id, "renamed", tmp_path).name == "renamed"
    assert runs.get(first.id, tmp_path).name == "renamed"
    runs.delete(first.id, tmp_path)
    assert [r.id for r in runs.list_runs(tmp_path)] == [second.id]
    with pytest.raises(runs.RunNotFound):
        runs.get(first.id, tmp_path)


def test_the_root_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(runs.ROOT_ENV, str(tmp_path / "elsewhere"))
    assert runs.root() == tmp_path / "elsewhere"
    run = runs.create(CONFIG)
    assert run.path.parent == tmp_path / "elsewhere"
    monkeypatch.delenv(runs.ROOT_ENV)
    assert runs.root() == ROOT / "runs"


def test_ids_that_are_not_plain_names_are_refused(tmp_path):
    for bad in ("../etc", "a/b", "", ".hidden"):
        with pytest.raises(ValueError):
            runs.path(bad, tmp_path)


def test_the_same_request_id_gives_the_same_run_even_from_many_threads(tmp_path):
    found: list[str] = []
    threads = [threading.Thread(target=lambda: found.append(runs.create(CONFIG, "click-1", tmp_path).id))
               for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(found)) == 1 and len(runs.list_runs(tmp_path)) == 1
    assert runs.create(CONFIG, "click-2", tmp_path).id != found[0]
    runs.delete(found[0], tmp_path)  # a deleted run's request may make a new one
    assert runs.create(CONFIG, "click-1", tmp_path).id != found[0]


def test_set_status_only_from_leaves_a_final_status_alone(tmp_path):
    run = runs.create(CONFIG, root=tmp_path)
    assert runs.set_status(run.id, "finished", "done", tmp_path, test_accuracy=0.9).status == "finished"
    assert runs.set_status(run.id, "failed", "late", tmp_path, only_from=runs.ACTIVE).status == "finished"
    assert runs.status_fields(run.id, tmp_path)["test_accuracy"] == 0.9
    with pytest.raises(ValueError):
        runs.set_status(run.id, "exploded", "", tmp_path)


def test_a_cut_off_metrics_line_is_skipped_and_the_next_append_stays_readable(tmp_path):
    run = runs.create(CONFIG, root=tmp_path)
    runs.append_metrics(run.id, [{"phase": "train", "step": 1}, {"phase": "train", "step": 2}], tmp_path)
    with open(run.path / "metrics.jsonl", "a") as handle:
        handle.write('{"phase": "train", "st')  # a crash mid-write
    assert [r["step"] for r in runs.metrics(run.id, tmp_path)] == [1, 2]
    runs.append_metrics(run.id, [{"phase": "eval", "step": 3, "loss": float("nan")}], tmp_path)
    records = runs.metrics(run.id, tmp_path)
    assert [r["step"] for r in records] == [1, 2, 3] and records[-1]["loss"] is None  # JSON has no NaN


def test_a_resume_record_supersedes_the_records_after_its_step(tmp_path):
    run = runs.create(CONFIG, root=tmp_path)
    runs.append_metrics(run.id, [{"phase": "train", "step": s} for s in (10, 20, 30)], tmp_path)
    runs.append_metrics(run.id, [{"phase": "resume", "step": 20}, {"phase": "train", "step": 30}], tmp_path)
    assert [(r["phase"], r["step"]) for r in runs.metrics(run.id, tmp_path)] == [
        ("train", 10), ("train", 20), ("resume", 20), ("train", 30)]


def test_snapshots_checkpoint_and_result_round_trip(tmp_path):
    run = runs.create(CONFIG, root=tmp_path)
    runs.save_snapshot(run.id, 20, {"filters": torch.ones(2, 1, 3, 3)}, tmp_path)
    runs.save_snapshot(run.id, 5, {"filters": torch.zeros(2, 1, 3, 3)}, tmp_path)
    assert runs.snapshot_steps(run.id, tmp_path) == [5, 20]
    assert torch.equal(runs.load_snapshot(run.id, 20, tmp_path)["filters"], torch.ones(2, 1, 3, 3))
    runs.drop_snapshots_after(run.id, 5, tmp_path)
    assert runs.snapshot_steps(run.id, tmp_path) == [5]
    model = nn.Linear(3, 2)
    optimizer = torch.optim.AdamW(model.parameters())
    model(torch.ones(1, 3)).sum().backward()
    optimizer.step()
    runs.save_checkpoint(run.id, model, optimizer, 7, 1.0, tmp_path, classes=["a", "b"])
    weights, state, meta = runs.load_checkpoint(run.id, tmp_path)
    assert torch.equal(weights["weight"], model.weight) and meta["step"] == 7 and meta["classes"] == ["a", "b"]
    assert torch.equal(state["state"][0]["exp_avg"], optimizer.state_dict()["state"][0]["exp_avg"])
    runs.save_result(run.id, {"confusion": torch.eye(2, dtype=torch.int64)}, tmp_path)
    assert runs.load_result(run.id, tmp_path)["confusion"].dtype == torch.int64


def test_an_optimizer_file_from_another_step_is_not_used(tmp_path):
    """A crash between the weights' rename and the optimizer's: the weights stand alone."""
    run = runs.create(CONFIG, root=tmp_path)
    model = nn.Linear(3, 2)
    runs.save_checkpoint(run.id, model, torch.optim.SGD(model.parameters(), lr=0.1), 5, 1.0, tmp_path)
    optimizer_file = (run.path / "optimizer.pt").read_bytes()
    runs.save_checkpoint(run.id, model, torch.optim.SGD(model.parameters(), lr=0.1), 10, 2.0, tmp_path)
    (run.path / "optimizer.pt").write_bytes(optimizer_file)  # step 5's optimizer beside step 10's weights
    _, state, meta = runs.load_checkpoint(run.id, tmp_path)
    assert meta["step"] == 10 and state is None


def test_export_zips_weights_config_and_metrics(tmp_path):
    run = runs.create(CONFIG, root=tmp_path)
    runs.append_metrics(run.id, [{"phase": "done", "step": 1}], tmp_path)
    runs.save_checkpoint(run.id, nn.Linear(2, 2), None, 1, 1.0, tmp_path)
    with zipfile.ZipFile(io.BytesIO(runs.export(run.id, tmp_path))) as archive:
        names = set(archive.namelist())
        assert {f"{run.id}/model.safetensors", f"{run.id}/config.json", f"{run.id}/metrics.jsonl"} <= names
        assert json.loads(archive.read(f"{run.id}/config.json")) == CONFIG


def _fake_worker(seconds: float) -> subprocess.Popen:
    """A process whose command line names explorer.worker, as a real worker's does."""
    return subprocess.Popen([sys.executable, "-c", f"import time; time.sleep({seconds})", "explorer.worker"])


def test_recover_marks_runs_of_dead_workers_interrupted_and_leaves_live_ones(tmp_path):
    dead, live = _fake_worker(0), _fake_worker(30)
    try:
        dead.wait()
        orphan, watched, waiting = (runs.create(CONFIG, root=tmp_path) for _ in range(3))
        runs.set_status(orphan.id, "running", "", tmp_path, pid=dead.pid)
        runs.set_status(watched.id, "running", "", tmp_path, pid=live.pid)
        assert runs.recover(tmp_path) == [orphan.id]
        assert runs.get(orphan.id, tmp_path).status == "interrupted"
        assert runs.get(watched.id, tmp_path).status == "running"
        assert runs.get(waiting.id, tmp_path).status == "queued"  # never launched: still waits its turn
        with pytest.raises(RuntimeError):
            runs.delete(watched.id, tmp_path)  # its worker is alive
    finally:
        live.kill()
        live.wait()


_WRITER = """
import sys, torch
from pathlib import Path
from torch import nn
from explorer import runs
root, run_id = Path(sys.argv[1]), sys.argv[2]
model = nn.Linear(64, 64)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
i = 0
while True:
    runs.set_status(run_id, "running", f"step {i}", root, step=i)
    runs.append_metrics(run_id, [{"phase": "train", "step": i, "pad": "x" * 20000}], root)
    runs.save_snapshot(run_id, i % 3, {"filters": torch.full((128, 128), float(i))}, root)
    with torch.no_grad():
        model.weight.fill_(i)
    runs.save_checkpoint(run_id, model, optimizer, i, i / 10, root)
    i += 1
"""


def test_a_writer_killed_mid_write_leaves_the_run_readable(tmp_path):
    run = runs.create(CONFIG, root=tmp_path)
    writer = subprocess.Popen([sys.executable, "-c", _WRITER, str(tmp_path), run.id], cwd=ROOT,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        deadline = time.monotonic() + 30
        while len(runs.metrics(run.id, tmp_path)) < 60 and time.monotonic() < deadline and writer.poll() is None:
            time.sleep(0.02)
        writer.send_signal(signal.SIGKILL)
    finally:
        writer.kill()
        writer.wait()
    status = runs.status_fields(run.id, tmp_path)
    steps = [r["step"] for r in runs.metrics(run.id, tmp_path)]
    assert len(steps) >= 60 and steps == list(range(len(steps)))  # whole lines, in order, none lost
    assert status["status"] == "running" and status["step"] in (steps[-1], steps[-1] + 1)  # status is written first
    for step in runs.snapshot_steps(run.id, tmp_path):  # each file whole: one value throughout
        filters = runs.load_snapshot(run.id, step, tmp_path)["filters"]
        assert filters.shape == (128, 128) and (filters == filters[0, 0]).all()
    weights, state, meta = runs.load_checkpoint(run.id, tmp_path)
    assert (weights["weight"] == meta["step"]).all()  # the weights and their step agree
    assert state is None or state["param_groups"][0]["lr"] == 0.1
