"""An optimisation under way (explorer.ui.optimisation): its frames, asked for by two runs of one session at once."""

import threading
import time

import torch

from explorer import visualize
from explorer.ui import optimisation


def _slow_frames(steps: int):
    for step in range(steps):
        time.sleep(0.05)  # a gradient step: a rerun's new thread arrives meanwhile
        yield visualize.Frame(step=step, value=float(step), objective=float(step), image=torch.zeros(1, 2, 2),
                              recorded=step % 2 == 0)


def test_two_runs_asking_for_the_next_frame_at_once_take_turns():
    """A click reruns the page in a new thread while the old run is inside a step: "generator already executing"
    broke the page and lost the work."""
    partial = {"key": (), "frames": [], "source": _slow_frames(20), "stopped": False}
    seen, failures = [], []

    def run() -> None:
        try:
            while (frame := optimisation.advance(partial)) is not None:
                seen.append(frame.step)
        except ValueError as exc:
            failures.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures and sorted(seen) == list(range(20))
    assert [f.step for f in partial["frames"]] == list(range(20))  # kept once each, in order


def test_the_store_counts_each_frame_beside_its_image():
    """A frame's own object and floats: LeNet-5's small images counted alone, the store had held 2.3 times its
    budget."""
    frames = [visualize.Frame(step=s, value=0.0, objective=0.0, image=torch.zeros(1, 2, 2) if s == 0 else None)
              for s in range(3)]
    assert optimisation._frame_bytes(frames) == 3 * optimisation._FRAME_BYTES + 16
