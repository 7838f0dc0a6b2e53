"""The Train page's snapshots of a run: the scrubber and its step in the link, and the first layer's filters on
one colour scale for the run, each on its own, or as their change."""

from streamlit.testing.v1 import AppTest

from tests.apptest import app, back_to, errors, figures, no_crash, warnings


def test_a_run_stopped_with_one_snapshot_shows_it_without_a_scrubber():
    import torch

    from explorer import run_files, run_lifecycle, runs

    run = runs.create({"data": "shapes", "model": "lenet5", "epochs": 1, "seed": 0})
    run_files.save_snapshot(run.id, 5, {"filters": torch.randn(6, 1, 5, 5), "probe_maps": torch.randn(1, 6, 28, 28)})
    run_lifecycle.set_status(run.id, "cancelled", "cancelled by the user")
    at = app("pages/train.py", run=run.id)
    no_crash(at)
    assert not errors(at)
    assert "First-layer filters at step 5" in [f["layout"]["title"]["text"] for f in figures(at)]
    assert not [s for s in at.select_slider if s.key == f"tr_scrub_{run.id}"]


def test_the_snapshot_shown_is_in_the_link_and_another_run_starts_at_its_last(tmp_path, monkeypatch):
    import torch

    from explorer import run_files, run_lifecycle, runs

    monkeypatch.setenv("EXPLORER_RUNS", str(tmp_path))
    made = []
    for name in ("first", "second"):
        run = runs.create({"data": "shapes", "model": "lenet5", "epochs": 1, "seed": 0}, root=tmp_path, name=name)
        for step in (0, 5, 10, 15):  # 0: the untrained filters
            run_files.save_snapshot(run.id, step, {"filters": torch.randn(6, 1, 5, 5),
                                                   "probe_maps": torch.randn(1, 6, 28, 28)}, tmp_path)
        run_lifecycle.set_status(run.id, "cancelled", "cancelled by the user", tmp_path)  # stopped: no results to show
        made.append(run.id)
    first, second = made

    def shown(at: AppTest) -> str:
        return next(t for t in (f["layout"]["title"]["text"] for f in figures(at)) if t.startswith("First-layer"))

    at = app("pages/train.py", run=first, snap="10")
    no_crash(at)
    assert at.select_slider(key=f"tr_scrub_{first}").value == 10 and shown(at) == "First-layer filters at step 10"
    at.select_slider(key=f"tr_scrub_{first}").set_value(5).run()
    assert at.query_params["snap"] in ("5", ["5"]) and shown(at) == "First-layer filters at step 5"
    at.select_slider(key=f"tr_scrub_{first}").set_value(0).run()
    assert at.query_params["snap"] in ("0", ["0"]) and shown(at) == "First-layer filters at step 0"
    untrained = app("pages/train.py", run=first, snap="0")  # the link's step 0 is the untrained filters, not the last
    assert shown(untrained) == "First-layer filters at step 0" and untrained.query_params["snap"] in ("0", ["0"])
    at.select_slider(key=f"tr_scrub_{first}").set_value(15).run()
    assert "snap" not in at.query_params  # the last snapshot: the link stays short
    at.select_slider(key=f"tr_scrub_{first}").set_value(5).run()
    at.session_state["tr_run"] = second  # what "Show it above" does
    at.run()
    assert shown(at) == "First-layer filters at step 15" and "snap" not in at.query_params
    at.session_state["tr_run"] = first
    at.run()
    for step in (10, 5):
        at.select_slider(key=f"tr_scrub_{first}").set_value(step).run()
    back_to(at, run=first, snap="10")  # the browser's Back: the scrubber kept 5 and wrote it straight back
    assert shown(at) == "First-layer filters at step 10" and at.query_params["snap"] in ("10", ["10"])
    back_to(at, run=first)
    assert shown(at) == "First-layer filters at step 15" and "snap" not in at.query_params
    gone = app("pages/train.py", run="20991231-000000-gone", snap="10")  # deleted: its snapshot's step goes too
    no_crash(gone)
    assert "There is no run `20991231-000000-gone` on this server" in warnings(gone)
    assert "run" not in gone.query_params and "snap" not in gone.query_params
    missing = app("pages/train.py", run=first, snap="7")
    no_crash(missing)
    assert ("The link's `snap=7` is a step this run kept no snapshot of (it kept steps 0 to 15): the nearest, 5, is "
            "shown." in [i.value for i in missing.info])
    assert missing.select_slider(key=f"tr_scrub_{first}").value == 5 and missing.query_params["snap"] in ("5", ["5"])


def test_the_filters_keep_one_colour_scale_for_the_run_or_show_their_change(tmp_path, monkeypatch):
    """Each snapshot on its own scale had recoloured filters that had not moved; a student scrubbing saw nothing."""
    import torch

    from explorer import run_files, run_lifecycle, runs

    monkeypatch.setenv("EXPLORER_RUNS", str(tmp_path))
    run = runs.create({"data": "shapes", "model": "lenet5", "epochs": 1, "seed": 0}, root=tmp_path)
    start = torch.randn(6, 1, 5, 5) * 0.2
    for step, filters in ((0, start), (10, start * 2)):  # the weights double: the largest 2 x 0.2 x its top
        run_files.save_snapshot(run.id, step, {"filters": filters, "probe_maps": torch.randn(1, 6, 28, 28)}, tmp_path)
    run_lifecycle.set_status(run.id, "cancelled", "cancelled by the user", tmp_path)
    largest = float(start.abs().max()) * 2

    def filters(at: AppTest) -> dict:
        return next(f for f in figures(at) if f["layout"]["title"]["text"].startswith(("First-layer", "Change")))

    def legend(at: AppTest) -> str:
        return filters(at)["layout"]["annotations"][0]["text"]

    at = app("pages/train.py", run=run.id, snap="0")
    no_crash(at)
    assert f"one scale for all: {-largest:.3g} to {largest:.3g}" in legend(at)  # the run's, at step 0 too
    at.selectbox(key="tr_fview").set_value("change").run()
    at.select_slider(key=f"tr_scrub_{run.id}").set_value(10).run()
    assert filters(at)["layout"]["title"]["text"] == "Change of the filters, step 0 to 10"
    assert at.query_params["fview"] in ("change", ["change"])
    each = app("pages/train.py", run=run.id, fview="each")
    assert "each filter on its own scale" in legend(each)
