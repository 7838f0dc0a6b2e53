"""The "Why this prediction" attacks: seconds to sweep the attack over every eps, and to search one universal
pattern, on the CPU (and CUDA).

Prints one JSON line (and writes bench/results/attacks.json):
``{"lenet5_fgsm_cpu_s": .., "lenet5_iterated_cpu_s": .., "resnet18_fgsm_cpu_s": .., "resnet18_iterated_cpu_s": ..,
"lenet5_universal_cpu_s": .., "tinyvgg_universal_cpu_s": .., "lenet5_smallest_cpu_s": .., "tinyvgg_smallest_cpu_s": ..,
"..._cuda_s": .. or null, ...}``
As on the page: FGSM at the 61 eps of 0..0.3 (one backward pass serves all), the iterated attack (ten steps
each) at every other eps for LeNet-5 (31, 0.01 apart) and every sixth for ResNet18 (11, 0.03 apart).
LeNet-5 with its shipped weights on the sample digit; ResNet18 with random weights on a 224x224 random image
(offline). The universal pattern: the page's 100 steps of 32 of 3,000 built-in shapes at eps 0.2, with the
shipped LeNet-5 and TinyVGG. Szegedy's smallest change as the page searches it: towards the 9 other digits of
the sample digit (LeNet-5), towards the strongest other class of a shape (TinyVGG); null where scipy is missing.
One run after a warm-up.
Imports only explorer modules free of streamlit, so it runs wherever torch does.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._common import Clock, report  # noqa: E402
from explorer import adversarial, data, images, inputs, minimal, models, universal  # noqa: E402  (after the path)

EPSILONS = torch.linspace(0, 0.3, 61)  # the page's


def _image(name: str) -> torch.Tensor:
    if name == "lenet5":
        return inputs.prepare(models.spec(name), images.load_sample("digit")).tensor
    return torch.rand(3, 224, 224, generator=torch.Generator().manual_seed(0))


def seconds(name: str, device: str) -> dict[str, float]:
    """Wall time of the page's two sweeps for ``name`` on ``device``."""
    model = models.build(name, pretrained=name == "lenet5").requires_grad_(False).to(device)
    image = _image(name)
    sweeps = {"fgsm": lambda: adversarial.fgsm_sweep(model, image, EPSILONS),
              "iterated": lambda: adversarial.iterative_fgsm_sweep(model, image,
                                                                   EPSILONS[::2] if name == "lenet5" else EPSILONS[::6])}
    result = {}
    for kind, sweep in sweeps.items():
        adversarial.fgsm_sweep(model, image, EPSILONS[:2])  # warm-up: kernels, allocator, oneDNN plans
        clock = Clock(torch.device(device))
        clock.start()
        sweep()
        result[f"{name}_{kind}_{device}_s"] = round(clock.stop(), 3)
    return result


def universal_seconds(name: str, device: str) -> dict[str, float]:
    """Wall time of the page's search for one pattern (100 steps of 32 images) for ``name`` on ``device``."""
    model = models.build(name, pretrained=True).requires_grad_(False).to(device)
    train = inputs.fit_batch(data.load("shapes").subset(3000).images, models.spec(name)).float() / 255
    universal.perturbation(model, train, 0.2, steps=2, batch=32)  # warm-up
    clock = Clock(torch.device(device))
    clock.start()
    universal.perturbation(model, train, 0.2, steps=100, batch=32)
    return {f"{name}_universal_{device}_s": round(clock.stop(), 3)}


def smallest_seconds(name: str, device: str) -> dict[str, float | None]:
    """Wall time of the page's L-BFGS search for the smallest change for ``name`` on ``device`` (None without scipy)."""
    key = f"{name}_smallest_{device}_s"
    try:
        import scipy  # noqa: F401  (the GPU machine may lack it)
    except ImportError:
        return {key: None}
    model = models.build(name, pretrained=True).requires_grad_(False).to(device)
    if name == "lenet5":
        image = _image(name)
    else:
        image = inputs.fit_batch(data.shapes(1, size=64, channels=3).images, models.spec(name))[0].float() / 255
    with torch.no_grad():
        probabilities = torch.softmax(model(image[None].to(device)), 1)[0].cpu()
    order = probabilities.argsort(descending=True).tolist()
    targets = order[1:] if name == "lenet5" else order[1:2]  # as the page: every class of a digit, one of a shape
    minimal.smallest_change(model, image, targets[:1], rounds=1, iterations=2)  # warm-up
    clock = Clock(torch.device(device))
    clock.start()
    minimal.smallest_change(model, image, targets)
    return {key: round(clock.stop(), 3)}


def main() -> None:
    cuda = torch.cuda.is_available()
    result: dict = {}
    for device in ("cpu", "cuda"):
        for name in ("lenet5", "resnet18"):
            if device == "cpu" or cuda:
                result.update(seconds(name, device))
            else:
                result.update({f"{name}_{kind}_cuda_s": None for kind in ("fgsm", "iterated")})
        for name in ("lenet5", "tinyvgg"):
            result.update(universal_seconds(name, device) if device == "cpu" or cuda
                          else {f"{name}_universal_cuda_s": None})
            result.update(smallest_seconds(name, device) if device == "cpu" or cuda
                          else {f"{name}_smallest_cuda_s": None})
    result.update(threads=torch.get_num_threads(), gpu=torch.cuda.get_device_name() if cuda else None,
                  torch=torch.__version__)
    report("attacks", result)


if __name__ == "__main__":
    main()
