"""Class activation maps: Grad-CAM against Captum, its variants against pytorch-grad-cam's formulas (written out here:
the package is not a dependency), on the zoo models of the attribution tests; Guided Grad-CAM against Captum; and the
usual layer."""

import dataclasses

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from captum.attr import LayerActivation, LayerGradCam, LayerGradientXActivation

from explorer import attribution, cam, extraction, field_overlay, inspect, models, receptive_field
from explorer import images as images_module
from tests import test_attribution

case = test_attribution.case  # the fixture: a zoo model, two images, its layers with feature maps


def test_grad_cam_equals_captums(case):
    model, images, layers = case
    fields = {f.name: f for f in receptive_field.fields(model, tuple(images.shape[-2:]))}
    for layer in layers:
        captum = LayerGradCam(model, model.get_submodule(layer))
        for image in images:
            for target in (None, 1):
                ours = cam.class_map(model, image, layer, target)
                theirs = captum.attribute(image[None], target=ours.target, relu_attributions=True)  # (1, 1, h, w)
                torch.testing.assert_close(ours.raw, theirs[0, 0].detach(), rtol=1e-4, atol=1e-5)
                # drawn at each unit's receptive field centre, where Captum's resize spreads the map over the image
                placed = field_overlay.to_input(ours.raw, fields[layer], tuple(image.shape[-2:]))
                top = placed.max()
                torch.testing.assert_close(ours.heat, placed / top if top > 0 else placed, rtol=1e-4, atol=1e-5)


def _principal(values: np.ndarray) -> np.ndarray:
    """pytorch-grad-cam's ``get_2d_projection`` of ``values`` (1, M, h, w), its component turned so that the
    loadings add up above zero (NumPy leaves the sign free; pytorch-grad-cam keeps what LAPACK gives)."""
    flat = values[0].reshape(values.shape[1], -1).T.astype(np.float64)
    flat = flat - flat.mean(axis=0)
    component = np.linalg.svd(flat, full_matrices=True)[2][0]
    return (flat @ (component if component.sum() >= 0 else -component)).reshape(values.shape[2:])[None]


def _kernel_principal(values: np.ndarray) -> np.ndarray:
    """pytorch-grad-cam's ``get_2d_projection_kernel`` of ``values`` (1, M, h, w): scikit-learn's
    ``KernelPCA(n_components=1, kernel="sigmoid")`` written out, with the whole eigendecomposition (scikit-learn
    runs ARPACK beyond 200 positions) and its sign rule (the largest value in size above zero)."""
    flat = values[0].reshape(values.shape[1], -1).T.astype(np.float64)
    flat = flat - flat.mean(axis=0)
    kernel = np.tanh(flat @ flat.T / flat.shape[1] + 1)  # gamma 1 / features, coef0 1
    count = len(kernel)
    centring = np.eye(count) - np.full((count, count), 1 / count)
    eigenvalues, eigenvectors = np.linalg.eigh(centring @ kernel @ centring)
    vector = eigenvectors[:, -1] * np.sign(eigenvectors[np.argmax(np.abs(eigenvectors[:, -1])), -1])
    return (vector * np.sqrt(eigenvalues[-1])).reshape(values.shape[2:])[None]


def _ablated_scores(model, image, layer, a, target):
    """The class score with each of ``layer``'s maps set to zero in turn: image m of a batch with map m zeroed (a
    forward hook hands on the changed maps)."""
    count = a.shape[1]

    def zeroed(module, inputs, output):
        output = output.clone()
        output[range(count), range(count)] = 0
        return output

    handle = model.get_submodule(layer).register_forward_hook(zeroed)
    with torch.no_grad():
        scores = model(image[None].expand(count, -1, -1, -1))[:, target]
    handle.remove()
    return scores.numpy()


