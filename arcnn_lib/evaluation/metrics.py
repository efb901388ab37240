"""Per-unit mean absolute errors (the rows of the paper's Table 2).

AR-CNN has several "units" that each predict an age (months):

========== ================ ==========================================
unit       output field      column suffix (``pred`` / ``val_mae``)
========== ================ ==========================================
assembled  ``age``           ``""``        (A_asb, Eq. 1: the answer)
whole X    ``age_x``         ``_x``
concat C   ``age_concat``    ``_concat``
part R_i   ``age_parts[:,i]`` ``_part{i+1}`` (i = 0..M-1, by part score)
========== ================ ==========================================

The single-stage baseline has only the first two (its ``age == age_x``).
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence

import numpy as np
import pandas as pd
import torch


def unit_suffixes(num_parts: int, has_concat: bool = True, has_parts: bool = True) -> List[str]:
    """Column suffixes of the units, in the order of :func:`stack_units`."""
    s = ["", "_x"]
    if has_concat:
        s.append("_concat")
    if has_parts:
        s += [f"_part{i + 1}" for i in range(num_parts)]
    return s


def stack_units(output) -> torch.Tensor:
    """The units' predictions of one batch as one (B, U) float32 tensor (months).

    Columns follow :func:`unit_suffixes` for the fields present in ``output``.
    """
    cols = [output.age, output.age_x]
    if getattr(output, "age_concat", None) is not None:
        cols.append(output.age_concat)
    parts = getattr(output, "age_parts", None)
    out = torch.stack([c.float() for c in cols], dim=1)
    if parts is not None:
        out = torch.cat([out, parts.float()], dim=1)
    return out


def output_suffixes(output, num_parts: int) -> List[str]:
    return unit_suffixes(num_parts, getattr(output, "age_concat", None) is not None,
                         getattr(output, "age_parts", None) is not None)


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
