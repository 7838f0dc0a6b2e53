"""A run's progress log: whole records, a line cut off by a crash skipped, a resume's records superseding."""

from explorer import run_metrics, runs

CONFIG = {"model": "lenet5", "data": "shapes", "epochs": 1}


def test_a_cut_off_metrics_line_is_skipped_and_the_next_append_stays_readable(tmp_path):
    run = runs.create(CONFIG, root=tmp_path)
    run_metrics.append(run.id, [{"phase": "train", "step": 1}, {"phase": "train", "step": 2}], tmp_path)
    with open(run.path / "metrics.jsonl", "a") as handle:
        handle.write('{"phase": "train", "st')  # a crash mid-write
    assert [r["step"] for r in run_metrics.read(run.id, tmp_path)] == [1, 2]
    run_metrics.append(run.id, [{"phase": "eval", "step": 3, "loss": float("nan")}], tmp_path)
    records = run_metrics.read(run.id, tmp_path)
    assert [r["step"] for r in records] == [1, 2, 3] and records[-1]["loss"] is None  # JSON has no NaN



def test_a_metrics_file_of_bytes_or_a_folder_gives_what_it_can(tmp_path):
    """Bytes that are not UTF-8 had hidden every run's list (UnicodeDecodeError), a folder named so too."""
    run = runs.create(CONFIG, root=tmp_path)
    (run.path / "metrics.jsonl").write_bytes(b'\xff\xfe garbage\n{"phase": "train", "step": 1}\n')
    assert [r["step"] for r in run_metrics.read(run.id, tmp_path)] == [1]
    (run.path / "metrics.jsonl").unlink()
    (run.path / "metrics.jsonl").mkdir()
    assert run_metrics.read(run.id, tmp_path) == []


def test_records_a_worker_did_not_write_are_skipped(tmp_path):
    run = runs.create(CONFIG, root=tmp_path)
    (run.path / "metrics.jsonl").write_text('{"phase": "train", "step": 1}\n{"step": "a"}\n{"phase": "resume"}\n'
                                             '{"phase": "train", "step": 1}\n')
    assert [(r["phase"], r.get("step")) for r in run_metrics.read(run.id, tmp_path)] == [
        ("resume", None), ("train", 1)]  # a resume without a step: from the start


def test_a_resume_record_supersedes_the_records_after_its_step(tmp_path):
    run = runs.create(CONFIG, root=tmp_path)
    run_metrics.append(run.id, [{"phase": "train", "step": s} for s in (10, 20, 30)], tmp_path)
    run_metrics.append(run.id, [{"phase": "resume", "step": 20}, {"phase": "train", "step": 30}], tmp_path)
    assert [(r["phase"], r["step"]) for r in run_metrics.read(run.id, tmp_path)] == [
        ("train", 10), ("train", 20), ("resume", 20), ("train", 30)]
