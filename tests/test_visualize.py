"""Gradient ascent, class models and inversion on the shipped LeNet-5 (and a residual net)."""

import dataclasses

import pytest
import torch

from explorer import extraction, inspect, models, regularisers
from explorer import visualize as V

SHAPE = (1, 28, 28)
PLAIN = V.AscentConfig(steps=64)


def _activation(model: torch.nn.Module, target: V.Target, image: torch.Tensor) -> float:
    """The target's value for one image, straight from a feature extractor (no jitter)."""
    with torch.no_grad():
        out = extraction.extractor(model, [target.layer])(image[None])[target.layer]
    if out.dim() == 2:
        return float(out[0, target.channel])
    if target.unit is not None:
        return float(out[0, target.channel, target.unit[0], target.unit[1]])
    return float(out[0, target.channel].mean())


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("target", [V.Target("conv1", 3), V.Target("conv2", 0), V.Target("conv2", 11),
                                    V.Target("conv2", 5, (4, 6)), V.Target("fc4", 17)])
def test_ascent_raises_the_target_activation(lenet, target, seed):
    frames = V.run(V.ascend(lenet, target, dataclasses.replace(PLAIN, seed=seed), SHAPE))
    start, end = _activation(lenet, target, frames[0].image), _activation(lenet, target, frames[-1].image)
    assert end - start > max(0.25, abs(start) / 2), (start, end)
    values = torch.tensor([f.value for f in frames[:64]]).view(4, 16).mean(1)  # rises window by window
    assert bool((values.diff() > 0).all()), values


def test_ascent_with_every_regulariser_still_rises(lenet):
    config = V.AscentConfig(steps=64, l2=0.05, tv=2.0, jitter=2, blur_every=4, norm=1.0)
    frames = V.run(V.ascend(lenet, V.Target("conv2", 5), config, SHAPE))
    assert _activation(lenet, V.Target("conv2", 5), frames[-1].image) > \
        _activation(lenet, V.Target("conv2", 5), frames[0].image) + 1.0


@pytest.mark.parametrize("config", [PLAIN, V.AscentConfig(steps=32, step_size=0.5), V.AscentConfig(steps=32, norm=3.0),
                                    V.AscentConfig(steps=32, tv=5, l2=0.5, jitter=4, blur_every=2, blur_sigma=2.0)])
def test_every_image_stays_in_0_1(lenet, config):
    for frame in V.recorded(V.ascend(lenet, V.Target("conv2", 2), config, SHAPE)):
        assert frame.image.shape == SHAPE
        assert 0 <= float(frame.image.min()) and float(frame.image.max()) <= 1


@pytest.mark.parametrize("change", [dict(l2=0.5), dict(tv=5.0), dict(jitter=2), dict(blur_every=4), dict(norm=0.5)])
def test_each_regulariser_changes_the_result(lenet, change):
    target = V.Target("conv2", 5)
    plain = V.run(V.ascend(lenet, target, PLAIN, SHAPE))[-1].image
    changed = V.run(V.ascend(lenet, target, dataclasses.replace(PLAIN, **change), SHAPE))[-1].image
    assert (plain - changed).abs().max() > 0.05


def test_total_variation_and_l2_do_what_they_say(lenet):
    target = V.Target("conv2", 5)
    plain = V.run(V.ascend(lenet, target, PLAIN, SHAPE))[-1].image
    smooth = V.run(V.ascend(lenet, target, dataclasses.replace(PLAIN, tv=5.0), SHAPE))[-1].image
    quiet = V.run(V.ascend(lenet, target, dataclasses.replace(PLAIN, l2=1.0), SHAPE))[-1].image
    mean, std = (t.cpu() for t in V.input_stats(lenet))
    assert regularisers.total_variation(smooth) < 0.7 * regularisers.total_variation(plain)
    assert ((quiet - mean) / std).pow(2).mean() < ((plain - mean) / std).pow(2).mean()


def test_noise_is_the_lectures_n01_in_the_networks_units(lenet):
    x = V.noise(lenet, (1, 256, 256), seed=3)
    mean, std = V.input_stats(lenet)
    z = (x - mean) / std
    assert abs(float(z.median())) < 0.02  # N(0, 1): clipping to [0, 1] leaves the median alone
    black = float(torch.distributions.Normal(0, 1).cdf(-mean / std))  # P(z < -mean / std): clipped to 0
    assert abs(float((x == 0).float().mean()) - black) < 0.01
    assert torch.equal(x, V.noise(lenet, (1, 256, 256), seed=3))
    assert not torch.equal(x, V.noise(lenet, (1, 256, 256), seed=4))


