"""Attribution against expert regions, and the model-randomisation sanity check.

Two questions about the maps of :mod:`arcnn_lib.evaluation.interpret` on real hands:

1. **Mass in the regions.** What share of a map's absolute mass lies inside the union of an
   image's expert boxes, against the share of the image those boxes cover (what a map spread
   evenly would score)? :func:`mass_in_regions`, on the maps of :func:`attribution_maps`:
   Integrated Gradients, Occlusion and Grad-CAM of the whole-image unit A_X and of the
   concatenation unit A_C (the parts frozen at the boxes the model chose).
2. **Does the map read the model?** Adebayo et al. (NeurIPS 2018, "Sanity checks for
   saliency maps"): the same method applied to a model with **re-initialised weights**
   must give clearly different maps, otherwise the map shows the image (edges, the bright
   hand) rather than what the model learned. :func:`randomisation_check` returns, per
   image, Spearman's rank correlation of |map| of the model and of its re-initialised copy
   (:func:`reinitialised`), after average pooling; near 1 fails the check.

Grad-CAM of A_C (:func:`gradcam_concat`) is taken on the **whole-image pass** of the shared
extractor: the layer also fires on each crop, in the crop's own frame, and those maps are
left out, so this map says where in the image X-features feed A_C.

Images are float (B, 1, S, S) in [0, 1]; boxes (B, M, 4) in input pixels; maps (B, 1, S, S).
"""
from __future__ import annotations

from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import interpret as I
from .stability import rank_correlation

METHODS = ("IG", "Occlusion", "Grad-CAM")
UNITS = {"X": "x", "C": "concat"}


def gradcam_concat(model: nn.Module, images: torch.Tensor, male: Optional[torch.Tensor],
                   boxes: torch.Tensor, stage: Optional[int] = None) -> torch.Tensor:
    """Grad-CAM of A_C on the whole-image pass of the extractor's ``stage`` (default: the
    stage the navigator reads), upsampled bilinearly to (B, 1, S, S)."""
    stage = stage or model.extractor.fmap_stage
    layer = I.extractor_layer(model, stage)
    seen = []
    hook = layer.register_forward_hook(lambda mod, inp, out: seen.append(out))
    try:
        age_c = I.AgeUnit(model, "concat")(images, male, boxes)          # (B,)
    finally:
        hook.remove()
    fmap = seen[0]                                                        # the X pass
    grad, = torch.autograd.grad(age_c.sum(), fmap)
    cam = torch.relu((grad.mean(dim=(2, 3), keepdim=True) * fmap).sum(1, keepdim=True))
    return F.interpolate(cam.detach(), size=images.shape[-2:], mode="bilinear",
                         align_corners=False)


def attribution_maps(model: nn.Module, images: torch.Tensor, male: Optional[torch.Tensor],
                     boxes: torch.Tensor, n_steps: int = 16, window: Optional[int] = None,
                     stride: Optional[int] = None, chunk: int = 8
                     ) -> Dict[Tuple[str, str], torch.Tensor]:
    """Maps of every method in :data:`METHODS` for the units X and C.

    ``boxes`` (B, M, 4) freezes the parts of A_C (see :mod:`arcnn_lib.evaluation.interpret`). Occlusion
    uses a ``window`` of S / 8 and a ``stride`` of S / 16 by default (chapter 12's choice).
    Returns {(method, unit): (B, 1, S, S)} with unit ``"X"`` or ``"C"``.
    """
    S = images.shape[-1]
    window = window or max(8, S // 8)
    stride = stride or max(4, S // 16)
    units = {name: I.AgeUnit(model, kind) for name, kind in UNITS.items()}
    maps: Dict[Tuple[str, str], list] = {(m, u): [] for m in METHODS for u in UNITS}
    for s in range(0, images.shape[0], chunk):
        x, b = images[s:s + chunk], boxes[s:s + chunk]
        mm = None if male is None else male[s:s + chunk]
        for u, unit in units.items():
            maps[("IG", u)].append(I.attribute_ig(unit, x, mm, b, n_steps=n_steps))
            maps[("Occlusion", u)].append(I.attribute_occlusion(unit, x, mm, b, window, stride))
        maps[("Grad-CAM", "X")].append(I.attribute_gradcam(
            units["X"], x, mm, stage=model.extractor.fmap_stage))
        maps[("Grad-CAM", "C")].append(gradcam_concat(model, x, mm, b))
    return {k: torch.cat(v).cpu() for k, v in maps.items()}


def mass_in_regions(maps: Dict[Tuple[str, str], torch.Tensor],
                    regions: Sequence[torch.Tensor]) -> Dict[Tuple[str, str], dict]:
    """{key: {"mass": (B,), "area": (B,)}}: share of |map| inside each image's expert boxes,
    and the share of the image they cover (:func:`arcnn_lib.evaluation.interpret.mass_in_boxes`)."""
    out = {}
    for key, m in maps.items():
        r = I.mass_in_boxes(m, list(regions))
        out[key] = {"mass": r["mass"].numpy(), "area": r["area"].numpy()}
    return out


def reinitialised(model: nn.Module, seed: int) -> nn.Module:
    """A copy of ``model``'s architecture with freshly initialised weights (seeded), in eval
    mode: the randomised model of the sanity check."""
    from ..model import build_model

    kind = "arcnn" if hasattr(model, "navigator") else "baseline"
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        fresh = build_model(model.config.replace(pretrained=False), kind)
    return fresh.to(next(model.parameters()).device).eval()


def randomisation_check(maps: Dict[Tuple[str, str], torch.Tensor],
                        random_maps: Dict[Tuple[str, str], torch.Tensor],
                        pool: int = 4) -> Dict[Tuple[str, str], np.ndarray]:
    """{key: (B,) Spearman correlation of |map| of the model and of its re-initialised copy},
    both average-pooled by ``pool`` pixels (pixel-level maps are noisy)."""
    out = {}
    for key, m in maps.items():
        a = F.avg_pool2d(m.abs().double(), pool) if pool > 1 else m.abs().double()
        b = random_maps[key].abs().double()
        b = F.avg_pool2d(b, pool) if pool > 1 else b
        out[key] = np.array([rank_correlation(a[i].flatten(), b[i].flatten())
                             for i in range(a.shape[0])])
    return out


def key_name(key: Tuple[str, str]) -> str:
    """("IG", "X") -> "IG A_X": the name used in tables and JSON."""
    return f"{key[0]} A_{key[1]}"
