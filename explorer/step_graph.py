"""A training step replayed from one captured CUDA graph.

A short run of a small network on a GPU is bound by launches, not arithmetic: one eager step of
forward, loss, backward and optimizer launches about a hundred kernels, each paying the Python
and driver overhead. Captured once as a CUDA graph, a step is one launch (``graph.replay()``)
after two copies of the batch into fixed buffers.

What a capture needs, and how :class:`GraphedStep` provides it:
  - Fixed memory: the batch is copied into buffers made once; the loss, the gradients and every
    intermediate live in the graph's own pool and are rewritten by each replay.
  - The optimizer's state must exist before the capture: the first ``warmup`` steps run eagerly
    (on a side stream, as capture wants), and they are real steps of the run.
  - An optimizer built ``capturable`` (its step count on the device), and a learning rate the
    graph reads from device memory: a one-element tensor, refilled from the schedule before each
    replay. Other hyperparameters (Adam's betas) are baked into the graph at capture.
  - No Python side effect inside the step: it runs once, at capture.
On the CPU there is nothing to capture: every step runs the same body eagerly, with the same
buffers and the same tensor learning rate. The tests check that path against the plain loop.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

Body = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (images uint8, labels) -> loss


class GraphedStep:
    """Call with a batch (uint8 images (N, C, H, W), labels (N,)) of one fixed shape; returns the loss.

    ``body`` is one whole training step on its two arguments (zero grads, forward, backward,
    optimizer step, any running sums kept in place on device tensors).
    """

    def __init__(self, body: Body, optimizer: torch.optim.Optimizer, images: torch.Size, device: torch.device,
                 warmup: int = 3) -> None:
        self.body, self.optimizer, self.warmup = body, optimizer, warmup
        self.images = torch.zeros(images, dtype=torch.uint8, device=device)
        self.labels = torch.zeros(images[0], dtype=torch.int64, device=device)
        self.lrs = [torch.tensor(float(g["lr"]), device=device) for g in optimizer.param_groups]
        self.graph: torch.cuda.CUDAGraph | None = None
        self.loss: torch.Tensor | None = None  # the graph's output: rewritten by each replay
        self.eager_steps = 0

    def __call__(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        self.images.copy_(images, non_blocking=True)
        self.labels.copy_(labels, non_blocking=True)
        for lr, group in zip(self.lrs, self.optimizer.param_groups):
            lr.fill_(float(group["lr"]))  # the schedule keeps its floats; the graph reads this tensor
        if self.images.device.type != "cuda":
            return self._run()
        if self.graph is None and self.eager_steps < self.warmup:
            self.eager_steps += 1
            return self._on_side_stream()
        if self.graph is None:
            self._capture()
        self.graph.replay()
        return self.loss

    def _run(self) -> torch.Tensor:
        """The body on the buffers, with the learning-rate tensors in the optimizer's groups."""
        floats = [g["lr"] for g in self.optimizer.param_groups]
        for lr, group in zip(self.lrs, self.optimizer.param_groups):
            group["lr"] = lr
        try:
            return self.body(self.images, self.labels)
        finally:
            for value, group in zip(floats, self.optimizer.param_groups):
                group["lr"] = value

    def _on_side_stream(self) -> torch.Tensor:
        stream, current = torch.cuda.Stream(self.images.device), torch.cuda.current_stream(self.images.device)
        stream.wait_stream(current)
        with torch.cuda.stream(stream):
            loss = self._run()
        current.wait_stream(stream)
        return loss

    def _capture(self) -> None:
        """Record one step; nothing runs until the first replay."""
        self.optimizer.zero_grad(set_to_none=True)  # the backward then makes the gradients in the graph's pool
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.loss = self._run()