def test_the_norm_constraint_keeps_rho(lenet):
    frames = V.recorded(V.ascend(lenet, V.Target("conv2", 5), V.AscentConfig(steps=16, norm=0.8), SHAPE))
    mean, std = V.input_stats(lenet)
    for frame in frames[1:]:
        z = (frame.image - mean) / std
        assert float(z.pow(2).mean().sqrt()) <= 0.8 + 1e-4  # rho, or less where the pixel range clipped


def test_frames_are_recorded_every_k_steps_and_at_the_end(lenet):
    frames = V.run(V.ascend(lenet, V.Target("conv1", 0), V.AscentConfig(steps=20, record_every=8), SHAPE))
    assert [f.step for f in frames] == list(range(21))
    assert [f.step for f in V.recorded(frames)] == [0, 8, 16, 20]


def test_a_collection_stopped_early_keeps_its_latest_image(lenet):
    kept: list[V.Frame] = []
    for frame in V.ascend(lenet, V.Target("conv1", 0), V.AscentConfig(steps=20, record_every=8), SHAPE):
        V.keep(kept, frame)
        if frame.step == 11:
            break  # as a Stop does
    assert [f.step for f in V.recorded(kept)] == [0, 8, 11]
    assert kept[-1].image is not None and not kept[-1].recorded


def test_an_inversion_holds_its_lowest_error_image_and_no_more(lenet):
    image = V.noise(lenet, SHAPE, seed=3)
    frames = V.run(V.invert(lenet, "pool2", image, V.AscentConfig(steps=40, record_every=16, jitter=4, seed=1)))
    lowest = V.lowest(frames)
    assert lowest.value == min(f.value for f in frames) and lowest.image is not None
    held = [f.step for f in frames if f.image is not None]
    assert set(held) <= {0, 16, 32, 40, lowest.step}  # the animation's, the last and the lowest
    assert [f.step for f in V.recorded(frames)] == [0, 16, 32, 40]  # the animation leaves the lowest out
    assert V.lowest(V.run(V.ascend(lenet, V.Target("conv1", 0), V.AscentConfig(steps=4), SHAPE))) is None


def test_same_seed_same_images_other_seed_other_images(lenet):
    def final(seed: int) -> torch.Tensor:
        config = V.AscentConfig(steps=16, jitter=2, seed=seed)
        return V.run(V.ascend(lenet, V.Target("conv2", 1), config, SHAPE))[-1].image

    assert torch.equal(final(0), final(0))
    assert not torch.equal(final(0), final(1))


def test_ascent_from_an_image_starts_there(lenet):
    image = torch.zeros(SHAPE)
    image[0, 6:22, 12:16] = 1
    frames = V.run(V.ascend(lenet, V.Target("conv2", 5), V.AscentConfig(steps=8), SHAPE, start=image))
    assert torch.equal(frames[0].image, image)
    with pytest.raises(ValueError, match="start image"):
        next(V.ascend(lenet, V.Target("conv2", 5), PLAIN, SHAPE, start=torch.zeros(3, 28, 28)))


def test_class_models_are_read_as_their_class(lenet):
    config = V.AscentConfig(steps=96, l2=0.05, tv=2.0, jitter=2, blur_every=4)
    for digit in range(10):
        frames = V.run(V.class_model(lenet, digit, config, SHAPE))
        assert frames[-1].value > frames[0].value + 5
        with torch.no_grad():
            assert int(lenet(frames[-1].image[None]).argmax()) == digit


@pytest.mark.parametrize("target", [V.Target("conv2", 5, minus=3), V.Target("fc5", 3, minus=8)])
def test_objective_arithmetic_climbs_one_channel_less_another(lenet, target):
    """Lucent's ``channel(a) - channel(b)``: each frame's value is a's activation less b's, and the image made
    raises that difference far more than ascent on a alone does (there b rises too)."""
    frames = V.run(V.ascend(lenet, target, PLAIN, SHAPE))
    alone = V.run(V.ascend(lenet, dataclasses.replace(target, minus=None), PLAIN, SHAPE))
    b = dataclasses.replace(target, channel=target.minus, minus=None)

    def gap(image: torch.Tensor) -> float:
        return _activation(lenet, dataclasses.replace(target, minus=None), image) - _activation(lenet, b, image)

    assert frames[-1].value == pytest.approx(gap(frames[-1].image), rel=1e-3, abs=1e-3)
    assert gap(frames[-1].image) > gap(alone[-1].image) + 0.5 and gap(frames[-1].image) > gap(frames[0].image) + 1


