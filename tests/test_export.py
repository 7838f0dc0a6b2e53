"""Markdown and LaTeX export of a worked example; maps and images as files."""

import io
import json

import numpy as np
import pytest
import torch

from explorer import examples, export


def test_markdown_table():
    table = export.markdown_table(torch.tensor([[1.0, -2.5], [0.0, 3.25]]))
    assert table.splitlines() == ["| | 0 | 1 |", "|---:|---:|---:|", "| **0** | 1 | -2.5 |", "| **1** | 0 | 3.25 |"]


def test_latex_matrix_of_the_laplacian_example():
    e = examples.EXAMPLES["laplacian"]
    latex = export.latex_matrix(e.expected)
    assert latex == "\\begin{bmatrix}\n  -2 & 10 & 9 \\\\\n  -8 & -1 & -11\n\\end{bmatrix}"


def test_example_documents_name_every_matrix():
    named = {"input": torch.eye(2), "output": torch.ones(1, 1)}
    assert "**input**" in export.example_markdown(named) and "**output**" in export.example_markdown(named)
    assert export.example_latex(named).count("\\begin{bmatrix}") == 2


def test_a_kernel_of_ninths_is_written_in_ninths_and_nothing_else_is():
    ninths = torch.full((3, 3), 1 / 9)
    named = {"kernel": ninths, "input": torch.full((2, 2), 0.5), "output": torch.full((1, 1), 15 / 9)}
    markdown, latex = export.example_markdown(named), export.example_latex(named)
    assert "| **2** | 1/9 | 1/9 | 1/9 |" in markdown and "| **0** | 0.5 | 0.5 |" in markdown and "1.67" in markdown
    assert "\\tfrac{1}{9} & \\tfrac{1}{9}" in latex and "0.5 & 0.5" in latex


def test_maps_are_saved_as_one_npz_read_back_by_name():
    named = {"saliency": torch.rand(3, 8, 8), "grad_cam": torch.rand(2, 2)}
    loaded = np.load(io.BytesIO(export.arrays_npz(named)))
    assert sorted(loaded.files) == ["grad_cam", "saliency"]
    np.testing.assert_allclose(loaded["saliency"], named["saliency"].numpy())
    described = np.load(io.BytesIO(export.arrays_npz(named, {"model": "lenet5", "class": 3})), allow_pickle=False)
    assert json.loads(str(described["settings"])) == {"model": "lenet5", "class": 3}
    np.testing.assert_allclose(described["grad_cam"], named["grad_cam"].numpy())


def test_a_handout_starts_with_its_settings_and_rounds_by_name():
    assert export.example_heading("pooling", (3, 3), (0, 0, 0, 0), 1, pooling="l2") == (
        "L2-norm pooling: 3 x 3 window, stride 1.")
    assert export.example_heading("1-D signal", (1, 3), (1, 1, 0, 0), 2, padding_mode="circular") == (
        "A 1-D convolution, cross-correlation, as PyTorch's conv layers: a kernel of 3 taps, padding 1 (circular), "
        "stride 2, dilation 1.")
    assert "a kernel of 3 taps, padding left 2, right 1 (zeros)" in export.example_heading("1-D signal", (1, 3),
                                                                                          (2, 1, 0, 0), 1)
    assert export.example_heading("backward", (2, 2), (0, 0, 0, 0), 1, 2, flip=True).startswith(
        "Backward pass of a convolution, true convolution (the kernel turned 180 degrees): 2 x 2 kernel, padding 0, "
        "stride 1, dilation 2")
    named = {"kernel": torch.tensor([[0.25, 0.5]]), "output": torch.tensor([[1.666]])}
    markdown = export.example_markdown(named, {"output": 1}, "Settings.")
    assert markdown.startswith("Settings.\n\n**kernel**") and "| 0.25 | 0.5 |" in markdown and "| 1.7 |" in markdown
    assert export.example_latex(named, 0, "Settings.").startswith("Settings.\n\n% kernel")



def test_an_image_goes_into_a_png_pixel_for_pixel():
    from PIL import Image

    grey, colour = torch.rand(1, 5, 7), torch.rand(3, 4, 6)
    for image, mode in ((grey, "L"), (colour, "RGB")):
        with Image.open(io.BytesIO(export.png_bytes(image))) as png:
            assert png.mode == mode and png.size == (image.shape[2], image.shape[1])
            pixels = torch.from_numpy(np.array(png)).reshape(image.shape[1], image.shape[2], -1).permute(2, 0, 1)
        assert torch.equal(pixels, (image * 255).round().byte())
    assert export.png_bytes(torch.full((1, 2, 2), 2.0)) == export.png_bytes(torch.ones(1, 2, 2))  # cut to [0, 1]
    with pytest.raises(ValueError, match="a PNG needs a"):
        export.png_bytes(torch.rand(2, 4, 4))
