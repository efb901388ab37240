"""Probing what an AR-CNN looks at, with Captum (Kokhlikyan et al., 2020).

Captum attributes **one scalar per example** to the input pixels. AR-CNN has several age
estimates, so :class:`AgeUnit` exposes one of them as a function of the image:

* ``"x"``      A_X, the whole-image estimate: extractor -> ``fc_x``.
* ``"part"``   A_{R_i} of the part ranked ``part`` (0 = best scored): crop -> extractor ->
               ``fc_part``.
* ``"concat"`` A_C, from the features of X and the top-K parts.
* ``"asb"``    A_asb, the assembled estimate of Eq. 1.

**The arg-max.** The parts are chosen by NMS and top-M over the navigator's scores, an
arg-max with no gradient. The gradient of a part unit with respect to the input therefore
flows through the *crop* (``roi_align`` is differentiable in the image) but not through the
*choice* of the box. Worse, a path method such as Integrated Gradients evaluates the unit
on scaled images ``a * x``: with a live selection the navigator picks other boxes along the
path, the unit jumps, and the jumps are attributed to nothing (IG's completeness breaks).
So every unit except ``"x"`` takes the boxes as an argument: pass the boxes selected on the
real image (:func:`selected_boxes`) to freeze them, and the unit is a smooth function of
the pixels; pass ``None`` and the navigator chooses again on every input. The chapter
attributes the whole-image unit A_X and the part units separately for this reason.

Attributions (all return (B, 1, S, S) in input pixels unless said otherwise):

* :func:`attribute_ig`        Integrated Gradients (Sundararajan et al., 2017).
* :func:`attribute_occlusion` Occlusion (Zeiler and Fergus, 2014).
* :func:`attribute_gradcam`   Layer Grad-CAM (Selvaraju et al., 2017) on a stage of the
                              extractor, upsampled to the input (A_X) or pasted into the
                              part's box (A_{R_i}).

Scores:

* :func:`mass_in_boxes`       fraction of attribution inside a union of boxes, with the
                              boxes' area fraction as the chance level.
* :func:`attribution_stability` rank correlation and top-q IoU of attributions of an image
                              and of its rotated / scaled / contrast-changed copy, the latter
                              warped back to the original frame.
* :func:`box_stability`       do the selected boxes move with the hand under that transform?

Images are float (B, 1, S, S) in [0, 1] (what ``ARCNN.forward`` takes); boxes are
(x1, y1, x2, y2) in input pixels; pixel (i, j) covers [j, j + 1] x [i, i + 1], so it is
inside a box when its centre (j + 1/2, i + 1/2) is.
"""
from __future__ import annotations

import math
from typing import Callable, Dict, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .crop import crop_parts
from .model import normalise, unit_grey

UNITS = ("x", "part", "concat", "asb")
Boxes = Union[torch.Tensor, Sequence[torch.Tensor]]


# ---------------------------------------------------------------------------- units
class AgeUnit(nn.Module):
    """One age estimate of an :class:`arcnn_lib.model.ARCNN`, in months, as a function of
    the image: ``forward(images (B, 1, S, S), male (B,) or None, boxes (B, M, 4) or None)
    -> (B,)``.

    Args:
        model: a trained ARCNN (put it in eval mode: BatchNorm must not update).
        unit: one of :data:`UNITS`.
        part: for ``unit="part"``, the rank of the part (0 = best scored).

    ``male`` is used only when ``model.config.use_sex``. ``boxes`` freezes the part
    selection (see the module doc); ignored by ``"x"``. Both are tensors with the batch
    first, so Captum expands them with the images (``additional_forward_args``).
    """

    def __init__(self, model: nn.Module, unit: str = "x", part: int = 0):
        super().__init__()
        if unit not in UNITS:
            raise ValueError(f"unknown unit {unit!r}; choose one of {', '.join(UNITS)}")
        if unit == "part" and not 0 <= part < model.config.num_parts:
            raise ValueError(f"part must be in [0, {model.config.num_parts}), got {part}")
        self.model, self.unit, self.part = model, unit, int(part)

    def _sex(self, male):
        return male if self.model.config.use_sex else None

    def forward(self, images: torch.Tensor, male: Optional[torch.Tensor] = None,
                boxes: Optional[torch.Tensor] = None) -> torch.Tensor:
        m, cfg = self.model, self.model.config
        if self.unit in ("concat", "asb"):       # the model's own forward pass
            out = m(images, self._sex(male), boxes=boxes)
            return out.age_concat if self.unit == "concat" else out.age
        # one unit alone: only the extractor passes and the head it needs
        grey = unit_grey(images, cfg)
        if self.unit == "x":
            feat, _ = m.extractor(normalise(grey, cfg))
            fc = m.heads.fc_x
        else:
            if boxes is None:  # live selection: the navigator chooses on this very input
                _, fmap = m.extractor(normalise(grey, cfg))
                boxes = m.anchors[m.select(m.navigator(fmap))]
            part = crop_parts(grey, boxes[:, self.part:self.part + 1].to(grey.dtype),
                              cfg.part_size)
            feat, _ = m.extractor(normalise(part, cfg), parts=True)
            fc = m.heads.fc_part
        return m._to_months(fc(m.heads._with_sex(feat, self._sex(male))).squeeze(-1))


