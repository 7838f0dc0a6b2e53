"""Train the models the app ships: LeNet-5 on MNIST and TinyVGG on the built-in shapes set.

Writes ``assets/models/<name>.safetensors`` and a JSON sidecar (data set, test accuracy, seed,
command, date). Seeded: on the CPU a rerun gives the same weights.

    python scripts/train_default_models.py            # both models
    python scripts/train_default_models.py lenet5     # one of them
"""

from __future__ import annotations

import argparse
import datetime
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from explorer import data, models, training  # noqa: E402

RECIPES = {
    # LeNet-5 on MNIST: 8 epochs of one-cycle AdamW with small affine jitter reach about 99.3%.
    "lenet5": dict(data="mnist", target=0.990, config=training.TrainConfig(
        epochs=8, batch_size=128, lr=3e-3, shift=0.08, degrees=10, scale=0.1, seed=0)),
    # TinyVGG on 64x64 colour shapes: the set has its own jitter, so no extra augmentation.
    "tinyvgg": dict(data="shapes-rgb64", target=0.95, config=training.TrainConfig(
        epochs=10, batch_size=64, lr=3e-3, shift=0.0, degrees=0, scale=0.0, seed=0)),
}


def load_splits(name: str) -> tuple[data.DataSet, data.DataSet]:
    """Train and test splits; "shapes-rgb64" is the built-in set drawn at TinyVGG's 64x64 in colour."""
    if name == "shapes-rgb64":
        return data.shapes(16000, size=64, channels=3, seed=0), data.shapes(2000, size=64, channels=3, seed=1)
    return data.load(name, train=True), data.load(name, train=False)


def train_one(name: str) -> dict:
    recipe = RECIPES[name]
    config: training.TrainConfig = recipe["config"]
    train_set, test_set = load_splits(recipe["data"])
    torch.manual_seed(config.seed)  # the initial weights
    model = models.build(name)
    start = time.perf_counter()
    last = None
    for record in training.train(model, train_set, test_set, config):
        if record.phase != "train":
            print(f"{name} epoch {record.epoch:.0f}: loss {record.loss:.4f}, test accuracy "
                  f"{record.test_accuracy}, {record.elapsed:.1f} s, {record.images_per_s:,.0f} images/s", flush=True)
        last = record
    if last is None or last.phase == "diverged" or last.test_accuracy < recipe["target"]:
        raise SystemExit(f"{name}: training ended at {last} (target {recipe['target']}); nothing written")
    model.cpu().eval()
    card = {
        "model": name, "data": recipe["data"], "train_images": len(train_set), "test_images": len(test_set),
        "test_accuracy": round(last.test_accuracy, 4), "seed": config.seed, "config": config.__dict__,
        "train_seconds": round(time.perf_counter() - start, 1), "device": last.device,
        "command": "python scripts/train_default_models.py " + name,
        "date": datetime.date.today().isoformat(),
        "torch": torch.__version__, "python": platform.python_version(),
    }
    models.save_shipped(name, model, card)
    print(f"{name}: wrote {models.shipped_weights(name)} (test accuracy {card['test_accuracy']:.2%})")
    return card


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", default=list(RECIPES), choices=list(RECIPES))
    for name in parser.parse_args().names:
        train_one(name)


if __name__ == "__main__":
    main()
