"""Feature extraction, traced safely: every operation of a network by its node name, and a module that
returns their outputs (``torchvision.models.feature_extraction``).

A server runs its sessions in threads and caches its models, so the trace is taken one at a time
(torch.fx patches the whole process while it traces), confined to the thread that traces, and on a
twin of the model that shares its weights: the model itself is never switched to training mode, and
no hook is registered on it.
"""

from __future__ import annotations

import contextlib
import copy
import threading
import weakref
from collections.abc import Callable, Hashable, Iterator
from typing import TypeVar

import torch
import torchvision  # noqa: F401  (whole, before a part of it: see explorer/__init__.py)
from torch import fx, nn
from torchvision.models import feature_extraction
from torchvision.models.feature_extraction import create_feature_extractor, get_graph_node_names

T = TypeVar("T")


def _tracer_kwargs() -> dict:
    from explorer.networks import Normalize, Scramble  # one node each, not their arithmetic and indexing

    return {"leaf_modules": [Normalize, Scramble]}


def _twin(model: nn.Module) -> nn.Module:
    """A copy of the module tree that shares every parameter and buffer with ``model``.

    Tracing switches the modules it traces to training mode and back; traced on ``model`` itself,
    a model that other sessions are running meanwhile (a cached one) would run, for that moment,
    with batch norm updating its statistics and dropout on. The twin is switched instead.
    """
    shared = {id(t): t for t in (*model.parameters(), *model.buffers())}
    return copy.deepcopy(model, shared).eval()


class _ThreadTracer(feature_extraction.NodePathTracer):
    """torchvision's tracer, confined to the thread that traces.

    While FX traces, ``nn.Module.__call__`` and ``__getattr__`` are patched for the whole process. The
    app serves its sessions from threads: another session's forward pass would go through this tracer
    (a NameError, or proxies in place of its weights, which a cached model shares with the traced
    twin). Calls from other threads pass straight through.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._thread = threading.get_ident()

    def call_module(self, m, forward, args, kwargs):
        if threading.get_ident() != self._thread:
            return forward(*args, **kwargs)
        return super().call_module(m, forward, args, kwargs)

    def getattr(self, attr, attr_val, parameter_proxy_cache):
        if threading.get_ident() != self._thread:
            return attr_val
        return super().getattr(attr, attr_val, parameter_proxy_cache)


_TRACING = threading.RLock()


@contextlib.contextmanager
def _tracing() -> Iterator[None]:
    """One FX trace at a time, by :class:`_ThreadTracer`. torch.fx keeps its patches in a global: two
    traces at once can leave ``nn.Module.__call__`` patched for good, and every later forward fails.
    torchvision builds its tracer by name, so the name points at ours while the lock is held."""
    with _TRACING:
        library_tracer, feature_extraction.NodePathTracer = feature_extraction.NodePathTracer, _ThreadTracer
        try:
            yield
        finally:
            feature_extraction.NodePathTracer = library_tracer


_NAMES: weakref.WeakKeyDictionary[nn.Module, tuple[str, ...]] = weakref.WeakKeyDictionary()


def state_of(model: nn.Module) -> tuple:
    """Where ``model``'s parameters and buffers live and how often each was changed in place: moved (``.to``,
    ``.cuda``), loaded into or trained, the model's state is another."""
    return tuple((t.data_ptr(), t.dtype, t.device, t._version) for t in (*model.parameters(), *model.buffers()))


class PerModel:
    """What is made from a model (a traced twin with other rules, a copy with batch norms folded), kept while the
    model lives and made again once its state (:func:`state_of`) changes: a twin shares the tensors it was made
    with, and after ``.to()`` a model's buffers are new tensors that the twin never sees."""

    def __init__(self) -> None:
        self._made: weakref.WeakKeyDictionary[nn.Module, tuple[tuple, dict]] = weakref.WeakKeyDictionary()

    def get(self, model: nn.Module, key: Hashable, make: Callable[[], T]) -> T:
        """``make()``'s result for ``model`` and ``key``, made once per state of the model."""
        state = state_of(model)
        held = self._made.get(model)
        if held is None or held[0] != state:
            held = self._made[model] = (state, {})
        if key not in held[1]:
            held[1][key] = make()
        return held[1][key]


def node_names(model: nn.Module) -> list[str]:
    """Every operation's node name in forward order (eval mode), the input excluded.

    Traced once per model (the structure of a built model does not change); later calls read the trace.
    """
    if model not in _NAMES:
        with _tracing():
            _, eval_nodes = get_graph_node_names(_twin(model), tracer_kwargs=_tracer_kwargs())
        _NAMES[model] = tuple(eval_nodes[1:])  # the first node is the input placeholder
    return list(_NAMES[model])


def extractor(model: nn.Module, nodes: list[str] | None = None) -> fx.GraphModule:
    """A module returning ``{node name: output}`` for ``nodes`` (default: all). The model is not changed:
    the extractor runs the model's own parameters and buffers in a :func:`_twin` of its modules.

    In-place operations are made out-of-place in the traced graph: an in-place ReLU would
    otherwise overwrite the output of the conv or batch norm before it (torchvision's models
    use ``F.relu(x, inplace=True)`` and ``nn.ReLU(inplace=True)``), and the page would show
    rectified maps as the conv's.
    """
    nodes = nodes or node_names(model)
    with _tracing():
        graph_module = create_feature_extractor(_twin(model), return_nodes=nodes, tracer_kwargs=_tracer_kwargs())
    for node in graph_module.graph.nodes:
        if node.kwargs.get("inplace"):
            node.kwargs = {**node.kwargs, "inplace": False}
        if node.op == "call_method" and node.target.endswith("_") and hasattr(torch.Tensor, node.target[:-1]):
            node.target = node.target[:-1]  # x.relu_() -> x.relu()
        if node.op == "call_module" and getattr(graph_module.get_submodule(node.target), "inplace", False):
            raise ValueError(f"{node.target} works in place; build models with models.build (it turns that off)")
    graph_module.recompile()
    return graph_module