@torch.no_grad()
def selected_boxes(model: nn.Module, images: torch.Tensor,
                   male: Optional[torch.Tensor] = None) -> torch.Tensor:
    """The (B, M, 4) part boxes the model selects on ``images`` (best scored first)."""
    out = model(images, male if model.config.use_sex else None)
    return out.part_boxes.detach()


def _args(male, boxes):
    return (male, boxes)


# ---------------------------------------------------------------------------- attributions
def attribute_ig(unit: nn.Module, images: torch.Tensor, male: Optional[torch.Tensor] = None,
                 boxes: Optional[torch.Tensor] = None, n_steps: int = 16,
                 method: str = "riemann_middle",
                 baseline: Union[float, torch.Tensor] = 0.0,
                 internal_batch_size: Optional[int] = None, return_delta: bool = False):
    """Integrated Gradients of ``unit`` from a ``baseline`` image: a constant (0 = black
    film) or a tensor shaped like ``images`` (e.g. a blurred copy).

    ``method="riemann_middle"`` is the midpoint rule: alphas (k + 1/2) / n, weights 1 / n.
    (Captum's ``riemann_trapezoid`` weights sum to 1 - 1/n, not 1, so its completeness gap
    does not vanish for a linear unit.) Returns (B, 1, S, S), and the convergence deltas
    (B,) when ``return_delta``.
    """
    from captum.attr import IntegratedGradients

    ig = IntegratedGradients(unit)
    res = ig.attribute(images, baselines=baseline, additional_forward_args=_args(male, boxes),
                       n_steps=n_steps, method=method, internal_batch_size=internal_batch_size,
                       return_convergence_delta=return_delta)
    if return_delta:
        return res[0].detach(), res[1].detach()
    return res.detach()


def attribute_occlusion(unit: nn.Module, images: torch.Tensor,
                        male: Optional[torch.Tensor] = None,
                        boxes: Optional[torch.Tensor] = None, window: int = 16,
                        stride: int = 8, baseline: float = 0.0,
                        perturbations_per_eval: int = 16) -> torch.Tensor:
    """Occlusion: slide a ``window`` x ``window`` patch of ``baseline`` with ``stride``;
    each pixel gets the mean of ``f(x) - f(x occluded)`` over the windows that cover it.
    Returns (B, 1, S, S) (months; zero on pixels no window covers)."""
    from captum.attr import Occlusion

    with torch.no_grad():
        return Occlusion(unit).attribute(
            images, sliding_window_shapes=(1, window, window), strides=(1, stride, stride),
            baselines=baseline, additional_forward_args=_args(male, boxes),
            perturbations_per_eval=perturbations_per_eval)


def extractor_layer(model: nn.Module, stage: int = 4) -> nn.Module:
    """The extractor's stage 3 (stride 16) or stage 4 (stride 32) module, for Grad-CAM."""
    if stage == 4:
        return model.extractor.stage4
    if stage == 3:
        return model.extractor.stage1_3[-1]
    raise ValueError(f"stage must be 3 or 4, got {stage}")


def paste_into_boxes(maps: torch.Tensor, boxes: torch.Tensor, image_size: int) -> torch.Tensor:
    """Place maps (B, C, h, w) defined over boxes (B, 4) into (B, C, S, S) images (bilinear,
    zero outside the box): the inverse of cropping, for maps computed in a part's frame."""
    B = maps.shape[0]
    S = image_size
    b = boxes.to(maps.dtype).reshape(B, 4)
    c = (torch.arange(S, dtype=maps.dtype, device=maps.device) + 0.5)           # pixel centres
    # normalised coordinate of each pixel centre inside its box: -1 .. 1 across the box
    gx = 2 * (c[None, :] - b[:, 0:1]) / (b[:, 2:3] - b[:, 0:1]) - 1             # (B, S)
    gy = 2 * (c[None, :] - b[:, 1:2]) / (b[:, 3:4] - b[:, 1:2]) - 1
    grid = torch.stack([gx[:, None, :].expand(B, S, S), gy[:, :, None].expand(B, S, S)], -1)
    out = F.grid_sample(maps, grid, mode="bilinear", padding_mode="border", align_corners=False)
    inside = (grid.abs() <= 1).all(-1)[:, None]
    return out * inside


