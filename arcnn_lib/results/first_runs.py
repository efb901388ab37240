"""The first GPU reference runs (``results/reference_gpu_first``), summarised.

Those runs were made before two fixes (the navigator's detached input and the separate
BatchNorm statistics of parts); the book's engineering note reads their failure from the
table :func:`first_runs_table` builds: per AR-CNN run, its losses at the first and last
epoch, where its selected parts sit, and its test MAEs beside the baseline's.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..config import ARCNNConfig
from ..model.anchors import generate_anchors
from .figures import part_boxes

#: The columns of :func:`first_runs_table` that are shares (fractions in [0, 1]).
SHARE_COLUMNS = ("L_att share last", "parts at border", "anchors at border")


def touches_border(boxes, size: int, tol: float = 2.0) -> np.ndarray:
    """For (N, 4) boxes (x1, y1, x2, y2): whether each touches or crosses the border of a
    ``size`` x ``size`` image, within ``tol`` pixels."""
    boxes = np.asarray(boxes, dtype=float)
    return ((boxes[:, :2] <= tol) | (boxes[:, 2:] >= size - tol)).any(axis=1)


def first_run_row(ref, run: dict) -> dict:
    """One AR-CNN run of ``ref`` (a :class:`~.reference.ReferenceResults`): its losses,
    the share of its parts (and of all anchors) at the image border, and its test MAEs
    (whole-image unit, AR-CNN, the same sex's baseline, the median-age predictor)."""
    hist, met = ref.history(run["name"]), ref.metrics(run["name"])
    base = ref.metrics(f"baseline_{run['sex']}")
    cfg = ARCNNConfig.from_dict(met["config"]["model"])
    boxes = part_boxes(ref.predictions(run["name"]), cfg.num_parts)[0].reshape(-1, 4)
    anchors = generate_anchors(cfg).numpy()
    first, last = hist.iloc[0], hist.iloc[-1]
    return {
        "run": run["name"], "K": run["num_concat"],
        "L_cls first": first["train_cls"], "L_cls last": last["train_cls"],
        "L_att first": first["train_att"], "L_att last": last["train_att"],
        "L_att share last": last["train_att"] / last["train_loss"],
        "parts at border": touches_border(boxes, cfg.image_size).mean(),
        "anchors at border": touches_border(anchors, cfg.image_size).mean(),
        "MAE A_X": met["mae_x"], "MAE AR-CNN": met["mae"],
        "MAE baseline": base["mae"], "MAE median age": met["median_baseline_mae"],
    }


def first_runs_table(ref) -> pd.DataFrame:
    """One row per AR-CNN run of ``ref`` (:func:`first_run_row`), indexed by run name."""
    rows = [first_run_row(ref, r) for r in ref.manifest.get("runs", [])
            if r["model"] == "arcnn"]
    return pd.DataFrame(rows).set_index("run")
