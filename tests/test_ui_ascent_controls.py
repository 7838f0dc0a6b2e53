"""What excites' words on a result (explorer.ui.ascent_controls)."""

from explorer import visualize
from explorer.ui import ascent_controls


def _frames(values: list[float]) -> list[visualize.Frame]:
    return [visualize.Frame(step, value, value, None) for step, value in enumerate(values)]


def _choice(mode: str) -> ascent_controls.Choice:
    return ascent_controls.Choice(visualize.Goal(mode, "pool1", 0), "Inverting", "title", "relative error")


def test_an_inversion_that_ends_above_its_lowest_error_says_where_the_lowest_was():
    """The curve jumps with jitter on, and the text quoted only the last value, about four times the lowest."""
    frames = _frames([0.69, 0.2, 0.04, 0.29, 0.18])
    said = ascent_controls.remark(_choice("invert"), frames, visualize.AscentConfig(jitter=4))
    assert said == (" The lowest was **0.0400**, at step 2. Jitter shifts the image by up to 4 pixels each step, so the "
                    "error jumps from step to step.")
    assert "Jitter" not in ascent_controls.remark(_choice("invert"), frames, visualize.AscentConfig(jitter=0))
    assert ascent_controls.remark(_choice("invert"), _frames([0.69, 0.2, 0.1]), visualize.AscentConfig()) == ""
