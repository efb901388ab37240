"""Do the attributions and the selected parts follow the hand? Stability under rotation,
zoom and contrast (chapter 12).

An image batch is transformed (:func:`transform_images`); what was found on the
transformed image is mapped back to the original frame (attributions by warping,
boxes by :func:`map_boxes_back`) and compared with what was found on the original:
Spearman's rank correlation and top-q overlap for attributions
(:func:`attribution_stability`), IoU and centre shift for boxes (:func:`box_stability`).
"""
from __future__ import annotations

import math
from typing import Callable, Dict, Optional

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import box_iou

from .interpret import selected_boxes


# ---------------------------------------------------------------------------- transforms
def affine_theta(angle: float, scale: float, batch: int = 1,
                 dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """(B, 2, 3) ``affine_grid`` matrix rotating the content by ``angle`` degrees and zooming
    by ``scale`` (> 1 magnifies) about the image centre (the convention of
    :func:`arcnn_lib.data.augment.gpu_augment`)."""
    t = math.radians(angle)
    c, s = math.cos(t) / scale, math.sin(t) / scale
    theta = torch.tensor([[c, -s, 0.0], [s, c, 0.0]], dtype=dtype)
    return theta.expand(batch, 2, 3).clone()


def invert_theta(theta: torch.Tensor) -> torch.Tensor:
    """The (B, 2, 3) matrix of the inverse map."""
    A, t = theta[:, :, :2], theta[:, :, 2:]
    Ai = torch.linalg.inv(A)
    return torch.cat([Ai, -Ai @ t], dim=2)


def warp(images: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """Resample (B, C, S, S) with ``theta`` (bilinear, zero outside = black film)."""
    grid = F.affine_grid(theta.to(images.dtype), list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros",
                         align_corners=False)


def change_contrast(images: torch.Tensor, factor: float) -> torch.Tensor:
    """Scale the contrast about each image's mean, clipped to [0, 1]."""
    mean = images.mean(dim=(1, 2, 3), keepdim=True)
    return ((images - mean) * factor + mean).clamp(0.0, 1.0)


def transform_images(images: torch.Tensor, angle: float = 0.0, scale: float = 1.0,
                     contrast: float = 1.0):
    """Rotate, zoom, then change the contrast. Returns (images', theta)."""
    theta = affine_theta(angle, scale, images.shape[0], images.dtype)
    out = warp(images, theta) if (angle != 0.0 or scale != 1.0) else images.clone()
    if contrast != 1.0:
        out = change_contrast(out, contrast)
    return out, theta


def map_boxes_back(boxes: torch.Tensor, theta: torch.Tensor, image_size: int) -> torch.Tensor:
    """Boxes (B, R, 4) found on images warped with ``theta`` -> the original frame: the
    axis-aligned bounding box of the four mapped corners (a rotated box grows a little)."""
    S = float(image_size)
    x1, y1, x2, y2 = boxes.double().unbind(-1)
    cx = torch.stack([x1, x2, x2, x1], -1) * 2 / S - 1                          # (B, R, 4)
    cy = torch.stack([y1, y1, y2, y2], -1) * 2 / S - 1
    th = theta.double()[:, None, None]                                          # (B,1,1,2,3)
    ux = th[..., 0, 0] * cx + th[..., 0, 1] * cy + th[..., 0, 2]
    uy = th[..., 1, 0] * cx + th[..., 1, 1] * cy + th[..., 1, 2]
    px, py = (ux + 1) * S / 2, (uy + 1) * S / 2
    return torch.stack([px.amin(-1), py.amin(-1), px.amax(-1), py.amax(-1)], -1)


# ---------------------------------------------------------------------------- stability
def rank_correlation(a: torch.Tensor, b: torch.Tensor) -> float:
    """Spearman's rank correlation of two 1-D tensors (ties get their mean rank)."""
    ra = pd.Series(a.double().numpy()).rank(method="average").to_numpy()
    rb = pd.Series(b.double().numpy()).rank(method="average").to_numpy()
    if ra.std() == 0 or rb.std() == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def topq_iou(a: torch.Tensor, b: torch.Tensor, q: float) -> float:
    """IoU of the top-``q`` fractions of two 1-D tensors (their largest ceil(q n) entries)."""
    k = max(1, int(math.ceil(q * a.numel())))
    ma = torch.zeros(a.numel(), dtype=torch.bool)
    mb = torch.zeros_like(ma)
    ma[a.topk(k).indices] = True
    mb[b.topk(k).indices] = True
    return float((ma & mb).sum()) / float((ma | mb).sum())


def attribution_stability(attribute: Callable[[torch.Tensor], torch.Tensor],
                          images: torch.Tensor, angle: float = 0.0, scale: float = 1.0,
                          contrast: float = 1.0, q: float = 0.1, pool: int = 1,
                          reference: Optional[torch.Tensor] = None) -> Dict[str, np.ndarray]:
    """Do the attributions follow the hand when the image is rotated, zoomed or re-contrasted?

    ``attribute(images) -> (B, 1, S, S)`` is any attribution (a closure over the unit,
    sex, ...). The attribution of the transformed image is warped back to the original frame
    and compared, on the pixels that stay in view in both, with the attribution of the
    original (``reference``, computed when not given): Spearman's rank correlation and the
    IoU of the top-``q`` masks of |attribution|, after average pooling by ``pool`` pixels
    (pixel-level maps are noisy). ``*_unwarped`` compares without warping back: if the maps
    move with the hand, warping back should score higher.

    Returns a dict of (B,) arrays: ``spearman``, ``topq_iou``, ``spearman_unwarped``,
    ``topq_iou_unwarped``.
    """
    if reference is None:
        reference = attribute(images)
    moved, theta = transform_images(images, angle, scale, contrast)
    attr_t = attribute(moved).detach()
    geometric = angle != 0.0 or scale != 1.0
    back = warp(attr_t, invert_theta(theta)) if geometric else attr_t
    ones = torch.ones_like(images[:, :1])
    # pixels of the original frame whose content stays in view after the transform
    valid = warp(warp(ones, theta), invert_theta(theta)) > 0.999 if geometric else ones > 0

    def pooled(m):
        m = m.detach().abs().double().cpu()
        return F.avg_pool2d(m, pool) if pool > 1 else m

    valid = valid.cpu()
    vmask = (F.avg_pool2d(valid.double(), pool) > 0.999 if pool > 1 else valid)[:, 0]
    ref_p, back_p, t_p = pooled(reference)[:, 0], pooled(back)[:, 0], pooled(attr_t)[:, 0]
    res = {k: [] for k in ("spearman", "topq_iou", "spearman_unwarped", "topq_iou_unwarped")}
    for i in range(images.shape[0]):
        v = vmask[i]
        r, bk, un = ref_p[i][v], back_p[i][v], t_p[i][v]
        res["spearman"].append(rank_correlation(r, bk))
        res["topq_iou"].append(topq_iou(r, bk, q))
        res["spearman_unwarped"].append(rank_correlation(r, un))
        res["topq_iou_unwarped"].append(topq_iou(r, un, q))
    return {k: np.asarray(v) for k, v in res.items()}


@torch.no_grad()
def box_stability(model: nn.Module, images: torch.Tensor, male: Optional[torch.Tensor] = None,
                  angle: float = 0.0, scale: float = 1.0, contrast: float = 1.0,
                  k: Optional[int] = None) -> Dict[str, np.ndarray]:
    """Do the selected parts move with the hand?

    The top-``k`` boxes (default K = ``num_concat``, at least 1) chosen on the transformed
    image are mapped back to the original frame (:func:`map_boxes_back`) and each original
    top-``k`` box is matched to its best-overlapping one. ``*_unwarped`` uses the new boxes
    as they are: boxes glued to the image frame score higher there, boxes that follow the
    hand score higher after mapping back.

    Returns a dict of (B,) arrays: ``top1_iou`` (the best-scored box against its mapped
    counterpart of the same rank), ``match_iou`` (mean best-match IoU of the top-k),
    ``match_shift`` (mean distance in pixels from each original top-k box centre to the
    nearest mapped-back new centre: unlike IoU, fair to small boxes), and the same three
    ``*_unwarped``.
    """
    k = k or max(1, model.config.num_concat)
    S = images.shape[-1]
    b0 = selected_boxes(model, images, male)[:, :k]
    moved, theta = transform_images(images, angle, scale, contrast)
    b1 = selected_boxes(model, moved, male)[:, :k]
    b1_back = map_boxes_back(b1, theta, S)
    names = [n + s for s in ("", "_unwarped") for n in ("top1_iou", "match_iou", "match_shift")]
    res = {n: [] for n in names}

    def centres(b):
        return torch.stack([(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2], -1)

    for i in range(images.shape[0]):
        for suffix, cand in (("", b1_back[i]), ("_unwarped", b1[i])):
            iou = box_iou(b0[i].double().cpu(), cand.double().cpu())
            res["top1_iou" + suffix].append(float(iou[0, 0]))
            res["match_iou" + suffix].append(float(iou.max(dim=1).values.mean()))
            dist = torch.cdist(centres(b0[i].double().cpu()), centres(cand.double().cpu()))
            res["match_shift" + suffix].append(float(dist.min(dim=1).values.mean()))
    return {k_: np.asarray(v) for k_, v in res.items()}


def stability_summary(model: nn.Module, attribute: Callable[[torch.Tensor], torch.Tensor],
                      images: torch.Tensor, male: Optional[torch.Tensor] = None,
                      reference: Optional[torch.Tensor] = None, q: float = 0.1,
                      pool: int = 1, angle: float = 0.0, scale: float = 1.0,
                      contrast: float = 1.0) -> Dict[str, float]:
    """One model under one transform, in a row of means over the images.

    :func:`attribution_stability` of ``attribute`` (with ``reference``, ``q``, ``pool``)
    gives ``map rho``, ``map rho (unwarped)`` and ``map top-q IoU``; :func:`box_stability`
    gives ``best-box IoU``, ``top-K IoU``, ``top-K IoU (unmapped)``, ``shift px`` and
    ``shift px (unmapped)``; ``|dA_asb| months`` is the mean absolute change of the
    assembled estimate.
    """
    kw = dict(angle=angle, scale=scale, contrast=contrast)
    st = attribution_stability(attribute, images, q=q, pool=pool, reference=reference, **kw)
    bs = box_stability(model, images, male, **kw)
    moved, _ = transform_images(images, **kw)
    with torch.no_grad():
        change = (model(moved, male).age - model(images, male).age).abs().mean().item()
    return {"map rho": np.nanmean(st["spearman"]),
            "map rho (unwarped)": np.nanmean(st["spearman_unwarped"]),
            "map top-q IoU": np.nanmean(st["topq_iou"]),
            "best-box IoU": bs["top1_iou"].mean(),
            "top-K IoU": bs["match_iou"].mean(),
            "top-K IoU (unmapped)": bs["match_iou_unwarped"].mean(),
            "shift px": bs["match_shift"].mean(),
            "shift px (unmapped)": bs["match_shift_unwarped"].mean(),
            "|dA_asb| months": change}
