"""The paper's figures as reusable functions (matplotlib only).

Liu et al. (MICCAI 2019) show two figures of results:

* **Fig. 2** -- predicted against true bone age, and the deviation (prediction minus truth)
  against the true age, for each sex: :func:`fig2_scatter` draws one sex into two axes,
  :func:`fig2` lays out one row per sex.
* **Fig. 3** -- the bone parts the attention agent extracts, drawn on radiographs:
  :func:`fig3_parts` draws the top-K boxes of a few images with their ranks.

and, for the synthetic phantom whose age cues sit in known boxes, one figure of our own:
:func:`draw_pointing` (true cue regions against the chosen boxes, hits and misses).

Every function takes arrays or the ``predictions.csv`` frame of :mod:`arcnn_lib.evaluation.evaluator`
(columns ``id``, ``male``, ``boneage``, ``pred``, ..., ``part{i}_x1/y1/x2/y2``,
``part{i}_score``) and returns the ``Figure`` it drew into. Boxes are (x1, y1, x2, y2) in
network-input pixels, drawn in the box coordinates of :mod:`arcnn_lib.results.viz`. Ages are months.
"""
from __future__ import annotations

from typing import Optional, Sequence, Tuple

import numpy as np

from . import viz

BOX_COLS = ("x1", "y1", "x2", "y2")
#: Colour of each sex in Fig. 2 (by ``male``).
SEX_COLORS = {True: "tab:blue", False: "tab:red"}


# ---------------------------------------------------------------------------- frames
def part_boxes(predictions, num_parts: Optional[int] = None) -> Tuple[np.ndarray, np.ndarray]:
    """Boxes and scores of the selected parts in a predictions frame.

    Returns ``boxes`` (N, M, 4) and ``scores`` (N, M), parts in the frame's order (evaluate
    writes them best-scored first). ``num_parts`` defaults to every ``part{i}_x1`` column.
    """
    if num_parts is None:
        num_parts = 0
        while f"part{num_parts + 1}_x1" in predictions:
            num_parts += 1
    if num_parts == 0:
        raise ValueError("the frame has no part columns (part1_x1, ...): a baseline model?")
    boxes = np.stack([predictions[[f"part{i + 1}_{c}" for c in BOX_COLS]].to_numpy(np.float64)
                      for i in range(num_parts)], axis=1)
    scores = predictions[[f"part{i + 1}_score" for i in range(num_parts)]].to_numpy(np.float64)
    return boxes, scores


def rank_parts(boxes, scores) -> Tuple[np.ndarray, np.ndarray]:
    """Sort each image's parts by descending score: (N, M, 4), (N, M) -> same, ranked."""
    boxes, scores = np.asarray(boxes, np.float64), np.asarray(scores, np.float64)
    order = np.argsort(-scores, axis=1, kind="stable")
    return (np.take_along_axis(boxes, order[..., None], axis=1),
            np.take_along_axis(scores, order, axis=1))


def _frame(ax, shape, boxes) -> None:
    """Show the whole (H, W) image and every box in full, even past the image border."""
    h, w = shape
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    ax.set_xlim(np.r_[0.0, b[:, 0]].min(), np.r_[float(w), b[:, 2]].max())
    ax.set_ylim(np.r_[float(h), b[:, 3]].max(), np.r_[0.0, b[:, 1]].min())


def _label(fig, label: Optional[str]) -> None:
    """Write the provenance label (data / profile / hardware) in the figure's corner."""
    if label:
        fig.text(0.99, 0.005, label, ha="right", va="bottom", fontsize=8, color="grey")


# ---------------------------------------------------------------------------- Fig. 2
def fig2_scatter(ax_pred, ax_dev, predictions, label: Optional[str] = None,
                 column: str = "pred", color: Optional[str] = None,
                 age_range: Optional[Tuple[float, float]] = None, size: float = 8):
    """One sex of Fig. 2: predicted vs true age, and deviation vs true age.

    Args:
        ax_pred: axes for the prediction (y) against the true age (x), with the identity line.
        ax_dev: axes for the deviation ``column - boneage`` (y) against the true age, with a
            zero line and dotted lines at +- the MAE.
        predictions: frame with ``boneage`` and ``column`` (months).
        label: legend text (e.g. "male"); the MAE and n are appended.
        column: which estimate to plot (``pred`` is A_asb of Eq. 1).
        color: marker colour (default: by sex when ``male`` is constant, else black).
        age_range: (lo, hi) of both age axes (default: 0 to the largest age, rounded up).
    Returns:
        the Figure of ``ax_pred``.
    """
    y = np.asarray(predictions["boneage"], np.float64)
    p = np.asarray(predictions[column], np.float64)
    dev = p - y
    mae = float(np.abs(dev).mean()) if len(y) else float("nan")
    if color is None:
        male = np.asarray(predictions["male"], bool) if "male" in predictions else np.array([])
        color = SEX_COLORS[bool(male[0])] if len(male) and (male == male[0]).all() else "k"
    if age_range is None:
        top = max(float(np.nanmax(np.r_[y, p])) if len(y) else 12.0, 12.0)
        age_range = (0.0, 12.0 * np.ceil(top / 12.0))
    text = f"{label + ': ' if label else ''}MAE {mae:.2f} mo (n={len(y)})"
    ax_pred.scatter(y, p, s=size, color=color, alpha=0.6, linewidths=0, label=text)
    ax_pred.plot(age_range, age_range, color="0.3", lw=0.8, ls="--")
    ax_pred.set_xlim(age_range)
    ax_pred.set_ylim(age_range)
    ax_pred.set_aspect("equal")
    ax_pred.set_xlabel("true bone age (months)")
    ax_pred.set_ylabel("predicted (months)")
    ax_pred.legend(fontsize=9, loc="upper left", handletextpad=0.2, markerscale=1.5)
    ax_dev.scatter(y, dev, s=size, color=color, alpha=0.6, linewidths=0)
    ax_dev.axhline(0, color="0.3", lw=0.8, ls="--")
    for s in (mae, -mae):
        ax_dev.axhline(s, color=color, lw=0.7, ls=":")
    ax_dev.set_xlim(age_range)
    ax_dev.set_xlabel("true bone age (months)")
    ax_dev.set_ylabel("predicted - true (months)")
    return ax_pred.figure


def fig2(predictions, label: Optional[str] = None, title: Optional[str] = None,
         column: str = "pred", size: Tuple[float, float] = (3.2, 2.6)):
    """The whole of Fig. 2: one row per sex present in ``predictions`` (male first), two
    columns (prediction, deviation). The deviation axes of all rows share a y range.

    ``label`` is the provenance label written in the corner; ``title`` the figure title.
    Returns the Figure.
    """
    import matplotlib.pyplot as plt

    male = np.asarray(predictions["male"], bool)
    sexes = [s for s in (True, False) if (male == s).any()] or [True]
    fig, axes = plt.subplots(len(sexes), 2, figsize=(2 * size[0], size[1] * len(sexes)),
                             squeeze=False)
    y = np.asarray(predictions["boneage"], np.float64)
    p = np.asarray(predictions[column], np.float64)
    top = max(float(np.nanmax(np.r_[y, p])) if len(y) else 12.0, 12.0)
    age_range = (0.0, 12.0 * np.ceil(top / 12.0))
    for row, s in zip(axes, sexes):
        fig2_scatter(row[0], row[1], predictions[male == s], label="male" if s else "female",
                     column=column, age_range=age_range)
    lim = max(abs(v) for ax in axes[:, 1] for v in ax.get_ylim())
    for ax in axes[:, 1]:
        ax.set_ylim(-lim, lim)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    _label(fig, label)
    return fig


# ---------------------------------------------------------------------------- Fig. 3
def fig3_parts(images, boxes, scores, ids: Optional[Sequence] = None, k: int = 3,
               titles: Optional[Sequence[str]] = None, ncols: Optional[int] = None,
               size: float = 2.0, label: Optional[str] = None, show_scores: bool = False,
               suptitle: Optional[str] = None):
    """Fig. 3: radiographs with the top-``k`` selected parts, ranks written on the boxes.

    Args:
        images: (N, H, W) (or (N, 1, H, W)) grey images in network-input pixels.
        boxes: (N, M, 4) selected boxes; scores: (N, M) their scores. Parts are ranked by
            score here, so any order is fine.
        ids: N image ids for the default titles.
        k: how many parts to draw (the K best; K = ``num_concat`` in the paper's Fig. 3).
        titles: N titles (default: the ids).
        ncols: columns of the grid (default: up to 4).
        label: provenance label in the figure's corner.
        show_scores: write ``rank: score`` instead of the rank alone.
    Returns:
        the Figure (one panel per image).
    """
    import matplotlib.pyplot as plt

    imgs = viz._to_numpy(images)
    if imgs.ndim == 4:
        imgs = imgs[:, 0]
    n = len(imgs)
    b, s = rank_parts(boxes, scores)
    if b.shape[:2] != s.shape or b.shape[0] != n:
        raise ValueError(f"images ({n}), boxes {b.shape} and scores {s.shape} disagree")
    k = int(max(1, min(k, b.shape[1])))
    ncols = ncols or min(n, 4)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, (size + 0.25) * nrows + 0.4),
                             squeeze=False, layout="constrained")
    if titles is None and ids is not None:
        titles = [str(i) for i in ids]
    for j, ax in enumerate(axes.flat):
        if j >= n:
            ax.axis("off")
            continue
        viz.show_image(ax, imgs[j])
        labels = [f"{r + 1}: {s[j, r]:.2f}" if show_scores else str(r + 1) for r in range(k)]
        viz.draw_boxes(ax, b[j, :k], labels=labels, linewidth=1.4)
        _frame(ax, imgs[j].shape, b[j, :k])
        if titles is not None:
            ax.set_title(titles[j], fontsize=9)
    if suptitle:
        fig.suptitle(suptitle, fontsize=9)
    if label:
        fig.get_layout_engine().set(rect=(0, 0.03, 1, 0.97))
    _label(fig, label)
    return fig


# ---------------------------------------------------------------------------- pointing
def draw_pointing(ax, image, regions, boxes, scores=None, k: int = 1,
                  title: Optional[str] = None):
    """True cue regions against the chosen boxes on one image (the pointing game's view).

    Regions (R, 4) are dashed white; the ``k`` best boxes (of (M, 4), ranked by ``scores``
    when given) are solid, green when their centre lies in a region (a hit, the rule of
    :mod:`arcnn_lib.evaluation.pointing`) and red otherwise, with their centre marked and their rank
    written. Returns the Figure of ``ax``.
    """
    import torch

    from ..evaluation.pointing import box_hits

    img = viz._as_2d(image)
    regions = np.asarray(viz._to_numpy(regions), np.float64).reshape(-1, 4)
    b = np.asarray(viz._to_numpy(boxes), np.float64).reshape(-1, 4)
    if scores is not None:
        b, _ = rank_parts(b[None], np.asarray(viz._to_numpy(scores), np.float64)[None])
        b = b[0]
    b = b[:max(1, k)]
    cx, cy = (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2
    hit = box_hits(torch.from_numpy(b.copy()), torch.from_numpy(regions.copy())).numpy()
    viz.show_image(ax, img)
    viz.draw_boxes(ax, regions, colors=["white"], linewidth=0.9, linestyle="--")
    colors = ["tab:green" if h else "tab:red" for h in hit]
    viz.draw_boxes(ax, b, labels=[str(r + 1) for r in range(len(b))], colors=colors,
                   linewidth=1.4)
    ax.scatter(cx, cy, s=14, c=colors, marker="x", zorder=3)
    _frame(ax, img.shape, np.concatenate([regions, b]))
    if title:
        ax.set_title(title, fontsize=9)
    return ax.figure
