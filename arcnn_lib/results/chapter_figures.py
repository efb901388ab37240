"""Figures and pointing-game summaries of the book's results chapters (9-11).

:func:`source_panels` draws one panel per source with its own y axis, so that numbers of
different data, resolution and budget never share an axis. :func:`fig3_regions` is Fig. 3
on the phantom: large panels of the K best parts beside the true cue regions. The rest
turns the pointing game and the expert-region results into the numbers the prose quotes.
Boxes are (x1, y1, x2, y2) in network-input pixels.
"""
from __future__ import annotations

import math
from typing import Dict, Mapping, Optional, Sequence

import numpy as np

from . import figures, viz


def source_panels(panels: Mapping[str, Mapping[str, Mapping[str, float]]], ylabel: str,
                  suptitle: Optional[str] = None, panel: float = 2.6):
    """One bar panel per source, each with its own y axis.

    Args:
        panels: ``{panel title: {series: {x label: value}}}``; a value None is not drawn,
            and a panel without any value is left out.
        ylabel: the y label of the first panel (every panel shares its meaning, not its
            scale).
    Returns:
        the Figure.
    """
    import matplotlib.pyplot as plt

    panels = {t: s for t, s in panels.items()
              if any(v is not None for vals in s.values() for v in vals.values())}
    n = max(1, len(panels))
    fig, axes = plt.subplots(1, n, figsize=(panel * n + 0.6, 3.1), squeeze=False,
                             layout="constrained")
    names = list(dict.fromkeys(name for series in panels.values() for name in series))
    color = {name: f"C{i}" for i, name in enumerate(names)}   # one colour per series
    for ax, (title, series) in zip(axes.flat, panels.items()):
        xs = list(dict.fromkeys(x for s in series.values() for x in s))
        w = 0.8 / max(1, len(series))
        for j, (name, vals) in enumerate(series.items()):
            y = [np.nan if vals.get(x) is None else float(vals[x]) for x in xs]
            ax.bar(np.arange(len(xs)) + (j - (len(series) - 1) / 2) * w, y, width=w,
                   label=name, color=color[name])
        ax.set_xticks(np.arange(len(xs)), xs, rotation=30 if len(xs) > 4 else 0)
        ax.set_title(title)
    labels = {}
    for ax in axes.flat:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            labels.setdefault(lab, h)
    if len(labels) > 1:
        fig.legend(labels.values(), labels.keys(), loc="outside lower center",
                   ncols=len(labels))
    axes.flat[0].set_ylabel(ylabel)
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def fig3_regions(images, regions: Sequence, boxes, scores, k: int,
                 titles: Optional[Sequence[str]] = None, ncols: int = 4, panel: float = 2.7,
                 suptitle: Optional[str] = None, label: Optional[str] = None):
    """Fig. 3 with the true cue regions: per image, the regions (dashed white) and the
    ``k`` best of the (M, 4) ``boxes`` ranked by ``scores``, green when the centre hits a
    region and red when not (:func:`.figures.draw_pointing`), ``ncols`` large panels a row.

    ``images`` (N, S, S); ``regions`` N arrays (R_n, 4); ``boxes`` (N, M, 4); ``scores``
    (N, M). Returns the Figure.
    """
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    n = len(images)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(panel * ncols, panel * nrows + 0.7),
                             squeeze=False, layout="constrained")
    for j, ax in enumerate(axes.flat):
        if j >= n:
            ax.axis("off")
            continue
        figures.draw_pointing(ax, images[j], regions[j], boxes[j], scores[j], k=k)
        if titles is not None:
            ax.set_title(titles[j], fontsize=10)
    handles = [Line2D([], [], color="0.4", ls="--", label="true cue region"),
               Line2D([], [], color="tab:green", lw=1.6, label="part, centre in a region"),
               Line2D([], [], color="tab:red", lw=1.6, label="part, centre outside")]
    fig.legend(handles=handles, loc="outside lower center", ncols=3, fontsize=9)
    if suptitle:
        fig.suptitle(suptitle)
    if label:
        fig.text(0.995, 0.002, label, ha="right", va="bottom", fontsize=9, color="grey")
    return fig


def centres(boxes) -> tuple:
    """(..., 4) boxes -> (centre x, centre y), each (...)."""
    b = np.asarray(boxes, np.float64)
    return (b[..., 0] + b[..., 2]) / 2, (b[..., 1] + b[..., 3]) / 2


def cue_coverage(regions: Sequence, size: int) -> np.ndarray:
    """(size, size) share of the images whose cue regions cover each pixel centre.

    ``regions``: one (R_n, 4) array per image; pixel (i, j) has its centre at
    (j + 0.5, i + 0.5); a centre on a region's border is inside.
    """
    yy, xx = np.mgrid[0:size, 0:size] + 0.5
    cover = np.zeros((size, size))
    for reg in regions:
        inside = np.zeros((size, size), bool)
        for x1, y1, x2, y2 in np.asarray(reg, np.float64).reshape(-1, 4):
            inside |= (xx >= x1) & (xx <= x2) & (yy >= y1) & (yy <= y2)
        cover += inside
    return cover / max(1, len(regions))