def _cam_reference(model, image, layer, target, method, eigen_smooth=False):
    """A class activation map at ``layer`` as pytorch-grad-cam 1.5.7 computes it (its formulas written out in
    NumPy, epsilons included), from Captum's layer activation and layer gradient; ``eigen_smooth`` as its own."""
    module = model.get_submodule(layer)
    a = LayerActivation(model, module).attribute(image[None]).detach().numpy()
    g = LayerGradientXActivation(model, module, multiply_by_inputs=False).attribute(
        image[None], target=target).detach().numpy()
    total = a.sum((2, 3), keepdims=True)
    if method in ("eigencam", "eigengradcam", "kpcacam"):
        component = _kernel_principal if method == "kpcacam" else _principal
        return torch.from_numpy(np.maximum(component(g * a if method == "eigengradcam" else a), 0)[0]).float()
    if method == "scorecam":
        masks = F.interpolate(torch.from_numpy(a), size=image.shape[-2:], mode="bilinear", align_corners=True)[0]
        scores = []
        for mask in masks:  # one masked image at a time
            mask = (mask - mask.min()) / (mask.max() - mask.min() + 1e-8)
            with torch.no_grad():
                scores.append(float(model((image * mask)[None])[0, target]))
        weights = torch.softmax(torch.tensor(scores), 0).numpy()[None, :, None, None]
    elif method == "ablationcam":  # pytorch-grad-cam divides by the score itself: the same where it is above zero
        with torch.no_grad():
            score = float(model(image[None])[0, target])
        weights = ((score - _ablated_scores(model, image, layer, a, target)) / abs(score))[None, :, None, None]
    elif method == "gradcampp":
        share = g ** 2 / (2 * g ** 2 + total * g ** 3 + 1e-6)
        weights = (np.maximum(g, 0) * np.where(g != 0, share, 0)).sum((2, 3), keepdims=True)
    elif method == "xgradcam":
        weights = (g * a / (total + 1e-7)).sum((2, 3), keepdims=True)
    elif method == "hirescam":
        weights = g
    elif method == "layercam":
        weights = np.maximum(g, 0)
    elif method == "fem":  # the k-sigma rule, k = 2
        weights = (a > a.mean((2, 3), keepdims=True) + 2 * a.std((2, 3), keepdims=True)).mean((2, 3), keepdims=True)
    else:
        weights = g.mean((2, 3), keepdims=True)
    weighed = np.maximum(g * a, 0) if method == "gradcamelementwise" else weights * a
    summed = weighed.sum(1)
    if eigen_smooth:  # the component's sign turned to agree with the sum (pytorch-grad-cam's is the SVD's)
        component = _principal(weighed)
        summed = component if (component * summed).sum() >= 0 else -component
    return torch.from_numpy(np.maximum(summed, 0)[0]).float()


@pytest.mark.parametrize("method", [m for m in cam.METHODS if m not in cam.LAYERLESS])
def test_each_class_activation_map_equals_pytorch_grad_cams_formula(case, method):
    """The variants, against their formulas as pytorch-grad-cam writes them (checked by hand against the package
    itself: agreement to 5e-7 of the map's maximum on these models)."""
    model, images, layers = case
    if method == "scorecam" and images.shape[-1] > 32:
        pytest.skip("ResNet-18's 512 maps take 512 passes each way: 90 s on two cores (checked by hand)")
    seen = []
    for layer in layers[:2]:
        ours = cam.class_map(model, images[0], layer, 1, method, batch=3,
                             progress=lambda done, total: seen.append((done, total)))
        theirs = _cam_reference(model, images[0], layer, 1, method)
        torch.testing.assert_close(ours.raw, theirs, rtol=1e-4, atol=1e-5 * max(float(theirs.max()), 1e-3))
        assert ours.target == 1 and ours.method == method and float(ours.heat.max()) in (0.0, pytest.approx(1.0))
    assert (seen[-1][0] == seen[-1][1]) if method in cam.PASSES else not seen  # only these make passes


@pytest.mark.parametrize("method", [m for m in cam.METHODS if m not in ("scorecam", *cam.LAYERLESS)])  # Score-CAM: a
# pass per map; FullGrad's own below
def test_eigen_smooth_takes_the_weighed_maps_first_principal_component_as_pytorch_grad_cam_does(case, method):
    model, images, layers = case
    layer = layers[0]
    ours = cam.class_map(model, images[0], layer, 1, method, batch=64, eigen_smooth=True)
    theirs = _cam_reference(model, images[0], layer, 1, method, eigen_smooth=True)
    torch.testing.assert_close(ours.raw, theirs, rtol=1e-4, atol=1e-5 * max(float(theirs.max()), 1e-3))
    if method in cam.PRINCIPAL:  # always a component: the same either way
        torch.testing.assert_close(ours.raw, cam.class_map(model, images[0], layer, 1, method).raw)


