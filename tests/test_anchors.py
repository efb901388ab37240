"""Anchor sizes, ratios, counts and centres (arcnn_lib.model.anchors)."""
import math

import pytest
import torch

from arcnn_lib.model.anchors import anchors_per_level, generate_anchors, level_centres
from arcnn_lib.config import ARCNNConfig


def test_paper_anchor_count():
    cfg = ARCNNConfig.paper()
    anchors = generate_anchors(cfg)
    assert anchors_per_level(cfg) == [14 * 14 * 3, 7 * 7 * 3, 4 * 4 * 3]
    assert anchors.shape == (783, 4)


@pytest.mark.parametrize("profile", ["paper", "gpu", "smoke"])
def test_sides_are_exactly_the_scales_and_ratios(profile):
    cfg = ARCNNConfig.from_profile(profile)
    anchors = generate_anchors(cfg).double()
    w = anchors[:, 2] - anchors[:, 0]
    h = anchors[:, 3] - anchors[:, 1]
    start = 0
    for scale, n in zip(cfg.anchor_scales, anchors_per_level(cfg)):
        side = torch.sqrt(w[start:start + n] * h[start:start + n])
        assert torch.allclose(side, torch.full_like(side, scale), atol=1e-4)
        ratios = (h[start:start + n] / w[start:start + n]).reshape(-1, len(cfg.anchor_ratios))
        expected = torch.tensor(cfg.anchor_ratios, dtype=torch.float64).expand_as(ratios)
        assert torch.allclose(ratios, expected, atol=1e-5)
        start += n


def test_centres_are_symmetric_about_the_image_centre():
    for size, stride in [(448, 32), (448, 128), (128, 64), (224, 64)]:
        c = level_centres(size, stride)
        assert len(c) == math.ceil(size / stride)
        assert torch.allclose(c + c.flip(0), torch.full_like(c, float(size)))
        assert torch.allclose(c[1:] - c[:-1], torch.full_like(c[1:], float(stride)))


def test_order_is_level_row_column_ratio():
    cfg = ARCNNConfig.paper()
    anchors = generate_anchors(cfg)
    centres = (anchors[:, :2] + anchors[:, 2:]) / 2
    # the three ratios of one cell share a centre, then x moves, then y
    c = centres.double()
    torch.testing.assert_close(c[1], c[0]), torch.testing.assert_close(c[2], c[0])
    assert torch.allclose(c[3] - c[0], torch.tensor([32.0, 0.0], dtype=torch.float64))
    assert torch.allclose(c[14 * 3] - c[0], torch.tensor([0.0, 32.0], dtype=torch.float64))


def test_anchors_scale_with_the_image():
    small, paper = ARCNNConfig.gpu(), ARCNNConfig.paper()
    assert small.image_size * 2 == paper.image_size
    assert tuple(2 * s for s in small.anchor_scales) == paper.anchor_scales
    assert small.part_size * 2 == paper.part_size
