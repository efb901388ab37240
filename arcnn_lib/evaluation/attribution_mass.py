"""Where an attribution map puts its mass: inside the chosen parts, inside the true cues.

Chapter 12 scores the maps of :mod:`arcnn_lib.evaluation.interpret` with
:func:`~arcnn_lib.evaluation.interpret.mass_in_boxes`. Two helpers make the scores fair:
:func:`hand_mask` estimates the hand (every method puts little mass on the black
background, so the area fraction *within the hand* is the honest chance level), and
:func:`mass_table` scores a set of maps against the parts and, where known, the cue regions.
"""
from __future__ import annotations

from typing import Dict, Optional, Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from .interpret import Boxes, boxes_mask, mass_in_boxes


def hand_mask(images: torch.Tensor, margin: float = 0.06) -> torch.Tensor:
    """(B, 1, S, S) images in [0, 1] -> (B, S, S) bool on the CPU: the pixels brighter than
    the background (the median of the image's border) by ``margin``, after a 5 x 5 mean
    filter."""
    x = images
    border = torch.cat([x[..., 0, :], x[..., -1, :], x[..., :, 0], x[..., :, -1]], -1)
    background = border.flatten(1).median(dim=1).values.view(-1, 1, 1, 1)
    smooth = F.avg_pool2d(x, 5, 1, padding=2)
    return (smooth > background + margin)[:, 0].cpu()


def _mean(result: Dict[str, torch.Tensor], key: str) -> float:
    return float(np.nanmean(result[key].numpy()))


def mass_table(maps: Dict[str, torch.Tensor], boxes: torch.Tensor, k: int,
               regions: Optional[Sequence[Boxes]] = None,
               hand: Optional[torch.Tensor] = None) -> pd.DataFrame:
    """Mean fractions of |attribution| of each map, one row per map, with their chance levels.

    Args:
        maps: name -> (B, 1, S, S) attributions. A name ending in ``"A_R1"`` is the map of
            the best part's unit and is scored inside that part's box only.
        boxes: (B, M, 4) the selected parts, best first; the top ``k`` count.
        regions: optional B tensors (R_b, 4) of true cue regions (the phantom's).
        hand: optional (B, S, S) bool (:func:`hand_mask`) for the cue scores within the hand.

    Columns: ``parts mass`` / ``parts area`` (whole-image maps, top-k boxes); with
    ``regions``: ``cue mass`` / ``cue area`` (of the image, or for the part map of its own
    box, ``cue area (box)``) and, with ``hand`` too, ``cue mass (hand)`` / ``cue area
    (hand)``. ``area`` columns are the fraction a map spread evenly would score.
    """
    size = next(iter(maps.values())).shape[-1]
    table = {}
    for name, m in maps.items():
        row = {}
        if name.endswith("A_R1"):
            if regions is not None:
                r = mass_in_boxes(m, regions, within=boxes_mask(boxes[:, :1], size))
                row = {"cue mass": _mean(r, "mass"), "cue area (box)": _mean(r, "area")}
        else:
            r = mass_in_boxes(m, boxes[:, :k])
            row = {"parts mass": _mean(r, "mass"), "parts area": _mean(r, "area")}
            if regions is not None:
                r = mass_in_boxes(m, regions)
                row.update({"cue mass": _mean(r, "mass"), "cue area": _mean(r, "area")})
                if hand is not None:
                    rh = mass_in_boxes(m, regions, within=hand)
                    row.update({"cue mass (hand)": _mean(rh, "mass"),
                                "cue area (hand)": _mean(rh, "area")})
        table[name] = row
    return pd.DataFrame(table).T
