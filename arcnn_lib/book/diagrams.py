"""Drawn figures of the book that show no data: chapter 1's diagram of AR-CNN's data flow."""
from __future__ import annotations

ATTENTION, RECOGNITION, OUTPUT = "#cfe2f3", "#fce5cd", "#d9ead3"


def _box(ax, x, y, text, color, w=2.1, h=0.95):
    from matplotlib.patches import FancyBboxPatch
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.06",
                                fc=color, ec="0.3", lw=1))
    ax.text(x, y, text, ha="center", va="center", fontsize=9)


def _arrow(ax, p, q, color="0.25", ls="-", rad=0.0):
    from matplotlib.patches import FancyArrowPatch
    ax.add_patch(FancyArrowPatch(p, q, arrowstyle="-|>", mutation_scale=13, lw=1.3,
                                 color=color, ls=ls, shrinkA=0, shrinkB=0,
                                 connectionstyle=f"arc3,rad={rad}"))


def _note(ax, x, y, text, color="0.3", ha="center"):
    ax.text(x, y, text, fontsize=9, color=color, ha=ha, va="center")


def _attention_row(ax, T):
    """Top row: the attention agent reads the whole image and crops the parts."""
    _box(ax, 1.1, T, "image $X$\n448 x 448", "white", w=1.7)
    _box(ax, 3.8, T, "feature extractor\n(ResNet-50)", RECOGNITION)
    _box(ax, 6.7, T, "navigator:\nscores $S$ of anchors", ATTENTION)
    _box(ax, 9.6, T, "NMS, then top-$M$\n($M$ = 6 boxes)", ATTENTION)
    _box(ax, 12.6, T, "crop from $X$, resize\n$R_1..R_M$: 224 x 224", ATTENTION, w=2.4)
    for a, b in [(1.95, 2.75), (4.85, 5.65), (7.75, 8.55), (10.65, 11.4)]:
        _arrow(ax, (a, T), (b, T))
    _arrow(ax, (1.1, T + 0.48), (12.0, T + 0.48), color="0.55", rad=-0.13)
    _note(ax, 6.5, 6.35, "the parts are cut from the input image, at a higher resolution")


def _recognition_row(ax, T, B):
    """Bottom row: the shared extractor and the three heads."""
    _box(ax, 3.8, B, "whole-image head\n$A_X$", RECOGNITION)
    _box(ax, 6.7, B, "concat $X$ + top-$K$\nhead $A_C$ ($K$ = 3)", RECOGNITION)
    _box(ax, 9.6, B, "part head (shared)\n$A_{R_1} .. A_{R_M}$", RECOGNITION)
    _box(ax, 12.6, B, "the same extractor\n(shared weights)", RECOGNITION, w=2.4)
    _arrow(ax, (12.6, T - 0.48), (12.6, B + 0.48))
    _arrow(ax, (3.8, T - 0.48), (3.8, B + 0.48))
    _note(ax, 3.15, 3.9, "features\nof $X$")
    _arrow(ax, (4.3, T - 0.48), (6.2, B + 0.48))
    _arrow(ax, (11.4, B), (10.65, B))
    _note(ax, 11.0, B + 0.3, "$M$")
    _arrow(ax, (12.0, B - 0.48), (7.2, B - 0.48), color="0.45", rad=-0.3)
    _note(ax, 11.3, 1.6, "features of\nthe top-$K$ parts", color="0.4")


def arcnn_data_flow():
    """Chapter 1's diagram: one radiograph through AR-CNN in the paper's configuration.

    Blue boxes are the attention agent, orange the recognition agent; solid arrows carry
    images, features and ages forward, the dashed red one is the ranking loss's feedback.
    Returns the matplotlib figure.
    """
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(11, 5.2))
    ax.set_xlim(0, 14.4)
    ax.set_ylim(0.0, 6.6)
    ax.axis("off")
    T, B, E = 5.0, 2.8, 0.85  # rows: attention agent, recognition agent, Eq. 1
    _attention_row(ax, T)
    _recognition_row(ax, T, B)
    eq1 = r"$A_{asb} = (A_C + A_X + \Sigma_{i \leq K}\, A_{R_i}) \,/\, (K + 2)$"
    _box(ax, 6.7, E, "Eq. 1:  " + eq1, OUTPUT, w=6.2, h=0.75)
    _arrow(ax, (3.8, B - 0.48), (4.4, E + 0.38))
    _arrow(ax, (6.7, B - 0.48), (6.7, E + 0.38))
    _arrow(ax, (9.2, B - 0.48), (9.0, E + 0.38))
    _arrow(ax, (9.0, B + 0.48), (7.3, T - 0.48), color="#cc0000", ls="--", rad=-0.2)
    _note(ax, 8.85, 3.95, "ranking loss (Eqs. 2-3): smaller\n"
          "$|A_{R_i} - A_{gt}|$, higher $S_{R_i}$", color="#cc0000", ha="left")
    ax.text(0.1, 0.1, "blue: attention agent    orange: recognition agent",
            fontsize=9, color="0.35")
    ax.set_title("AR-CNN (paper configuration): one radiograph through the network",
                 fontsize=11)
    return fig
