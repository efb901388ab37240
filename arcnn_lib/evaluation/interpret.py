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

Whether attributions and boxes follow the hand under rotation, zoom and contrast is
:mod:`arcnn_lib.evaluation.stability`.

Images are float (B, 1, S, S) in [0, 1] (what ``ARCNN.forward`` takes); boxes are
(x1, y1, x2, y2) in input pixels; pixel (i, j) covers [j, j + 1] x [i, i + 1], so it is
inside a box when its centre (j + 1/2, i + 1/2) is.
"""
from __future__ import annotations

from typing import Dict, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import nn

from ..model.crop import crop_parts
from ..model.arcnn import normalise, unit_grey

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
    """The extractor's ResNet stage 1 to 4 module (stride 4, 8, 16, 32), for Grad-CAM."""
    if stage == 4:
        return model.extractor.stage4
    if stage in (1, 2, 3):
        return model.extractor.stage1_3[stage - 1]
    raise ValueError(f"stage must be 1, 2, 3 or 4, got {stage}")


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
