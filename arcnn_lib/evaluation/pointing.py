"""The pointing game: does the attention agent pick the regions that carry the age signal?

On the synthetic phantom we know where the age cues are (``read_regions``: one or more
boxes per image). A selected part **hits** when the centre of its box lies inside (borders
included) at least one true cue region of that image, all in the network's input pixels.
This is the pointing game of Zhang et al. (ECCV 2016, "Top-down neural attention by
excitation backprop") with the part's centre as the point the model points at: a box is
judged by where it is centred, not by how large it is, so a huge box covering the whole
hand does not score for free.

- ``top1``: the best-scored part hits.
- ``topk``: at least one of the K best-scored parts hits (K = ``num_concat``, the parts
  whose features enter the concatenation).

The chance level is the same statistic for anchors drawn uniformly at random from the
model's own anchor set (K distinct anchors per image, a seeded ``torch.Generator``):
``random_top1`` and ``random_topk``. ``random_top1_expected`` is its exact expectation (the
fraction of anchors that hit, averaged over images), free of sampling noise.

The ceiling, ``ceiling_top1``, is the fraction of images on which at least one anchor of
the set hits: no navigator choosing among these anchors can point better. It measures the
anchor grid, not the model.

A secondary statistic, ``*_contains``, counts a hit when the box contains the centre of a
true region instead (more lenient for large boxes); it is reported alongside.
"""
from __future__ import annotations

from typing import Dict, Optional, Sequence

import numpy as np
import pandas as pd
import torch


def centres(boxes: torch.Tensor) -> torch.Tensor:
    """(..., 4) x1, y1, x2, y2 -> (..., 2) centre x, y."""
    return torch.stack([(boxes[..., 0] + boxes[..., 2]) / 2, (boxes[..., 1] + boxes[..., 3]) / 2], -1)


def points_in_boxes(points: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    """(P, 2) points, (R, 4) boxes -> (P, R) bool: the point lies in the closed box."""
    x, y = points[:, 0:1], points[:, 1:2]
    return ((x >= boxes[None, :, 0]) & (x <= boxes[None, :, 2])
            & (y >= boxes[None, :, 1]) & (y <= boxes[None, :, 3]))


def box_hits(boxes: torch.Tensor, regions: torch.Tensor, rule: str = "centre_in_region") -> torch.Tensor:
    """(P, 4) candidate boxes, (R, 4) true regions of the same image -> (P,) bool hits.

    ``rule``: ``centre_in_region`` (the default, see module doc) or ``contains_centre``.
    """
    boxes = boxes.double()
    regions = regions.double().reshape(-1, 4)
    if regions.numel() == 0:
        return torch.zeros(boxes.shape[0], dtype=torch.bool)
    if rule == "centre_in_region":
        return points_in_boxes(centres(boxes), regions).any(dim=1)
    if rule == "contains_centre":
        return points_in_boxes(centres(regions), boxes).T.any(dim=1)
    raise ValueError(f"unknown hit rule {rule!r}; use centre_in_region or contains_centre")


def rank_parts(part_boxes: torch.Tensor, part_scores: Optional[torch.Tensor]) -> torch.Tensor:
    """(N, M, 4) boxes ordered best-scored first by ``part_scores`` (N, M); None: as given."""
    if part_scores is None:
        return part_boxes
    order = part_scores.float().argsort(dim=1, descending=True)
    return torch.gather(part_boxes, 1, order[..., None].expand(-1, -1, 4))


def pointing_game(part_boxes: torch.Tensor, part_scores: Optional[torch.Tensor],
                  regions: Sequence[torch.Tensor], anchors: torch.Tensor, k: int,
                  seed: int = 0) -> Dict[str, float]:
    """Pointing-game scores of the selected parts and of random anchors.

    Args:
        part_boxes: (N, M, 4) selected boxes per image (input pixels).
        part_scores: (N, M) their scores; parts are ranked by it (None: already ranked).
        regions: N tensors (R_n, 4) of true cue regions, same pixel frame.
        anchors: (A, 4) the model's anchor set (clipped to the image), same pixel frame.
        k: how many top parts count for ``topk`` (1 <= k <= M).
        seed: seeds the generator that draws the random anchors.

    Returns:
        dict with ``n``, ``k``, ``top1``, ``topk``, ``random_top1``, ``random_topk``,
        ``random_top1_expected``, ``ceiling_top1``, and the same six rates under
        ``contains_centre`` with the suffix ``_contains``.
    """
    n, m, _ = part_boxes.shape
    k = int(max(1, min(k, m)))
    part_boxes = rank_parts(part_boxes, part_scores)
    anchors = anchors.reshape(-1, 4).double().cpu()
    a = anchors.shape[0]
    gen = torch.Generator().manual_seed(int(seed))
    res: Dict[str, float] = {"n": int(n), "k": k}
    for rule, suffix in (("centre_in_region", ""), ("contains_centre", "_contains")):
        top1 = topk = r1 = rk = expected = ceiling = 0.0
        gen.manual_seed(int(seed))
        for i in range(n):
            reg = regions[i]
            hits = box_hits(part_boxes[i].cpu(), reg, rule)
            top1 += float(hits[0])
            topk += float(hits[:k].any())
            anchor_hits = box_hits(anchors, reg, rule)
            expected += float(anchor_hits.double().mean())
            ceiling += float(anchor_hits.any())
            draw = torch.randperm(a, generator=gen)[:k]
            r1 += float(anchor_hits[draw[0]])
            rk += float(anchor_hits[draw].any())
        d = max(n, 1)
        res.update({f"top1{suffix}": top1 / d, f"topk{suffix}": topk / d,
                    f"random_top1{suffix}": r1 / d, f"random_topk{suffix}": rk / d,
                    f"random_top1_expected{suffix}": expected / d,
                    f"ceiling_top1{suffix}": ceiling / d})
    return res


def anchor_ceiling(anchors: torch.Tensor, regions: Sequence[torch.Tensor],
                   rule: str = "centre_in_region") -> float:
    """The fraction of images on which at least one of the (A, 4) ``anchors`` hits a true
    region (``regions``: one (R_n, 4) tensor per image, same pixel frame): the best top-1
    rate any navigator choosing among these anchors can reach."""
    anchors = anchors.reshape(-1, 4).double().cpu()
    hits = [bool(box_hits(anchors, reg, rule).any()) for reg in regions]
    return float(np.mean(hits)) if hits else float("nan")


def regions_by_id(regions: pd.DataFrame, ids: Sequence) -> list:
    """Group a ``read_regions`` frame (id, region, x1, y1, x2, y2) into one (R, 4) float64
    tensor per id of ``ids`` (R = 0 for an id without regions)."""
    groups = {k: g for k, g in regions.groupby(regions["id"].astype(str))}
    out = []
    for i in ids:
        g = groups.get(str(i))
        b = np.zeros((0, 4)) if g is None else g[["x1", "y1", "x2", "y2"]].to_numpy(np.float64)
        out.append(torch.as_tensor(b, dtype=torch.float64))
    return out
