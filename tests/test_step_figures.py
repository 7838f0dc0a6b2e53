"""The figures of one step of a convolution (explorer.step_figures)."""

from explorer import examples, step_figures, trace


def test_the_windows_path_runs_under_the_numbers_one_row_at_a_time():
    """Through the centres it struck the numbers through, and its diagonal to the next row crossed the grid."""
    e = examples.EXAMPLES["laplacian"]
    traced = trace.conv_trace(e.image, e.kernel)  # a 2 x 3 output: centres in rows 1 and 2, columns 1..3
    path = next(d for d in step_figures.conv_step_figures(traced, 0)[0].data if d.type == "scatter")
    assert list(path.x) == [1, 2, 3, None, 1, 2, 3]
    assert list(path.y) == [1.3, 1.3, 1.3, None, 2.3, 2.3, 2.3]


def test_conv_step_figures_show_the_products_of_the_step():
    e = examples.EXAMPLES["laplacian"]
    traced = trace.conv_trace(e.image, e.kernel)
    figs = step_figures.conv_step_figures(traced, 0)
    products = figs[2].data[0].z
    assert [list(row) for row in products] == (e.image[:3, :3] * e.kernel).tolist()
    zero = examples.EXAMPLES["zero_padding"]  # true convolution: the kernel as set, then turned, side by side
    turned = step_figures.conv_step_figures(trace.conv_trace(zero.image, zero.kernel, padding=1, flip=True), 0,
                                            flipped=True)
    assert [f.layout.title.text for f in turned[:3]] == ["Input (padded)", "Kernel as you set it", "Turned, as applied"]
    assert turned[1].data[0].z.tolist() == zero.kernel.tolist()
    assert turned[2].data[0].z.tolist() == zero.kernel.flip(0, 1).tolist()
