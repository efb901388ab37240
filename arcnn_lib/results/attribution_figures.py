"""Figures of chapter 12: attribution maps over the radiograph, and bar charts of the
scores of :mod:`arcnn_lib.evaluation.attribution_mass` and
:func:`arcnn_lib.evaluation.stability.stability_summary`, trained model beside untrained.
Font sizes come from the book's style (at least 9 pt)."""
from __future__ import annotations

from typing import Dict, Optional, Sequence

import numpy as np

from .viz import draw_boxes, show_image


def show_map(ax, img, attr, title: Optional[str] = None, signed: bool = True,
             zoom=None) -> None:
    """Draw a (1, S, S) attribution over the (1, S, S) image. Colours saturate at the 99th
    percentile of |map| (IG is spiky); ``signed`` maps use a diverging colour map. ``zoom``:
    a box (x1, y1, x2, y2) to zoom on, with half its size around it."""
    show_image(ax, img)
    a = attr.detach().cpu().float()[0].numpy()
    size = a.shape[-1]
    lim = float(np.quantile(np.abs(a), 0.99)) or 1e-12
    ax.imshow(a, cmap="coolwarm" if signed else "magma", alpha=0.65,
              vmin=-lim if signed else 0, vmax=lim, extent=(0, size, size, 0))
    if zoom is not None:
        x1, y1, x2, y2 = [float(v) for v in zoom]
        m = 0.5 * max(x2 - x1, y2 - y1)
        ax.set_xlim(x1 - m, x2 + m)
        ax.set_ylim(y2 + m, y1 - m)
    if title:
        ax.set_title(title, fontsize=9)


def attribution_grid(images, maps: Dict[str, object], boxes, ages, k: int,
                     regions: Optional[Sequence] = None, rows: Sequence[int] = (0, 1, 2),
                     label: Optional[str] = None):
    """One row per image of ``rows``: the image with its top-``k`` parts (and the true cue
    regions, dotted, when given), then each map of ``maps`` (name -> (B, 1, S, S)). A map
    whose name ends in ``"A_R1"`` is zoomed on the best part's box; Grad-CAM maps (name
    starting with ``"Grad-CAM"``) are drawn unsigned."""
    import matplotlib.pyplot as plt

    ncol = 1 + len(maps)
    fig, axes = plt.subplots(len(rows), ncol, figsize=(1.9 * ncol, 2.0 * len(rows)),
                             squeeze=False)
    for r, i in enumerate(rows):
        img, b = images[i].cpu(), boxes[i].cpu()
        ax = axes[r, 0]
        show_image(ax, img)
        draw_boxes(ax, b[:k], labels=[f"R{j + 1}" for j in range(k)], fontsize=9)
        if regions is not None:
            draw_boxes(ax, regions[i], colors=["white"], linestyle=":", linewidth=0.8)
        ax.set_ylabel(f"{ages[i]:.0f} months")
        for c, (name, m) in enumerate(maps.items()):
            ax = axes[r, c + 1]
            part = name.endswith("A_R1")
            title = name + (" (zoomed)" if part else "")
            show_map(ax, img, m[i], title if r == 0 else None,
                     signed=not name.startswith("Grad-CAM"), zoom=b[0] if part else None)
            draw_boxes(ax, b[:1], linewidth=0.8)
            if part and regions is not None:
                draw_boxes(ax, regions[i], colors=["k"], linestyle=":", linewidth=0.8)
    axes[0, 0].set_title("image, top parts", fontsize=9)
    fig.suptitle("red: pushes the estimate up, blue: down; orange: best part R1"
                 + (", dotted: true cue regions" if regions is not None else ""))
    _footer(fig, label)
    fig.tight_layout()
    return fig


def _footer(fig, label: Optional[str]) -> None:
    if label:
        fig.text(0.99, 0.005, label, ha="right", fontsize=9, color="grey")


