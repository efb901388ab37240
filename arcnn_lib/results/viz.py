"""Figure helpers shared by the chapters of the book (matplotlib only).

Every helper draws into an ``Axes`` it is given (or a new figure it returns), so chapters
compose them freely. Boxes are (x1, y1, x2, y2) in input pixels, as everywhere in
:mod:`arcnn_lib`, and the axes' data coordinates are those same box coordinates: pixel
(row i, column j) of an image covers [j, j + 1] x [i, i + 1], so the box (0, 0, W, H)
outlines a whole W x H image.

* :func:`show_image` -- a grey image without ticks.
* :func:`draw_boxes` -- rectangles, with optional labels and colours.
* :func:`draw_anchors` -- anchors on an (empty) canvas of the network's input size.
* :func:`draw_score_map` -- one level's anchor scores as a heat map over the image.
* :func:`show_parts` -- a grid of cropped parts.
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

#: Colours of successive boxes / levels (matplotlib's tab10 without grey).
COLORS = ("tab:orange", "tab:blue", "tab:green", "tab:red", "tab:purple", "tab:brown",
          "tab:pink", "tab:olive", "tab:cyan")


def _to_numpy(x) -> np.ndarray:
    """A torch tensor (any device, with or without grad) or array-like -> float numpy array."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().float().numpy()
    return np.asarray(x)


def _as_2d(img) -> np.ndarray:
    """(H, W), (1, H, W) or (1, 1, H, W) -> (H, W)."""
    a = _to_numpy(img)
    while a.ndim > 2 and a.shape[0] == 1:
        a = a[0]
    if a.ndim != 2:
        raise ValueError(f"expected a single grey image, got shape {a.shape}")
    return a


def show_image(ax, img, title: Optional[str] = None, cmap: str = "gray", **imshow_kw):
    """Draw a grey image (H, W) (or (1, H, W), (1, 1, H, W)) in box coordinates (pixel
    (i, j) covers [j, j + 1] x [i, i + 1]), without ticks or frame. Returns the
    ``AxesImage``."""
    a = _as_2d(img)
    h, w = a.shape
    im = ax.imshow(a, cmap=cmap, extent=(0, w, h, 0), **imshow_kw)
    ax.set_xticks([])
    ax.set_yticks([])
    for side in ax.spines.values():
        side.set_visible(False)
    if title:
        ax.set_title(title)
    return im


def draw_boxes(ax, boxes, labels: Optional[Sequence[str]] = None,
               colors: Optional[Sequence[str]] = None, linewidth: float = 1.5,
               linestyle: str = "-", fontsize: float = 7, alpha: float = 1.0) -> None:
    """Draw (N, 4) boxes (x1, y1, x2, y2) as rectangles.

    A box (0, 0, W, H) outlines a whole W x H image drawn by :func:`show_image`. ``colors`` cycles if shorter than N (default :data:`COLORS`);
    ``labels`` are written in the top-left corner of each box.
    """
    from matplotlib.patches import Rectangle

    b = _to_numpy(boxes).reshape(-1, 4)
    colors = colors or COLORS
    for i, (x1, y1, x2, y2) in enumerate(b):
        c = colors[i % len(colors)]
        ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False,
                               edgecolor=c, linewidth=linewidth, linestyle=linestyle,
                               alpha=alpha))
        if labels is not None:
            ax.text(x1, y1, f" {labels[i]}", color="white", fontsize=fontsize,
                    va="top", ha="left", bbox=dict(facecolor=c, edgecolor="none", pad=1,
                                                   alpha=0.85))


def draw_anchors(ax, anchors, image_size: int, colors: Optional[Sequence[str]] = None,
                 centres: bool = True, grid_stride: Optional[int] = None,
                 linewidth: float = 1.0, margin: float = 0.05) -> None:
    """Draw anchors (N, 4) on an empty ``image_size`` canvas (grey square).

    The view is widened to show anchors that reach outside the image (they are not clipped);
    ``centres`` marks each anchor's centre with a dot; ``grid_stride`` draws the borders of
    the cells of that level (see :func:`arcnn_lib.model.anchors.level_centres`). The y axis points
    down, as in images.
    """
    from matplotlib.patches import Rectangle

    from ..model.anchors import level_centres

    a = _to_numpy(anchors).reshape(-1, 4)
    s = float(image_size)
    ax.add_patch(Rectangle((0, 0), s, s, facecolor="0.92", edgecolor="0.3",
                           linewidth=1.0, zorder=0))
    if grid_stride:
        c = level_centres(image_size, grid_stride).numpy()
        edges = np.append(c - grid_stride / 2, c[-1] + grid_stride / 2)
        for e in edges:
            ax.plot([e, e], [edges[0], edges[-1]], color="0.7", linewidth=0.5, zorder=0.5)
            ax.plot([edges[0], edges[-1]], [e, e], color="0.7", linewidth=0.5, zorder=0.5)
    draw_boxes(ax, a, colors=colors, linewidth=linewidth)
    if centres and len(a):
        cx, cy = (a[:, 0] + a[:, 2]) / 2, (a[:, 1] + a[:, 3]) / 2
        ax.plot(cx, cy, ".", color="k", markersize=3)
    lo = min(0.0, float(a[:, :2].min()) if len(a) else 0.0) - margin * s
    hi = max(s, float(a[:, 2:].max()) if len(a) else s) + margin * s
    ax.set_xlim(lo, hi)
    ax.set_ylim(hi, lo)
    ax.set_aspect("equal")


def draw_score_map(ax, scores, image_size: int, stride: int, cmap: str = "magma",
                   alpha: float = 0.6, **imshow_kw):
    """Overlay one level's scores (n, n) on an image of side ``image_size``.

    Cell (i, j) of a stride-``stride`` level is centred at the anchor centres of
    :func:`arcnn_lib.model.anchors.level_centres` and is ``stride`` pixels wide, so the map is
    placed exactly over the pixels its anchors are centred on. Returns the ``AxesImage``
    (for a colour bar).
    """
    from ..model.anchors import level_centres

    a = _to_numpy(scores)
    c = level_centres(image_size, stride).numpy()
    if a.shape != (len(c), len(c)):
        raise ValueError(f"scores must be ({len(c)}, {len(c)}) for stride {stride} on "
                         f"{image_size} px, got {a.shape}")
    lo, hi = c[0] - stride / 2, c[-1] + stride / 2
    return ax.imshow(a, cmap=cmap, alpha=alpha, extent=(lo, hi, hi, lo),
                     interpolation="nearest", **imshow_kw)


def show_parts(parts, titles: Optional[Sequence[str]] = None, ncols: Optional[int] = None,
               size: float = 1.6, colors: Optional[Sequence[str]] = None, suptitle=None):
    """A grid of parts (N, 1, P, P) (or (N, P, P)); returns the figure.

    ``colors`` frames part ``i`` in ``colors[i]`` (e.g. the colours its boxes were drawn
    with by :func:`draw_boxes`).
    """
    import matplotlib.pyplot as plt

    p = _to_numpy(parts)
    if p.ndim == 4:
        p = p[:, 0]
    n = len(p)
    ncols = ncols or min(n, 6)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + 0.3),
                             squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i >= n:
            ax.axis("off")
            continue
        show_image(ax, p[i], title=titles[i] if titles else None)
        if colors:
            for side in ax.spines.values():
                side.set_visible(True)
                side.set_edgecolor(colors[i % len(colors)])
                side.set_linewidth(2.5)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig
