"""The pointing game on real hands: do the selected parts land on expert ossification regions?

This generalises :mod:`arcnn_lib.evaluation.pointing` (the phantom's game) to typed regions
(:data:`arcnn_lib.data.rois.REGION_TYPES`: DIP, PIP, MCP, Wrist, Radius, Ulna). The hit rule
is the same, :func:`arcnn_lib.evaluation.pointing.points_in_boxes` on the part's centre: a part
**hits** when its centre lies inside (borders included) at least one expert box of its image,
and it **lands on** every region type whose box holds its centre (boxes may overlap, so a
part can land on two types; one that hits none lands on ``none``).

Per image (:func:`image_hits`), for the parts ranked by score and K = ``num_concat``:

* ``top1``  the best part hits; ``topk`` at least one of the K best hits;
* ``top1_<type>`` the best part lands on that type; ``topk_<type>`` the share of the K best
  parts that land on it (the Fig. 3 breakdown);
* ``random_top1`` / ``random_topk`` the same for K distinct anchors drawn uniformly from the
  model's own anchor set (seeded), and ``random_top1_expected`` its exact expectation (the
  share of anchors that hit);
* ``fixed_top1`` whether one fixed anchor hits: the **data prior**. The anchor is chosen by
  :func:`best_fixed_anchor` on other images (the training split's annotated images), so it
  never sees the images it is scored on. A navigator that does not beat one fixed box has
  learned nothing specific to the image.
"""
from __future__ import annotations

from typing import Dict, Optional, Sequence

import numpy as np
import pandas as pd
import torch

from ..data.rois import REGION_TYPES
from .pointing import centres, points_in_boxes, rank_parts


def landing(boxes: torch.Tensor, regions: torch.Tensor, types: Sequence[str]) -> np.ndarray:
    """(P, 4) boxes, (R, 4) regions with their R type names -> (P, T) bool: box p's centre lies
    in a region of type t, for t in :data:`REGION_TYPES` (T = 6)."""
    inside = points_in_boxes(centres(boxes.double()), regions.double().reshape(-1, 4))
    types = np.asarray(types)
    return np.stack([inside[:, types == t].any(dim=1).numpy() for t in REGION_TYPES], 1)


def anchor_hit_matrix(anchors: torch.Tensor, regions: Sequence[torch.Tensor]) -> np.ndarray:
    """(A, 4) anchors, N tensors (R_n, 4) -> (N, A) bool: anchor a's centre hits image n."""
    c = centres(anchors.double().cpu())
    return np.stack([points_in_boxes(c, r.double().reshape(-1, 4)).any(dim=1).numpy()
                     for r in regions]) if len(regions) else np.zeros((0, len(c)), bool)


def best_fixed_anchor(anchors: torch.Tensor, regions: Sequence[torch.Tensor]) -> int:
    """Index of the anchor that hits the most of these images (the first one on ties)."""
    if not len(regions):
        raise ValueError("best_fixed_anchor needs at least one image to choose on")
    return int(anchor_hit_matrix(anchors, regions).mean(axis=0).argmax())


def image_hits(part_boxes: torch.Tensor, part_scores: Optional[torch.Tensor],
               regions: Sequence[torch.Tensor], types: Sequence[Sequence[str]],
               anchors: torch.Tensor, k: int, fixed_anchor: Optional[int] = None,
               seed: int = 0) -> pd.DataFrame:
    """The per-image pointing statistics of the module doc.

    Args:
        part_boxes: (N, M, 4) selected boxes in input pixels.
        part_scores: (N, M) their scores (parts are ranked by them; None: already ranked).
        regions: N tensors (R_n, 4) of expert boxes in the same pixels.
        types: N sequences of R_n region names.
        anchors: (A, 4) the model's anchors in the same pixels.
        k: the K best parts count for ``topk`` (clipped to [1, M]).
        fixed_anchor: index of the prior's anchor (None: no ``fixed_top1`` column).
        seed: seeds the random anchors.
    Returns:
        DataFrame, one row per image, columns as in the module doc.
    """
    n, m, _ = part_boxes.shape
    k = int(max(1, min(k, m)))
    part_boxes = rank_parts(part_boxes, part_scores)
    anchors = anchors.reshape(-1, 4).double().cpu()
    hits = anchor_hit_matrix(anchors, regions)
    gen = torch.Generator().manual_seed(int(seed))
    rows = []
    for i in range(n):
        land = landing(part_boxes[i, :k].cpu(), regions[i], types[i])          # (k, T)
        hit = land.any(axis=1)
        draw = torch.randperm(len(anchors), generator=gen)[:k].numpy()
        row = {"top1": bool(hit[0]), "topk": bool(hit.any()),
               "random_top1": bool(hits[i, draw[0]]), "random_topk": bool(hits[i, draw].any()),
               "random_top1_expected": float(hits[i].mean())}
        if fixed_anchor is not None:
            row["fixed_top1"] = bool(hits[i, fixed_anchor])
        for t, name in enumerate(REGION_TYPES):
            row[f"top1_{name}"] = bool(land[0, t])
            row[f"topk_{name}"] = float(land[:, t].mean())
        row["top1_none"] = not hit[0]
        row["topk_none"] = float((~hit).mean())
        rows.append(row)
    return pd.DataFrame(rows)


def summarise(frame: pd.DataFrame) -> Dict[str, object]:
    """Rates over the rows of an :func:`image_hits` frame: ``n``, ``top1_hit``, ``topk_hit``,
    ``random_top1``, ``random_topk``, ``random_top1_expected``, ``fixed_anchor_top1`` (when
    present), ``top1_se`` (binomial standard error of ``top1_hit``) and ``per_region``
    ({type: {"top1": share of best parts, "topk": share of top-K parts}}, with ``none``)."""
    n = len(frame)
    if n == 0:
        return {"n": 0}
    p = float(frame["top1"].mean())
    out = {"n": int(n), "top1_hit": p, "topk_hit": float(frame["topk"].mean()),
           "top1_se": float(np.sqrt(p * (1 - p) / n)),
           "random_top1": float(frame["random_top1"].mean()),
           "random_topk": float(frame["random_topk"].mean()),
           "random_top1_expected": float(frame["random_top1_expected"].mean())}
    if "fixed_top1" in frame:
        out["fixed_anchor_top1"] = float(frame["fixed_top1"].mean())
    out["per_region"] = {t: {"top1": float(frame[f"top1_{t}"].mean()),
                             "topk": float(frame[f"topk_{t}"].mean())}
                         for t in (*REGION_TYPES, "none")}
    return out
