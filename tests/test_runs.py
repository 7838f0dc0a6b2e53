"""The run store: folders, atomic writes that survive a SIGKILL, dedup, recovery, checkpoints."""

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from explorer import run_files, run_lifecycle, run_metrics, runs
from tests.conftest import ROOT

CONFIG = {"model": "lenet5", "data": "shapes", "epochs": 1}


def test_default_names_are_numbered_after_the_highest(tmp_path):
    names = [runs.create(CONFIG, root=tmp_path).name for _ in range(3)]
    assert names == ["LeNet-5 on Built-in shapes #1", "LeNet-5 on Built-in shapes #2", "LeNet-5 on Built-in shapes #3"]
    assert runs.create({**CONFIG, "data": "mnist"}, root=tmp_path).name == "LeNet-5 on MNIST #1"
    second = runs.list_runs(tmp_path)[2]
    runs.rename(second.id, "LeNet-5 on Built-in shapes #7", tmp_path)
    runs.delete(runs.list_runs(tmp_path)[1].id, tmp_path)  # the next follows the highest, #7
    assert runs.create(CONFIG, root=tmp_path).name == "LeNet-5 on Built-in shapes #8"


def test_create_get_list_rename_delete(tmp_path):
    first = runs.create(CONFIG, root=tmp_path)
    second = runs.create({**CONFIG, "epochs": 2}, root=tmp_path, name="mine", owner="browser-a")
    assert first.status == "queued" and first.config == CONFIG and first.name == "LeNet-5 on Built-in shapes #1"
    assert first.owner == "" and runs.get(second.id, tmp_path).owner == "browser-a"
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


def test_a_relative_root_is_the_servers_folder_not_the_workers(tmp_path, monkeypatch):
    """A server started in /tmp/x with EXPLORER_RUNS=relruns wrote there; its workers, started in the repo, looked
    for repo/relruns and every run failed."""
    from explorer import data, models, top_activations

    monkeypatch.chdir(tmp_path)
    for variable in (runs.ROOT_ENV, data.ROOT_ENV, top_activations.CACHE_ENV, "EXPLORER_WEIGHTS_DIR"):
        monkeypatch.setenv(variable, "here")
    assert runs.root() == data.default_root() == models.weights_dir() == tmp_path.resolve() / "here"
    assert top_activations.cache_root() == tmp_path.resolve() / "here" / "top_activations"


def test_ids_that_are_not_plain_names_are_refused(tmp_path):
    for bad in ("../etc", "a/b", "", ".hidden", "-x", "a..b"):
        assert not runs.is_id(bad)
        with pytest.raises(ValueError):
            runs.path(bad, tmp_path)
    assert runs.is_id("20261204-000612-4efc54") and runs.path("my_run.2", tmp_path) == tmp_path / "my_run.2"


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
    assert run_lifecycle.set_status(run.id, "finished", "done", tmp_path, test_accuracy=0.9).status == "finished"
    assert run_lifecycle.set_status(run.id, "failed", "late", tmp_path, only_from=runs.ACTIVE).status == "finished"
    assert runs.status_fields(run.id, tmp_path)["test_accuracy"] == 0.9
    with pytest.raises(ValueError):
        run_lifecycle.set_status(run.id, "exploded", "", tmp_path)


@pytest.mark.parametrize("config,status", [
    *(('{"model": "lenet5"}', status) for status in ("{}", "[]", "null", '{"status": "fin',
                                                     '{"status": "finished", "created": "x"}',
                                                     '{"status": "done", "created": 1, "updated": 1}',
                                                     *(f'{{"status": "finished", "created": 1, "updated": 1, {field}}}'
                                                       for field in ('"name": 123', '"owner": null', '"pid": "x"',
                                                                     '"reason": ["a"]', '"queued": "soon"')))),
    *((config, '{"status": "finished", "created": 1, "updated": 1}')
      for config in ("{}", "[]", "zzz", '{"model": "lenet5", "lr": "fast"}', '{"model": 5}', '{"epochs": 1.5}'))])
