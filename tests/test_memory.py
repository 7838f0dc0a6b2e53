"""What a network asks of memory (explorer.memory), against the tensors a forward pass creates."""

import pytest
import torch

from explorer import extraction, inspect, memory, models


@pytest.fixture(scope="module")
def built():
    torch.manual_seed(0)
    return {name: models.build(name).eval() for name in ("lenet5", "resnet_small", "alexnet", "googlenet")}


def _bytes_created(model: torch.nn.Module, input_shape: tuple[int, ...]) -> int:
    """The bytes of the distinct tensors a forward pass of the traced graph creates (each storage counted once: a
    view or an identity adds nothing), measured on the tensors themselves."""
    from torch import fx

    storages: dict[int, int] = {}

    class Measuring(fx.Interpreter):
        def run_node(self, node: fx.Node):
            out = super().run_node(node)
            if node.op not in ("placeholder", "get_attr", "output") and isinstance(out, torch.Tensor):
                storages.setdefault(out.untyped_storage().data_ptr(), out.untyped_storage().nbytes())
            return out

    with torch.no_grad():
        Measuring(extraction.extractor(model)).run(torch.zeros(1, *input_shape))
    return sum(storages.values())


@pytest.mark.parametrize("name", ["lenet5", "resnet_small", "alexnet", "googlenet"])
def test_the_values_a_forward_pass_writes_are_the_bytes_of_the_tensors_it_creates(name, built):
    """Flatten, Identity and Dropout at inference share their input's memory; ReLUs, built not in place, do not."""
    model, spec = built[name], models.spec(name)
    layers = inspect.layers(model, spec.input_shape)
    assert memory.values_written(layers) * memory.FLOAT_BYTES == _bytes_created(model, spec.input_shape)


def test_the_memory_line_counts_parameters_and_outputs_as_float32_and_scales_with_the_batch(built):
    layers = inspect.layers(built["lenet5"], models.spec("lenet5").input_shape)
    words = memory.in_words(layers, batch=128)
    # 61,706 x 4 bytes = 241 KB; 6x28x28 twice (conv, relu), 6x14x14, 16x10x10 twice, 16x5x5, 120, 120, 84, 84, 10
    # and the normalised input 28x28
    values = 784 + 2 * 4704 + 1176 + 2 * 1600 + 400 + 2 * 120 + 2 * 84 + 10
    assert memory.values_written(layers) == values == 15_386
    assert words.startswith("As 32-bit floats, the 61,706 parameters take 241 KB; one image's forward pass writes "
                            "15,386 values into its layers' outputs (60 KB).")
    assert "128 images hold about 7.5 MB of outputs" in words  # 15,386 x 4 x 128 = 7.51 MB
    assert [memory._size(n) for n in (512, 2048, 15 * 2**20, 1.8 * 2**30)] == ["512 bytes", "2.0 KB", "15 MB",
                                                                                 "1.8 GB"]
