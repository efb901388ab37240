"""The attention agent (paper, Sec. 2.1): score every anchor, keep M distinct parts.

Two pieces:

* :class:`Navigator`, an RPN-style head in the manner of NTS-Net: a 3 x 3 convolution on the
  backbone feature map of stride ``anchor_strides[0]``, then one stride-2 convolution per
  further level; at each level a 1 x 1 convolution gives one objectness score S per anchor
  ratio and cell.
* :func:`select_parts`, greedy non-maximum suppression followed by top-M, written as M
  rounds of tensor operations so that it runs batched on the GPU, never synchronises with
  the CPU and always returns exactly M boxes per image.
"""
from __future__ import annotations

from typing import Optional, Tuple

import torch
from torch import nn
from torchvision.ops import box_iou  # (N, 4), (K, 4) -> (N, K) IoU

from ..config import ARCNNConfig


class Navigator(nn.Module):
    """Objectness score per anchor.

    Args:
        in_channels: channels of the backbone feature map it reads.
        config: supplies the number of levels, ratios and the head width.

    ``forward(fmap)``: fmap (B, C, H, W) of stride ``config.anchor_strides[0]``
    -> scores (B, A), in the anchor order of :func:`arcnn_lib.model.anchors.generate_anchors`.
    """

    def __init__(self, in_channels: int, config: ARCNNConfig):
        super().__init__()
        width, ratios = config.navigator_channels, len(config.anchor_ratios)
        levels = len(config.anchor_strides)
        self.reduce = nn.Sequential(nn.Conv2d(in_channels, width, 3, padding=1), nn.ReLU())
        self.down = nn.ModuleList(
            nn.Sequential(nn.Conv2d(width, width, 3, stride=2, padding=1), nn.ReLU())
            for _ in range(levels - 1))
        self.score = nn.ModuleList(nn.Conv2d(width, ratios, 1) for _ in range(levels))

    def forward(self, fmap: torch.Tensor) -> torch.Tensor:
        h = self.reduce(fmap)
        maps = [h]
        for down in self.down:
            maps.append(down(maps[-1]))
        # The 1 x 1 score layers run in fp32 even under autocast: NMS and the ranking loss
        # compare scores, and bf16's 8-bit mantissa would turn many of them into ties.
        with torch.autocast(device_type=fmap.device.type, enabled=False):
            # (B, R, H, W) -> (B, H, W, R) -> (B, H * W * R): row, column, ratio, as anchors.
            scores = [head(m.float()).permute(0, 2, 3, 1).flatten(1)
                      for head, m in zip(self.score, maps)]
        return torch.cat(scores, dim=1)


def select_parts(scores: torch.Tensor, anchors: torch.Tensor, num_parts: int,
                 iou_threshold: float, overlaps: Optional[torch.Tensor] = None,
                 level_quota: Optional[Tuple[torch.Tensor, torch.Tensor]] = None) -> torch.Tensor:
    """Indices of the M parts of every image: greedy NMS, then the top M.

    Greedy NMS keeps boxes in order of score and drops every box overlapping a kept one by
    more than ``iou_threshold``; its first M survivors are exactly what M rounds of "take the
    best box still available, then suppress its neighbours" produce -- which is how it is
    computed here, for the whole batch at once.

    Should fewer than M anchors survive suppression (tiny anchor sets, a high overlap), the
    remaining slots take the best-scoring unselected anchors, so there are always M boxes.

    Args:
        scores: (B, A) objectness scores (no gradient is needed or used).
        anchors: (A, 4) boxes (x1, y1, x2, y2).
        num_parts: M.
        iou_threshold: the NMS overlap threshold.
        overlaps: optional precomputed ``box_iou(anchors, anchors) > iou_threshold`` (A, A)
            (the model keeps it as a buffer instead of recomputing it every step).
        level_quota: optional ``(levels (A,) int64, quota (L,) int64)``: the anchor level of
            every anchor and how many parts each level gives (summing to M). A level that has
            given its quota drops out of the rounds, so the parts span every scale; see
            ``ARCNNConfig.part_selection``. None (the paper): one ranking over all levels.

    Returns:
        (B, M) int64 anchor indices, in selection order (best first).
    """
    B, A = scores.shape
    if num_parts > A:
        raise ValueError(f"num_parts={num_parts} exceeds the {A} anchors")
    scores = scores.detach()
    # Rank of each anchor by score (0 = best); ties broken by anchor index, deterministically.
    order = torch.sort(scores, dim=1, descending=True, stable=True).indices
    rank = torch.empty_like(order)
    rank.scatter_(1, order, torch.arange(A, device=scores.device).expand(B, A))
    preference = (A - rank).float()                   # higher is better, in 1..A
    if overlaps is None:
        overlaps = box_iou(anchors, anchors) > iou_threshold  # (A, A), includes the diagonal
    anchor_ids = torch.arange(A, device=scores.device)

    free = torch.ones(B, A, dtype=torch.bool, device=scores.device)       # not suppressed
    unused = torch.ones(B, A, dtype=torch.bool, device=scores.device)     # not selected
    open_level = torch.ones(B, A, dtype=torch.bool, device=scores.device)  # quota not reached
    if level_quota is not None:
        levels, quota = level_quota        # checked by arcnn_lib.model.anchors.level_quota
        taken = torch.zeros(B, len(quota), dtype=torch.long, device=scores.device)
    picks = []
    for _ in range(num_parts):
        # A free anchor always beats a suppressed one; among equals the better score wins;
        # selected anchors and those of a level that has given its quota come last.
        key = (preference + (A + 1) * free.float() - 4 * (A + 1) * (~unused).float()
               - 8 * (A + 1) * (~open_level).float())
        pick = key.argmax(dim=1)                                          # (B,)
        picks.append(pick)
        unused &= anchor_ids != pick[:, None]     # pure tensor ops: no host synchronisation
        free &= ~overlaps[pick]
        if level_quota is not None:
            taken.scatter_add_(1, levels[pick][:, None], torch.ones_like(pick)[:, None])
            open_level = (taken < quota)[:, levels]                       # (B, A)
    return torch.stack(picks, dim=1)


def gather_parts(scores: torch.Tensor, anchors: torch.Tensor,
                 idx: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Scores (B, M) (with gradient) and boxes (B, M, 4) of the selected anchors ``idx``."""
    return scores.gather(1, idx), anchors[idx]
