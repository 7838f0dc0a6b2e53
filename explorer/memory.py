"""What a network asks of memory: its parameters and the values its layers write, as 32-bit floats."""

from __future__ import annotations

from math import prod

from explorer.inspect import Layer

# operations whose output is their input's memory: a view of it (flatten, reshape), or the input itself (an identity,
# dropout at inference)
SHARES_INPUT = frozenset({"Flatten", "flatten", "view", "reshape", "Identity", "Dropout"})
FLOAT_BYTES = 4  # float32


def values_written(layers: list[Layer]) -> int:
    """The values one image's forward pass writes into new tensors: every operation's output but those that share
    their input's memory (:data:`SHARES_INPUT`). Equal, on every network of the zoo, to the bytes of the distinct
    tensors its traced graph creates, divided by 4."""
    return sum(prod(l.out_shape) for l in layers if l.type not in SHARES_INPUT)


def _size(n_bytes: float) -> str:
    """Bytes in words a student reads at a glance: "241 KB", "7.9 MB", "1.8 GB" (1 KB = 1,024 bytes)."""
    for unit, scale in (("GB", 2**30), ("MB", 2**20), ("KB", 2**10)):
        if n_bytes >= scale:
            amount = n_bytes / scale
            return f"{amount:.1f} {unit}" if amount < 10 else f"{amount:,.0f} {unit}"
    return f"{n_bytes:.0f} bytes"


def in_words(layers: list[Layer], batch: int = 64) -> str:
    """What the network asks of memory, as 32-bit floats: its parameters, one image's layer outputs, and a training
    batch's (training keeps the outputs for the backward pass), so a student sees why a large network trains in
    small batches."""
    params, values = sum(l.params for l in layers), values_written(layers)
    return (f"As 32-bit floats, the {params:,} parameters take {_size(params * FLOAT_BYTES)}; one image's forward "
            f"pass writes {values:,} values into its layers' outputs ({_size(values * FLOAT_BYTES)}). Training keeps "
            f"most of them for the backward pass, so its memory grows with the batch: {batch} images hold about "
            f"{_size(values * FLOAT_BYTES * batch)} of outputs, besides the parameters, their gradients and the "
            "optimizer's state.")
