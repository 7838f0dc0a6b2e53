"""The Train page when the run store is in trouble: damaged run folders, a store the server may not write, a queue
with no room."""

from tests.apptest import app, errors, no_crash, shapes_run, text


def test_damaged_run_folders_are_named_and_the_teacher_alone_removes_them(tmp_path, monkeypatch):
    from explorer import runs

    monkeypatch.setenv("EXPLORER_RUNS", str(tmp_path))
    sound = runs.create({"model": "lenet5", "data": "shapes"}, root=tmp_path).id
    broken = runs.create({"model": "lenet5", "data": "shapes"}, root=tmp_path).id
    (tmp_path / broken / "status.json").write_text("{")  # a disk that filled up mid-write, or a hand edit
    student = app("pages/train.py")
    no_crash(student)
    assert "1 run folder on this server has damaged or unreadable files and is not listed" in text(student)
    assert f"tr_rm_{broken}" not in {b.key for b in student.button}
    monkeypatch.setenv("EXPLORER_ADMIN_KEY", "k" * 32)
    teacher = app("pages/train.py")
    teacher.text_input(key="visitor_admin_key").set_value("k" * 32)
    next(b for b in teacher.button if "Manage every run" in b.label).click().run()
    assert any(e.label.startswith("Damaged run folders (1)") for e in teacher.expander)
    assert f"Run `{broken}`'s config.json or status.json is not JSON" in text(teacher)
    teacher.button(key=f"tr_rm_{broken}").click().run()
    no_crash(teacher)
    assert not (tmp_path / broken).exists() and (tmp_path / sound).exists() and runs.damaged(tmp_path) == {}
    assert not any(e.label.startswith("Damaged") for e in teacher.expander)


def test_a_run_store_the_server_may_not_write_turns_training_off_in_one_word(tmp_path, monkeypatch):
    """A read-only checkout without EXPLORER_RUNS: every section had said "Permission denied" with the folder."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("EXPLORER_RUNS", str(blocker / "runs"))
    at = app("pages/train.py")
    no_crash(at)
    assert [w.value for w in at.warning] == [
        "Training is off on this server: it may not write its run store, where runs keep their weights and curves "
        "(a read-only folder, or a full disk). Whoever runs it can point EXPLORER_RUNS at a writable folder, or make "
        "room."]
    assert not errors(at) and not at.button  # no Train to press
    assert len(at.sidebar.get("page_link")) == 10  # the page stops early: its sidebar's links had gone with it


def test_a_store_the_server_may_no_longer_write_still_gives_its_runs_away(tmp_path, monkeypatch):
    """A full disk had hidden every run with the settings: a run's Download is all a visitor can still take."""
    from explorer import runs

    monkeypatch.setenv("EXPLORER_RUNS", str(tmp_path))
    run = shapes_run(tmp_path, "before the disk filled")
    monkeypatch.setattr(runs, "writable", lambda base=None: False)
    at = app("pages/train.py")
    no_crash(at)
    assert at.warning[0].value.startswith("Training is off on this server") and not errors(at)
    assert not at.button and list(next(d.value for d in at.dataframe)["run"]) == ["before the disk filled"]
    assert [b.proto.label for b in at.get("download_button")] == ["Download"]
    assert {link.proto.label for link in at.main.get("page_link")} >= {"Layer by layer", "Receptive fields"}
    assert f"model=run%3A{run.id}" in next(link.proto.query_string for link in at.main.get("page_link"))


def test_a_refused_run_is_said_while_there_is_no_room_for_it(monkeypatch):
    """The refusal had shown for one draw: the run list's redraw of the whole page (another run moving on) wiped it."""
    from explorer import runs

    monkeypatch.setattr(runs, "MOST_WAITING", 0)  # the server's queue is full
    at = app("pages/train.py", train="1000", epochs="1")
    at.button(key="tr_start").click().run()
    refusal = "The server's queue is full (0 runs wait): try again when some have started."
    assert errors(at) == [refusal] and not at.session_state["tr_run"]
    assert errors(at.run()) == [refusal]  # a redraw: still said
    at.number_input(key="tr_epochs").set_value(2).run()
    assert not errors(at)  # other settings: another request, not refused yet
    at.number_input(key="tr_epochs").set_value(1).run()
    assert errors(at) == [refusal]  # the same settings, and still no room
    monkeypatch.setattr(runs, "MOST_WAITING", 20)
    assert not errors(at.run())  # room now (runs ended, in this browser or not): nothing to say
