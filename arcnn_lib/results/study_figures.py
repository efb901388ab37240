"""The phantom study's figures: the regime map (when do parts pay?) and its Fig. 3 (the
navigator's parts on the native copy, with the true cue regions)."""
from __future__ import annotations

from pathlib import Path
from typing import List

import numpy as np
import pandas as pd


def regime_map_figure(regime_map: List[dict], path: Path) -> None:
    """Test MAE against the native size the parts are cut from, one line per model."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    frame = pd.DataFrame(regime_map)
    fig, ax = plt.subplots(figsize=(5.6, 3.2), layout="constrained")
    for col, style, label in (("baseline_input", "o-", "single-stage at the input size"),
                              ("arcnn_eq1", "s--", "AR-CNN, Eq. 1"),
                              ("arcnn_chosen", "D-", "AR-CNN, chosen assembly"),
                              ("baseline_native", "^:", "single-stage at the native size")):
        if col in frame and frame[col].notna().any():
            ax.plot(frame["native_size"], frame[col], style, label=label)
    ax.set_xscale("log", base=2)
    ax.set_xticks(frame["native_size"], [f"{n}\n({n // i}x)" for n, i in
                                         zip(frame["native_size"], frame["input_size"])])
    ax.set_xlabel("native size the parts are cut from, px (zoom over the input)")
    ax.set_ylabel("test MAE (months)")
    ax.set_title(f"input {int(frame['input_size'].iloc[0])} px: when do parts pay?",
                 fontsize=9)
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=9)
    fig.savefig(path, dpi=130)
    plt.close(fig)


def fig3_native(result: dict, path: Path, n_images: int = 6) -> None:
    """The K best parts of test images drawn on the native copy, with the true cue regions,
    for the chosen run of the first seed (Fig. 3 of the study)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from ..engine.run_data import prepare_run_data
    from .figures import draw_pointing, part_boxes
    job, pred = result["job"], result["test"]["predictions"]
    r = job["regime"]
    native = r["native_size"] if "native" in job["variant"] else r["input_size"]
    t = job["train"]
    data = prepare_run_data("phantom", native, split_csv=Path(job["out"]) / "split.csv",
                            phantom_n=t["phantom_n"], phantom_seed=t["phantom_seed"],
                            cache_dir=t["cache_dir"], progress=False)
    row_of = {i: k for k, i in enumerate(data.ids)}
    regions = {i: g[["x1", "y1", "x2", "y2"]].to_numpy(float)
               for i, g in data.regions.groupby("id")}
    boxes, scores = part_boxes(pred)
    boxes = boxes * (native / r["input_size"])
    order = np.argsort(pred["boneage"].to_numpy(), kind="stable")
    picks = order[np.linspace(0, len(order) - 1, n_images).round().astype(int)]
    fig, axes = plt.subplots(2, (n_images + 1) // 2, figsize=(8.0, 5.4), layout="constrained")
    for ax, j in zip(axes.flat, picks):
        i = pred["id"].iloc[j]
        draw_pointing(ax, data.images[row_of[i]], regions.get(i, np.zeros((0, 4))),
                      boxes[j], scores[j], k=job["num_concat"],
                      title=f"{pred['boneage'].iloc[j]:.0f} mo, predicted "
                            f"{pred['pred'].iloc[j]:.0f}")
    fig.suptitle(f"{job['variant']}, seed {job['seed']}: top K = {job['num_concat']} parts on "
                 f"the {native} px copy (green: hit, red: miss; dashed: true cue regions)",
                 fontsize=8)
    fig.savefig(path, dpi=80)
    plt.close(fig)
