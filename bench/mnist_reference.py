"""The reference of bench/train_speed.py: what a user copies from pytorch/examples ``mnist/main.py``.

torchvision's ``datasets.MNIST`` with ``Compose([ToTensor(), Normalize((0.1307,), (0.3081,))])`` per
image, a ``DataLoader`` (batch 64, shuffle, num_workers=1, pinned memory on CUDA; test batch 1000),
its two-conv dropout net (conv 1->32 3x3, conv 32->64 3x3, max-pool 2, dropout 0.25, fc 9216->128,
dropout 0.5, fc 128->10, log-softmax, NLL loss), fp32, Adadelta lr 1.0, StepLR(step 1, gamma 0.7),
``loss.item()`` every 10 batches (the example's logging, which waits for the device), a test after
every epoch, torch.manual_seed(1). (The example adds shuffle and the worker only with CUDA; here the
loader is the same on both devices.)
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from bench._common import Clock

EPOCHS = 14  # the example's default --epochs


class Net(nn.Module):
    """The network of pytorch/examples ``mnist/main.py``: its layers, in its order."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, 1, 28, 28) normalised -> (N, 10) log-probabilities
        x = F.relu(self.conv2(F.relu(self.conv1(x))))  # (N, 64, 24, 24)
        x = self.dropout1(F.max_pool2d(x, 2))  # (N, 64, 12, 12)
        x = self.dropout2(F.relu(self.fc1(torch.flatten(x, 1))))  # (N, 128)
        return F.log_softmax(self.fc2(x), dim=1)


def loaders(root: Path, device: torch.device, train_images: int | None = None,
                      test_images: int | None = None) -> tuple[torch.utils.data.DataLoader, torch.utils.data.DataLoader]:
    """The example's (train, test) loaders; ``*_images`` keep only the first n (for tests)."""
    from torch.utils.data import DataLoader, Subset
    from torchvision import datasets, transforms

    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    kwargs = {"num_workers": 1, "pin_memory": device.type == "cuda"}

    def split(train: bool, n: int | None) -> torch.utils.data.Dataset:
        full = datasets.MNIST(str(root), train=train, download=False, transform=transform)
        return full if n is None else Subset(full, range(min(n, len(full))))

    return (DataLoader(split(True, train_images), batch_size=64, shuffle=True, **kwargs),
            DataLoader(split(False, test_images), batch_size=1000, **kwargs))


def _batches(model: Net, loader, optimizer, device: torch.device) -> Iterator[None]:
    """The example's ``train()``: yields after every batch."""
    model.train()
    for batch_idx, (x, y) in enumerate(loader):
        x, y = x.to(device), y.to(device)
        optimizer.zero_grad()
        loss = F.nll_loss(model(x), y)
        loss.backward()
        optimizer.step()
        if batch_idx % 10 == 0:  # the example's log line reads the loss here
            loss.item()
        yield


@torch.no_grad()
def accuracy_of(model: Net, loader, device: torch.device) -> float:
    """The example's ``test()``: the share of test images classified right."""
    model.eval()
    correct = sum((model(x.to(device)).argmax(1) == y.to(device)).sum().item() for x, y in loader)
    return correct / len(loader.dataset)


def fresh_model(device: torch.device) -> tuple[Net, torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
    """The example's network, optimizer and schedule, seeded as the example seeds them."""
    torch.manual_seed(1)  # the example's --seed
    model = Net().to(device)
    optimizer = torch.optim.Adadelta(model.parameters(), lr=1.0)
    return model, optimizer, torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.7)


def to_target(splits, device: torch.device, target: float, max_epochs: int = EPOCHS) -> dict:
    """Epochs of the example until a test reaches ``target`` (tests outside the clock)."""
    (train_loader, test_loader), clock = splits, Clock(device)
    model, optimizer, scheduler = fresh_model(device)
    accuracy, epochs = 0.0, 0
    for epochs in range(1, max_epochs + 1):
        clock.start()
        for _ in _batches(model, train_loader, optimizer, device):
            pass
        scheduler.step()
        clock.stop()
        accuracy = accuracy_of(model, test_loader, device)
        if accuracy >= target:
            break
    return {"seconds": round(clock.seconds, 3), "epochs": epochs, "accuracy": round(accuracy, 4),
            "reached": accuracy >= target, "images_per_s": round(epochs * len(train_loader.dataset) / clock.seconds)}


def for_seconds(splits, seconds: float, device: torch.device) -> dict:
    """Test accuracy of the example after ``seconds`` of training, cut after the batch that crosses it."""
    (train_loader, test_loader), clock = splits, Clock(device)
    model, optimizer, scheduler = fresh_model(device)
    batches, epochs = 0, 0
    clock.start()
    while clock.read() < seconds:
        for _ in _batches(model, train_loader, optimizer, device):
            batches += 1
            if clock.read() >= seconds:
                break
        else:
            scheduler.step()
            epochs += 1
    clock.stop()
    return {"accuracy": round(accuracy_of(model, test_loader, device), 4), "seconds": round(clock.seconds, 2),
            "images_seen": batches * train_loader.batch_size, "epochs_completed": epochs}
