"""Receptive-field figures: the growth chart across layers, and the sentences under the table."""

from explorer import field_figures, models, receptive_field


def test_the_growth_line_follows_the_main_path_and_shortcuts_stand_apart():
    fields = receptive_field.fields(models.build("resnet_small"), (32, 32))
    fig = field_figures.growth_figure(fields, "stage2.conv2", 32)
    line, jumps, branch = fig.data
    assert list(line.y) == sorted(line.y)  # the main path never seems to shrink
    assert all("shortcut" in name for name in branch.x) and branch.mode == "markers"
    assert len(line.x) + len(branch.x) == len(jumps.x)  # every layer with a map is drawn once
    assert list(fig.layout.xaxis.categoryarray) == list(jumps.x)  # in forward order, branches in place
    plain = field_figures.growth_figure(receptive_field.fields(models.build("lenet5"), (28, 28)), "conv1", 28)
    assert len(plain.data) == 2  # no side branch, no third trace
    assert plain.data[1].yaxis == "y2" and plain.layout.yaxis2.side == "right"  # jumps of 1..4 on their own scale
    assert plain.layout.xaxis.automargin  # a slanted first name stays inside the figure


def test_the_table_explains_fields_wider_than_the_image_and_layers_without_a_grid():
    resnet = field_figures.table_notes(receptive_field.fields(models.build("resnet18"), (224, 224)), (224, 224))
    assert len(resnet) == 2
    assert "(**243**) is wider than the 224-pixel input" in resnet[0]
    assert resnet[1].startswith("`flatten` and the layers after it have no feature map")
    lenet = field_figures.table_notes(receptive_field.fields(models.build("lenet5"), (28, 28)), (28, 28))
    assert len(lenet) == 1 and "j is 0" in lenet[0]  # LeNet's fields stay inside its 28 pixels
