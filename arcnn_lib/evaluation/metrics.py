"""Per-unit mean absolute errors (the rows of the paper's Table 2); the units and their
column suffixes are :mod:`arcnn_lib.model.units`.
"""
from __future__ import annotations

from typing import Dict, Optional, Sequence

import numpy as np
import pandas as pd


def mae_from_frame(pred: pd.DataFrame, target: str = "boneage") -> Dict[str, object]:
    """``mae``, ``mae_x``, ``mae_concat``, ``mae_parts`` (list) and ``n`` of a predictions
    frame with columns ``pred``, ``pred_x``, ... (see :mod:`arcnn_lib.evaluation.evaluator`)."""
    y = pred[target].to_numpy(np.float64)
    res: Dict[str, object] = {"n": int(len(pred))}

    def mae(col: str) -> Optional[float]:
        if col not in pred or len(pred) == 0:
            return None
        return float(np.mean(np.abs(pred[col].to_numpy(np.float64) - y)))

    res["mae"] = mae("pred")
    res["mae_x"] = mae("pred_x")
    res["mae_concat"] = mae("pred_concat")
    parts = sorted((c for c in pred.columns if c.startswith("pred_part")),
                   key=lambda c: int(c[len("pred_part"):]))
    res["mae_parts"] = [mae(c) for c in parts]
    return res


def median_baseline_mae(train_ages: Sequence[float], test_ages: Sequence[float]) -> float:
    """MAE of always predicting the training median: the floor every model must beat."""
    med = float(np.median(np.asarray(train_ages, np.float64)))
    return float(np.mean(np.abs(np.asarray(test_ages, np.float64) - med)))
