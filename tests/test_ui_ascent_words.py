"""What excites' words on a result (explorer.ui.ascent_words)."""

import pytest
import torch

from explorer import visualize
from explorer.ui import ascent_controls, ascent_words


def _frames(values: list[float]) -> list[visualize.Frame]:
    """An inversion's frames as :func:`visualize.keep` holds them: the lowest error so far marked, with its image."""
    marked = [visualize.Frame(step, value, value, torch.full((1, 2, 2), value), recorded=False,
                              lowest=value < min(values[:step], default=float("inf")))
              for step, value in enumerate(values)]
    return visualize.run(marked)


def _choice(mode: str) -> ascent_controls.Choice:
    return ascent_controls.Choice(visualize.Goal(mode, "pool1", 0), "Inverting", "title", "relative error")


def test_an_inversion_that_ends_above_its_lowest_error_says_where_the_lowest_was():
    """The curve jumps with jitter on, and the text quoted only the last value, about four times the lowest."""
    frames = _frames([0.69, 0.2, 0.04, 0.29, 0.18])
    said = ascent_words.remark(_choice("invert"), frames, visualize.AscentConfig(jitter=4))
    assert said == (" The lowest was **0.0400**, at step 2: its image is under yours. Jitter shifts the image by up "
                    "to 4 pixels each step, so the error jumps from step to step.")
    lowest = ascent_words.well_below_last(frames)
    assert lowest.step == 2 and float(lowest.image.max()) == pytest.approx(0.04)  # the page draws it
    assert "Jitter" not in ascent_words.remark(_choice("invert"), frames, visualize.AscentConfig(jitter=0))
    assert ascent_words.remark(_choice("invert"), _frames([0.69, 0.2, 0.1]), visualize.AscentConfig()) == ""
    assert ascent_words.well_below_last(_frames([0.69, 0.2, 0.1])) is None
