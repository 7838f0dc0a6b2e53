"""A stopped run brought in with its optimizer's state: it resumes where it stopped, and an optimizer file that is not
this network's is left out and said."""

import io

import pytest
import torch

from explorer import run_files, run_flags, run_import, run_lifecycle, runs, worker
from tests.run_zips import TINY, changed as _changed, members as _members


@pytest.fixture(scope="module")
def stopped(tmp_path_factory):
    """A run cancelled just after its first epoch's checkpoint, its Download, and the weights it ends with when
    resumed where it was trained."""
    root = tmp_path_factory.mktemp("home")
    run = runs.create(TINY, root=root)
    with pytest.MonkeyPatch.context() as patch:  # cancelled once the first checkpoint is on disk
        patch.setattr(run_flags, "cancel_requested", lambda run_id, root=None: (run.path / "checkpoint.json").exists())
        assert worker.run(run.path) == "cancelled"
    archive = run_files.export(run.id, root)
    run_lifecycle.requeue(run.id, "", root)
    assert worker.run(run.path) == "finished"
    return runs.get(run.id, root), archive, run_files.load_checkpoint(run.id, root)[0]


def _resumed(archive: bytes, root) -> dict[str, torch.Tensor]:
    """The weights a run brought in from ``archive`` ends with, resumed to its end."""
    here, _ = run_import.bring_in(archive, "me", root)
    run_lifecycle.requeue(here.id, "", root)
    assert worker.run(here.path) == "finished"
    return run_files.load_checkpoint(here.id, root)[0]


def _same(first: dict[str, torch.Tensor], second: dict[str, torch.Tensor]) -> bool:
    return first.keys() == second.keys() and all(torch.equal(first[k], second[k]) for k in first)


def test_a_stopped_run_comes_in_with_its_optimizer_and_resumes_as_it_would_have_at_home(stopped, tmp_path):
    run, archive, at_home = stopped
    assert "optimizer.pt" in {name.split("/", 1)[1] for name in _members(archive)}
    here, dropped = run_import.bring_in(archive, "me", tmp_path)
    assert here.status == "cancelled" and here.reason.endswith("brought in from a download: it resumes where it stopped")
    assert _same(_resumed(archive, tmp_path), at_home)  # the moments came with it: not one weight differs
    without = _changed(archive, run.id, {"optimizer.pt": None})
    assert not _same(_resumed(without, tmp_path / "fresh"), at_home)  # a fresh optimizer goes elsewhere


def test_an_optimizer_file_brought_in_keeps_only_the_moments_the_config_decides_the_rest(stopped, tmp_path):
    run, archive, at_home = stopped
    saved = torch.load(io.BytesIO(_members(archive)[f"{run.id}/optimizer.pt"]), weights_only=True)
    for group in saved["optimizer"]["param_groups"]:
        group.update(lr=1e9, weight_decay=50.0, betas=(0.0, 0.0))  # a stranger's settings: the run would diverge
    buffer = io.BytesIO()
    torch.save(saved, buffer)
    assert _same(_resumed(_changed(archive, run.id, {"optimizer.pt": buffer.getvalue()}), tmp_path), at_home)


class _Runs:
    """Would run a command when unpickled."""

    def __reduce__(self):
        return (print, ("this ran",))


def _saved(value: object) -> bytes:
    buffer = io.BytesIO()
    torch.save(value, buffer)
    return buffer.getvalue()


def test_an_optimizer_file_that_is_not_this_networks_is_left_out_and_said(stopped, tmp_path, capsys):
    run, archive, _ = stopped
    saved = torch.load(io.BytesIO(_members(archive)[f"{run.id}/optimizer.pt"]), weights_only=True)
    moments = saved["optimizer"]["state"]
    shapes = {**saved, "optimizer": {**saved["optimizer"], "state": {**moments, 0: {
        **moments[0], "exp_avg": torch.zeros(3)}}}}
    other_step = {**saved, "step": saved["step"] + 1}
    sgd_keys = {**saved, "optimizer": {**saved["optimizer"], "state": {
        i: {"momentum_buffer": m["exp_avg"]} for i, m in moments.items()}}}  # an AdamW run: its resume needs its own
    no_squares = {**saved, "optimizer": {**saved["optimizer"], "state": {
        i: {k: v for k, v in m.items() if k != "exp_avg_sq"} for i, m in moments.items()}}}
    no_count = {**saved, "optimizer": {**saved["optimizer"], "state": {
        i: {k: v for k, v in m.items() if k != "step"} for i, m in moments.items()}}}
    negative = {**saved, "optimizer": {**saved["optimizer"], "state": {
        i: {**m, "exp_avg_sq": -m["exp_avg_sq"] - 1} for i, m in moments.items()}}}  # squares below 0

    def each(change):
        return {**saved, "optimizer": {**saved["optimizer"], "state": {i: change(m) for i, m in moments.items()}}}

    odd = [each(lambda m: {**m, "exp_avg": torch.full_like(m["exp_avg"], 1e300, dtype=torch.float64)}),  # float32: inf
           each(lambda m: {**m, "exp_avg": m["exp_avg"].to(torch.float8_e4m3fn)}),  # isfinite cannot take it
           each(lambda m: {**m, "exp_avg": m["exp_avg"].to_sparse()}),
           each(lambda m: {**m, "exp_avg": torch.full_like(m["exp_avg"], 1e30),  # gradients cannot make these two
                           "exp_avg_sq": torch.zeros_like(m["exp_avg_sq"])}),
           {**saved, "optimizer": {**saved["optimizer"], "state": {}}},  # nothing saved: all afresh, unsaid
           {**saved, "optimizer": {**saved["optimizer"], "state": {0: moments[0]}}}]
    not_finite = {**saved, "optimizer": {**saved["optimizer"], "state": {**moments, 1: {
        **moments[1], "exp_avg_sq": torch.full_like(moments[1]["exp_avg_sq"], float("nan"))}}}}
    for raw in (b"not a pickle", _saved(_Runs()), _saved(shapes), _saved(other_step), _saved(not_finite),
                _saved({"step": saved["step"], "optimizer": [1, 2]}), *map(_saved, (sgd_keys, no_squares, no_count,
                                                                                  negative, *odd))):
        here, dropped = run_import.bring_in(_changed(archive, run.id, {"optimizer.pt": raw}), "me", tmp_path)
        assert "the optimizer's state (not what this network's optimizer keeps at its last step)" in dropped
        assert here.reason.endswith("it resumes with a fresh optimizer") and not (here.path / "optimizer.pt").exists()
        runs.delete(here.id, tmp_path)
    assert "this ran" not in capsys.readouterr().out


def test_an_optimizer_file_keeps_its_numbers_not_the_storage_they_are_views_of(stopped, tmp_path):
    """A moment that is a view of a 180 MB tensor had been written whole: a 2.6 MB upload, a 172 MB file."""
    run, archive, _ = stopped
    saved = torch.load(io.BytesIO(_members(archive)[f"{run.id}/optimizer.pt"]), weights_only=True)
    first = saved["optimizer"]["state"][0]
    big = torch.zeros(first["exp_avg"].numel() + 10_000_000)
    first["exp_avg"] = big[:first["exp_avg"].numel()].view_as(first["exp_avg"])
    here, dropped = run_import.bring_in(_changed(archive, run.id, {"optimizer.pt": _saved(saved)}), "me", tmp_path)
    assert dropped == () and (here.path / "optimizer.pt").stat().st_size < 5_000_000
