"""Fig. 3 against expert regions: the parts a model selects beside the ossification boxes.

:func:`fig3_expert` draws, for each image, the expert boxes coloured by region type
(:data:`REGION_COLORS`, thin and dashed) and the K best parts (solid pink, with their rank),
each part's centre marked green when it lies in an expert box (a hit, the rule of
:mod:`arcnn_lib.evaluation.roi_pointing`) and red when it does not. Boxes are (x1, y1, x2, y2) in
network-input pixels; images (N, S, S).
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import torch

from . import viz
from ..data.rois import REGION_TYPES
from ..evaluation.pointing import box_hits

REGION_COLORS = {"DIP": "tab:cyan", "PIP": "tab:blue", "MCP": "tab:purple",
                 "Wrist": "tab:orange", "Radius": "gold", "Ulna": "tab:brown"}
PART_COLOR = "deeppink"


def draw_expert(ax, image, regions, types: Sequence[str], boxes, k: int,
                title: Optional[str] = None) -> None:
    """One panel: ``regions`` (R, 4) of ``types`` and the first ``k`` of ``boxes`` (M, 4),
    which are ranked best first."""
    regions = np.asarray(regions, np.float64).reshape(-1, 4)
    b = np.asarray(boxes, np.float64).reshape(-1, 4)[:max(1, k)]
    viz.show_image(ax, image)
    for t in REGION_TYPES:
        sel = regions[np.asarray(types) == t]
        if len(sel):
            viz.draw_boxes(ax, sel, colors=[REGION_COLORS[t]], linewidth=1.1, linestyle="--")
    viz.draw_boxes(ax, b, labels=[str(r + 1) for r in range(len(b))], colors=[PART_COLOR],
                   linewidth=1.8, fontsize=8)
    hit = box_hits(torch.from_numpy(b.copy()), torch.from_numpy(regions.copy())).numpy()
    ax.scatter((b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2, s=60, marker="x",
               linewidths=2.2, c=["tab:green" if h else "tab:red" for h in hit], zorder=3)
    s = np.asarray(image).shape[-1]
    ax.set_xlim(0, s)
    ax.set_ylim(s, 0)
    if title:
        ax.set_title(title, fontsize=10)


def fig3_expert(images, regions: Sequence, types: Sequence[Sequence[str]], boxes, k: int,
                titles: Optional[Sequence[str]] = None, ncols: int = 4,
                panel: float = 2.9, suptitle: Optional[str] = None,
                label: Optional[str] = None):
    """Panels of :func:`draw_expert`, ``ncols`` per row, with a legend of the region types.
    Returns the Figure."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    n = len(images)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(panel * ncols, panel * nrows + 0.8),
                             squeeze=False, layout="constrained")
    for j, ax in enumerate(axes.flat):
        if j < n:
            draw_expert(ax, images[j], regions[j], types[j], boxes[j], k,
                        titles[j] if titles else None)
        else:
            ax.axis("off")
    handles = [Line2D([], [], color=c, ls="--", label=t) for t, c in REGION_COLORS.items()]
    handles += [Line2D([], [], color=PART_COLOR, lw=1.8, label=f"top-{k} parts (rank)"),
                Line2D([], [], color="tab:green", marker="x", ls="", label="centre: hit"),
                Line2D([], [], color="tab:red", marker="x", ls="", label="centre: miss")]
    fig.legend(handles=handles, loc="outside lower center", ncols=min(9, len(handles)),
               fontsize=9, facecolor="0.85")
    if suptitle:
        fig.suptitle(suptitle, fontsize=12)
    if label:
        fig.text(0.995, 0.002, label, ha="right", va="bottom", fontsize=8, color="grey")
    return fig
