"""Figure helpers draw what they are given (arcnn_lib.results.viz), with the Agg backend."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from arcnn_lib.results import viz  # noqa: E402
from arcnn_lib.model.anchors import generate_anchors, grid_size  # noqa: E402
from arcnn_lib.config import ARCNNConfig  # noqa: E402


@pytest.fixture
def ax():
    fig, ax = plt.subplots()
    yield ax
    plt.close(fig)


def test_show_image_uses_box_coordinates(ax):
    im = viz.show_image(ax, torch.rand(1, 1, 6, 8), title="x")
    assert im.get_extent() == [0, 8, 6, 0]
    assert ax.get_title() == "x"


def test_show_image_rejects_a_batch(ax):
    with pytest.raises(ValueError):
        viz.show_image(ax, torch.rand(2, 1, 6, 8))


def test_draw_boxes_one_rectangle_and_label_per_box(ax):
    boxes = torch.tensor([[0.0, 0.0, 8.0, 6.0], [1.0, 2.0, 3.0, 5.0]], requires_grad=True)
    viz.draw_boxes(ax, boxes, labels=["a", "b"], colors=["red"])
    assert len(ax.patches) == 2 and len(ax.texts) == 2
    first = ax.patches[0]
    assert (first.get_x(), first.get_y(), first.get_width(), first.get_height()) == (0, 0, 8, 6)


def test_draw_anchors_widens_the_view_to_anchors_outside(ax):
    cfg = ARCNNConfig.paper()
    anchors = generate_anchors(cfg)
    viz.draw_anchors(ax, anchors, cfg.image_size)
    assert len(ax.patches) == anchors.shape[0] + 1          # + the canvas
    lo, hi = ax.get_xlim()
    assert lo < anchors[:, 0].min() and hi > anchors[:, 2].max()


def test_draw_score_map_covers_the_cells(ax):
    cfg = ARCNNConfig.paper()
    n = grid_size(cfg.image_size, 128)
    im = viz.draw_score_map(ax, np.zeros((n, n)), cfg.image_size, 128)
    lo, hi, _, _ = im.get_extent()
    assert hi - lo == n * 128 and (lo + hi) / 2 == cfg.image_size / 2
    with pytest.raises(ValueError):
        viz.draw_score_map(ax, np.zeros((n + 1, n)), cfg.image_size, 128)


def test_show_parts_grid():
    fig = viz.show_parts(torch.rand(7, 1, 5, 5), titles=list("abcdefg"), ncols=4,
                         colors=viz.COLORS)
    try:
        assert len(fig.axes) == 8
        assert [a.get_title() for a in fig.axes[:7]] == list("abcdefg")
        assert not fig.axes[7].axison
    finally:
        plt.close(fig)


def test_draw_anchors_grid_lines_per_cell_border(ax):
    cfg = ARCNNConfig.paper()
    n = grid_size(cfg.image_size, 128)
    viz.draw_anchors(ax, generate_anchors(cfg)[:3], cfg.image_size, grid_stride=128)
    assert len(ax.lines) == 2 * (n + 1) + 1                  # borders both ways + centres