def attribute_gradcam(unit: AgeUnit, images: torch.Tensor, male: Optional[torch.Tensor] = None,
                      boxes: Optional[torch.Tensor] = None, stage: int = 4,
                      relu: bool = True, upsample: bool = True) -> torch.Tensor:
    """Layer Grad-CAM of ``unit`` on a stage of the shared extractor.

    Only for units that run the extractor once: ``"x"`` (the map lies over the whole image)
    and ``"part"`` with frozen ``boxes`` (the map lies over the part's crop; with
    ``upsample`` it is pasted into the part's box, zero elsewhere). Grad-CAM of ``"concat"``
    or ``"asb"`` is not defined here: the layer fires on X and on every crop, in different
    frames. Returns (B, 1, S, S) with ``upsample``, else the layer's (B, 1, h, w).
    """
    from captum.attr import LayerAttribution, LayerGradCam

    if unit.unit not in ("x", "part"):
        raise ValueError("Grad-CAM is defined here for the 'x' and 'part' units only")
    if unit.unit == "part" and boxes is None:
        raise ValueError("Grad-CAM of a part needs the frozen boxes (see selected_boxes)")
    gc = LayerGradCam(unit, extractor_layer(unit.model, stage))
    cam = gc.attribute(images, additional_forward_args=_args(male, boxes),
                       relu_attributions=relu).detach()
    if not upsample:
        return cam
    S = images.shape[-1]
    if unit.unit == "x":
        return LayerAttribution.interpolate(cam, (S, S), interpolate_mode="bilinear")
    P = unit.model.config.part_size
    cam = LayerAttribution.interpolate(cam, (P, P), interpolate_mode="bilinear")
    return paste_into_boxes(cam, boxes[:, unit.part], S)


# ---------------------------------------------------------------------------- mass in boxes
def boxes_mask(boxes: Boxes, image_size: int) -> torch.Tensor:
    """(B, S, S) bool: pixels whose centre lies in the union of each image's boxes.

    ``boxes``: (B, R, 4) or a list of B tensors (R_b, 4) (a different count per image)."""
    S = image_size
    c = torch.arange(S, dtype=torch.float64) + 0.5
    masks = []
    for b in boxes:
        b = torch.as_tensor(b, dtype=torch.float64).reshape(-1, 4).cpu()
        inx = (c[None, :] >= b[:, 0:1]) & (c[None, :] <= b[:, 2:3])                # (R, S)
        iny = (c[None, :] >= b[:, 1:2]) & (c[None, :] <= b[:, 3:4])
        masks.append((iny[:, :, None] & inx[:, None, :]).any(0))
    return torch.stack(masks)


def _as_maps(attr: torch.Tensor) -> torch.Tensor:
    """(B, 1, S, S) or (B, S, S) -> (B, S, S) float64 on the CPU."""
    a = attr.detach().double().cpu()
    return a[:, 0] if a.dim() == 4 else a


def mass_in_boxes(attr: torch.Tensor, boxes: Boxes, mode: str = "abs",
                  within: Optional[torch.Tensor] = None) -> Dict[str, torch.Tensor]:
    """How much of each image's attribution lies inside its boxes, and the chance level.

    Args:
        attr: (B, 1, S, S) or (B, S, S) attributions.
        boxes: (B, R, 4) or B tensors (R_b, 4): the union of an image's boxes counts.
        mode: ``"abs"`` (mass = |attr|) or ``"positive"`` (mass = max(attr, 0): the pixels
            that push the estimate up).
        within: optional (B, S, S) bool, e.g. the hand: only these pixels count, for the
            mass and for the area.

    Returns:
        dict of (B,) float64: ``mass`` (fraction of the mass inside the boxes; NaN when an
        image has no mass), ``area`` (fraction of the counted pixels inside the boxes: what a
        map spread evenly would score) and ``ratio`` = mass / area (1 = chance).
    """
    a = _as_maps(attr)
    if mode == "abs":
        w = a.abs()
    elif mode == "positive":
        w = a.clamp(min=0)
    else:
        raise ValueError(f"unknown mode {mode!r}; use 'abs' or 'positive'")
    inside = boxes_mask(boxes, a.shape[-1])
    count = torch.ones_like(inside) if within is None else within.bool().cpu()
    w = w * count
    total = w.sum(dim=(1, 2))
    mass = (w * inside).sum(dim=(1, 2)) / total
    mass = torch.where(total > 0, mass, torch.full_like(mass, float("nan")))
    area = (inside & count).sum(dim=(1, 2)).double() / count.sum(dim=(1, 2)).double()
    return {"mass": mass, "area": area, "ratio": mass / area}


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
    import pandas as pd

    ra = pd.Series(a.double().cpu().numpy()).rank(method="average").to_numpy()
    rb = pd.Series(b.double().cpu().numpy()).rank(method="average").to_numpy()
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


def box_iou_matrix(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(R, 4), (Q, 4) -> (R, Q) IoU (boxes in continuous coordinates)."""
    from torchvision.ops import box_iou

    return box_iou(a.double().cpu(), b.double().cpu())


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
            iou = box_iou_matrix(b0[i], cand)
            res["top1_iou" + suffix].append(float(iou[0, 0]))
            res["match_iou" + suffix].append(float(iou.max(dim=1).values.mean()))
            dist = torch.cdist(centres(b0[i].double().cpu()), centres(cand.double().cpu()))
            res["match_shift" + suffix].append(float(dist.min(dim=1).values.mean()))
    return {k_: np.asarray(v) for k_, v in res.items()}