def cue_map(mean_image, cover: np.ndarray, top1_boxes, label: Optional[str] = None):
    """The share of images with a cue at each pixel over the mean image, with the centres
    of the (N, 4) top-1 boxes (a larger circle: chosen for more images). Returns
    ``(figure, number of distinct centres, share of the most frequent one)``."""
    import matplotlib.pyplot as plt

    pts = np.round(np.stack(centres(top1_boxes), axis=1), 2)
    uniq, counts = np.unique(pts, axis=0, return_counts=True)
    size = cover.shape[0]
    fig, ax = plt.subplots(figsize=(5.0, 4.2), layout="constrained")
    viz.show_image(ax, mean_image)
    im = ax.imshow(cover, cmap="viridis", alpha=0.55, extent=(0, size, size, 0), vmin=0, vmax=1)
    ax.scatter(uniq[:, 0], uniq[:, 1], s=14 + 140 * counts / counts.max(), facecolors="none",
               edgecolors="tab:red", linewidths=1.4, label="top-1 box centres")
    ax.set_xlim(0, size)
    ax.set_ylim(size, 0)
    ax.legend(loc="lower left")
    fig.colorbar(im, ax=ax, fraction=0.046, label="share of images with a cue here")
    ax.set_title("where the cues are, where the top-1 part points")
    if label:
        fig.text(0.995, 0.002, label, ha="right", va="bottom", fontsize=9, color="grey")
    return fig, int(len(uniq)), float(counts.max() / counts.sum())


def pointing_verdict(top1: float, chance: float, n: int, fixed_best: float) -> Dict[str, object]:
    """The top-1 hit rate against chance and against the best fixed anchor.

    ``z`` is the distance from the chance rate in binomial standard errors of it,
    ``se = sqrt(chance (1 - chance) / n)``; ``verdict`` and ``vs_fixed`` are the words the
    prose uses (the model within one ``se`` of the fixed anchor is 'about the same as')."""
    se = math.sqrt(chance * (1 - chance) / n) if n else float("nan")
    z = (top1 - chance) / se if se > 0 else float("nan")
    verdict = ("clearly above chance" if z > 3 else
               "somewhat above chance, but not by much" if z > 1 else
               "at about chance level" if z >= -1 else "below chance")
    vs_fixed = ("higher than" if top1 > fixed_best + se else
                "lower than" if top1 < fixed_best - se else "about the same as")
    return {"se": se, "z": z, "verdict": verdict, "vs_fixed": vs_fixed}


def border_share(boxes, size: float, band: float = 0.1) -> float:
    """Share of the (..., 4) boxes whose centre lies in the outer ``band * size`` of the
    image on any side."""
    cx, cy = centres(boxes)
    lo, hi = band * size, (1 - band) * size
    return float(np.mean((cx < lo) | (cx > hi) | (cy < lo) | (cy > hi)))


def border_row(name: str, boxes, scores, cfg, band: float = 0.1) -> Dict[str, object]:
    """The border share of a run's top-K parts and of its own anchors (chance)."""
    from ..model.anchors import generate_anchors

    top = figures.rank_parts(boxes, scores)[0][:, :cfg.num_concat]
    anchors = generate_anchors(cfg).double().numpy()
    return {"run": name, "top-K parts": border_share(top, cfg.image_size, band),
            "anchors": border_share(anchors, cfg.image_size, band)}


#: The numeric keys of :func:`expert_numbers` (NaN in a copy without the results).
EXPERT_KEYS = ("top1", "ho_top1", "ho_topk", "ho_se", "random", "fixed", "un_ho_top1",
               "wrist_f", "wrist_m", "wrist_diff", "wrist_se", "none", "pp_f", "pp_m",
               "fixed_region_share")


def expert_numbers(trained: Optional[Mapping], untrained: Optional[Mapping]
                   ) -> Dict[str, object]:
    """The numbers chapter 11 quotes from the expert-region results
    (:func:`.expert_regions.load_expert_results` of ``trained`` and ``untrained``).

    Floats for the rates, words for ``verdict`` (the navigator against the fixed anchor,
    beyond two standard errors), ``sex_verdict`` (the girls-minus-boys carpal share
    against its standard error) and ``fixed_region`` (where the fixed anchor lands most
    on the held-out images); NaN and 'not available' when either result is absent.
    """
    if trained is None or untrained is None:
        out: Dict[str, object] = {k: float("nan") for k in EXPERT_KEYS}
        out.update(verdict="not available", sex_verdict="not available",
                   fixed_region="not available", n_images=0, n_heldout=0, k=0)
        return out
    tr, un = trained["summary"], untrained["summary"]
    h, w = tr["heldout"], tr["sex_contrast"]["Wrist"]
    pp = tr["sex_contrast"]["MCP+PIP"]
    per = trained["per_image"]
    fixed_on = per.loc[per["split"] != "train", "fixed_region"].value_counts(normalize=True)
    z = w["female_minus_male"] / w["se"] if w["se"] > 0 else 0.0
    out = {"top1": tr["top1_hit"], "ho_top1": h["top1_hit"], "ho_topk": h["topk_hit"],
           "ho_se": h["top1_se"], "random": h["random_top1_expected"],
           "fixed": tr["fixed_anchor_top1"], "un_ho_top1": un["heldout"]["top1_hit"],
           "wrist_f": w["female"], "wrist_m": w["male"], "wrist_diff": w["female_minus_male"],
           "wrist_se": w["se"], "pp_f": pp["female"], "pp_m": pp["male"],
           "none": np.mean([tr["by_sex"][s]["per_region"]["none"]["topk"]
                            for s in tr["by_sex"]]),
           "fixed_region_share": fixed_on.iloc[0]}
    out = {k: float(v) for k, v in out.items()}
    out["verdict"] = ("beats" if h["top1_hit"] > tr["fixed_anchor_top1"] + 2 * h["top1_se"]
                      else "does not beat")
    out["sex_verdict"] = (
        "a difference in the paper's direction, by more than two standard errors" if z > 2
        else "a difference against the paper's direction, by more than two standard errors"
        if z < -2 else "within two standard errors of no difference")
    out["fixed_region"] = f"`{fixed_on.index[0]}`"
    out.update(n_images=int(tr["n_images"]), n_heldout=int(h["n"]), k=int(per["k"].iloc[0]))
    return out
