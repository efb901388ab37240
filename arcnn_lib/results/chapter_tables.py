"""Small tables and sentences of the book's results chapters (Tables 1-3, chapters 9-10).

Each source of a table gets a frame of its own: the paper's (:func:`.tables.paper_tables`),
the phantom study's (:mod:`.study_report`), the real-data reference's (the functions
below, from :class:`.reference.ReferenceResults`) and the live run's (from
:func:`arcnn_lib.evaluation.evaluator.evaluate` metrics). Sources differ in data,
resolution, backbone and budget, so no function here puts two of them in one table.
Numbers are MAE in months; a missing value reads :data:`.tables.NOT_AVAILABLE`.
"""
from __future__ import annotations

from typing import Dict, Mapping, Optional, Sequence

import numpy as np
import pandas as pd

from .ablation import paired
from .paper import PAPER_TABLE1
from .study_report import pointing
from .tables import fmt, pooled_mae, sex_metrics, unit_maes, unit_names

SEXES = ("male", "female")
WHO = {"male": "boys", "female": "girls", "all": "all"}


def _ref_metrics(ref, name: str) -> Optional[dict]:
    return ref.metrics(name) if ref is not None else None


# ----------------------------------------------------------------------------- Tables 1, 2
def paper_k_maes() -> Dict[str, float]:
    """The paper's Table 1 (boys' test MAE per K), keyed ``"K = k"``."""
    return {f"K = {k}": v for k, v in PAPER_TABLE1.items()}


def reference_k_maes(ref, ks: Sequence[int] = (1, 2, 3, 4)) -> Dict[str, Optional[float]]:
    """Boys' test MAE of the reference runs ``arcnn_male_k{K}``, keyed ``"K = k"``."""
    return {f"K = {k}": (sex_metrics(_ref_metrics(ref, f"arcnn_male_k{k}"), "male")
                         or {}).get("mae") for k in ks}


def column_table(values: Mapping[str, object], column: str, index_name: str) -> pd.DataFrame:
    """A one-column table of formatted cells (``values``: ``{row: number or None}``)."""
    t = pd.DataFrame({column: {r: fmt(v) for r, v in values.items()}})
    t.index.name = index_name
    return t


def best_k_sentence(name: str, maes: Mapping[str, Optional[float]]) -> str:
    """Which K has the lowest MAE in one source, and the highest MAE, in one sentence."""
    vals = {r: v for r, v in maes.items() if v is not None}
    if not vals:
        return f"The {name} values are not available in this copy."
    best, worst = min(vals, key=vals.get), max(vals, key=vals.get)
    same = "the paper's K = 3" if best == "K = 3" else "not the paper's K = 3"
    return (f"In the {name} the lowest MAE is at {best} ({vals[best]:.2f} months, the highest "
            f"{vals[worst]:.2f} at {worst}): {same}.")


def per_sex_units(metrics_by_sex: Mapping[str, Optional[Mapping]], k: int
                  ) -> Dict[str, Dict[str, Optional[float]]]:
    """``{sex: {unit: MAE}}`` (units of :func:`.tables.unit_names`) from per-sex metrics."""
    return {sex: unit_maes(m, k) for sex, m in metrics_by_sex.items()}


def reference_units(ref, k: int = 3) -> Dict[str, Dict[str, Optional[float]]]:
    """Per-unit MAE of the reference runs ``arcnn_{sex}_k{k}`` (one model per sex)."""
    return per_sex_units({s: sex_metrics(_ref_metrics(ref, f"arcnn_{s}_k{k}"), s)
                          for s in SEXES}, k)


def live_units(metrics: Mapping, k: int) -> Dict[str, Dict[str, Optional[float]]]:
    """Per-unit MAE of one live model on the boys and on the girls of its test split."""
    return per_sex_units({s: sex_metrics(metrics, s) for s in SEXES}, k)


def units_table(per_sex: Mapping[str, Mapping[str, Optional[float]]], k: int) -> pd.DataFrame:
    """Table 2 of one source: a row per unit, a column per sex, formatted."""
    t = pd.DataFrame({WHO[s]: {u: fmt(per_sex[s].get(u)) for u in unit_names(k)}
                      for s in per_sex})
    t.index.name = "unit"
    return t


def assembly_sentence(name: str, per_sex: Mapping[str, Mapping[str, Optional[float]]]) -> str:
    """Does A_asb beat every single unit, per sex, in one source? One sentence."""
    out = []
    for sex, u in per_sex.items():
        singles = {n: v for n, v in u.items() if n != "A_asb" and v is not None}
        if u.get("A_asb") is None or not singles:
            continue
        best = min(singles, key=singles.get)
        a, b = u["A_asb"], singles[best]
        out.append(f"for the {WHO[sex]} A_asb ({a:.2f}) beats every single unit (best: "
                   f"{best}, {b:.2f})" if a < b else
                   f"for the {WHO[sex]} the single unit {best} ({b:.2f}) beats A_asb "
                   f"({a:.2f})")
    if not out:
        return f"The {name} values are not available in this copy."
    return f"In the {name}, " + "; ".join(out) + "."


