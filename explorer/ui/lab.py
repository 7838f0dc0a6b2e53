"""The training lab's shared pieces: the run view, the runs list (the layer editor is
:mod:`explorer.ui.layer_editor`, a run's status line and buttons and the server's backend
:mod:`explorer.ui.run_status`, a finished run's results :mod:`explorer.ui.run_results`).

Runs execute in worker processes of the backend; pages only read the run store, so a page that
reruns, a second tab or a reconnecting browser never starts or loses a run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import streamlit as st
from torch import nn

from explorer import architecture, labels, mosaic, run_files, run_metrics, runs, train_figures
from explorer.ui import charts, filter_view, layer_editor, layout, run_results, run_status, state, visitor

# learning rates above these usually make the loss grow instead of fall (AdamW's default is 0.001; SGD's 0.01 to 0.1)
# LeNet-5 on MNIST with the app's SGD (Nesterov momentum 0.9, one-cycle): 0.05 reached 95%, 0.3 to 0.9 stayed at chance
HIGH_LR = {"adamw": 0.01, "sgd": 0.2}
LOW_LR = {"adamw": 1e-5, "sgd": 1e-4}  # LeNet-5 on 1,000 shapes, 2 epochs: AdamW at 1e-5 stays near chance
FEW_STEPS = 30  # LeNet-5 on 1,000 shapes: 7 steps reach 21% (chance 12.5%), 31 steps 72%, 62 steps 78%
# LeNet-5 (61,536 parameters) and an MLP of flatten, 256 and 128 units (234,888) on 1,000 built-in shapes, 5 epochs,
# batch 32, no augmentation, seeds 0 and 1: LeNet-5 92.4%, 93.8%, scrambled 68.3%, 72.9%; the MLP 80.9%, 82.7%,
# scrambled 82.0%, 81.3%
SCRAMBLE_EXAMPLE = {"data": "shapes", "model": "lenet5", "optimizer": "adamw", "lr": 0.003, "batch_size": 32,
                    "epochs": 5, "seed": 0, "augment": False, "train_images": 1000, "scramble": True}
SCRAMBLE_HELP = (
    "Every image's pixels moved to the same fixed random places, in training and in testing. A fully connected "
    "network (an MLP) learns as well as before: it never used the pixels' order. A CNN's kernels now see random "
    "pixels side by side, and it learns much less: on 1,000 built-in shapes LeNet-5 falls from about 93% to 70%, "
    "while an MLP of 256 and 128 units reads about 82%, scrambled or not. MLPs flatten the image and lose its "
    "spatial structure; CNNs keep it, with far fewer parameters.")
SCRAMBLE_EXAMPLE_HELP = (
    "LeNet-5 on 1,000 built-in shapes with scrambled pixels, 5 epochs. Train it, turn Scramble off and train "
    "again; then pick Network: Your own layers, type flatten, linear 256, relu, linear 128, relu, and train that "
    "both ways. Compare the four runs below.")
RUN_VIEW_PX = 516  # the Train page's view column (7 of 12 parts) in a 1400 px window, as measured
RUN_VIEW_LEAST_PX = 315  # and in a 1024 px window (a projector), with the sidebar open
READING_PX = 66  # test images 4 to a row in the view at 1024 px (RUN_VIEW_LEAST_PX), 6 at 1280 px


def run_id(text: str) -> str:
    """The link's ``run``: a run's id, or ValueError for text that cannot be one (``a/b``)."""
    if not runs.is_id(text):
        raise ValueError(f"{text[:40]!r} is not a run's id")
    return text


def lr_warning(optimizer: str, lr: float) -> str | None:
    """A word before launch when the learning rate is far above or below what ``optimizer`` usually takes."""
    high, low, name = HIGH_LR.get(optimizer), LOW_LR.get(optimizer), labels.optimizer(optimizer)
    if high is not None and lr > high:
        return (f"A learning rate of {lr:g} is far above what {name} usually takes (up to {high:g}): steps that "
                "large overshoot: the network stays at chance, or the loss grows until it is infinite (the run would "
                "then stop and say so: diverged). Lower it to see the network learn.")
    if low is not None and 0 < lr < low:  # a cleared box lands at the bottom of its range, unnoticed
        return (f"A learning rate of {lr:g} is far below what {name} usually takes (from {low:g}): each step "
                "barely moves the weights, so a short run will hardly learn. Raise it to see the network learn.")
    return None


SMOOTHING = state.Setting("tr_smooth", "smooth", 0.6, state.float_between(0.0, 0.99))  # TensorBoard's default
X_AXIS = state.Setting("tr_x", "x", "epoch", state.choice(tuple(train_figures.X_AXES)))
LOG_LOSS = state.Setting("tr_log", "logy", False, state.boolean, state.dump_bool)
CURVE_SETTINGS = (SMOOTHING, X_AXIS, LOG_LOSS)
WHOLE_PAGE = "tr_whole_page"  # a callback inside a fragment changed what lies outside it
REUSE_LEFT = "tr_reuse_left"  # (config, its settings as param=value that "Use these settings" could not put back)


def whole_page_if_asked() -> None:
    """In a fragment: rerun the whole page when a callback asked for it (``st.rerun`` is a no-op in callbacks)."""
    if st.session_state.pop(WHOLE_PAGE, False):
        st.rerun()


FOLLOW = "tr_follow"  # this browser redraws a running run's view each second


def following() -> bool:
    """Whether this browser follows a running run live (on until its viewer switches it off)."""
    return st.session_state.setdefault(FOLLOW, True)


def follow_toggle() -> None:
    """A switch that stops this browser's redraws, for anyone watching (the run goes on): a class watching a
    projected run, or a student reading its curves, may hold still what moves each second."""
    layout.toggle(st, "Follow it live", key=FOLLOW, on_change=st.session_state.__setitem__, args=(WHOLE_PAGE, True),
                  help="On: the curves, filters and maps redraw each second while it trains. Off: this view holds "
                       "still, for you only; the run goes on, and switching it back on catches up.")
    if not st.session_state[FOLLOW]:
        st.caption("Held still for you: the run goes on training. Switch **Follow it live** on to catch up.")


def input_of(data: str, arch: str) -> tuple[dict, tuple[int, int, int], int]:
    """Extra config keys, the network's input shape and the class count for a data set and a network."""
    if data == "shapes":
        size, channels = {"tinyvgg": (64, 3), "resnet_small": (32, 3)}.get(arch, (28, 1))
        return {"shapes_size": size, "shapes_channels": channels}, (channels, size, size), 8
    return {}, ((3, 32, 32) if data == "cifar10" else (1, 28, 28)), 10