def test_a_folder_whose_status_or_config_is_damaged_is_passed_over(tmp_path, config, status):
    """One hand-edited status.json had stopped every list of runs (KeyError, TypeError in the sort); a config of
    {} had passed for a run of the defaults."""
    good = runs.create(CONFIG, root=tmp_path)
    bad = tmp_path / "20260101-000000-abcdef"
    bad.mkdir()
    (bad / "config.json").write_text(config)
    (bad / "status.json").write_text(status)
    assert [run.id for run in runs.list_runs(tmp_path)] == [good.id]
    with pytest.raises(ValueError, match="config or status is damaged|is not JSON: its files are damaged"):
        runs.get(bad.name, tmp_path)


def test_a_folder_the_server_may_not_read_is_passed_over(tmp_path, monkeypatch):
    """A folder of another user's, mode 700 (made unreadable here by hand: root reads every file)."""
    good = runs.create(CONFIG, root=tmp_path)
    shut = runs.create(CONFIG, root=tmp_path)
    read = runs.read_json

    def refuse(source):
        if source.parent == shut.path:
            raise PermissionError(13, "Permission denied", str(source))
        return read(source)

    monkeypatch.setattr(runs, "read_json", refuse)
    assert [run.id for run in runs.list_runs(tmp_path)] == [good.id]
    with pytest.raises(ValueError, match="cannot be read \\(Permission denied\\)"):
        runs.get(shut.id, tmp_path)


def _fake_worker(seconds: float) -> subprocess.Popen:
    """A process whose command line names explorer.worker, as a real worker's does."""
    return subprocess.Popen([sys.executable, "-c", f"import time; time.sleep({seconds})", "explorer.worker"])


def test_recover_marks_runs_of_dead_workers_interrupted_and_leaves_live_ones(tmp_path):
    dead, live = _fake_worker(0), _fake_worker(30)
    try:
        dead.wait()
        orphan, watched, waiting = (runs.create(CONFIG, root=tmp_path) for _ in range(3))
        run_lifecycle.set_status(orphan.id, "running", "", tmp_path, pid=dead.pid)
        run_lifecycle.set_status(watched.id, "running", "", tmp_path, pid=live.pid)
        assert run_lifecycle.recover(tmp_path) == [orphan.id]
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
from explorer import run_files, run_lifecycle, run_metrics
root, run_id = Path(sys.argv[1]), sys.argv[2]
model = nn.Linear(64, 64)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
i = 0
while True:
    run_lifecycle.set_status(run_id, "running", f"step {i}", root, step=i)
    run_metrics.append(run_id, [{"phase": "train", "step": i, "pad": "x" * 20000}], root)
    run_files.save_snapshot(run_id, i % 3, {"filters": torch.full((128, 128), float(i))}, root)
    with torch.no_grad():
        model.weight.fill_(i)
    run_files.save_checkpoint(run_id, model, optimizer, i, i / 10, root)
    i += 1
