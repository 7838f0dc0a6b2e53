"""Train: launch a short training run on this server's backend and watch the network learn."""

import hashlib
import json
import uuid

import streamlit as st

from explorer import architecture, labels, layer_table, runs, training
from explorer.ui import bring_in, compare, filter_view, lab, layer_editor, layout, run_list, run_status, state, visitor
from explorer.ui import transfer as transfer_ui

layout.page_setup(layout.PAGES[8])
st.title("Train")
st.markdown(
    "Pick a data set and a network, press **Train**, and watch the loss fall, the accuracy rise and the "
    "first layer's filters turn from noise into edge and blob detectors. Runs execute on the server's "
    "backend (its GPU when it has one), survive a closed tab, and a finished run appears as a model on "
    "the other pages. Set **Initial weights** to a trained network to try transfer learning, as with "
    "MNIST's digit filters on Fashion-MNIST's clothes: train a new classifier, new fully connected layers, or "
    "everything."
)

# a read-only store or a full disk: one word, not every section's; the runs it keeps can still be taken away
if (problem := run_status.store_problem()) is not None:
    st.warning(problem)
    run_list.read_only()
    st.stop()
DATA = ("shapes", "mnist", "fashion-mnist", "cifar10")
ARCHS = ("lenet5", "tinyvgg", "resnet_small", "custom")
DEFAULT_LR = 0.003
SETTINGS = [
    state.Setting("tr_data", "data", "shapes", state.choice(DATA)),
    state.Setting("tr_arch", "arch", "lenet5", state.choice(ARCHS)),
    state.Setting("tr_layers_text", "layers", "", lambda text: layer_table.to_text(layer_table.from_text(text))),
    state.Setting("tr_opt", "opt", "adamw", state.choice(("adamw", "sgd"))),
    state.Setting("tr_lr", "lr", DEFAULT_LR, state.float_between(0.0, 1e6), lambda v: f"{v:g}"),  # 0 as the box
    state.Setting("tr_batch", "batch", 128, state.int_choice((16, 32, 64, 128, 256, 512, 1024))),
    state.Setting("tr_epochs", "epochs", 2, state.int_between(1, 50)),
    state.Setting("tr_seed", "seed", 0, state.int_between(0, 1_000_000)),
    state.Setting("tr_augment", "aug", True, state.boolean, state.dump_bool),
    state.Setting("tr_scramble", "scramble", False, state.boolean, state.dump_bool),
    state.Setting("tr_images", "train", "all", state.choice(("1000", "5000", "20000", "all"))),
    state.Setting("tr_hand", "hand", False, state.boolean, state.dump_bool),
    state.Setting("tr_kernels", "kernels", list(architecture.HAND_SET[:4]), state.choices(architecture.HAND_SET),
                  ",".join),
    state.Setting("tr_frozen", "frozen", False, state.boolean, state.dump_bool),
    state.Setting("tr_from", "from", ""),
    state.Setting("tr_transfer", "transfer", "head", state.choice(architecture.TRANSFER_MODES)),
    state.Setting("tr_run", "run", "", lab.run_id),
    # the run's snapshot shown; -1: its last (0 is a step: the untrained filters)
    state.Setting("tr_snap", "snap", -1, state.int_between(-1, 10**9)),
    filter_view.setting(), *lab.CURVE_SETTINGS,
    state.Setting("tr_only_mine", "mine", False, state.boolean, state.dump_bool),
    # a run the link names twice is compared once
    state.Setting("tr_compare", "compare", [], lambda text: list(dict.fromkeys(i for i in text.split(",") if i)),
                  ",".join),
]
state.restore(SETTINGS)
state.implied("tr_arch", "custom", ("layers",))


listed = runs.list_runs()
above = st.container()  # a network of your own: its layer editor, the page's width above the settings
controls, view = st.columns([5, 7], gap="large")
with controls, layout.guard("preparing the run"):
    a, b = layout.cells(2, layout.SETTING_PX)
    data = a.selectbox("Data set", DATA, key="tr_data", format_func=labels.data,
                       help="Built-in shapes are drawn here, with no download; MNIST, Fashion-MNIST and CIFAR-10 "
                            "are downloaded once, the first time a run needs them, unless the server has them.")
    arch = b.selectbox("Network", ARCHS, key="tr_arch", format_func=labels.network)
    st.caption(labels.DATA_FACTS[data])
    extra, shape, classes = lab.input_of(data, arch)
    config, problem = {"data": data, "model": arch, **extra}, None