@pytest.mark.parametrize("method", ["gradcam", "scorecam"])
def test_aug_smooth_is_the_mean_of_six_copies_maps_mirrored_back_each_scaled_to_its_top(method):
    model = models.build("lenet5", pretrained=True)
    image = images_module.load_sample("digit")[:1]
    seen = []
    ours = cam.class_map(model, image, "relu2", None, method, batch=8, aug_smooth=True,
                         progress=lambda done, total: seen.append((done, total)))
    plain = cam.class_map(model, image, "relu2", None, method)
    heats, raws = [], []
    for flip in (False, True):
        for factor in (0.9, 1.0, 1.1):
            copy = image * factor
            made = cam.class_map(model, copy.flip(-1) if flip else copy, "relu2", plain.target, method)
            heat, raw = ((m - m.min()) / (m.max() - m.min() + 1e-7) for m in (made.heat, made.raw))  # scale_cam_image
            heats.append(heat.flip(-1) if flip else heat)
            raws.append(raw.flip(-1) if flip else raw)
    mean = torch.stack(heats).mean(0)
    torch.testing.assert_close(ours.heat, mean / mean.max())
    torch.testing.assert_close(ours.raw, torch.stack(raws).mean(0))
    assert (ours.target, ours.score) == (plain.target, plain.score) and torch.equal(ours.probabilities,
                                                                                    plain.probabilities)
    assert not torch.allclose(ours.heat, plain.heat)  # the mirrored copies' maps are not the same map
    assert (seen[-1] == (6 * 16, 6 * 16) and len(seen) == 12) if method == "scorecam" else not seen


def _scale_each(maps: np.ndarray) -> np.ndarray:
    """pytorch-grad-cam's ``scale_accross_batch_and_channels`` of (M, h, w) maps, the resize aside."""
    low = maps.min(axis=(1, 2), keepdims=True)
    return (maps - low) / (1e-7 + (maps - low).max(axis=(1, 2), keepdims=True))


def _fullgrad_reference(model, image, target, eigen_smooth=False, explained=None):
    """FullGrad as pytorch-grad-cam 1.5.7 computes it (its formulas in NumPy), from hooks on the network's modules:
    the Normalize layer's output is the input, each convolution and batch norm with a bias a layer; each layer's
    map placed at its units' field centres, where pytorch-grad-cam resizes it. ``explained``: the score of the
    logits (1, K) whose gradients count, class ``target``'s by default."""
    from explorer.networks import Normalize

    kept, handles = {}, []
    for name, module in model.named_modules():
        if isinstance(module, Normalize) or isinstance(module, (torch.nn.Conv2d, torch.nn.BatchNorm2d)) and \
                module.bias is not None:
            handles.append(module.register_forward_hook(
                lambda m, i, o, name=name: (o.retain_grad(), kept.__setitem__(name, (m, o)))[1]))
    x = image[None].clone().requires_grad_(True)
    (explained or (lambda logits: logits[0, target]))(model(x)).backward()
    for handle in handles:
        handle.remove()
    fields = {f.name: f for f in receptive_field.fields(model, tuple(image.shape[-2:]))}
    parts = []
    for name, (module, out) in kept.items():
        grad, value = out.grad[0].numpy(), out.detach()[0].numpy()
        if isinstance(module, Normalize):  # input_tensor.grad * input_tensor, each colour scaled
            parts.extend(_scale_each(np.abs(grad * value)))
            continue
        bias = module.bias.detach().numpy()
        if isinstance(module, torch.nn.BatchNorm2d):  # get_bias_data
            bias = -(module.running_mean * module.weight / torch.sqrt(module.running_var + module.eps)).detach(
            ).numpy() + bias
        summed = torch.from_numpy(_scale_each(np.abs(bias[:, None, None] * grad)).sum(0))
        parts.append(field_overlay.to_input(summed, fields[name], tuple(image.shape[-2:])).numpy())
    stacked = np.stack(parts)[None]
    # eigen_smooth: scale_accross_batch_and_channels (to 1/8 of the size there), get_2d_projection; else the sum
    total = _principal(_scale_each(stacked[0])[None])[0] if eigen_smooth else stacked.sum(1)[0]
    return torch.from_numpy(total).float()