"""


def test_a_writer_killed_mid_write_leaves_the_run_readable(tmp_path):
    run = runs.create(CONFIG, root=tmp_path)
    writer = subprocess.Popen([sys.executable, "-c", _WRITER, str(tmp_path), run.id], cwd=ROOT,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        deadline = time.monotonic() + 30
        while len(run_metrics.read(run.id, tmp_path)) < 60 and time.monotonic() < deadline and writer.poll() is None:
            time.sleep(0.02)
        writer.send_signal(signal.SIGKILL)
    finally:
        writer.kill()
        writer.wait()
    status = runs.status_fields(run.id, tmp_path)
    steps = [r["step"] for r in run_metrics.read(run.id, tmp_path)]
    assert len(steps) >= 60 and steps == list(range(len(steps)))  # whole lines, in order, none lost
    assert status["status"] == "running" and status["step"] in (steps[-1], steps[-1] + 1)  # status is written first
    for step in run_files.snapshot_steps(run.id, tmp_path):  # each file whole: one value throughout
        filters = run_files.load_snapshot(run.id, step, tmp_path)["filters"]
        assert filters.shape == (128, 128) and (filters == filters[0, 0]).all()
    weights, state, meta = run_files.load_checkpoint(run.id, tmp_path)
    assert (weights["weight"] == meta["step"]).all()  # the weights and their step agree
    assert state is None or state["param_groups"][0]["lr"] == 0.1


def test_damaged_folders_are_named_and_only_they_are_removed_as_damaged(tmp_path):
    sound = runs.create({"model": "lenet5"}, root=tmp_path)
    broken = runs.create({"model": "lenet5"}, root=tmp_path)
    (broken.path / "config.json").write_text("[]")
    (tmp_path / "notes").mkdir()  # a folder that is no run at all: not named
    assert runs.damaged(tmp_path) == {broken.id: f"run {broken.id}'s config or status is damaged"}
    with pytest.raises(ValueError, match="is not damaged"):
        runs.delete_damaged(sound.id, tmp_path)
    runs.delete_damaged(broken.id, tmp_path)
    assert [r.id for r in runs.list_runs(tmp_path)] == [sound.id] and runs.damaged(tmp_path) == {}


def test_a_name_is_kept_to_one_plain_line(tmp_path):
    """Names reach the whole class: no links, images, HTML or code from a classmate, no second line, 80 at most."""
    run = runs.create({"arch": "lenet5"}, root=tmp_path, name="Q ![q](http://x/q.png)\n<i>it</i> `x`")
    assert run.name == "Q !q(http://x/q.png) it x"
    assert runs.rename(run.id, "a" * 200, tmp_path).name == "a" * 80
    assert runs.rename(run.id, " [] <> ", tmp_path).name == "a" * 80  # nothing left: the name stays


def test_one_browser_may_have_two_runs_waiting_and_the_server_a_full_queue(tmp_path, monkeypatch):
    """The queue is the class's: a third run of one browser, or a run beyond the server's queue, is refused in words."""
    config = {"arch": "lenet5"}
    first = runs.create(config, "a1", tmp_path, owner="browser-a", limit=True)
    runs.create(config, "a2", tmp_path, owner="browser-a", limit=True)
    with pytest.raises(runs.QueueFull, match="You have 2 runs waiting or training"):
        runs.create(config, "a3", tmp_path, owner="browser-a", limit=True)
    assert runs.create(config, "a2", tmp_path, owner="browser-a", limit=True).owner == "browser-a"  # the same request
    assert len(runs.list_runs(tmp_path)) == 2
    run_lifecycle.set_status(first.id, "finished", "", tmp_path)  # an ended run leaves room
    runs.create(config, "a4", tmp_path, owner="browser-a", limit=True)
    runs.create(config, "b1", tmp_path, owner="browser-b", limit=True)
    monkeypatch.setattr(runs, "MOST_WAITING", 3)
    with pytest.raises(runs.QueueFull, match=r"queue is full \(3 runs wait\)"):
        runs.create(config, "c1", tmp_path, owner="browser-c", limit=True)
    runs.create(config, root=tmp_path, owner="browser-a")  # unlimited: a script, the teacher


def test_a_resumed_run_counts_against_its_browsers_limit(tmp_path):
    config = {"arch": "lenet5"}
    stopped = runs.create(config, "a0", tmp_path, owner="browser-a", limit=True)
    run_lifecycle.set_status(stopped.id, "cancelled", "", tmp_path)
    runs.create(config, "a1", tmp_path, owner="browser-a", limit=True)
    runs.create(config, "a2", tmp_path, owner="browser-a", limit=True)
    with pytest.raises(runs.QueueFull, match="You have 2 runs waiting or training"):
        run_lifecycle.requeue(stopped.id, "", tmp_path, limit=True)
    assert runs.get(stopped.id, tmp_path).status == "cancelled"
    assert run_lifecycle.requeue(stopped.id, "", tmp_path).status == "queued"  # the teacher's session: no limit


def test_adopt_refuses_what_a_run_cannot_hold_before_placing_it(tmp_path):
    with pytest.raises(ValueError, match="must have the config and status a run has"):
        runs.adopt({"model": "lenet5"}, {"status": "finished"}, {}, "r", tmp_path)  # no created, updated
    with pytest.raises(ValueError, match="must have the config and status a run has"):
        runs.adopt({"model": "lenet5", "lr": "fast"}, {"status": "finished", "created": 1, "updated": 1}, {}, "s",
                   tmp_path)
    assert runs.list_runs(tmp_path) == [] and runs.damaged(tmp_path) == {}


def test_a_run_has_ended_once_final_or_gone(tmp_path):
    run = runs.create(CONFIG, root=tmp_path)
    assert not runs.has_ended(run.id, tmp_path)
    run_lifecycle.set_status(run.id, "finished", "", tmp_path)
    assert runs.has_ended(run.id, tmp_path) and runs.has_ended("no-such-run", tmp_path)
