"""Figures of chapter 13 and of the appendix on the speed targets.

:func:`step_timeline` sketches where a GPU waits in one training step (a drawing, not a
measurement); :func:`throughput_figure` draws the stored train-step benchmark
(:mod:`arcnn_lib.results.speed`). Font sizes come from the book's style (at least 9 pt).
"""
from __future__ import annotations

import math
from typing import Optional

from .speed import HOW_TO, VARIANTS, lookup, step_summary

#: The schematic's blocks: (label, start, width, hatch) per lane, in arbitrary time units.
_NAIVE = {
    "host": [("queue\nbackbone", 0, 1.6, None), ("wait:\n.cpu()", 1.6, 2.4, "//"),
             ("NMS per\nimage", 4.0, 1.8, None), ("crop\nloop", 5.8, 2.2, None),
             ("queue\nthe rest", 8.0, 1.6, None)],
    "GPU": [("backbone", 0.2, 3.8, None), ("idle", 4.0, 2.0, "..."),
            ("crops", 6.0, 2.2, None), ("parts, heads, losses, backward", 8.2, 6.3, None)],
}
_OURS = {
    "host": [("queue the whole step", 0, 3.2, None), ("free (next batch)", 3.2, 2.4, "..")],
    "GPU": [("backbone", 0.2, 3.8, None), ("NMS,\ncrops", 4.0, 1.2, None),
            ("parts, heads, losses, backward", 5.2, 6.3, None)],
}


def _lane(ax, y, blocks, color) -> None:
    for label, start, width, hatch in blocks:
        ax.broken_barh([(start, width)], (y - 0.4, 0.8),
                       facecolors="white" if hatch else color,
                       edgecolors="0.3", hatch=hatch, linewidth=0.6)
        box = dict(facecolor="white", edgecolor="none", pad=1.0) if hatch else None
        ax.text(start + width / 2, y, label, ha="center", va="center", fontsize=9,
                bbox=box)


def step_timeline():
    """Two schematic timelines (host and GPU lanes) of one training step: NTS-style, with a
    host round trip and a crop loop, and the library's, queued without waiting."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 1, figsize=(9, 3.6), sharex=True)
    for ax, (title, lanes) in zip(axes, [("NTS-style step", _NAIVE),
                                         ("arcnn_lib step", _OURS)]):
        _lane(ax, 1, lanes["host"], "#fdd0a2")
        _lane(ax, 0, lanes["GPU"], "#9ecae1")
        ax.set_yticks([0, 1], ["GPU", "host"])
        ax.set_ylim(-0.6, 1.6)
        ax.set_title(title, loc="left")
        ax.tick_params(axis="x", bottom=False, labelbottom=False)
    axes[1].set_xlabel("time (schematic)")
    fig.tight_layout()
    return fig


def _ratio_bars(ax, s: dict, targets: Optional[dict]) -> None:
    ratios = [("a/b", s["ratio_ab"]), ("a/c", s["ratio_ac"]), ("a'/b", s["ratio_acomp_b"])]
    ratios = [(n, v) for n, v in ratios if not math.isnan(v)]
    ax.bar([n for n, _ in ratios], [v for _, v in ratios], color="tab:blue", width=0.5)
    for i, (name, value) in enumerate(ratios):
        ax.text(i, value / 2, f"{value:.2f}", ha="center", va="center", fontsize=9,
                color="white")
        key = {"a'/b": "a_compiled/b"}.get(name, name)
        if targets and key in targets:
            ax.hlines(targets[key], i - 0.35, i + 0.35, color="tab:red", linestyles="--")
    ax.axhline(1.0, color="0.5", linewidth=0.6)
    ax.set_ylabel("ratio of samples / s")
    if targets:
        ax.set_title("dashed: target", loc="right", color="tab:red")


def throughput_figure(bench: Optional[dict], bench_c: Optional[dict],
                      targets: Optional[dict] = None):
    """Left: samples/s of (b), (a), (c) of the main run and (a') of the compile run.
    Right: the ratios a/b, a/c (main run) and a'/b (compile run), with ``targets`` (a dict
    as in the benchmark file) drawn as dashed lines when given. A note when no file."""
    import matplotlib.pyplot as plt

    s = step_summary(bench, bench_c)
    sps = {"b": s["sps_b"], "a": s["sps_a"], "c": s["sps_c"], "a_compiled": s["sps_acomp"]}
    keys = [k for k in VARIANTS if not math.isnan(sps[k])]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.2),
                                   gridspec_kw={"width_ratios": [1.6, 1]})
    if not keys:
        for ax in (ax1, ax2):
            ax.text(0.5, 0.5, f"no GPU measurement stored\n{HOW_TO}", ha="center",
                    va="center", transform=ax.transAxes)
            ax.set_axis_off()
        return fig
    colors = {"b": "0.6", "a": "tab:blue", "c": "0.3", "a_compiled": "tab:cyan"}
    ax1.barh([VARIANTS[k] for k in keys], [sps[k] for k in keys],
             color=[colors[k] for k in keys])
    for i, k in enumerate(keys):
        ax1.text(sps[k], i, f" {sps[k]:.0f}", va="center", fontsize=9)
    ax1.invert_yaxis()
    ax1.set_xlim(0, 1.18 * max(sps[k] for k in keys))
    ax1.set_xlabel("samples / s (higher is better)")
    _ratio_bars(ax2, s, targets)
    fig.suptitle(f"One training step, {lookup(bench, 'profile', default='?')} profile, "
                 f"batch {lookup(bench, 'batch_size', default='?')}, "
                 f"{lookup(bench, 'device', default='?')}")
    fig.tight_layout()
    return fig