_SETTING_WORDS = {"data": "data set", "model": "network", "layers": "layers", "optimizer": "optimizer",
                  "lr": "learning rate", "batch_size": "batch", "epochs": "epochs", "seed": "seed",
                  "augment": "augmentation", "scramble": "scrambled pixels", "train_images": "training images",
                  "init": "hand-set first filters", "transfer": "initial weights"}


def unlike_shown(config: dict, run_id: str) -> str:
    """Where the settings on the left differ from the run shown beside them, a sentence naming them (Train would
    start another run than the one in view); else ""."""
    try:
        shown = runs.get(run_id).config if run_id else None
    except (runs.RunNotFound, ValueError):
        return ""
    if shown is None:
        return ""
    mine, theirs = run_files.with_defaults(config), run_files.with_defaults(shown)
    differ = [words for key, words in _SETTING_WORDS.items() if mine.get(key) != theirs.get(key)]
    if not differ:
        return ""
    reused, left = st.session_state.get(REUSE_LEFT, (None, []))
    if left and reused == shown:  # "puts its own back" was not so
        return (f"These settings differ from the run shown ({', '.join(differ)}): this page cannot set its "
                f"{labels.listed([labels.code(v) for v in left], 4)}, so Train starts a run with the page's own.")
    return (f"These settings differ from the run shown ({', '.join(differ)}): Train starts a new run with them. "
            "**Use these settings** above the run puts its own back.")


def settings_of(config: dict) -> dict[str, Any]:
    """The Train page's widget values that make ``config`` again (its own layers are kept apart)."""
    values = {"tr_data": config.get("data"), "tr_arch": config.get("model"), "tr_opt": config.get("optimizer"),
              "tr_lr": config.get("lr"), "tr_batch": config.get("batch_size"), "tr_epochs": config.get("epochs"),
              "tr_seed": config.get("seed"), "tr_augment": config.get("augment", True),
              "tr_scramble": bool(config.get("scramble")),
              "tr_images": str(config.get("train_images") or "all")}
    init, source = config.get("init") or {}, config.get("transfer") or {}
    values.update(tr_hand=bool(init.get("kernels")), tr_frozen=bool(init.get("frozen")),
                  tr_from=source.get("from", ""), tr_transfer=source.get("train", "head"))
    if init.get("kernels"):
        values["tr_kernels"] = list(init["kernels"])
    return {key: value for key, value in values.items() if value is not None}


def launch_check(config: dict, shape: tuple[int, int, int], classes: int,
                 check: Callable[[nn.Module], None] | None = None) -> tuple[str | None, str]:
    """Why a run of ``config`` cannot start, in words: its network cannot be built (or ``check`` refuses it: a
    transfer's weights that do not fit), or its feature maps and their gradients would not fit at its batch; None
    when it can start. Beside it, how many of its parameters will learn where some stay fixed ("" when all learn)."""
    try:
        model = architecture.build(config, shape, classes)
        if check is not None:
            check(model)
    except architecture.ArchitectureError as exc:
        return f"This network cannot be built: {exc}.", ""
    moving, total = architecture.learning(model)
    learns = "" if moving == total else (
        f"Training moves {moving:,} of the network's {total:,} parameters ({labels.share(moving / total)}); the other "
        f"{total - moving:,} stay as they start.")
    batch = config["batch_size"]
    if (held := architecture.training_bytes(model, shape, batch)) > architecture.TRAINING_BYTES:
        # the worker would run out of memory, or the server's other work would
        return (f"This run cannot start: a batch of {batch:,} would hold about {held / 2**30:.0f} GB of feature maps "
                f"and their gradients ({held / batch / 2**20:.1f} MB an image), over this app's limit of "
                f"{architecture.TRAINING_BYTES // 2**30} GB. Pick a smaller batch, fewer filters, or pool "
                "earlier."), learns
    return None, learns


def reuse(config: dict, settings: Sequence[state.Setting], from_fragment: bool = True) -> None:
    """Fill the page's settings with a run's config (a callback: before the widgets are drawn).

    ``from_fragment``: the button sits in a fragment, so the whole page must be redrawn after it.
    """
    values, left = settings_of(config), []
    for setting in settings:
        if setting.key in values:
            try:
                st.session_state[setting.key] = setting.parse(setting.dump(values[setting.key]))
            except (TypeError, ValueError):  # e.g. a batch of 100 from a script: the page's choice stays, said
                left.append(f"{setting.param}={values[setting.key]}")
    st.session_state[REUSE_LEFT] = (config, left)
    if "tr_kernels" in values:
        st.session_state.tr_kernels = [k for k in values["tr_kernels"] if k in architecture.HAND_SET]
    if config.get("layers"):
        layer_editor.start_again("tr_layers", config["layers"])
    if from_fragment:
        st.session_state[WHOLE_PAGE] = True  # the settings sit outside the fragment that ran this


def run_view(run_id: str, settings: Sequence[state.Setting] = ()) -> None:
    """Curves, the first layer's filters and a probe image's feature maps, live while the run lasts.

    With the page's ``settings``, a button fills them with this run's, to train it again or change one thing.
    """
    whole_page_if_asked()
    try:
        run = runs.get(run_id)
    except runs.RunNotFound:
        st.warning("That run no longer exists on this server.")
        return
    except ValueError as exc:  # damaged since the page listed it
        st.warning(f"That run cannot be shown: {exc}.")
        return
    records = run_metrics.read(run_id)
    st.markdown(f"### {labels.md_text(run.name)}")
    st.caption(run_files.describe(run.config))
    if settings:
        st.button("Use these settings", key=f"tr_reuse_{run_id}", on_click=reuse, args=(run.config, settings),
                  icon=":material/tune:", help="Fill the settings on the left with this run's: train it again, "
                  "or change one thing and compare.")
    run_status.line(run, records)
    # a cancelled or failed run (a killed worker) continues from its checkpoint too, where it saved one
    resumable = run.status == "interrupted" or (run.status in runs.RESUMABLE and run_files.has_checkpoint(run_id))
    if not visitor.may_change(run.owner):
        if run.active or resumable:
            st.caption(visitor.owner_words(run.owner, "stop, pause or resume") + " You can watch it here.")
    elif run.active:
        run_status.controls(run)
    elif resumable and st.button("Resume from the last checkpoint", key=f"tr_resume_{run_id}"):
        try:  # as many runs waiting as a browser may: a resumed run counts as a new one
            run_status.backend().resume(run_id, limit=not visitor.is_admin())
            st.rerun()  # the whole page: its live view ticks only for a run that was active when it was drawn
        except runs.QueueFull as exc:
            st.error(str(exc))
    if run.active:
        follow_toggle()
    if records:
        smoothing, x, log_loss = curve_controls(settings)
        figures = [train_figures.loss_figure(records, smoothing=smoothing, x=x, log_loss=log_loss),
                   train_figures.accuracy_figure(records, smoothing=smoothing, x=x)]
        kept = run_files.snapshot_steps(run_id)
        # the snapshot shown below (before its scrubber is first drawn: the link's)
        linked = st.session_state.get("tr_snap", -1) if state.from_link("tr_snap") and kept else -1
        scrubbed = None if run.active else st.session_state.get(
            f"tr_scrub_{run_id}", _nearest_kept(linked, kept) if linked >= 0 else None)
        place = None if scrubbed in (None, *kept[-1:]) else train_figures.step_place(records, scrubbed, x)
        if place is not None:
            figures = [train_figures.mark_snapshot(fig, place, scrubbed) for fig in figures]
        # side by side where each gets half the view's width, else one under the other (the 300 px view at 1024 px)
        for place, fig, name in zip(layout.flow(2, layout.LARGE_PICTURE_PX, f"tr_curves_{run_id}"), figures,
                                    ("loss", "accuracy")):
            charts.show(place, fig, key=f"tr_{name}_{run_id}")
        if run.status == "running" and following() and not run_status.paused_words(run):
            st.caption("The curves redraw each second while the run trains, which undoes a zoom: "
                       + ("pause the run or " if visitor.may_change(run.owner) else "")
                       + "switch **Follow it live** off to zoom in.")  # Streamlit 1.67 draws a changed figure
            # afresh, whatever its uirevision
        elif not run.active:  # (while it trains, a file drawn again each second is not there to fetch)
            st.download_button("Curves (CSV)", run_files.curves_csv(records), key=f"tr_csv_{run_id}",
                               file_name=f"{labels.file_stem(run.name, tagged=False)}-{run_id}-curves.csv",
                               mime="text/csv", on_click="ignore", icon=":material/table_view:",
                               help="Every logged step and epoch end: losses, accuracies, learning rate, time.")
    steps = run_files.snapshot_steps(run_id)
    if steps:
        try:
            _snapshot_view(run, steps, settings)
        except ValueError as exc:  # a damaged snapshot: the rest of the run (results, links) still shows
            st.warning(f"This run's filters cannot be shown: {exc}.")
    if run.status == "finished":
        run_results.results(run, RUN_VIEW_LEAST_PX)