if arch == "custom":  # nine columns: in the view's 310 px at 1024 px they scrolled sideways
    with above, layout.guard("planning your network"), st.expander(
            "Your network, layer by layer", expanded=not st.session_state.tr_run, icon=":material/stacks:"):
        st.caption("One row per layer; the classifier to the classes is added at the end. Each layer's output "
                   "shape and parameters are worked out below as you type.")
        if state.came_back():  # the browser's Back: the layers of that address, not the editor's last ones
            layer_editor.start_again("tr_layers")
        linked = st.session_state.tr_layers_text if state.kept("tr_layers") is None else ""  # a link's, at first
        config["layers"] = layer_editor.layer_editor("tr_layers", layer_table.from_text(linked) if linked else None)
        mine = config["layers"] != layer_editor.edited_default()  # the link names the layers unless they are the default
        st.session_state.tr_layers_text = layer_table.to_text(config["layers"]) if mine else ""
        problem = layer_editor.plan_table(config["layers"], shape, classes)
else:  # a link's layers for another network than your own are not the view's: they leave the link
    st.session_state.tr_layers_text = ""
with controls, layout.guard("preparing the run"):
    transfer = transfer_ui.picker(config, shape[0], listed, SETTINGS)
    if transfer:
        config["transfer"] = transfer
    elif layout.toggle(st, "Hand-set first filters", key="tr_hand",  # with its help, whole in 203 px at 1024 px
                       help="Start from hand-set kernels: the first conv's filters begin as Sobel, Laplacian and "
                            "Gaussian instead of random, fixed or free to learn."):
        kernels = st.multiselect("Kernels", architecture.HAND_SET, key="tr_kernels")
        config["init"] = {"kernels": kernels, "frozen": st.toggle(
            "Keep them fixed (frozen)", key="tr_frozen",
            help="The hand-set filters stay as they are; the first layer's other filters start random and learn "
                 "beside them. With no kernel picked, the whole first layer stays random.")}
    a, b, c, d, e = layout.cells(5, layout.SETTING_PX)  # two to a row in the column, one on a projector
    config["optimizer"] = a.selectbox("Optimizer", ("adamw", "sgd"), key="tr_opt", format_func=labels.optimizer)
    # from 0, so that a cleared box or a typed 0 shows as 0 with a word, not as an unseen 1e-06
    config["lr"] = b.number_input("Learning rate", 0.0, 1e6, key="tr_lr", format="%g",
                                  help="The peak of a one-cycle schedule (Smith 2018): the rate climbs from a 25th "
                                       "of this over the first 30% of the steps, then falls to almost 0. The loss "
                                       "curve shows the rate each step used, dotted.")
    config["batch_size"] = c.selectbox("Batch", (16, 32, 64, 128, 256, 512, 1024), key="tr_batch")
    config["epochs"] = d.number_input("Epochs", 1, 50, key="tr_epochs")
    config["seed"] = e.number_input("Seed", 0, 1_000_000, key="tr_seed")
    config["augment"] = layout.toggle(st, "Augment the images", key="tr_augment",
                                      help="Random shifts, rotations and zooms of every training batch.")
    if layout.toggle(st, "Scramble the pixels", key="tr_scramble", help=lab.SCRAMBLE_HELP):
        config["scramble"] = True
    st.button("Example: CNN against MLP", key="tr_scramble_example", type="tertiary", icon=":material/school:",
              on_click=lab.reuse, args=(lab.SCRAMBLE_EXAMPLE, SETTINGS, False), help=lab.SCRAMBLE_EXAMPLE_HELP)
    images = st.segmented_control("Training images", ("1000", "5000", "20000", "all"), key="tr_images",
                                  required=True, format_func=lambda n: n if n == "all" else f"{int(n) // 1000}k",
                                  help="Fewer images: a faster run for a class demo (1k = 1,000).")
    too_big = False  # a batch larger than the training images, or one whose feature maps would not fit
    if images != "all":
        config["train_images"] = int(images)
        steps = training.total_steps(int(images), config["batch_size"], config["epochs"])
        if config["batch_size"] > int(images):  # the worker would refuse it: say so before launch
            too_big = True
            st.error(f"This run cannot start: a batch of {config['batch_size']} is larger than the {int(images):,} "
                     "training images. Pick a smaller batch or more images.")
        elif steps < lab.FEW_STEPS:
            st.warning(f"Only {steps} training steps ({int(images):,} images in batches of {config['batch_size']}, "
                       f"{config['epochs']} {labels.plural(config['epochs'], 'epoch')}): too few for the network "
                       "to learn much. A smaller batch or more epochs gives it more steps.")
    if (far := lab.lr_warning(config["optimizer"], config["lr"])) is not None:
        st.warning(far)
    if no_steps := config["lr"] <= 0:
        st.error("This run cannot start: a learning rate of 0 never moves the weights. Type one above 0, such as "
                 f"{DEFAULT_LR:g}.")
    problem, learns = (f"This network cannot be built: {problem}.", "") if problem else lab.launch_check(
        config, shape, classes, (lambda model: transfer_ui.check(model, transfer)) if transfer else None)
    if problem:
        st.error(problem)
    elif learns:
        st.caption(learns)
    session = st.session_state.setdefault("tr_session", uuid.uuid4().hex)
    # the same settings in the same session make the same request while the last run lasts: a double
    # click or a reconnect starts one run; once that run has ended, Train starts a new one
    ended = sum(1 for r in st.session_state.get("tr_mine", []) if runs.has_ended(r))
    request = hashlib.sha256(f"{session}{ended}{json.dumps(config, sort_keys=True)}".encode()).hexdigest()[:24]
    if unlike := lab.unlike_shown(config, st.session_state.tr_run):
        st.caption(unlike)
    if st.button("Train", key="tr_start", type="primary", disabled=bool(problem) or too_big or no_steps,
                 icon=":material/play_arrow:"):
        try:  # the teacher's session (the admin key) is not limited
            st.session_state.tr_run = run_status.backend().submit(
                config, request_id=request, owner=visitor.visitor_id(), limit=not visitor.is_admin())
        except runs.QueueFull:  # said while there is no room for these settings: a redraw of the list had wiped it
            st.session_state.tr_refused = request
        if st.session_state.tr_run and st.session_state.tr_run not in st.session_state.setdefault("tr_mine", []):
            st.session_state.tr_mine.append(st.session_state.tr_run)
    if st.session_state.get("tr_refused") == request and (refused := runs.room_problem(visitor.visitor_id())):
        st.error(refused)

