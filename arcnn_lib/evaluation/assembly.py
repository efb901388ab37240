"""Assembling the units' estimates: the paper's Eq. 1, and weights fitted on validation.

Eq. 1 gives every unit the same vote: A_asb = (A_C + A_X + sum_{i <= K} A_{R_i}) / (K + 2).
When some units are much worse than others (parts that see too little, a whole image read at
too low a resolution) an equal vote pulls the answer towards the worse ones. The extension
here fits one weight per unit on the **validation** predictions of a trained model,
non-negative and summing to one (a convex combination, so it can never leave the range the
units span), by least squares; the test split is then assembled with those weights. Eq. 1 is
the special case of equal weights and is always reported beside it.

Units are the columns ``pred_concat``, ``pred_x``, ``pred_part1`` .. ``pred_partK`` of a
predictions frame (:mod:`arcnn_lib.evaluation.evaluator`), in that order.
"""
from __future__ import annotations

from typing import List

import numpy as np
import pandas as pd


def unit_columns(num_concat: int) -> List[str]:
    """The K + 2 columns Eq. 1 averages: C, X and the K best-scored parts."""
    return ["pred_concat", "pred_x"] + [f"pred_part{i + 1}" for i in range(num_concat)]


def _units(frame: pd.DataFrame, num_concat: int) -> np.ndarray:
    cols = unit_columns(num_concat)
    missing = [c for c in cols if c not in frame]
    if missing:
        raise ValueError(f"predictions lack the unit columns {missing} (an AR-CNN frame with "
                         f"K = {num_concat} is needed)")
    return frame[cols].to_numpy(np.float64)                              # (N, K + 2)


def eq1_weights(num_concat: int) -> np.ndarray:
    """(K + 2,) the paper's equal weights 1 / (K + 2)."""
    return np.full(num_concat + 2, 1.0 / (num_concat + 2))


def fit_weights(frame: pd.DataFrame, num_concat: int, ridge: float = 1e-6) -> np.ndarray:
    """(K + 2,) convex weights minimising the squared error of the assembled age on ``frame``
    (meant: the validation split).

    Solves min ||U w - y||^2 subject to sum(w) = 1 by its KKT system (with a tiny ridge, the
    units are strongly correlated); a unit whose weight comes out negative is dropped and the
    rest refitted, until all weights are >= 0 (an active-set method, at most K + 2 rounds).
    """
    u = _units(frame, num_concat)
    y = frame["boneage"].to_numpy(np.float64)
    if len(y) < u.shape[1]:
        raise ValueError(f"need at least {u.shape[1]} rows to fit {u.shape[1]} weights, got "
                         f"{len(y)}")
    active = np.ones(u.shape[1], bool)
    while True:
        a = u[:, active]
        n = a.shape[1]
        gram = a.T @ a / len(y)
        gram += ridge * np.trace(gram) / n * np.eye(n)
        kkt = np.block([[2 * gram, np.ones((n, 1))], [np.ones((1, n)), np.zeros((1, 1))]])
        rhs = np.concatenate([2 * a.T @ y / len(y), [1.0]])
        w_active = np.linalg.solve(kkt, rhs)[:n]
        if (w_active >= 0).all():
            w = np.zeros(u.shape[1])
            w[active] = w_active
            return w
        idx = np.flatnonzero(active)
        active[idx[np.argmin(w_active)]] = False


def assemble(frame: pd.DataFrame, weights: np.ndarray, num_concat: int) -> np.ndarray:
    """(N,) the assembled age sum_u w_u A_u of every row; ``weights`` (K + 2,)."""
    w = np.asarray(weights, np.float64)
    if w.shape != (num_concat + 2,):
        raise ValueError(f"weights must have K + 2 = {num_concat + 2} entries, got {w.shape}")
    return _units(frame, num_concat) @ w


def assembled_mae(frame: pd.DataFrame, weights: np.ndarray, num_concat: int) -> float:
    """MAE (months) of :func:`assemble` against ``boneage``."""
    err = assemble(frame, weights, num_concat) - frame["boneage"].to_numpy(np.float64)
    return float(np.abs(err).mean())
