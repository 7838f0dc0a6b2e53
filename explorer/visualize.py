"""What a unit, a channel or a class wants to see: images made by gradient ascent on the input.

Activation maximisation (Erhan et al. 2009, the lecture's algorithm): start from noise
``x0 ~ N(0, 1)``, forward to the target's activation ``a(x)``, backward to ``da/dx``, take a small
step along it, repeat; optionally keep ``||x|| = rho``. The raw result is high-frequency noise the
unit happens to like; the regularisers of Yosinski et al. (2015) and Olah et al. (2017) make it
readable: an L2 penalty, total variation and random jitter (:mod:`explorer.regularisers`), and a blur every
few steps.

- :func:`ascend`: a channel (its mean over positions), one unit of its map, or one output of a
  fully connected layer, from noise or from the user's image.
- :func:`class_model`: Simonyan et al. (2014), ``argmax_x f_c(x) - lambda ||x||^2`` on the class
  score before the softmax.
- :func:`invert`: Mahendran & Vedaldi (2015), ``argmin_x ||f(x) - f0||^2 / ||f0||^2 + lambda ||x||^2
  + mu TV(x)``: an image whose representation at a layer matches the user's image's.
- :func:`dream`: DeepDream (Mordvintsev et al. 2015), ``argmax_x mean(f(x)^2)`` from the user's image: what a
  layer sees in it, amplified.

Conventions. The image is the project's: (C, H, W) in [0, 1], projected back onto [0, 1] after every
step. "Noise N(0, 1)", the L2 penalty and the norm constraint live where the network computes, after
its ``Normalize`` layer: ``z = (x - mean) / std``, so ``x0 = mean + std * eps``; total variation is
taken on the pixels. The norm constraint rescales z to RMS ``rho`` before the projection onto [0, 1],
which may leave it lower (a digit's z cannot leave [-0.42, 2.82]). Deviation from the plain step
``x + eta * da/dx``: the gradient is divided by its root mean square, so the step size ``eta`` is in
pixel units whatever the scale of the layer's activations (one setting fits every layer).

Every function is a generator of :class:`Frame` records, one per step, so a page can show progress,
animate the recorded images and stop at any time; :func:`run` collects them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, fields, replace

import torch
import torchvision  # noqa: F401  (whole, before a part of it: see explorer/__init__.py)
from torch import nn

from explorer import extraction, image_param, inspect, networks
from explorer.regularisers import jittered, likeness, total_variation

Gain = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]  # x (1, C, H, W) -> (to maximise, shown value)


@dataclass(frozen=True)
class Target:
    """What to excite in ``layer``: a channel's mean over its map, one unit ``(y, x)`` of it, or one output; less
    the same of channel ``minus`` (Lucent's objective arithmetic, ``channel(a) - channel(b)``: what excites one and
    not the other). For a layer without feature maps (the class scores) ``channel`` is the output's index.
    """

    layer: str
    channel: int
    unit: tuple[int, int] | None = None
    minus: int | None = None


@dataclass(frozen=True)
class AscentConfig:
    """The optimisation and its regularisers; every weight 0 gives the lecture's plain ascent."""

    steps: int = 128
    step_size: float = 0.05  # eta: pixel change per step, of the RMS-normalised gradient
    l2: float = 0.0  # lambda: weight of mean(z^2), the image's energy in the network's units
    tv: float = 0.0  # mu: weight of total variation, mean squared difference of neighbouring pixels
    jitter: int = 0  # shift the image by up to this many pixels (random) before every forward pass
    warp: bool = False  # and scale and turn it a little (Lucent's standard transforms: image_param.warped)
    blur_every: int = 0  # blur the image every k steps (0: never)
    blur_sigma: float = 0.5  # the blur's Gaussian sigma in pixels
    norm: float = 0.0  # rho: rescale z to RMS rho after every step, before the clip to [0, 1] (0: no constraint)
    record_every: int = 8  # keep the image every k steps (and the first and the last)
    seed: int = 0  # the noise, the jitter
    param: str = "pixels"  # what is optimised: the pixels, or the spectrum ("fourier"; see explorer.image_param)
    images: int = 1  # optimised at once, each from its own noise (seed, seed + 1, ...)
    diversity: float = 0.0  # weight of the images' likeness (:func:`likeness`), so that they differ (Olah et al.)

    def checked(self) -> AscentConfig:
        """The config itself, or ValueError naming the first setting out of range."""
        limits = {"steps": (1, 10_000), "step_size": (1e-6, 1.0), "l2": (0.0, 1e3), "tv": (0.0, 1e4),
                  "jitter": (0, 64), "blur_every": (0, 10_000), "blur_sigma": (0.1, 10.0), "norm": (0.0, 100.0),
                  "record_every": (1, 10_000), "images": (1, 8), "diversity": (0.0, 1e4)}
        if self.param not in image_param.PARAMS:
            raise ValueError(f"param must be one of {', '.join(image_param.PARAMS)}, got {self.param!r}")
        if self.param == "fourier" and (self.blur_every or self.norm):
            raise ValueError("blur_every and norm are pixel settings: a frequency image takes neither")
        if self.diversity and self.images < 2:
            raise ValueError("diversity makes several images differ: it needs images of at least 2")
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in limits and not (math.isfinite(value) and limits[f.name][0] <= value <= limits[f.name][1]):
                low, high = limits[f.name]
                raise ValueError(f"{f.name} must be between {low:g} and {high:g}, got {value!r}")
        return self


