"""The pointing game on typed expert regions: hits, landing types, chance and fixed prior."""
import numpy as np
import pytest
import torch

from arcnn_lib.evaluation.roi_pointing import (anchor_hit_matrix, best_fixed_anchor, image_hits,
                                    landing, summarise)

# two images; expert boxes: a Wrist and a PIP on image 0, an MCP on image 1
REGIONS = [torch.tensor([[10.0, 10, 30, 30], [50, 50, 60, 60]]), torch.tensor([[0.0, 0, 20, 20]])]
TYPES = [["Wrist", "PIP"], ["MCP"]]


def test_landing_marks_every_type_holding_the_centre():
    boxes = torch.tensor([[15.0, 15, 25, 25], [54, 54, 56, 56], [80, 80, 90, 90]])
    land = landing(boxes, REGIONS[0], TYPES[0])
    # columns: DIP, PIP, MCP, Wrist, Radius, Ulna
    assert land.tolist() == [[False, False, False, True, False, False],
                             [False, True, False, False, False, False],
                             [False] * 6]


def test_image_hits_top1_topk_and_shares():
    # parts ranked by score: image 0's best misses, its second hits the Wrist
    boxes = torch.tensor([[[80.0, 80, 90, 90], [15, 15, 25, 25], [0, 0, 2, 2]],
                          [[5.0, 5, 15, 15], [80, 80, 90, 90], [90, 90, 99, 99]]])
    scores = torch.tensor([[3.0, 2, 1], [1.0, 2, 0]])        # image 1: part 1 ranks first
    anchors = torch.tensor([[2.0, 2, 12, 12], [80, 80, 90, 90], [14, 14, 30, 30]])
    f = image_hits(boxes, scores, REGIONS, TYPES, anchors, k=2, fixed_anchor=2, seed=0)
    assert f["top1"].tolist() == [False, False]              # image 1's best is (80..90)
    assert f["topk"].tolist() == [True, True]
    assert f["top1_none"].tolist() == [True, True]
    assert f["topk_Wrist"].tolist() == [0.5, 0.0] and f["topk_MCP"].tolist() == [0.0, 0.5]
    assert f["fixed_top1"].tolist() == [True, False]          # anchor 2 sits on image 0's Wrist
    np.testing.assert_allclose(f["random_top1_expected"], [1 / 3, 1 / 3])
    s = summarise(f)
    assert s["n"] == 2 and s["topk_hit"] == 1.0 and s["fixed_anchor_top1"] == 0.5
    assert s["per_region"]["Wrist"]["topk"] == 0.25 and s["per_region"]["none"]["top1"] == 1.0


def test_random_anchors_are_seeded_and_near_expectation():
    anchors = torch.rand(200, 2) * 90
    anchors = torch.cat([anchors, anchors + 10], 1)
    boxes = anchors[:3][None].expand(400, 3, 4)
    regions = [REGIONS[0]] * 400
    types = [TYPES[0]] * 400
    a = image_hits(boxes, None, regions, types, anchors, k=1, seed=5)
    b = image_hits(boxes, None, regions, types, anchors, k=1, seed=5)
    assert a.equals(b)
    exp = anchor_hit_matrix(anchors, REGIONS[:1]).mean()
    assert a["random_top1"].mean() == pytest.approx(exp, abs=4 * np.sqrt(exp * (1 - exp) / 400))


def test_best_fixed_anchor_is_chosen_on_the_given_images_only():
    anchors = torch.tensor([[2.0, 2, 12, 12], [14, 14, 30, 30]])
    assert best_fixed_anchor(anchors, REGIONS[1:]) == 0     # MCP at (0..20)
    assert best_fixed_anchor(anchors, REGIONS[:1]) == 1     # Wrist at (10..30)
    with pytest.raises(ValueError, match="at least one image"):
        best_fixed_anchor(anchors, [])
