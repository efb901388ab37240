"""The phantom study's statistics: means, paired per-seed differences, the choice on the
validation split, the gaps, the targets, Table 1 and the regime map, all from the study's
rows (one per run and split, :func:`arcnn_lib.results.phantom_study.rows_of`)."""
from __future__ import annotations

from typing import Dict, List, Sequence

import numpy as np
import pandas as pd

#: The units of a study row: Eq. 1 (or the fitted assembly), X, C and the top-3 parts.
UNITS = ("mae", "mae_x", "mae_concat", "mae_r1", "mae_r2", "mae_r3")
#: K of the headline runs (the paper's best).
NUM_CONCAT = 3
#: The AR-CNN training variants of the headline regime.
ARCNN_TRAINED = ("arcnn_paper", "arcnn_native", "arcnn_sepext", "arcnn_native_sepext",
                 "arcnn_native_sepext_perlevel", "arcnn_native_sepext_navpart")
#: Each AR-CNN training variant's twin with parts from the native copy (the regime map's
#: AR-CNN at a native size above the input) and with parts from the input (at native = input).
NATIVE_TWIN = {"arcnn_paper": "arcnn_native", "arcnn_native": "arcnn_native",
               "arcnn_sepext": "arcnn_native_sepext",
               "arcnn_native_sepext": "arcnn_native_sepext",
               "arcnn_native_sepext_perlevel": "arcnn_native_sepext_perlevel",
               "arcnn_native_sepext_navpart": "arcnn_native_sepext_navpart"}
INPUT_TWIN = {"arcnn_paper": "arcnn_paper", "arcnn_native": "arcnn_paper",
              "arcnn_sepext": "arcnn_sepext", "arcnn_native_sepext": "arcnn_sepext",
              "arcnn_native_sepext_perlevel": "arcnn_sepext_perlevel",
              "arcnn_native_sepext_navpart": "arcnn_sepext_navpart"}


def regime_name(input_size: int, native_size: int) -> str:
    return f"input{input_size}_native{native_size}"


def mean_sd(values) -> dict:
    """Mean, sample sd and count of the values that are not None."""
    v = np.asarray([x for x in values if x is not None], np.float64)
    return {"mean": float(v.mean()) if len(v) else None,
            "sd": float(v.std(ddof=1)) if len(v) > 1 else None, "n": int(len(v))}


def summarise(rows: pd.DataFrame) -> dict:
    """Mean and sample sd of every unit per (variant, split)."""
    out = {}
    for (variant, split), g in rows.groupby(["variant", "split"], sort=False):
        out.setdefault(variant, {})[split] = {u: mean_sd(g[u].tolist()) for u in UNITS
                                              if g[u].notna().any()}
    return out


def paired(rows: pd.DataFrame, a: str, b: str, split: str, col: str = "mae") -> dict:
    """Per-seed ``a - b`` of ``col`` on ``split`` (same seed, same split), and the
    relative reduction ``1 - a / b`` per seed."""
    g = rows[rows["split"] == split].set_index(["variant", "seed"])[col]
    seeds = sorted(set(g.loc[a].index) & set(g.loc[b].index))
    d = [float(g.loc[(a, s)] - g.loc[(b, s)]) for s in seeds]
    rel = [float(1 - g.loc[(a, s)] / g.loc[(b, s)]) for s in seeds]
    return {"a": a, "b": b, "split": split, "seeds": seeds, "per_seed": d,
            "relative_reduction_per_seed": rel, **{f"diff_{k}": v for k, v in
                                                  mean_sd(d).items()},
            "relative_reduction_mean": float(np.mean(rel)) if rel else None,
            "a_better_in_every_seed": bool(d) and all(x < 0 for x in d)}


def choose(rows: pd.DataFrame) -> str:
    """The AR-CNN variant with the lowest mean validation MAE (headline runs only)."""
    val = rows[(rows["split"] == "val") & (rows["model"] == "arcnn")
               & (rows["study"] == "headline")]
    return str(val.groupby("variant")["mae"].mean().idxmin())


