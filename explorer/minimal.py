"""The smallest change that makes a network read a chosen class: Szegedy et al. (2014)'s question.

For an image ``x`` and a target class ``t`` they ask for ``min ||r||_2`` such that the network reads
``x + r`` as ``t``, with ``x + r`` still an image (every value in [0, 1]). They approximate it with a
penalty: minimise ``c * loss(x + r, t) + ||r||^2`` by box-constrained L-BFGS (here scipy's L-BFGS-B)
and search for the smallest ``c`` whose minimiser is read as ``t``: a smaller ``c`` weighs the change
more, so the last ``c`` that still succeeds gives the smallest ``r``. Networks are not convex, so this
is an upper bound on the true distance; on a linear model it is the distance to the class boundary.

Several targets are solved at once: the objective is a sum of independent terms, one image and one
``c`` per target, so one L-BFGS-B run serves all of them (one forward pass of T images per step).
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from explorer import inspect

ROUNDS = 8  # searches for c: a few growing ones, then halving the bracket
ITERATIONS = 40  # L-BFGS-B iterations per round (8 x 40 is within 1% of 20 x 100 on MNIST digits, 5x faster)
FIRST_C = 1.0  # a digit needs c of about 0.1 to 10 (loss in nats, change in squared pixel units)


@dataclass(frozen=True, eq=False)
class Smallest:
    """The smallest change found towards each of several target classes."""

    original: torch.Tensor  # (C, H, W) in [0, 1]
    targets: torch.Tensor  # (T,) the classes asked for
    images: torch.Tensor  # (T, C, H, W): the nearest image read as each target (the original where none was found)
    found: torch.Tensor  # (T,) bool: whether an image read as the target was found
    probabilities: torch.Tensor  # (T, K): the softmax of each image

    @property
    def changes(self) -> torch.Tensor:
        """(T, C, H, W): each image minus the original."""
        return self.images - self.original

    @property
    def norms(self) -> torch.Tensor:
        """(T,) the L2 norm of each change (NaN where none was found)."""
        norms = self.changes.flatten(1).norm(dim=1)
        return torch.where(self.found, norms, torch.full_like(norms, math.nan))

    @property
    def rms(self) -> torch.Tensor:
        """(T,) each change's root mean square per value: the L2 norm over the square root of the value count."""
        return self.norms / math.sqrt(self.original.numel())

    @property
    def nearest(self) -> int:
        """The position (in ``targets``) of the nearest target that was found; ValueError when none was."""
        if not bool(self.found.any()):
            raise ValueError("no target was reached")
        return int(torch.nan_to_num(self.norms, nan=math.inf).argmin())


def smallest_change(model: nn.Module, image: torch.Tensor, targets: Sequence[int], rounds: int = ROUNDS,
                    iterations: int = ITERATIONS, progress: Callable[[int, int], None] | None = None) -> Smallest:
    """Szegedy's box-constrained L-BFGS search for the smallest change of ``image`` (C, H, W) in [0, 1] read as each
    of ``targets``; ``progress(done, total)`` counts L-BFGS-B iterations over all rounds.

    ValueError for a target the model does not have or already predicts.
    """
    from scipy.optimize import Bounds, minimize  # only this search needs scipy
    from threadpoolctl import threadpool_limits

    device = inspect.device_of(model)
    x = image[None].detach().to(device, torch.float32)
    with torch.no_grad():
        first = model(x)[0]
    _check_targets(targets, first.shape[0], int(first.argmax()))
    goal = torch.tensor(list(targets), device=device)
    count, shape = len(targets), (len(targets), *x.shape[1:])
    c = np.full(count, FIRST_C)
    low, high = np.zeros(count), np.full(count, math.inf)  # the bracket: fails at low, succeeds at high
    best = x.expand(shape).clone()
    best_norm = torch.full((count,), math.inf, device=device)
    done = 0

    def objective(z: np.ndarray) -> tuple[float, np.ndarray]:
        adversarial = torch.from_numpy(z).to(device, torch.float32).view(shape).requires_grad_(True)
        loss = F.cross_entropy(model(adversarial), goal, reduction="none")
        change = (adversarial - x).flatten(1).pow(2).sum(1)
        total = (torch.from_numpy(c).to(device, torch.float32) * loss + change).sum()
        (grad,) = torch.autograd.grad(total, adversarial)
        return float(total.detach()), grad.flatten().double().cpu().numpy()

    def step(_: np.ndarray) -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, rounds * iterations)

    start = x.expand(shape).flatten().double().cpu().numpy()
    box = Bounds(np.zeros_like(start), np.ones_like(start))
    with threadpool_limits(1, user_api="blas"), _one_torch_thread():  # see _one_torch_thread
        for round_ in range(rounds):
            solution = minimize(objective, start, jac=True, method="L-BFGS-B", bounds=box, callback=step,
                                options=dict(maxiter=iterations))
            adversarial = torch.from_numpy(solution.x).to(device, torch.float32).view(shape)
            with torch.no_grad():
                reached = (model(adversarial).argmax(1) == goal)
            norm = (adversarial - x).flatten(1).norm(dim=1)
            better = reached & (norm < best_norm)
            best = torch.where(better.view(-1, 1, 1, 1), adversarial, best)
            best_norm = torch.where(better, norm, best_norm)
            c, low, high = _next_c(c, low, high, reached.cpu().numpy())
            done = (round_ + 1) * iterations
    with torch.no_grad():
        probabilities = torch.softmax(model(best).float(), 1).cpu()
    return Smallest(x[0].cpu(), goal.cpu(), best.cpu(), torch.isfinite(best_norm).cpu(), probabilities)


def _next_c(c: np.ndarray, low: np.ndarray, high: np.ndarray,
            reached: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each target's next ``c`` and bracket (``low`` failed, ``high`` succeeded): ten times larger until one
    succeeds, then halfway across the bracket."""
    high, low = np.where(reached, np.minimum(high, c), high), np.where(reached, low, np.maximum(low, c))
    return np.where(np.isinf(high), c * 10, (low + high) / 2), low, high


_THREADS = threading.Lock()
_searching = 0  # searches running now, in any thread
_threads_before = 0  # torch's thread count when the first of them started


@contextlib.contextmanager
def _one_torch_thread() -> Iterator[None]:
    """Torch (and scipy's BLAS, with ``threadpool_limits``) on one thread while searches run: a step is a few small
    operations, and a second thread waiting at each one for a core the machine gives to something else (another
    visitor, a training run) makes the search 2.5 to 4 times slower on two cores; idle, one thread is as fast.
    Torch's thread count is global, so it is counted back only when the last search ends."""
    global _searching, _threads_before
    with _THREADS:
        if _searching == 0:
            _threads_before = torch.get_num_threads()
            torch.set_num_threads(1)
        _searching += 1
    try:
        yield
    finally:
        with _THREADS:
            _searching -= 1
            if _searching == 0:
                torch.set_num_threads(_threads_before)


def _check_targets(targets: Sequence[int], classes: int, predicted: int) -> None:
    """ValueError unless ``targets`` are distinct classes of the model, other than the one it predicts."""
    if not targets:
        raise ValueError("no target class given")
    for target in targets:
        if not 0 <= target < classes:
            raise ValueError(f"the model has {classes} classes (0..{classes - 1}); there is no class {target}")
        if target == predicted:
            raise ValueError(f"the network already reads class {target}: there is nothing to change")
    if len(set(targets)) != len(targets):
        raise ValueError("each target class may be asked for once")