# ------------------------------------------------------------------------------ Table 3
def reference_table3(ref) -> Dict[str, Dict[str, Optional[float]]]:
    """Table 3 of the reference runs: ``{median | baseline | arcnn: {male, female, all}}``.

    ``all`` is the n-weighted MAE of the two per-sex models (:func:`.tables.pooled_mae`);
    ``median`` is the floor of each AR-CNN run (the median of its own training images).
    """
    def per_sex(model: str, key: str) -> Dict[str, Optional[float]]:
        ms = {s: _ref_metrics(ref, f"arcnn_{s}_k3" if model == "arcnn" else f"{model}_{s}")
              for s in SEXES}
        vals = {s: (m or {}).get(key) for s, m in ms.items()}
        vals["all"] = pooled_mae([(vals[s], (ms[s] or {}).get("n")) for s in SEXES])
        return vals

    return {"median": per_sex("arcnn", "median_baseline_mae"),
            "baseline": per_sex("baseline", "mae"), "arcnn": per_sex("arcnn", "mae")}


def live_table3(metrics: Mapping[str, Mapping], floor: Mapping[str, float]
                ) -> Dict[str, Dict[str, Optional[float]]]:
    """Table 3 of the live runs from their metrics (``{"baseline": m, "arcnn": m}``) and
    the median predictor's MAE ``floor`` (``{male, female, all}``)."""
    def sexes(m):
        return {s: (m if s == "all" else m[s]).get("mae") for s in (*SEXES, "all")}

    return {"median": dict(floor), "baseline": sexes(metrics["baseline"]),
            "arcnn": sexes(metrics["arcnn"])}


#: Row names of a Table 3 frame, for the keys of :func:`reference_table3`.
TABLE3_ROWS = {"median": "median predictor (floor)", "baseline": "single-stage baseline",
               "arcnn": "AR-CNN (K = 3)"}


def table3_frame(maes: Mapping[str, Mapping[str, Optional[float]]]) -> pd.DataFrame:
    """Table 3 of one source: a row per predictor, a column per sex and overall."""
    t = pd.DataFrame({WHO[s]: {TABLE3_ROWS[k]: fmt(maes[k].get(s)) for k in TABLE3_ROWS}
                      for s in (*SEXES, "all")})
    t.index.name = "MAE (months)"
    return t


def compare_sentence(name: str, maes: Mapping[str, Mapping[str, Optional[float]]]) -> str:
    """Which of AR-CNN and the baseline is more accurate over both sexes, in one source."""
    b, a = maes["baseline"]["all"], maes["arcnn"]["all"]
    if a is None or b is None:
        return f"The {name} values are not available in this copy."
    verdict = ("AR-CNN is more accurate than the baseline" if a < b
               else "the baseline is more accurate than AR-CNN")
    return (f"In the {name} {verdict}: over both sexes AR-CNN scores {a:.2f} months and the "
            f"baseline {b:.2f}, against {maes['median']['all']:.2f} for the median predictor.")


def targets_sentence(study: Optional[Mapping]) -> str:
    """The phantom study's own targets, met or not, from ``study["targets"]``."""
    if study is None:
        return "The study's targets cannot be checked in this copy."
    t = study["targets"]
    met = sum(bool(t[k]) for k in ("chosen_beats_baseline_every_seed",
                                   "mean_reduction_at_least_15pct",
                                   "pointing_top1_at_least_0.9"))
    beats = "beats" if t["chosen_beats_baseline_every_seed"] else "does not beat"
    return (f"Against the study's own targets the chosen variant {beats} the baseline in "
            f"every seed, its mean reduction of the error is {t['mean_reduction']:.0%} "
            f"(target: at least 15%), and its navigator's top-1 pointing-game hit rate is "
            f"{t['pointing_top1_mean']:.2f} (target: 0.9): {met} of the 3 targets met. The "
            f"paper-faithful model's navigator, on the same anchor grid, has a top-1 rate of "
            f"{pointing(study, 'arcnn_paper')['top1_mean']:.2f}.")


def live_against_study(study: Optional[Mapping], live_diff: float, live_size: int) -> str:
    """How the live AR-CNN-minus-baseline difference (months, one seed, input ``live_size``
    px) stands to the paired seeds of the study's paper-faithful AR-CNN."""
    if study is None:
        return "Without the study's files the live run stands alone."
    d = study["comparisons"]["paper_vs_baseline_input"]["per_seed"]
    wins = sum(x < 0 for x in d)
    live = "lower" if live_diff < 0 else "higher"
    head = (f"The live pair, one seed, has AR-CNN's error {live} than the baseline's "
            f"({live_diff:+.2f} months)")
    if (wins == len(d) and live_diff < 0) or (wins == 0 and live_diff > 0):
        return (f"{head}, the direction of every seed of the study's paper-faithful "
                "AR-CNN: the live pair does not contradict the study.")
    return (f"{head}, while in the study the paper's AR-CNN is lower in {wins} of {len(d)} "
            f"seeds. One seed cannot overrule paired seeds, and the two differ in regime: "
            f"the live model reads the phantom at {live_size} px, the study at "
            f"{study['regime']['input_size']} px with {study['epochs']} epochs, so the "
            "study's verdict stands.")


