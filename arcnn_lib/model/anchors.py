"""Default anchors: the candidate regions the attention agent scores (paper, Sec. 2.1).

Each pyramid level ``l`` has one scale ``s_l`` (the anchor side, sqrt(w * h) = s_l) and
one stride ``t_l`` (the stride of the navigator feature map that scores it). At every cell
of that map there is one anchor per aspect ratio ``r = h / w``:

    w = s / sqrt(r),  h = s * sqrt(r).

Centres. A map of stride ``t`` over an ``S``-pixel image has ``n = ceil(S / t)`` cells per
side (what a stride-2 convolution with padding 1 produces). We place the cell centres on a
grid centred on the image, ``c_i = (S - (n - 1) t) / 2 + i t``; when ``t`` divides ``S`` this
is the familiar ``(i + 1/2) t``, and when it does not (448 / 128 = 3.5) the grid stays
symmetric instead of hanging off one edge.

Anchors are not clipped: a part that reaches outside the image is padded when it is cropped
(:mod:`arcnn_lib.model.crop`), so every anchor keeps exactly its configured size.

Order. Anchors are listed level by level, then row (y), column (x), ratio -- the order in
which :class:`arcnn_lib.model.attention.Navigator` flattens its score maps.
"""
from __future__ import annotations

import math
from typing import List, Tuple

import torch

from ..config import ARCNNConfig


def grid_size(image_size: int, stride: int) -> int:
    """Cells per side of a stride-``stride`` map over an ``image_size`` input."""
    return math.ceil(image_size / stride)


def level_centres(image_size: int, stride: int) -> torch.Tensor:
    """Centres (n,) in pixels of the cells of one level, symmetric about the image centre."""
    n = grid_size(image_size, stride)
    offset = (image_size - (n - 1) * stride) / 2.0
    return offset + stride * torch.arange(n, dtype=torch.float64)


def level_anchors(image_size: int, stride: int, scale: float, ratios) -> torch.Tensor:
    """Anchors of one level, (n * n * len(ratios), 4) as (x1, y1, x2, y2), float64."""
    c = level_centres(image_size, stride)
    cy, cx = torch.meshgrid(c, c, indexing="ij")                         # (n, n)
    r = torch.as_tensor(ratios, dtype=torch.float64)
    half_w = scale / torch.sqrt(r) / 2.0                                  # (R,)
    half_h = scale * torch.sqrt(r) / 2.0
    cx, cy = cx[..., None], cy[..., None]                                 # (n, n, 1)
    boxes = torch.stack([cx - half_w, cy - half_h, cx + half_w, cy + half_h], dim=-1)
    return boxes.reshape(-1, 4)


def generate_anchors(config: ARCNNConfig) -> torch.Tensor:
    """All default anchors of ``config``: (A, 4) float32 boxes (x1, y1, x2, y2) in pixels.

    For the paper (448 px; scales 48, 96, 192 at strides 32, 64, 128; three ratios)
    A = 3 * (14^2 + 7^2 + 4^2) = 783.
    """
    per_level: List[torch.Tensor] = [
        level_anchors(config.image_size, t, s, config.anchor_ratios)
        for s, t in zip(config.anchor_scales, config.anchor_strides)
    ]
    return torch.cat(per_level).float()


def anchors_per_level(config: ARCNNConfig) -> List[int]:
    """Number of anchors of each level, in the order of :func:`generate_anchors`."""
    return [grid_size(config.image_size, t) ** 2 * len(config.anchor_ratios)
            for t in config.anchor_strides]


def level_quota(config: ARCNNConfig) -> Tuple[torch.Tensor, torch.Tensor]:
    """For ``config.part_selection == "per_level"``: the level of every anchor, (A,) int64 in
    the order of :func:`generate_anchors`, and the parts each level gives, (L,) int64: M split
    as evenly as the levels allow, a remainder going to the finest levels first."""
    counts = anchors_per_level(config)
    L, M = len(counts), config.num_parts
    quota = [M // L + (1 if i < M % L else 0) for i in range(L)]
    for i, (q, n) in enumerate(zip(quota, counts)):
        if q > n:
            raise ValueError(f"part_selection='per_level' needs {q} parts from level {i}, "
                             f"which has only {n} anchors")
    levels = torch.repeat_interleave(torch.arange(L), torch.tensor(counts))
    return levels, torch.tensor(quota)
