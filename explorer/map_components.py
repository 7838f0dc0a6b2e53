"""What a layer's maps share, for no class: the positions along the maps' first principal component (Eigen-CAM,
and pytorch-grad-cam's ``eigen_smooth`` of any map), along a kernel's first principal component (KPCA-CAM) and
the maps weighed by how often they respond far above their mean (FEM).

Each takes the maps ``values`` (1, M, h, w) of one image and gives (1, 1, h, w), before the ReLU.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

MOST_POSITIONS = 4096  # KPCA-CAM's kernel holds every pair of positions: 4096^2 float64 is 134 MB


def first_component(values: torch.Tensor) -> torch.Tensor:
    """Each position of ``values``, centred over the positions, along their first principal component. The
    component's sign is free; it is turned so that its loadings add up to more than zero (the positions where the
    maps are strong come out high)."""
    flat = _positions(values)
    component = torch.linalg.svd(flat, full_matrices=False).Vh[0]
    if component.sum() < 0:
        component = -component
    return (flat @ component).reshape(values.shape[-2:])[None, None].to(values)


def kernel_component(values: torch.Tensor, gamma: float | None = None, coef0: float = 1.0) -> torch.Tensor:
    """KPCA-CAM (Karmani et al. 2024): Eigen-CAM's component taken in a kernel's space, by scikit-learn's
    ``KernelPCA(n_components=1, kernel="sigmoid")`` as pytorch-grad-cam's ``get_2d_projection_kernel`` asks it.

    The positions, centred, are compared pair by pair, ``K_ij = tanh(gamma * x_i . x_j + coef0)`` (``gamma`` 1 / M
    by default); ``K`` centred in its feature space, its top eigenvector ``v`` (eigenvalue ``l``) gives each
    position ``v_i * sqrt(l)``, turned so that its largest value in size is above zero. The kernel holds every pair:
    beyond :data:`MOST_POSITIONS` positions the maps are averaged over squares until they fit
    (:func:`kernel_pooling`), and the component brought back to their size."""
    from sklearn.decomposition import KernelPCA  # here, not above: the GPU machine's checks run without it

    factor = kernel_pooling(values.shape[-2:])
    pooled = F.avg_pool2d(values, factor, ceil_mode=True) if factor > 1 else values
    flat = _positions(pooled).numpy()
    if not flat.any():  # every position alike (or only one): no direction in which they differ
        return torch.zeros_like(values[:, :1])
    found = KernelPCA(n_components=1, kernel="sigmoid", gamma=gamma, coef0=coef0, random_state=0).fit_transform(flat)
    component = torch.from_numpy(found[:, 0]).reshape(pooled.shape[-2:])[None, None].to(values)
    if factor > 1:
        component = F.interpolate(component, size=values.shape[-2:], mode="bilinear", align_corners=False)
    return component


def kernel_pooling(size: tuple[int, int]) -> int:
    """The side of the squares :func:`kernel_component` averages a layer's maps of ``size`` (h, w) over: 1 up to
    :data:`MOST_POSITIONS` positions, else the least power of two that brings them below it."""
    factor = 1
    while math.ceil(size[0] / factor) * math.ceil(size[1] / factor) > MOST_POSITIONS:
        factor *= 2
    return factor


def fem_weights(values: torch.Tensor, k: float = 2.0) -> torch.Tensor:
    """FEM's weights (1, M, 1, 1) (Fuad et al. 2020, pytorch-grad-cam's ``FEM``): each map's share of positions
    above its mean plus ``k`` standard deviations, its rare strong responses (the k-sigma rule)."""
    exact = values.double()  # a map the same everywhere: float32's mean can fall below its value, lighting it all
    mean = exact.mean((2, 3), keepdim=True)
    spread = exact.std((2, 3), correction=0, keepdim=True)  # NumPy's std
    return (exact > mean + k * spread).to(values.dtype).mean((2, 3), keepdim=True)


def _positions(values: torch.Tensor) -> torch.Tensor:
    """``values`` (1, M, h, w) as one row per position (h * w, M), in float64 on the CPU, centred over the positions
    (a NaN counts as zero, as pytorch-grad-cam sets it)."""
    flat = torch.nan_to_num(values[0].detach().flatten(1).T.double().cpu(), nan=0.0)
    return flat - flat.mean(0)
