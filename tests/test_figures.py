"""The paper's figures (arcnn_lib.results.figures) draw what they are given, with the Agg backend."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from arcnn_lib.results import figures  # noqa: E402


def predictions_frame(n=10, m=4, seed=0):
    """A small frame shaped like evaluate's predictions.csv."""
    rng = np.random.default_rng(seed)
    age = rng.uniform(0, 228, n)
    d = {"id": [str(i) for i in range(n)], "male": np.arange(n) % 2 == 0, "boneage": age,
         "pred": age + rng.normal(0, 10, n), "pred_x": age, "pred_concat": age}
    for i in range(m):
        d[f"pred_part{i + 1}"] = age
        d[f"part{i + 1}_score"] = rng.normal(size=n)
        x, y = rng.uniform(0, 100, n), rng.uniform(0, 100, n)
        d[f"part{i + 1}_x1"], d[f"part{i + 1}_y1"] = x, y
        d[f"part{i + 1}_x2"], d[f"part{i + 1}_y2"] = x + 20, y + 10
    return pd.DataFrame(d)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_part_boxes_reads_every_part_in_order():
    pred = predictions_frame(n=5, m=4)
    boxes, scores = figures.part_boxes(pred)
    assert boxes.shape == (5, 4, 4) and scores.shape == (5, 4)
    assert boxes[2, 3, 0] == pred.loc[2, "part4_x1"] and boxes[2, 3, 3] == pred.loc[2, "part4_y2"]
    assert scores[1, 2] == pred.loc[1, "part3_score"]
    with pytest.raises(ValueError):
        figures.part_boxes(pred[["id", "pred"]])


def test_rank_parts_sorts_boxes_with_their_scores():
    boxes = np.arange(3 * 4, dtype=float).reshape(1, 3, 4)
    b, s = figures.rank_parts(boxes, np.array([[0.1, 0.9, 0.5]]))
    assert s.tolist() == [[0.9, 0.5, 0.1]]
    assert b[0, 0].tolist() == boxes[0, 1].tolist() and b[0, 2].tolist() == boxes[0, 0].tolist()


def test_fig2_scatter_draws_points_identity_and_mae():
    pred = predictions_frame(n=12)
    fig, (a, b) = plt.subplots(1, 2)
    out = figures.fig2_scatter(a, b, pred, label="all")
    assert out is fig
    xy = a.collections[0].get_offsets()
    np.testing.assert_allclose(xy[:, 0], pred["boneage"])
    np.testing.assert_allclose(xy[:, 1], pred["pred"])
    dev = b.collections[0].get_offsets()[:, 1]
    np.testing.assert_allclose(dev, pred["pred"] - pred["boneage"])
    x, y = a.lines[0].get_data()
    assert list(x) == list(y)                         # the identity line
    mae = np.abs(pred["pred"] - pred["boneage"]).mean()
    assert f"MAE {mae:.2f}" in a.get_legend().get_texts()[0].get_text()
    assert any(np.allclose(ln.get_ydata(), mae) for ln in b.lines)


def test_fig2_has_one_row_per_sex_and_a_label():
    pred = predictions_frame(n=12)
    fig = figures.fig2(pred, label="phantom / smoke / CPU")
    assert len(fig.axes) == 4
    assert sum(len(ax.collections[0].get_offsets()) for ax in fig.axes[::2]) == len(pred)
    assert fig.axes[1].get_ylim() == fig.axes[3].get_ylim()
    assert any(t.get_text() == "phantom / smoke / CPU" for t in fig.texts)
    one_sex = figures.fig2(pred[pred["male"]])
    assert len(one_sex.axes) == 2


def test_fig3_parts_draws_top_k_ranked_boxes():
    pred = predictions_frame(n=3, m=4)
    boxes, scores = figures.part_boxes(pred)
    images = np.zeros((3, 128, 128))
    fig = figures.fig3_parts(images, boxes, scores, ids=pred["id"], k=2, ncols=2, label="x")
    panels = [ax for ax in fig.axes if ax.images]
    assert len(panels) == 3
    ax = panels[0]
    assert len(ax.patches) == 2 and [t.get_text().strip() for t in ax.texts] == ["1", "2"]
    best = boxes[0, np.argmax(scores[0])]
    assert (ax.patches[0].get_x(), ax.patches[0].get_y()) == (best[0], best[1])
    assert ax.get_title() == "0"
    with pytest.raises(ValueError):
        figures.fig3_parts(images[:2], boxes, scores)


def test_fig3_parts_shows_boxes_past_the_border_in_full():
    boxes = np.array([[[-10.0, 5.0, 20.0, 30.0], [50.0, 50.0, 140.0, 70.0]]])
    fig = figures.fig3_parts(np.zeros((1, 128, 128)), boxes, np.array([[1.0, 0.5]]), k=2)
    ax = fig.axes[0]
    assert ax.get_xlim() == (-10.0, 140.0) and ax.get_ylim() == (128.0, 0.0)


def test_draw_pointing_colours_hits_and_misses():
    fig, ax = plt.subplots()
    regions = np.array([[10.0, 10.0, 30.0, 30.0]])
    boxes = np.array([[15.0, 15.0, 25.0, 25.0], [60.0, 60.0, 80.0, 80.0]])  # hit, miss
    figures.draw_pointing(ax, np.zeros((100, 100)), regions, boxes, scores=[0.2, 0.9], k=2)
    # one dashed region, then the boxes ranked by score: the miss first
    assert len(ax.patches) == 3
    assert ax.patches[0].get_linestyle() == "--"
    edge = [matplotlib.colors.to_hex(p.get_edgecolor()) for p in ax.patches[1:]]
    assert edge == [matplotlib.colors.to_hex("tab:red"), matplotlib.colors.to_hex("tab:green")]
