"""The phantom study's anchor grid: how well *could* a navigator point on it?

The pointing game (:mod:`arcnn_lib.evaluation.pointing`) judges a part by its centre, so a
cue region that no anchor is centred in cannot be hit, whatever the navigator learns. This
module measures that ceiling for the grid the study's models use and for coarser ones.
"""
from __future__ import annotations

from typing import List, Sequence

from ..config import ARCNNConfig, scaled_geometry
from ..data.phantom import read_regions
from ..evaluation.pointing import anchor_ceiling, regions_by_id
from ..model.anchors import generate_anchors


def anchor_grids(phantom_root, written_size: int, input_size: int,
                 strides: Sequence[int] = (8, 16)) -> List[dict]:
    """The pointing game's top-1 ceiling of the anchor grid at ``input_size``, for each finest
    stride in ``strides`` (:func:`arcnn_lib.evaluation.pointing.anchor_ceiling`), over every
    image of the phantom at ``phantom_root`` (written at ``written_size`` px): what the grid
    allows any navigator, before training. ``scaled_geometry`` picks one of the strides
    (``chosen_by_scaled_geometry``); the others show what a coarser grid would cost."""
    regions = read_regions(phantom_root)
    boxes = [r * (input_size / written_size)
             for r in regions_by_id(regions, regions["id"].unique())]
    geometry = scaled_geometry(input_size)
    out = []
    for t in strides:
        anchors = generate_anchors(ARCNNConfig.smoke(
            **{**geometry, "anchor_strides": (t, 2 * t, 4 * t)}))
        out.append({"input_size": input_size, "stride": int(t), "anchors": len(anchors),
                    "ceiling_top1": anchor_ceiling(anchors, boxes),
                    "chosen_by_scaled_geometry": t == geometry["anchor_strides"][0]})
    return out