def test_inversion_finds_an_image_with_the_same_representation(lenet):
    image = torch.zeros(SHAPE)
    image[0, 5:23, 12:16] = 1  # a "1"
    frames = V.run(V.invert(lenet, "conv2", image, V.AscentConfig(steps=128, tv=0.1)))
    assert frames[0].value > 0.5 and frames[-1].value < 0.05
    assert 0 <= float(frames[-1].image.min()) and float(frames[-1].image.max()) <= 1
    inside = frames[-1].image[0, 5:23, 12:16].mean()
    assert inside > frames[-1].image[0].mean() + 0.2  # the stroke is where it was


@pytest.mark.parametrize("target,message", [
    (V.Target("nope", 0), "no layer"), (V.Target("conv2", 16), "16 channels"), (V.Target("fc5", 10), "10 outputs"),
    (V.Target("conv2", 0, (10, 0)), "off the 10 x 10 map"), (V.Target("fc4", 0, (0, 0)), "no feature map"),
    (V.Target("conv2", 0, minus=16), "there is no 16"),
])
def test_impossible_targets_are_named(lenet, target, message):
    with pytest.raises(ValueError, match=message):
        next(V.ascend(lenet, target, PLAIN, SHAPE))


@pytest.mark.parametrize("change,name", [(dict(steps=0), "steps"), (dict(step_size=float("nan")), "step_size"),
                                         (dict(jitter=-1), "jitter"), (dict(blur_sigma=0.0), "blur_sigma")])
def test_bad_settings_are_named(lenet, change, name):
    with pytest.raises(ValueError, match=name):
        next(V.ascend(lenet, V.Target("conv1", 0), V.AscentConfig(**change), SHAPE))


@pytest.mark.parametrize("goal", [V.Goal("channel", "conv2", 3), V.Goal("unit", "conv2", 3, (5, 5)),
                                  V.Goal("channel", "conv1", 1, from_image=True), V.Goal("class", "fc5", 4),
                                  V.Goal("invert", "pool1"), V.Goal("dream", "relu2")])
def test_goals_dispatch_to_their_optimisation(lenet, goal):
    image = torch.rand(SHAPE)
    frames = V.run(goal.frames(lenet, V.AscentConfig(steps=4), image))
    assert len(frames) == 5
    assert goal.needs_image == (goal.mode in ("invert", "dream") or goal.from_image)
    if goal.from_image or goal.mode == "dream":
        assert torch.equal(frames[0].image, image)
    with pytest.raises(ValueError, match="unknown mode"):
        V.Goal("hallucinate", "conv1").frames(lenet, PLAIN, image)


def test_a_dream_grows_what_the_layer_sees_in_the_image(lenet):
    """DeepDream: the mean squared activation rises, from the image, which it changes without losing it."""
    image = torch.zeros(SHAPE)
    image[0, 5:23, 12:16] = 1  # a "1"
    frames = V.run(V.dream(lenet, "relu2", image, V.READABLE))
    graph = extraction.extractor(lenet, ["relu2"])
    with torch.no_grad():
        energy = [float(graph(x[None])["relu2"].pow(2).mean()) for x in (image, frames[-1].image)]
    assert frames[0].value == pytest.approx(energy[0], rel=1e-5) and energy[1] > 2 * energy[0]
    assert frames[-1].image[0, 5:23, 12:16].mean() > frames[-1].image[0].mean() + 0.1  # the stroke is still there


def test_a_dream_rises_on_a_layer_of_tiny_activations_too():
    """A random Small ResNet's stage2.conv2 starts near 0.01: beside the regularisers' fixed weights, ascent on the
    mean itself fell to 4e-6 and drew flat grey."""
    model = models.build("resnet_small").eval()
    image = torch.rand(models.spec("resnet_small").input_shape, generator=torch.Generator().manual_seed(0))
    frames = V.run(V.dream(model, "stage2.conv2", image, V.READABLE))
    assert frames[0].value < 0.1 and frames[-1].value > 2 * frames[0].value


def test_a_residual_network_with_batch_norm_stays_in_eval_mode():
    model = models.build("resnet_small").requires_grad_(False)
    target = V.Target("stage2.relu2", 4)
    frames = V.run(V.ascend(model, target, V.AscentConfig(steps=24), (3, 32, 32)))
    assert frames[-1].value > frames[0].value
    assert not model.training and inspect.hooks_on(model) == 0
    assert all(p.grad is None for p in model.parameters())


def test_a_model_without_normalize_is_refused():
    with pytest.raises(ValueError, match="Normalize"):
        V.input_stats(torch.nn.Sequential(torch.nn.Conv2d(1, 1, 3)))