def _pair_bars(ax, table, names, col, ref_col=None, ref_who=("trained", "untrained"),
               ref_label="chance (area)") -> None:
    """Bars of ``col`` for the trained and untrained rows of a two-level ``table``, with
    the ``ref_col`` values of ``ref_who`` drawn as black ticks."""
    xs = np.arange(len(names))
    for j, who in enumerate(("trained", "untrained")):
        ax.bar(xs + (j - 0.5) * 0.38, table.loc[who].loc[names, col], 0.38,
               label=who, color=f"C{j}")
        if ref_col is not None and who in ref_who:
            ax.plot(xs + (j - 0.5) * 0.38, table.loc[who].loc[names, ref_col], "k_",
                    ms=9, mew=1.5, label=ref_label if j == 0 else None)


def mass_bars(agree, k: int, label: Optional[str] = None):
    """Fractions of |attribution| of A_X inside the top-``k`` parts, the true cues and the
    cues within the hand (whichever columns ``agree`` has), trained beside untrained,
    with the area fractions (chance) as ticks. ``agree``: the two
    :func:`~arcnn_lib.evaluation.attribution_mass.mass_table` tables concatenated under
    the keys ``"trained"`` and ``"untrained"``."""
    import matplotlib.pyplot as plt

    chance = {"parts mass": "parts area", "cue mass": "cue area",
              "cue mass (hand)": "cue area (hand)"}
    titles = {"parts mass": f"inside the top-{k} parts", "cue mass": "inside the true cues",
              "cue mass (hand)": "true cues, within the hand"}
    cols = [c for c in chance if c in agree.columns]
    a_x = [m for m in agree.loc["trained"].index if m.endswith("A_X")]
    fig, axes = plt.subplots(1, len(cols), squeeze=False, figsize=(3.0 * len(cols), 3.0))
    for ax, col in zip(axes[0], cols):
        _pair_bars(ax, agree, a_x, col, chance[col])
        ax.set_xticks(np.arange(len(a_x)), [m.split()[0] for m in a_x])
        ax.set_ylim(0, 1)
        ax.set_title(titles[col])
    axes[0, 0].set_ylabel("fraction of |attribution| of A_X")
    axes[0, 0].legend()
    _footer(fig, label)
    fig.tight_layout()
    return fig


def stability_bars(stab, k: int, label: Optional[str] = None):
    """Three panels over the transforms of ``stab`` (rows (transform, model), columns of
    :func:`~arcnn_lib.evaluation.stability.stability_summary`): the rank correlation of
    the maps, the centre shift of the top-``k`` boxes, and the change of A_asb; trained
    beside untrained, mapped back, with the trained model's unmapped score as ticks."""
    import matplotlib.pyplot as plt

    panels = [("map rho", "map rho (unwarped)", "IG of A_X: rank corr."),
              ("shift px", "shift px (unmapped)", f"top-{k} boxes: centre shift (px)"),
              ("|dA_asb| months", None, "|change of A_asb| (months)")]
    names = list(dict.fromkeys(stab.index.get_level_values(0)))
    table = stab.swaplevel().sort_index(level=0)
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.6))
    for ax, (col, unmapped, title) in zip(axes, panels):
        _pair_bars(ax, table, names, col, unmapped, ref_who=("trained",),
                   ref_label="trained, not mapped back")
        ax.set_xticks(np.arange(len(names)), names, rotation=45, ha="right")
        ax.set_title(title)
    axes[0].set_ylim(0, 1.05)
    axes[0].legend(loc="lower left")
    _footer(fig, label)
    fig.tight_layout()
    return fig


def expert_mass_bars(real_tab, n: int):
    """Real hands: the fraction of |attribution| inside the expert boxes for each map of
    ``real_tab`` (columns ``mass, trained``, ``mass, untrained``, ``area share``), with
    the area share (chance) as ticks; ``n`` held-out images."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 3.2))
    xs = np.arange(len(real_tab))
    for j, col in enumerate(("mass, trained", "mass, untrained")):
        ax.bar(xs + (j - 0.5) * 0.38, real_tab[col], 0.38, label=col, color=f"C{j}")
    ax.plot(xs, real_tab["area share"], "k_", ms=18, mew=2, label="area share (chance)")
    ax.set_xticks(xs, real_tab.index, rotation=30, ha="right")
    ax.set_ylabel("fraction of |attribution|")
    ax.set_ylim(0, 1)
    ax.set_title("real hands: attribution inside the expert boxes")
    ax.legend()
    _footer(fig, f"rsna100, {n} held-out images")
    fig.tight_layout()
    return fig