with view:
    try:
        active = bool(st.session_state.tr_run) and runs.get(st.session_state.tr_run).active
    except (runs.RunNotFound, ValueError) as exc:  # deleted, a link from another server, or its files damaged (by
        # hand, a full disk: the list passes over it too): say so, and leave it and its snapshot's step out of the link
        st.warning(f"There is no run {labels.code(st.session_state.tr_run[:40])} on this server: it was deleted, or "
                   "the link comes from another server." if isinstance(exc, runs.RunNotFound) else
                   f"Run `{st.session_state.tr_run}` cannot be shown: {exc}. Whoever runs the server may mend "
                   "its files (or their owner and permissions) or delete its folder in the run store.")
        st.session_state.tr_run, st.session_state.tr_snap, active = "", -1, False
    run_id = st.session_state.tr_run
    if not run_id:
        st.info("Choose the settings, then press **Train**. Your runs and the server's queue are listed below.")
    else:

        @st.fragment(run_every=1.0 if active and lab.following() else None)
        def live() -> None:
            with layout.guard("showing the run"):
                lab.run_view(run_id, SETTINGS)
                if active and not runs.get(run_id).active:
                    st.rerun()  # it ended: draw the final view (scrubber, confusion matrix) once

        live()

st.subheader("Runs on this server")
only_mine = layout.toggle(st, "Only your runs", key="tr_only_mine", help="The runs started in this browser.")

run_list.run_lists(only_mine)
bring_in.draw()
with layout.guard("comparing runs"):  # outside the fragment: its choice goes into the link on each rerun
    compare.draw(listed)

visitor.admin_form()
visitor.remember()  # so that "yours" survives a reload
state.publish(SETTINGS)