@pytest.mark.parametrize("name, size", [("lenet5", 28), ("resnet_small", 32), ("resnet18", 64)])
@pytest.mark.parametrize("eigen_smooth", [False, True])
def test_fullgrad_equals_pytorch_grad_cams_formula_with_every_biased_layer(name, size, eigen_smooth):
    torch.manual_seed(0)
    model, image = models.build(name, pretrained=name == "lenet5"), torch.rand(models.spec(name).channels, size, size)
    ours = cam.class_map(model, image, "", 1, "fullgrad", eigen_smooth=eigen_smooth)  # no layer: every one
    theirs = _fullgrad_reference(model, image, 1, eigen_smooth)
    torch.testing.assert_close(ours.raw, theirs, rtol=1e-4, atol=1e-5 * float(theirs.abs().max()))
    spread = (theirs - theirs.min()) / (theirs.max() - theirs.min() + 1e-7)  # scale_cam_image
    torch.testing.assert_close(ours.heat, spread, rtol=1e-4, atol=1e-5)
    assert (ours.target, ours.method) == (1, "fullgrad") and inspect.hooks_on(model) == 0
    if not eigen_smooth:
        assert ours.raw.shape == image.shape[-2:] and float(ours.raw.min()) >= 0


def test_fullgrad_follows_the_class_and_ignores_the_layer():
    model, image = models.build("lenet5", pretrained=True), images_module.load_sample("digit")[:1]
    three = cam.class_map(model, image, "relu2", 3, "fullgrad")
    torch.testing.assert_close(three.raw, cam.class_map(model, image, "conv1", 3, "fullgrad").raw)
    assert not torch.allclose(three.raw, cam.class_map(model, image, "relu2", 8, "fullgrad").raw)


def test_eigen_cam_is_the_same_for_every_class_and_the_others_are_not():
    model, image = models.build("lenet5", pretrained=True), torch.zeros(1, 28, 28)
    image[0, 4:24, 12:16] = 1
    for method in cam.METHODS:
        one, seven = (cam.class_map(model, image, "relu2", target, method).raw for target in (1, 7))
        assert torch.equal(one, seven) == (method in cam.CLASS_BLIND), method


def test_ablation_cam_runs_the_network_on_from_the_layer_with_a_residual_branch_that_skips_it():
    """In a residual block the layer's maps are replaced where they are used; the skip branch still reads the
    block's input. Unchanged maps give the model's own scores."""
    model = models.build("resnet_small").eval()
    image = torch.rand(3, 32, 32)
    for layer in ("stage2.relu1", "stage3.bn2", "conv1"):
        maps = extraction.extractor(model, [layer])(image[None])[layer]
        rest = cam.run_on(model, layer, image[None])
        with torch.no_grad():
            torch.testing.assert_close(rest(maps.repeat(2, 1, 1, 1)), model(image[None]).repeat(2, 1), rtol=1e-4,
                                       atol=1e-5)
            changed = maps.clone()
            changed[:, 0] = 0
            assert not torch.allclose(rest(changed), model(image[None]))
    assert inspect.hooks_on(model) == 0


def test_hirescam_and_grad_cam_agree_where_the_network_averages_the_last_maps():
    """Draelos & Carin: before a global average pool and one linear layer the gradient is the same at every
    position, so HiResCAM's position-by-position product is Grad-CAM's averaged one; before LeNet-5's flatten it
    is not."""
    model = models.build("resnet_small").eval()
    image = torch.rand(3, 32, 32)
    grad_cam, hires = (cam.class_map(model, image, "stage3.relu2", 2, m) for m in ("gradcam", "hirescam"))
    torch.testing.assert_close(hires.raw, grad_cam.raw, rtol=1e-4, atol=1e-8)
    lenet, digit = models.build("lenet5", pretrained=True), torch.rand(1, 28, 28)
    grad_cam, hires = (cam.class_map(lenet, digit, "relu2", 3, m) for m in ("gradcam", "hirescam"))
    assert not torch.allclose(hires.raw, grad_cam.raw, rtol=0.01)


def test_grad_cam_points_at_the_evidence():
    """A 1 drawn at the left of an empty frame: at the suggested layer the evidence for "1" lies on the left."""
    image = torch.zeros(1, 28, 28)
    image[0, 4:24, 6:9] = 1
    model = models.build("lenet5", pretrained=True)
    heat = cam.class_map(model, image, "relu2", 1).heat
    assert heat[:, :14].sum() > 2 * heat[:, 14:].sum()


@pytest.mark.parametrize("name,expected", [
    ("lenet5", "relu2"), ("tinyvgg", "relu2b"), ("resnet_small", "stage3.relu2"), ("alexnet", "relu5"),
    ("vgg16", "relu13"), ("resnet18", "layer4.1.relu_1"), ("googlenet", "inception5b.cat"),
])
def test_the_suggested_layer_is_the_last_convolutions_output(name, expected):
    spec = models.spec(name)
    with torch.device("meta"):
        model = models.build(name)
    layers = inspect.layers(model, spec.input_shape)
    assert cam.suggested_layer(layers) == expected
    assert expected in cam.usable_layers(layers) and "normalize" not in cam.usable_layers(layers)