@pytest.mark.gpu
def test_the_ascent_and_the_maps_run_on_a_cuda_model_as_on_the_cpu(lenet):
    """Every optimisation and map follows the model to its device; the numbers agree with the CPU's."""
    from explorer import adversarial, cam, invariance

    cuda = models.build("lenet5", pretrained=True).requires_grad_(False).cuda()
    config = V.AscentConfig(steps=16, tv=1.0, jitter=1)
    on_cpu = V.run(V.ascend(lenet, V.Target("conv2", 5), config, SHAPE))[-1]
    on_gpu = V.run(V.ascend(cuda, V.Target("conv2", 5), config, SHAPE))[-1]
    assert on_gpu.image.device.type == "cpu"
    torch.testing.assert_close(on_gpu.image, on_cpu.image, atol=2e-2, rtol=0)
    image = on_cpu.image
    torch.testing.assert_close(cam.class_map(cuda, image, "relu2").heat,
                               cam.class_map(lenet, image, "relu2").heat, atol=1e-3, rtol=0)
    attack = adversarial.fgsm(cuda, image, 0.2)  # (TF32 convolutions may tip the sign of tiny gradients)
    assert attack.image.device.type == "cpu" and float(attack.perturbation.abs().max()) <= 0.2 + 1e-6
    sweep = invariance.sweep(cuda, image, "rotate", torch.tensor([0.0, 30.0]), ["conv1", "fc5"])
    torch.testing.assert_close(sweep.correlation[:, 0], torch.ones(2))


def test_a_class_model_is_read_back_through_the_networks_softmax(lenet):
    image = torch.rand(1, 28, 28)
    probabilities = V.class_probabilities(lenet, image)
    assert probabilities.shape == (10,) and abs(float(probabilities.sum()) - 1) < 1e-5
    assert torch.allclose(probabilities, torch.softmax(lenet(image[None]), 1)[0], atol=1e-6)


def test_a_negative_goal_drives_the_activation_down_and_reports_the_activation_itself(lenet):
    config = V.AscentConfig(steps=12, seed=2)
    down = V.run(V.Goal("channel", "conv2", 3, negative=True).frames(lenet, config, torch.zeros(SHAPE)))
    up = V.run(V.Goal("channel", "conv2", 3).frames(lenet, config, torch.zeros(SHAPE)))
    assert down[0].value == up[0].value  # the same noise: the same activation at the start
    assert down[-1].value < down[0].value < up[-1].value


def _high_share(image: torch.Tensor) -> float:
    """The share of an image's energy (its mean taken out) above a quarter cycle per pixel."""
    power = torch.fft.rfft2(image - image.mean((-2, -1), keepdim=True)).abs().pow(2)
    frequency = torch.fft.fftfreq(image.shape[-2])[:, None].hypot(torch.fft.rfftfreq(image.shape[-1])[None])
    return float(power[..., frequency > 0.25].sum() / power.sum())


@pytest.mark.parametrize("channel", [1, 2])
def test_an_image_made_of_frequencies_climbs_with_less_high_frequency_noise_than_one_made_of_pixels(channel):
    """Olah et al.'s point, on TinyVGG's relu2b: the same 64 plain steps, stepped on the spectrum, leave about half
    the pixel ascent's energy above a quarter cycle per pixel (measured: 0.36 against 0.68, 0.33 against 0.51)."""
    model, target = models.build("tinyvgg", pretrained=True).eval(), V.Target("relu2b", channel)
    pixels = V.run(V.ascend(model, target, V.AscentConfig(steps=64), (3, 64, 64)))
    fourier = V.run(V.ascend(model, target, V.AscentConfig(steps=64, param="fourier"), (3, 64, 64)))
    assert fourier[-1].value > fourier[0].value + 1.0
    assert _high_share(fourier[-1].image) < 0.75 * _high_share(pixels[-1].image)
    assert 0 < float(fourier[-1].image.min()) and float(fourier[-1].image.max()) < 1  # a sigmoid's, no clip


def test_an_ascent_made_of_frequencies_starts_from_the_image_when_asked_and_refuses_an_unknown_making(lenet):
    image = torch.rand(SHAPE, generator=torch.Generator().manual_seed(0)) * 0.9 + 0.05
    frames = V.run(V.ascend(lenet, V.Target("conv2", 5), V.AscentConfig(steps=8, param="fourier"), SHAPE, start=image))
    assert float((frames[0].image - image).abs().max()) < 1e-5 and frames[-1].value > frames[0].value
    with pytest.raises(ValueError, match="param must be one of pixels, fourier, got 'wavelets'"):
        next(V.ascend(lenet, V.Target("conv1", 0), V.AscentConfig(param="wavelets"), SHAPE))
    with pytest.raises(ValueError, match="blur_every and norm are pixel settings"):  # not silently dropped
        next(V.ascend(lenet, V.Target("conv1", 0), V.AscentConfig(param="fourier", blur_every=4), SHAPE))