# ------------------------------------------------------------------------------ ablations
def effect(rows: pd.DataFrame, variant: str, unit: str = "A_asb",
           against: str = "arcnn") -> str:
    """``'lower in all 3 seeds (mean -0.71 months)'``, or how many seeds when mixed."""
    d = paired(rows, variant, unit, against) if len(rows) else pd.Series(dtype=float)
    if d.empty:
        return "not measured in this copy"
    n = len(d)
    word = (f"lower in all {n} seeds" if (d < 0).all() else
            f"higher in all {n} seeds" if (d > 0).all() else
            f"lower in {int((d < 0).sum())} of {n} seeds")
    return f"{word} (mean {d.mean():+.2f} months)"


def ablation_table(rows: pd.DataFrame, units: Sequence[str]) -> pd.DataFrame:
    """Mean and sd over the seeds of each unit, per variant, with the paired difference
    of A_asb to the default ``arcnn`` (mean and per seed)."""
    t = rows.groupby("variant", sort=False)[list(units)].agg(["mean", "std"]).round(2)
    if rows.empty:
        return t
    t[("A_asb - arcnn", "mean")] = [0.0 if v == "arcnn" else round(paired(rows, v).mean(), 2)
                                    for v in t.index]
    t[("A_asb - arcnn", "per seed")] = [
        "" if v == "arcnn" else ", ".join(f"{d:+.2f}" for d in paired(rows, v))
        for v in t.index]
    return t


def ablation_sentence(rows: pd.DataFrame) -> str:
    """What each ablation variant changes against the default, in one paragraph."""
    def e(*args, **kw):
        return effect(rows, *args, **kw)
    return (f"With the paper's shared statistics the validation MAE of A_asb is "
            f"{e('arcnn_shared_stats')} than with separate ones, and that of the whole-image "
            f"unit A_X {e('arcnn_shared_stats', 'X')}. Without gradient clipping A_asb is "
            f"{e('arcnn_no_clip')}. With two parts from every anchor scale it is "
            f"{e('arcnn_parts_per_level')}, and the best-ranked part unit R1 "
            f"{e('arcnn_parts_per_level', 'R1')}. The baseline's MAE is {e('baseline')} "
            f"than AR-CNN's A_asb, and {e('baseline', 'X')} than AR-CNN's own A_X.")


def part_sentence(rows: pd.DataFrame, live: Mapping) -> str:
    """C against X and R1 against X on rsna100 (the ablation's ``arcnn`` seeds, validation)
    and on the phantom (the live metrics ``live``, test split), in one sentence."""
    nan = float("nan")
    ar = rows[rows["variant"] == "arcnn"] if len(rows) else rows
    c_real = float((ar["C"] - ar["X"]).mean()) if len(ar) else nan
    r1_real = float((ar["R1"] - ar["X"]).mean()) if len(ar) else nan
    c_ph = live["mae_concat"] - live["mae_x"]
    r1_ph = live["mae_parts"][0] - live["mae_x"]

    def change(gap):
        return ("is not measured in this copy" if gap != gap else
                f"{'lowers' if gap < 0 else 'raises'} the MAE by {abs(gap):.2f} months")

    def versus(gap):
        return ("not measured in this copy" if gap != gap else
                f"{abs(gap):.2f} months {'worse' if gap > 0 else 'better'} than the "
                "whole-image unit X")
    return (f"Adding the parts' features to the whole image's (the concatenation C against X) "
            f"{change(c_real)} on the rsna100 validation images (mean over the seeds of "
            f"`arcnn`) and {change(c_ph)} on the phantom's test images (chapter 8's model). "
            f"The best-ranked part unit R1 on its own is {versus(r1_real)} on rsna100, and "
            f"{versus(r1_ph)} on the phantom.")


def part_scales(pred: pd.DataFrame, k: int, scales: Sequence[float]) -> np.ndarray:
    """The anchor scale nearest to the side sqrt(w h) of each of the top-``k`` parts of
    every row of a predictions frame: (N * k,) values of ``scales``."""
    sides = np.concatenate([np.sqrt((pred[f"part{i}_x2"] - pred[f"part{i}_x1"])
                                    * (pred[f"part{i}_y2"] - pred[f"part{i}_y1"]))
                            for i in range(1, k + 1)])
    s = np.asarray(scales, np.float64)
    return s[np.abs(sides[:, None] - s).argmin(axis=1)]
