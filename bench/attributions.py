"""The "Why this prediction" maps: seconds for each attribution method on the CPU (and CUDA).

Prints one JSON line (and writes bench/results/attributions.json):
``{"lenet5": {"saliency": .., "smooth_grad": .., "grad_cam": .., "fullgrad": .., "shapley_cam": ..,
"finer_cam": .., "kpca_cam": .., "kpca_cam_first": .., "concepts": .., "fem": .., "adcc_every_map": ..,
"occlusion": .., "integrated_gradients": .., "deeplift": .., "gradient_shap": .., "shapley_squares": .., "lrp": ..,
"deletion_insertion": .., "road": .., "deconvnet_top9": ..},
"resnet18": {..}, "cuda": {"lenet5": .., "resnet18": ..} or null, ...}`` in seconds, with the page's defaults:
SmoothGrad over 25 noisy copies, Grad-CAM at the suggested layer, FullGrad (every layer with a bias), ShapleyCAM of
the class's probability (``shapley_cam``: a Hessian-vector product more), Finer-CAM's Grad-CAM of class 0 against
classes 1, 2 and 3 (``finer_cam``), KPCA-CAM at the suggested layer and at the first layer with feature maps
(``kpca_cam_first``: ResNet18's 112 x 112 maps averaged over 2 x 2 squares to fit its kernel), Deep Feature
Factorization into 5 concepts at the suggested layer (``concepts``; these three left out where scikit-learn is not
installed), FEM, ADCC of every class activation map at the suggested layer (``adcc_every_map``: each method twice,
the image and the image faded by its map; Score-CAM and Ablation-CAM left out on ResNet18, as the page leaves them
out without a GPU), occlusion by a square a quarter of the side moved half a square at a time, integrated gradients
in 32 steps, DeepLIFT from black (one pass of the image and its baseline), GradientSHAP in 32 draws from 64 random
baselines, the Shapley values of 3x3 squares (all 512 coalitions, one image each), LRP by Montavon et al.'s
composite (``lrp``), deletion and insertion curves of four maps (``deletion_insertion``; ``road``: the pixels taken
away filled from their neighbours), and the Top activations page's projections of a channel's top 9 back onto the
pixels (``deconvnet_top9``: 9 images, one unit each, at the suggested layer, in one batch). LeNet-5 with its shipped
weights on the sample digit; ResNet18 with random weights on a 224x224 random image (offline). The median of 3 runs
after a warm-up. Imports only explorer modules free of streamlit, so it runs wherever torch does.
"""

from __future__ import annotations

import importlib.util
import statistics
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._common import Clock, report  # noqa: E402
from explorer import adcc, attribution, cam, concepts, deconvnet, deeplift, faithfulness  # noqa: E402 (path set)
from explorer import gradient_shap, images, inputs, inspect, lrp, models, shapley, targets  # noqa: E402


LEARN = importlib.util.find_spec("sklearn") is not None  # KPCA-CAM's; the GPU machine's Python lacks it


def _image(name: str) -> torch.Tensor:
    if name == "lenet5":
        return inputs.prepare(models.spec(name), images.load_sample("digit")).tensor
    return torch.rand(3, 224, 224, generator=torch.Generator().manual_seed(0))


def seconds(name: str, device: str, runs: int = 3) -> dict[str, float]:
    """Median wall time of each method for ``name`` on ``device``."""
    model = models.build(name, pretrained=name == "lenet5").requires_grad_(False).to(device)
    image, spec = _image(name), models.spec(name)
    baselines = torch.rand(64, *image.shape, generator=torch.Generator().manual_seed(1))
    layers = list(inspect.layers(model, (spec.channels, *image.shape[-2:])))
    layer, first = cam.suggested_layer(layers), cam.usable_layers(layers)[0]
    checked = [m for m in cam.METHODS if (LEARN or m != "kpcacam") and (name == "lenet5" or m not in cam.PASSES)]
    height, width = next(l for l in layers if l.name == layer).out_shape[-2:]
    nine, centres = image.unsqueeze(0).expand(9, -1, -1, -1), torch.tensor([[height // 2, width // 2]] * 9)
    methods = {
        "saliency": lambda: attribution.saliency(model, image),
        "smooth_grad": lambda: attribution.smooth_grad(model, image),
        "grad_cam": lambda: cam.class_map(model, image, layer),
        "fullgrad": lambda: cam.class_map(model, image, layer, method="fullgrad"),
        "shapley_cam": lambda: cam.class_map(model, image, layer, method="shapleycam",
                                             of=targets.Score("probability")),
        "finer_cam": lambda: cam.class_map(model, image, layer, 0, of=targets.Score(versus=(1, 2, 3))),
        **({"kpca_cam": lambda: cam.class_map(model, image, layer, method="kpcacam"),
            "kpca_cam_first": lambda: cam.class_map(model, image, first, method="kpcacam"),
            "concepts": lambda: concepts.factorize(model, image, layer, 5)} if LEARN else {}),
        "adcc_every_map": lambda: adcc.check_all(model, image, layer, None, checked, spec.mean),
        "fem": lambda: cam.class_map(model, image, layer, method="fem"),
        "occlusion": lambda: attribution.occlusion(model, image, window=image.shape[-1] // 4, fill=spec.mean),
        "integrated_gradients": lambda: attribution.integrated_gradients(model, image),
        "deeplift": lambda: deeplift.deep_lift(model, image),
        "gradient_shap": lambda: gradient_shap.gradient_shap(model, image, baselines),
        "shapley_squares": lambda: shapley.region_shapley(model, image, grid=3, coalitions=1024),
        "lrp": lambda: lrp.lrp(model, image),
        # Which map is right: deletion and insertion of four maps and a random order, 21 images each way
        "deletion_insertion": lambda: faithfulness.compare(model, image, 0, {m: torch.rand(image.shape[-2:])
                                                                            for m in ("a", "b", "c", "d")}),
        "road": lambda: faithfulness.compare(model, image, 0, {m: torch.rand(image.shape[-2:]) for m in "abcd"},
                                             removal="road"),
        "deconvnet_top9": lambda: deconvnet.project(model, layer, nine, 0, centres),
    }
    result = {}
    for method, compute in methods.items():
        compute()  # warm-up: kernels, allocator, oneDNN plans
        times = []
        for _ in range(runs):
            clock = Clock(torch.device(device))
            clock.start()
            compute()
            times.append(clock.stop())
        result[method] = round(statistics.median(times), 4)
    return result


def main() -> None:
    cuda = torch.cuda.is_available()
    result: dict = {name: seconds(name, "cpu") for name in ("lenet5", "resnet18")}
    result["cuda"] = {name: seconds(name, "cuda") for name in ("lenet5", "resnet18")} if cuda else None
    result.update(threads=torch.get_num_threads(), gpu=torch.cuda.get_device_name() if cuda else None,
                  torch=torch.__version__)
    report("attributions", result)


if __name__ == "__main__":
    main()
