"""Navigator scores and part selection (arcnn_lib.model.attention)."""
import pytest
import torch
from torchvision.ops import nms

from arcnn_lib.model.anchors import generate_anchors
from arcnn_lib.model.attention import Navigator, box_iou, select_parts
from arcnn_lib.config import ARCNNConfig


def _scores(cfg, batch, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, generate_anchors(cfg).shape[0], generator=g)


@pytest.mark.parametrize("profile", ["paper", "smoke"])
def test_exactly_m_boxes_with_low_pairwise_iou(profile):
    cfg = ARCNNConfig.from_profile(profile)
    anchors = generate_anchors(cfg)
    idx = select_parts(_scores(cfg, 8, 0), anchors, cfg.num_parts, cfg.nms_iou)
    assert idx.shape == (8, cfg.num_parts) and idx.dtype == torch.int64
    for row in idx:
        assert len(set(row.tolist())) == cfg.num_parts
        iou = box_iou(anchors[row], anchors[row])
        off_diagonal = iou[~torch.eye(cfg.num_parts, dtype=torch.bool)]
        assert (off_diagonal <= cfg.nms_iou).all()


@pytest.mark.parametrize("profile", ["paper", "smoke"])
def test_same_as_torchvision_nms_then_top_m(profile):
    cfg = ARCNNConfig.from_profile(profile)
    anchors = generate_anchors(cfg)
    scores = _scores(cfg, 6, 1)
    idx = select_parts(scores, anchors, cfg.num_parts, cfg.nms_iou)
    for b in range(scores.shape[0]):
        keep = nms(anchors, scores[b], cfg.nms_iou)[:cfg.num_parts]
        assert idx[b].tolist() == keep.tolist()


def test_fills_up_when_nms_leaves_too_few():
    # three identical boxes suppress each other: NMS keeps one, we still need three
    anchors = torch.tensor([[0., 0, 10, 10]] * 3 + [[50., 50, 60, 60]])
    scores = torch.tensor([[0.1, 0.9, 0.5, 0.2]])
    idx = select_parts(scores, anchors, num_parts=3, iou_threshold=0.5)
    assert idx.tolist() == [[1, 3, 2]]   # NMS survivors first, then the best suppressed one


def test_navigator_gives_one_score_per_anchor():
    for cfg in (ARCNNConfig.smoke(), ARCNNConfig.gpu()):
        stride, side = cfg.anchor_strides[0], cfg.image_size
        fmap = torch.randn(2, 16, -(-side // stride), -(-side // stride))
        nav = Navigator(16, cfg)
        assert nav(fmap).shape == (2, generate_anchors(cfg).shape[0])


def test_navigator_order_matches_anchor_order():
    # a map that is hot at one cell must make the anchors centred there score highest
    cfg = ARCNNConfig.smoke(navigator_channels=4)
    nav = Navigator(1, cfg)
    with torch.no_grad():
        for p in nav.parameters():
            p.zero_()
        nav.reduce[0].weight[:, :, 1, 1] = 1.0        # identity-like 3x3 centre tap
        nav.score[0].weight[:] = 1.0
    n = -(-cfg.image_size // cfg.anchor_strides[0])
    fmap = torch.zeros(1, 1, n, n)
    fmap[0, 0, 2, 5] = 1.0                             # row 2, column 5
    scores = nav(fmap)[0]
    best = scores.argmax().item()
    anchors = generate_anchors(cfg)
    cx, cy = ((anchors[best, :2] + anchors[best, 2:]) / 2).tolist()
    stride = cfg.anchor_strides[0]
    offset = (cfg.image_size - (n - 1) * stride) / 2
    assert (cx, cy) == (offset + 5 * stride, offset + 2 * stride)


def _quota_by_hand(scores, anchors, levels, quota, m, iou):
    """Per image: walk the anchors by score; take one if its level has room and it overlaps
    no part taken so far."""
    out = []
    for s in scores:
        taken, per_level = [], [0] * len(quota)
        for a in torch.argsort(s, descending=True, stable=True).tolist():
            lvl = int(levels[a])
            if per_level[lvl] >= int(quota[lvl]):
                continue
            if taken and (box_iou(anchors[a:a + 1], anchors[taken]) > iou).any():
                continue
            taken.append(a)
            per_level[lvl] += 1
            if len(taken) == m:
                break
        out.append(taken)
    return torch.tensor(out)


@pytest.mark.parametrize("profile", ["smoke", "paper"])
def test_per_level_selection_fills_every_level_quota(profile):
    from arcnn_lib.model.anchors import level_quota
    cfg = ARCNNConfig.from_profile(profile, part_selection="per_level")
    anchors = generate_anchors(cfg)
    levels, quota = level_quota(cfg)
    assert quota.tolist() == [2, 2, 2] and levels.shape == (anchors.shape[0],)
    scores = torch.randn(5, anchors.shape[0], generator=torch.Generator().manual_seed(1))
    idx = select_parts(scores, anchors, cfg.num_parts, cfg.nms_iou, level_quota=(levels, quota))
    for row in idx:
        assert torch.bincount(levels[row], minlength=3).tolist() == quota.tolist()
    assert torch.equal(idx, _quota_by_hand(scores, anchors, levels, quota, cfg.num_parts,
                                           cfg.nms_iou))
    # best first: the scores of the picks never increase
    picked = scores.gather(1, idx)
    assert (picked[:, 1:] <= picked[:, :-1]).all()


def test_per_level_quota_is_split_evenly_and_checked():
    from arcnn_lib.model.anchors import level_quota
    _, quota = level_quota(ARCNNConfig.smoke(num_parts=4, num_concat=3,
                                             part_selection="per_level"))
    assert quota.tolist() == [2, 1, 1]          # the remainder goes to the finest level
    with pytest.raises(ValueError, match="part_selection"):
        ARCNNConfig.smoke(part_selection="random")
    with pytest.raises(ValueError, match="has only"):
        level_quota(ARCNNConfig.smoke(num_parts=60, num_concat=3, part_selection="per_level"))


def test_the_model_selects_with_its_configured_rule():
    from arcnn_lib.model import ARCNN
    torch.manual_seed(0)
    model = ARCNN(ARCNNConfig.smoke(part_selection="per_level")).eval()
    with torch.no_grad():
        out = model(torch.rand(3, 1, 128, 128))
    side = ((out.part_boxes[..., 2] - out.part_boxes[..., 0])
            * (out.part_boxes[..., 3] - out.part_boxes[..., 1])).sqrt().round()
    for row in side:            # two parts of each anchor scale (14, 27, 55 px)
        assert sorted(row.tolist()) == [14.0, 14.0, 27.0, 27.0, 55.0, 55.0]
