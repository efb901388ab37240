"""The evaluation engine: metrics.json, predictions.csv, the pointing game, box mapping."""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from arcnn_lib.data.images import map_boxes
from arcnn_lib.evaluation.evaluator import evaluate, main
from arcnn_lib.evaluation.pointing import box_hits, pointing_game
from arcnn_lib import TrainConfig, train

from engine_fixtures import TINY_N


@pytest.fixture
def trained(tiny):
    return train(TrainConfig(**tiny))


def test_evaluate_writes_metrics_and_predictions(trained, tmp_path):
    out = tmp_path / "eval"
    res = evaluate(trained.checkpoint, split="test", out=out, progress=False)
    m = json.loads((out / "metrics.json").read_text())
    pred = pd.read_csv(out / "predictions.csv", dtype={"id": str})
    split = pd.read_csv(Path(trained.out_dir) / "split.csv", dtype=str)
    assert sorted(pred["id"]) == sorted(split.loc[split["split"] == "test", "id"])
    assert m["n"] == len(pred) == res.metrics["n"]
    assert m["male"]["n"] + m["female"]["n"] == m["n"]
    M = 6
    cols = ["id", "male", "boneage", "pred", "pred_x", "pred_concat"] + \
        [f"pred_part{i}" for i in range(1, M + 1)]
    assert list(pred.columns[:len(cols)]) == cols
    for i in range(1, M + 1):
        assert {f"part{i}_score", f"part{i}_x1", f"part{i}_y1", f"part{i}_x2",
                f"part{i}_y2"} <= set(pred.columns)
    assert (pred["part1_score"] >= pred["part2_score"]).all()  # ranked by score
    assert m["mae"] == pytest.approx(np.mean(np.abs(pred["pred"] - pred["boneage"])), rel=1e-4)
    assert len(m["mae_parts"]) == M and m["mae_concat"] is not None
    for key in ("config", "data", "checkpoint", "git_commit", "hardware", "date",
                "wall_seconds", "median_baseline_mae"):
        assert key in m
    assert m["data"]["split_csv"].endswith("split.csv") and m["checkpoint"]["epoch"] == 1
    p = m["pointing"]
    for key in ("top1", "topk", "random_top1", "random_topk", "random_top1_expected"):
        assert 0.0 <= p[key] <= 1.0
    assert p["k"] == 3 and p["n"] == m["n"]


def test_evaluate_cli_and_its_errors(trained, tmp_path, capsys):
    out = tmp_path / "cli"
    assert main(["--checkpoint", trained.checkpoint, "--split", "val", "--out", str(out),
                 "--no-progress"]) == 0
    assert "MAE" in capsys.readouterr().out and (out / "metrics.json").is_file()
    with pytest.raises(SystemExit):
        main(["--checkpoint", str(tmp_path / "missing.pt"), "--out", str(out)])
    assert "missing.pt" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--checkpoint", trained.checkpoint, "--split", "holdout", "--out", str(out)])
    assert "train, val, test" in capsys.readouterr().err


def test_baseline_evaluates_through_the_same_command(tiny, tmp_path):
    res = train(TrainConfig(**{**tiny, "model": "baseline"}))
    ev = evaluate(res.checkpoint, out=tmp_path / "ev", progress=False)
    assert list(ev.predictions.columns) == ["id", "male", "boneage", "pred", "pred_x"]
    assert ev.metrics["mae"] == pytest.approx(ev.metrics["mae_x"])
    assert ev.metrics["mae_parts"] == [] and "pointing" not in ev.metrics


# ---------------------------------------------------------------------------- pointing game
def test_box_hits_rules():
    region = torch.tensor([[10.0, 10.0, 20.0, 20.0]])
    boxes = torch.tensor([[12.0, 12.0, 18.0, 18.0],     # centre inside
                          [0.0, 0.0, 40.0, 40.0],       # huge: centre (20, 20) on the border
                          [0.0, 0.0, 60.0, 60.0],       # huge: centre outside
                          [30.0, 30.0, 40.0, 40.0]])    # elsewhere
    assert box_hits(boxes, region).tolist() == [True, True, False, False]
    assert box_hits(boxes, region, "contains_centre").tolist() == [True, True, True, False]
    assert not box_hits(boxes, torch.zeros(0, 4)).any()


def test_pointing_game_perfect_boxes_and_seeded_random():
    anchors = torch.tensor([[x, y, x + 10.0, y + 10.0] for x in range(0, 100, 10)
                            for y in range(0, 100, 10)])
    regions = [torch.tensor([[20.0, 20.0, 30.0, 30.0]]) for _ in range(50)]
    good = torch.tensor([[20.0, 20.0, 30.0, 30.0], [60.0, 60.0, 70.0, 70.0]]).repeat(50, 1, 1)
    scores = torch.tensor([[2.0, 1.0]]).repeat(50, 1)
    r = pointing_game(good, scores, regions, anchors, k=2, seed=0)
    assert r["top1"] == 1.0 and r["topk"] == 1.0
    assert r["random_top1_expected"] == pytest.approx(1 / 100)
    assert r == pointing_game(good, scores, regions, anchors, k=2, seed=0)
    # ranking by score: the second box scored higher misses
    r2 = pointing_game(good, scores.flip(1), regions, anchors, k=1, seed=0)
    assert r2["top1"] == 0.0
    assert r["ceiling_top1"] == 1.0   # the anchor centred at (25, 25) could hit every image


def test_pointing_ceiling_counts_images_some_anchor_can_hit():
    # anchor centres at 5, 15, ..., 95; a region between two centres cannot be hit
    anchors = torch.tensor([[x, y, x + 10.0, y + 10.0] for x in range(0, 100, 10)
                            for y in range(0, 100, 10)])
    between = torch.tensor([[21.0, 21.0, 24.0, 24.0]])
    on_centre = torch.tensor([[23.0, 23.0, 27.0, 27.0]])
    regions = [between, on_centre, on_centre, between]
    boxes = torch.tensor([[20.0, 20.0, 30.0, 30.0]]).repeat(4, 1, 1)
    r = pointing_game(boxes, None, regions, anchors, k=1)
    assert r["ceiling_top1"] == 0.5 and r["top1"] == 0.5


def test_map_boxes_matches_the_cache_resize_and_pad():
    from arcnn_lib.data.images import resize_pad
    h, w, size = 300, 200, 128
    img = np.zeros((h, w), np.uint8)
    x1, y1, x2, y2 = 40, 100, 120, 220
    img[y1:y2, x1:x2] = 255
    out = resize_pad(img, size)
    ys, xs = np.nonzero(out > 127)
    found = np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], float)
    mapped = map_boxes(np.array([[x1, y1, x2, y2]]), h, w, size)[0]
    assert np.abs(found - mapped).max() <= 1.0