@pytest.mark.filterwarnings("ignore:Setting backward hooks on ReLU")  # Captum's own, about its hooks
@pytest.mark.parametrize("name, size, layer", [("lenet5", 28, "conv1"), ("resnet_small", 32, "relu1")])
def test_guided_grad_cam_equals_captums_up_to_the_maps_scale(name, size, layer):
    """At a layer as large as the image, where each unit's field centre is its own pixel and Captum's resize changes
    nothing, our product is Captum's over the class activation map's largest value."""
    from captum.attr import GuidedGradCam

    torch.manual_seed(0)
    model = models.build(name, pretrained=name == "lenet5")
    captum = GuidedGradCam(model, model.get_submodule(layer))
    for image in torch.rand(2, models.spec(name).channels, size, size):
        for target in (None, 2):
            mapped = cam.class_map(model, image, layer, target)
            gradient = attribution.saliency(attribution.guided(model), image, mapped.target)
            ours = cam.guided_map(dataclasses.replace(gradient, method="guided"), mapped)
            theirs = captum.attribute(image[None].clone().requires_grad_(True), target=mapped.target)[0].detach()
            torch.testing.assert_close(ours.raw * mapped.raw.max(), theirs, rtol=1e-4, atol=1e-6)
            heat = theirs.abs().amax(0)
            torch.testing.assert_close(ours.heat, heat / heat.max(), rtol=1e-4, atol=1e-5)
            assert (ours.target, ours.method) == (mapped.target, "guided_x_gradcam")


def test_guided_grad_cam_keeps_the_gradients_detail_only_where_the_class_map_is_lit():
    model = models.build("lenet5", pretrained=True)
    image = images_module.load_sample("digit")[:1]
    mapped = cam.class_map(model, image, "relu2")  # 10 x 10, placed at the units' field centres
    gradient = attribution.saliency(attribution.guided(model), image, mapped.target)
    fused = cam.guided_map(gradient, mapped)
    torch.testing.assert_close(fused.heat, attribution.unit_scaled(gradient.heat * mapped.heat))
    assert 0 < int((fused.heat > 0).sum()) < int((gradient.heat > 0).sum())  # the map's dark places cut away
    with pytest.raises(ValueError, match="one class"):
        cam.guided_map(attribution.saliency(model, image, (mapped.target + 1) % 10), mapped)


def test_bad_requests_are_refused_clearly():
    model = models.build("lenet5", pretrained=True)
    image = torch.rand(1, 28, 28)
    with pytest.raises(ValueError, match="no feature maps"):
        cam.class_map(model, image, "fc3")
    with pytest.raises(ValueError, match="not a layer with feature maps"):
        cam.class_map(model, image, "nope")
    with pytest.raises(ValueError, match="not one of the class activation maps"):
        cam.class_map(model, image, "relu2", 3, "finercam")
    with pytest.raises(ValueError, match="10 classes"):
        cam.class_map(model, image, "relu2", 10)
    with pytest.raises(ValueError, match="10 classes"):
        cam.class_map(model, image, "", 10, "fullgrad")


def test_fullgrad_knows_when_no_layer_adds_anything_and_skips_a_branch_the_score_does_not_read():
    assert cam.has_biases(models.build("lenet5")) and not cam.has_biases(models.build("resnet18"))  # fresh BNs add 0
    trained = models.build("resnet18")
    trained.get_submodule("bn1").bias.data.fill_(0.1)
    assert cam.has_biases(trained)

    class Aside(torch.nn.Module):  # a biased convolution whose output goes nowhere
        def __init__(self):
            super().__init__()
            self.conv, self.aside, self.fc = torch.nn.Conv2d(1, 4, 3), torch.nn.Conv2d(1, 4, 3), torch.nn.Linear(4, 3)

        def forward(self, x):
            self.aside(x)
            return self.fc(self.conv(x).mean((2, 3)))

    made = cam.class_map(Aside(), torch.rand(1, 12, 12), "", 0, "fullgrad")
    assert made.heat.shape == (12, 12) and float(made.heat.max()) == pytest.approx(1.0)