READABLE = AscentConfig(steps=128, step_size=0.05, l2=0.05, tv=2.0, jitter=2, blur_every=4, blur_sigma=0.5)
"""The regularisers that make LeNet-5's and TinyVGG's channels and classes readable (the page's default)."""


@dataclass(frozen=True, eq=False)
class Frame:
    """One step of an optimisation: the value shown for it and the image.

    Every frame leaves the optimisation with its image; :func:`keep` drops it from frames that are
    not ``recorded`` once a newer frame arrives, so a collection holds the animation's images and
    the latest one (a stopped optimisation still shows where it got to).
    """

    step: int  # 0 is the start, before any update
    value: float  # the target's activation (for an inversion: the relative representation error); several: the mean
    objective: float  # what is maximised: the activation minus the penalties (several images: per image)
    image: torch.Tensor | None  # (C, H, W) in [0, 1] (several: N, C, H, W); on the CPU when recorded
    recorded: bool = True  # one of the animation's frames: every ``record_every`` steps, the first and the last
    lowest: bool = False  # an inversion's lowest error so far: :func:`keep` holds its image until a lower one comes
    values: tuple[float, ...] = ()  # several images at once: each one's value


def input_stats(model: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """``(mean, std)``, each (C, 1, 1), of the model's ``Normalize`` layer: the units of "N(0, 1)"."""
    layer = next((m for m in model.modules() if isinstance(m, networks.Normalize)), None)
    if layer is None:
        raise ValueError("the model has no Normalize layer: build it with models.build or architecture.build")
    return layer.mean, layer.std


def noise(model: nn.Module, shape: tuple[int, int, int], seed: int = 0) -> torch.Tensor:
    """``x0 = mean + std * eps``, eps ~ N(0, 1), clipped to [0, 1]: the lecture's start, (C, H, W)."""
    mean, std = input_stats(model)
    eps = torch.randn(shape, generator=torch.Generator().manual_seed(seed)).to(mean.device)
    return (mean + std * eps).clamp(0, 1)


def ascend(model: nn.Module, target: Target, config: AscentConfig, input_shape: tuple[int, int, int],
           start: torch.Tensor | None = None, negative: bool = False) -> Iterator[Frame]:
    """Gradient ascent on ``target``'s activation, from noise or from ``start`` (C, H, W) in [0, 1]; ``negative``:
    descent, the image that drives it down (Distill's negative visualisation). Each Frame's ``value`` is the
    activation itself either way. ``config.images`` from noise at once, their :func:`likeness` at the target's layer
    weighed down by ``config.diversity`` (Lucid's ``objective - diversity``, at its scale): the other patterns a
    unit answers (Nguyen et al. 2016's facets).

    ValueError for a layer the model lacks, a channel or unit off the layer, bad settings.
    """
    graph = _extractor(model, target.layer)
    with torch.no_grad():
        probe = graph(torch.zeros(1, *input_shape, device=inspect.device_of(model)))[target.layer]
    _check_target(probe, target)

    def gain(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = graph(x)[target.layer]
        values = _target_values(out, target)
        climbed = (-values if negative else values).sum()
        if config.diversity:
            climbed = climbed - len(x) * config.diversity * likeness(out)
        return climbed, values

    yield from _optimise(model, gain, input_shape, start, config)


def class_model(model: nn.Module, cls: int, config: AscentConfig, input_shape: tuple[int, int, int],
                minus: int | None = None) -> Iterator[Frame]:
    """Simonyan et al.'s class model: ascent on the score of class ``cls`` before the softmax (less class
    ``minus``'s: what tells the two apart), from noise. The L2 term ``lambda ||x||^2`` is ``config.l2``.
    """
    return ascend(model, Target(output_layer(model), cls, minus=minus), config, input_shape)


def invert(model: nn.Module, layer: str, image: torch.Tensor, config: AscentConfig) -> Iterator[Frame]:
    """Mahendran & Vedaldi's inversion of ``image``'s representation at ``layer``, from noise.

    Minimises ``||f(x) - f0||^2 / ||f0||^2`` (plus ``config``'s penalties); each Frame's ``value``
    is that relative error, 0 for a perfect match.
    """
    _one_image(config, "an inversion")
    graph = _extractor(model, layer)
    with torch.no_grad():
        reference = graph(image[None].to(inspect.device_of(model)))[layer]
    energy = reference.pow(2).sum().clamp_min(1e-12)

    def gain(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        error = (graph(x)[layer] - reference).pow(2).sum() / energy
        return -error, error

    lowest = math.inf  # the error jumps from step to step under jitter: the lowest image is kept, not only the last
    for frame in _optimise(model, gain, tuple(image.shape), None, config):
        if frame.value < lowest:
            lowest, frame = frame.value, replace(frame, lowest=True)
        yield frame


def dream(model: nn.Module, layer: str, image: torch.Tensor, config: AscentConfig) -> Iterator[Frame]:
    """DeepDream (Mordvintsev et al. 2015), the ascent's cousin in the lecture: from ``image``, ascent on the mean
    of ``layer``'s squared activations, so whatever the layer already sees in the image grows. Each Frame's
    ``value`` is that mean.

    The ascent climbs its log, whose gradient does not grow with the layer's scale: a random Small ResNet's 0.01
    beside the regularisers' fixed weights had fallen to 4e-6 (LeNet-5's conv2 starts at 10)."""
    _one_image(config, "a dream")
    graph = _extractor(model, layer)

    def gain(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        energy = graph(x)[layer].pow(2).mean()
        return energy.clamp_min(1e-30).log(), energy

    yield from _optimise(model, gain, tuple(image.shape), image, config)


MODES = ("channel", "unit", "class", "invert", "dream")


@dataclass(frozen=True)
class Goal:
    """One of the page's optimisations, as plain values (hashable: it is part of a result's cache key).

    ``mode``: "channel" or "unit" (:func:`ascend` on ``layer``), "class" (:func:`class_model` of class
    ``index``), "invert" (:func:`invert` of the image's representation at ``layer``), "dream" (:func:`dream` on the
    image at ``layer``).
    """

    mode: str
    layer: str
    index: int = 0  # the channel, the output or the class
    unit: tuple[int, int] | None = None  # mode "unit" only
    from_image: bool = False  # start the ascent from the image instead of noise
    negative: bool = False  # channel and unit goals: drive the activation down instead
    minus: int | None = None  # channel and class goals: less this channel's (class's) activation

    @property
    def needs_image(self) -> bool:
        return self.mode in ("invert", "dream") or (self.from_image and self.mode != "class")

    def frames(self, model: nn.Module, config: AscentConfig, image: torch.Tensor) -> Iterator[Frame]:
        """The optimisation's frames; ``image`` (C, H, W) is the model's input (start or inversion)."""
        if self.mode not in MODES:
            raise ValueError(f"unknown mode {self.mode!r}; choose one of {', '.join(MODES)}")
        shape = tuple(image.shape)
        if self.mode == "class":
            return class_model(model, self.index, config, shape, self.minus)
        if self.mode == "invert":
            return invert(model, self.layer, image, config)
        if self.mode == "dream":
            return dream(model, self.layer, image, config)
        target = Target(self.layer, self.index, self.unit if self.mode == "unit" else None, self.minus)
        return ascend(model, target, config, shape, image if self.from_image else None, self.negative)


def keep(kept: list[Frame], frame: Frame) -> None:
    """Append ``frame`` to ``kept``; the frames before it let go of their images unless they are recorded ones, or
    an inversion's lowest error so far (until a lower one comes)."""
    if kept and not kept[-1].recorded and not kept[-1].lowest and kept[-1].image is not None:
        kept[-1] = replace(kept[-1], image=None)
    if frame.lowest:  # the lowest before it lets go: the last one marked, a few steps back
        for i in range(len(kept) - 1, -1, -1):
            if kept[i].lowest:
                if not kept[i].recorded:
                    kept[i] = replace(kept[i], image=None)
                break
    kept.append(frame)


def run(frames: Iterable[Frame]) -> list[Frame]:
    """Every frame of an optimisation (the generator run to its end), images kept as :func:`keep` keeps them."""
    kept: list[Frame] = []
    for frame in frames:
        keep(kept, frame)
    return kept


def recorded(frames: Iterable[Frame]) -> list[Frame]:
    """The animation's frames (and, when stopped early, the latest image)."""
    frames = list(frames)
    return [f for i, f in enumerate(frames) if f.image is not None and (f.recorded or i == len(frames) - 1)]


def lowest(frames: Sequence[Frame]) -> Frame | None:
    """An inversion's frame of lowest error that :func:`keep` held the image of; None for an ascent."""
    return next((f for f in reversed(frames) if f.lowest and f.image is not None), None)


def affine_in_pixels(model: nn.Module, layer: str, input_shape: tuple[int, int, int]) -> bool:
    """Whether ``layer``'s output is an affine function of the image (only convolutions, normalisation and the like
    before it, no ReLU or pooling): then f(a + b) = f(a) + f(b) - f(0) for any two images a, b.

    A channel's mean on such a layer is the kernel's sum times the image's brightness plus what the border adds, so
    an ascent on it brightens the border instead of drawing a pattern.
    """
    graph = _extractor(model, layer)
    a, b = torch.rand(2, *input_shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        batch = torch.stack([a, b, a + b, torch.zeros(input_shape)]).to(inspect.device_of(model))
        fa, fb, fab, f0 = graph(batch)[layer].double()
    return float((fab - fa - fb + f0).abs().max()) <= 1e-4 * float((fa - f0).abs().max()) + 1e-6


def class_probabilities(model: nn.Module, image: torch.Tensor) -> torch.Tensor:
    """(K,) the softmax the network gives ``image`` (C, H, W), or (N, K) for images (N, C, H, W): how it reads a class
    model it drew itself."""
    device = inspect.device_of(model)
    batch = image if image.dim() == 4 else image[None]
    with torch.no_grad():
        probabilities = torch.softmax(model(batch.to(device)).float(), 1).cpu()
    return probabilities if image.dim() == 4 else probabilities[0]


def side_by_side(images: torch.Tensor, gap: int = 2) -> torch.Tensor:
    """Images (N, C, H, W) as one (C, H, N W + (N - 1) gap), white between them; one image (C, H, W) as it is."""
    if images.dim() == 3:
        return images
    white = images.new_ones(images.shape[1], images.shape[2], gap)
    return torch.cat([part for image in images for part in (white, image)][1:], dim=-1)


def output_layer(model: nn.Module) -> str:
    """The node name of the model's output: the class scores."""
    return extraction.node_names(model)[-1]


# --- the loop ------------------------------------------------------------------------------

def _optimise(model: nn.Module, gain: Gain, shape: tuple[int, int, int], start: torch.Tensor | None,
              config: AscentConfig) -> Iterator[Frame]:
    """Climb ``gain - penalties`` from ``start`` (C, H, W) in [0, 1], or from noise (``config.images`` at once, each
    with its own penalties): the pixels or the spectrum stepped as ``config.param`` says (:mod:`explorer.image_param`).
    ``gain`` takes the images (N, C, H, W) and gives (what to maximise, each one's value (N,) or one value)."""
    config = config.checked()
    mean, std = input_stats(model)
    if start is not None and tuple(start.shape) != tuple(shape):
        raise ValueError(f"the start image is {tuple(start.shape)}, the model takes {tuple(shape)}")
    if start is not None:
        _one_image(config, "an ascent from your image")
        start = start.detach().clamp(0, 1).to(mean.device, torch.float32)
    count = config.images
    if config.param == "fourier":
        made = image_param.FourierImage(start, shape, config, mean.device, count)
    else:
        first = torch.stack([noise(model, shape, config.seed + i) for i in range(count)]) if start is None else start[None]
        made = image_param.PixelImage(first, config, mean, std)
    generator = torch.Generator().manual_seed(config.seed + 1)  # the jitter; the noise used ``seed``
    warps = torch.Generator().manual_seed(config.seed + 2)
    for step in range(config.steps + 1):
        x = made.image()
        moved = jittered(x, config.jitter, generator)
        maximised, shown = gain(image_param.warped(moved, warps) if config.warp else moved)
        if config.jitter or config.warp:  # the value shown is the image's own, not its moved copy's: a smooth curve
            with torch.no_grad():
                shown = gain(x)[1]
        # each image's own penalties: the means over the N images, N times
        objective = maximised - count * config.l2 * ((x - mean) / std).pow(2).mean() - count * config.tv * \
            total_variation(x)
        recorded = step % config.record_every == 0 or step == config.steps
        images = x.detach().cpu().clone() if recorded else x.detach()  # x is replaced, never changed in place
        shown = shown.detach().cpu().reshape(-1)
        yield Frame(step, float(shown.mean()), float(objective.detach()) / count, images[0] if count == 1 else images,
                    recorded, values=tuple(shown.tolist()) if count > 1 else ())
        if step == config.steps:
            return
        made.step(objective, step)


def _one_image(config: AscentConfig, what: str) -> None:
    """ValueError unless ``config`` asks for one image: ``what`` makes one."""
    if config.images != 1:
        raise ValueError(f"{what} makes one image, not {config.images}: several images start from noise")


def _extractor(model: nn.Module, layer: str):
    names = extraction.node_names(model)
    if layer not in names:
        raise ValueError(f"the model has no layer {layer!r}")
    return extraction.extractor(model, [layer])


def _check_target(out: torch.Tensor, target: Target) -> None:
    """ValueError when the channel (or the one subtracted) or the unit is not on the layer's output (1, C[, H, W])."""
    channels = out.shape[1]
    for channel in (target.channel, *([] if target.minus is None else [target.minus])):
        if not 0 <= channel < channels:
            raise ValueError(f"{target.layer} has {channels} {'channels' if out.dim() == 4 else 'outputs'} "
                             f"(0..{channels - 1}); there is no {channel}")
    if target.unit is None:
        return
    if out.dim() != 4:
        raise ValueError(f"{target.layer} has no feature map, so no unit (y, x): pick an output by its index")
    y, x = target.unit
    if not (0 <= y < out.shape[2] and 0 <= x < out.shape[3]):
        raise ValueError(f"unit {target.unit} is off the {out.shape[2]} x {out.shape[3]} map of {target.layer}")


def _target_values(out: torch.Tensor, target: Target) -> torch.Tensor:
    """Each image's activation (N,): ``out[:, c, y, x]``, the channel's mean ``out[:, c].mean((-2, -1))``, or
    ``out[:, c]``; less channel ``minus``'s the same way."""
    def of(c: int) -> torch.Tensor:
        if out.dim() == 2:
            return out[:, c]
        return out[:, c, target.unit[0], target.unit[1]] if target.unit is not None else out[:, c].mean(dim=(-2, -1))

    return of(target.channel) if target.minus is None else of(target.channel) - of(target.minus)