def test_several_images_at_once_are_each_the_ascent_from_their_own_noise(lenet):
    """Without diversity, batching changes nothing: image i is the single ascent from noise seed + i."""
    target, config = V.Target("relu2", 5), V.AscentConfig(steps=16, l2=0.05, tv=2.0, blur_every=4)
    batch = V.run(V.ascend(lenet, target, dataclasses.replace(config, images=3), SHAPE))
    assert batch[-1].image.shape == (3, *SHAPE) and len(batch[-1].values) == 3
    for i in range(3):
        alone = V.run(V.ascend(lenet, target, dataclasses.replace(config, seed=i), SHAPE))
        torch.testing.assert_close(batch[-1].image[i], alone[-1].image, atol=1e-4, rtol=0)
        assert abs(batch[-1].values[i] - alone[-1].value) < 1e-3
    assert abs(batch[-1].value - sum(batch[-1].values) / 3) < 1e-6
    fourier = dataclasses.replace(config, blur_every=0, param="fourier")
    several = V.run(V.ascend(lenet, target, dataclasses.replace(fourier, images=2), SHAPE))  # made of frequencies too
    torch.testing.assert_close(several[-1].image[0], V.run(V.ascend(lenet, target, fourier, SHAPE))[-1].image,
                               atol=1e-4, rtol=0)


def test_diversity_makes_the_images_differ_at_the_layer(lenet):
    """The images' likeness at relu2 falls from nearly identical (N - 1 = 3) with diversity, and one keeps the channel
    as high as alone (measured: likeness 3.00 against 0.70; activations 4.5-4.7 against 0.5-4.6)."""
    config = dataclasses.replace(V.READABLE, images=4)
    graph = extraction.extractor(lenet, ["relu2"])

    def made(diversity: float):
        frames = V.run(V.ascend(lenet, V.Target("relu2", 5), dataclasses.replace(config, diversity=diversity), SHAPE))
        with torch.no_grad():
            return float(regularisers.likeness(graph(frames[-1].image)["relu2"])), frames[-1].values

    (same, plain), (apart, diverse) = made(0.0), made(1.0)
    assert same > 2.9 and apart < 0.5 * same
    assert max(diverse) > 0.9 * min(plain)


def test_several_images_are_refused_where_one_is_made(lenet):
    image = torch.rand(SHAPE)
    with pytest.raises(ValueError, match="an inversion makes one image, not 2"):
        next(V.invert(lenet, "conv2", image, V.AscentConfig(images=2)))
    with pytest.raises(ValueError, match="an ascent from your image makes one image, not 2"):
        next(V.ascend(lenet, V.Target("conv2", 0), V.AscentConfig(images=2), SHAPE, start=image))
    with pytest.raises(ValueError, match="diversity makes several images differ: it needs images of at least 2"):
        V.AscentConfig(diversity=1.0).checked()
    with pytest.raises(ValueError, match="images must be between 1 and 8"):
        V.AscentConfig(images=9).checked()


def test_several_images_side_by_side_and_read_back_together(lenet):
    images = torch.rand(3, *SHAPE)
    strip = V.side_by_side(images, gap=2)
    assert strip.shape == (1, 28, 3 * 28 + 2 * 2) and bool((strip[:, :, 28:30] == 1).all())
    torch.testing.assert_close(strip[:, :, 30:58], images[1])
    assert torch.equal(V.side_by_side(images[0]), images[0])
    together = V.class_probabilities(lenet, images)
    assert together.shape == (3, 10)
    torch.testing.assert_close(together[1], V.class_probabilities(lenet, images[1]))


def test_an_ascent_under_lucents_transforms_still_climbs_and_shows_the_image_itself(lenet):
    """Scaled and turned each step (warp), the channel still rises; the curve is the unwarped image's value."""
    config = dataclasses.replace(V.READABLE, steps=48, warp=True)
    frames = V.run(V.ascend(lenet, V.Target("relu2", 5), config, SHAPE))
    assert frames[-1].value > frames[0].value + 1.0
    assert abs(frames[-1].value - _activation(lenet, V.Target("relu2", 5), frames[-1].image)) < 1e-4
    plain = V.run(V.ascend(lenet, V.Target("relu2", 5), dataclasses.replace(config, warp=False), SHAPE))
    assert not torch.equal(plain[-1].image, frames[-1].image)