def curve_view() -> tuple[float, str, bool]:
    """How the curves are drawn now (smoothing, x axis, log-scale loss), from the page's settings or their
    defaults: the runs compared below a run's curves draw as they do."""
    return tuple(st.session_state.get(s.key, s.default) for s in CURVE_SETTINGS)  # type: ignore[return-value]


def curve_controls(settings: Sequence[state.Setting]) -> tuple[float, str, bool]:
    """How the learning curves are drawn, as TensorBoard lets one choose: the training curves' smoothing
    (``smooth=``; 0 draws the raw values alone), what they are drawn against (``x=``: epoch, step or seconds of
    training) and a log-scale loss (``logy=1``). The runs compared below follow them."""
    redraw = dict(on_change=st.session_state.__setitem__, args=(WHOLE_PAGE, True))  # the runs compared too
    # the setting's value is also the slider's default: a rerun started in a fragment while a run trained had the
    # browser reset the slider to its default, show it and send it back (a default of 0: the link said smooth=0.0)
    shown = st.session_state.setdefault(SMOOTHING.key, SMOOTHING.default)
    smoothing = st.slider("Smoothing of the training curves", 0.0, 0.99, shown, key=SMOOTHING.key, step=0.01,
                          **redraw,
                          help="As TensorBoard smooths: a moving average that weighs each logged value by 1 - this "
                               "and the average so far by this (0.6 by default), its start corrected; the raw values "
                               "stay faint behind. The test set's points, one per epoch, are never smoothed.")
    # a row that wraps: in two columns at 1024 px the control scrolled its "time" out of sight
    row = st.container(horizontal=True, wrap=True, vertical_alignment="bottom", gap="medium")
    x = row.segmented_control("Against", tuple(train_figures.X_AXES), key="tr_x", required=True, **redraw,
                               format_func={"epoch": "epoch", "step": "step", "time": "time"}.get,
                               help="Epochs (passes over the training images), steps (batches: one weight update "
                                    "each) or seconds of training: runs with different batch sizes or on different "
                                    "machines compared by the time they took.")
    log_loss = row.toggle("Log-scale loss", key="tr_log", **redraw,
                          help="A loss falling from 2.3 to 0.01 flattens to the floor on a linear axis; on a log "
                               "axis each tenfold drop takes the same height, so its late progress shows.")
    if settings:
        state.publish(settings)  # a fragment's rerun does not reach the page's own publish
    return smoothing, x, log_loss