def comparisons(headline: pd.DataFrame, chosen: str) -> Dict[str, dict]:
    """The paired test-split comparisons the book draws its conclusions from."""
    return {
        "chosen_vs_baseline_input": paired(headline, chosen, "baseline_input", "test"),
        "paper_vs_baseline_input": paired(headline, "arcnn_paper", "baseline_input", "test"),
        "native_vs_paper": paired(headline, "arcnn_native", "arcnn_paper", "test"),
        "chosen_vs_paper": paired(headline, chosen, "arcnn_paper", "test"),
        "headroom_baseline_native_vs_input": paired(headline, "baseline_native",
                                                    "baseline_input", "test"),
    }


def gaps(headline: pd.DataFrame) -> Dict[str, dict]:
    """Gap (b), X inside AR-CNN against the baseline, and gap (c), the parts against X, per
    seed on the test split."""
    out = {}
    test = headline[headline["split"] == "test"]
    b = test[test["variant"] == "baseline_input"].set_index("seed")
    for v in [v for v in ARCNN_TRAINED if v in set(test["variant"])]:
        g = test[test["variant"] == v].set_index("seed")
        out[v] = {"x_minus_baseline_per_seed": (g["mae_x"] - b["mae"]).tolist(),
                  "r1_over_x_per_seed": (g["mae_r1"] / g["mae_x"]).tolist(),
                  "c_minus_x_per_seed": (g["mae_concat"] - g["mae_x"]).tolist(),
                  "A_asb_minus_x_per_seed": (g["mae"] - g["mae_x"]).tolist()}
    return out


def targets(headline: pd.DataFrame, chosen: str, comparison: dict) -> dict:
    """The issue's targets: the chosen variant beats the baseline in every seed by >= 15 % on
    average, and its navigator's top-1 pointing hit rate is >= 0.9."""
    test = headline[(headline["variant"] == chosen) & (headline["split"] == "test")]
    red = comparison["relative_reduction_mean"]
    return {
        "chosen_beats_baseline_every_seed": comparison["a_better_in_every_seed"],
        "mean_reduction": red,
        "mean_reduction_at_least_15pct": bool(red is not None and red >= 0.15),
        "pointing_top1_mean": float(test["pointing_top1"].mean()),
        "pointing_top1_at_least_0.9": bool(test["pointing_top1"].mean() >= 0.9),
    }


def table1(frame: pd.DataFrame, chosen_trained: str, seeds: Sequence[int]) -> List[dict]:
    """Test MAE per K of the chosen training variant (its headline K = 3 run included)."""
    t1 = frame[(frame["trained_as"] == chosen_trained) & (frame["split"] == "test")
               & frame["study"].isin(["headline", "table1"]) & frame["seed"].isin(seeds)]
    return [{"variant": variant, "K": int(k), **{u: float(g[u].mean()) for u in UNITS},
             "seeds": sorted(int(s) for s in g["seed"])}
            for (variant, k), g in t1.groupby(["variant", "num_concat"])]


def regime_map(frame: pd.DataFrame, chosen: str, input_size: int, native_sizes: Sequence[int],
               headline_native: int, seeds: Sequence[int]) -> List[dict]:
    """One row per native size (the input size first: the paper's own model): the baseline,
    AR-CNN with Eq. 1 and with the chosen assembly, and the winner."""
    test = frame[(frame["split"] == "test") & frame["seed"].isin(seeds)]
    head = regime_name(input_size, headline_native)
    suffix = "_fitted" if chosen.endswith("_fitted") else ""
    base = float(test[(test["regime"] == head) & (test["variant"] == "baseline_input")]
                 ["mae"].mean())
    rows = []
    for n in [input_size] + list(native_sizes):
        twin = INPUT_TWIN if n == input_size else NATIVE_TWIN
        trained = twin[chosen.replace("_fitted", "")]
        sel = test[(test["regime"] == (head if n == input_size else regime_name(input_size, n)))
                   & test["study"].isin(["headline", "regime_map"])]

        def m(v):
            s = sel[sel["variant"] == v]["mae"]
            return float(s.mean()) if len(s) else None

        bn = m("baseline_native") if n == headline_native else (
            m("baseline_input") if n == input_size else None)
        row = {"input_size": input_size, "native_size": n, "baseline_input": base,
               "baseline_native": bn, "arcnn_eq1": m(trained), "arcnn_chosen": m(trained + suffix)}
        best = min((v for v in ("baseline_input", "arcnn_eq1", "arcnn_chosen")
                    if row[v] is not None), key=lambda v: row[v])
        row["winner"] = "baseline" if best == "baseline_input" else "arcnn"
        rows.append(row)
    return rows