def _snapshot_view(run: runs.Run, steps: list[int], settings: Sequence[state.Setting]) -> None:
    """The first layer's filters, a probe image's maps and the readings at the snapshot shown (the last, or the
    scrubbed one of a run that ended)."""
    if run.active or len(steps) == 1:  # a run stopped early may hold one snapshot: nothing to scrub
        step = steps[-1]
    else:
        step = _scrubbed_step(run.id, steps, settings)
    snap = run_files.load_snapshot(run.id, step)
    view = filter_view.choose()
    # side by side where each gets a useful size (figures sized for half the view), else one under the other
    left, right = layout.flow(2, layout.LARGE_PICTURE_PX, f"tr_snapshots_{run.id}")
    charts.show(left, filter_view.figure(run, steps, step, snap["filters"], view, RUN_VIEW_PX // 2),
                key=f"tr_filters_{run.id}_{step}")
    if "probe_maps" in snap:  # a snapshot written by hand, or by an older worker, may hold the filters alone
        charts.show(right, mosaic.maps_figure(snap["probe_maps"][0], 0, "A probe image's first feature maps",
                                              height=330, width_px=RUN_VIEW_PX // 2),
                    key=f"tr_maps_{run.id}_{step}")
    if "read_probabilities" in snap:  # a run saved before the readings were kept has none
        _readings(run.id, step, snap)


def _readings(run_id: str, step: int, snap: dict) -> None:
    """A dozen test images and what the network reads in each at this snapshot: its guesses turn right as it learns
    (as ConvNetJS shows them during training). Each is an image of its own in a wrapping row: one figure's height
    fits one width only, and left 170 px blank under it at 1024 px."""
    captions = train_figures.reading_captions(snap["read_probabilities"], snap["read_labels"],
                                              run_files.snapshot_classes(run_id, step))
    right = sum(c.startswith("✓") for c in captions)
    pictures = list(snap["read_images"].float() / 255)
    st.markdown(f"**{right} of {len(pictures)} test images read right at step {step:,}**")
    # at most 6 a row: two rows of 6 in a wide view, not 11 and 1 (7 tiles are wider than 6 with any gap up to 8 px)
    row = st.container(horizontal=True, wrap=True, gap="xsmall", key=f"tr_readings_{run_id}",
                       width=6 * READING_PX + 5 * 8)
    for picture, caption in zip(pictures, captions):  # a caption is Markdown: two spaces end its first line
        row.image(mosaic.framed_tile(picture, READING_PX), caption=caption.replace("\n", "  \n"),
                  width=READING_PX, output_format="PNG",  # a JPEG blurs the enlarged pixels
                  alt=f"A test image, {' '.join(caption.split())}")  # a screen reader had read its file's name


def _scrubbed_step(run_id: str, steps: list[int], settings: Sequence[state.Setting]) -> int:
    """The snapshot scrubber over a finished run's ``steps``; the step shown is the page's ``tr_snap`` setting (-1:
    the last), so a link opens on it. The setting belongs to the run it was set for: another run starts at its last."""
    key = f"tr_scrub_{run_id}"
    if state.came_back():  # the browser's Back: the snapshot of that address, not the scrubber's last one
        st.session_state.pop(key, None)
    if key not in st.session_state:
        linked = st.session_state.get("tr_snap", -1)
        if state.from_link("tr_snap") and linked >= 0 and linked not in steps:
            nearest = _nearest_kept(linked, steps)
            st.info(f"The link's {labels.code(f'snap={linked}')} is a step this run kept no snapshot of (it kept "
                    f"steps {steps[0]:,} to {steps[-1]:,}): the nearest, {nearest:,}, is shown.")
            linked = nearest
        ours = state.from_link("tr_snap") or st.session_state.get(_SNAP_RUN) == run_id
        st.session_state[key] = linked if ours and linked in steps else steps[-1]
    step = st.select_slider("Snapshot (feature evolution over training)", steps, key=key,
                            format_func=lambda s: f"step {s:,}")
    if settings:
        st.session_state.tr_snap, st.session_state[_SNAP_RUN] = (-1 if step == steps[-1] else step), run_id
        state.publish(settings)  # a fragment's rerun does not reach the page's own publish
    return step


def _nearest_kept(step: int, kept: list[int]) -> int:
    """The kept snapshot's step nearest ``step`` (of two as near, the earlier)."""
    return min(kept, key=lambda other: (abs(other - step), other))


_SNAP_RUN = "tr_snap_run"  # the run whose scrubber set ``tr_snap``


def accuracy_text(run: runs.Run) -> str:
    """The run's last test accuracy, as a percentage ("-" before its first epoch ends)."""
    tests = [r["test_accuracy"] for r in run_metrics.read(run.id) if r.get("test_accuracy") is not None]
    return f"{tests[-1]:.1%}" if tests else "-"
