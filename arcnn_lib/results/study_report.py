"""Reading the committed phantom study (``results/phantom_study/``) for the book.

:func:`load_study` finds ``study.json``; the other functions turn its rows into the tables
and sentences chapters 9-11 show. Nothing here trains or evaluates: the numbers are those
:mod:`arcnn_lib.results.phantom_study` measured.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional

import numpy as np
import pandas as pd

from .study_stats import ARCNN_TRAINED

STUDY_DIR = Path("results") / "phantom_study"
#: The study's first design, trained without augmentation (kept for the record: its test
#: split was scored before augmentation was screened, see the study's README).
UNAUGMENTED_DIR = STUDY_DIR / "without_augmentation"

#: Readable names of the study's variants, in the order the tables show them.
LABELS = {
    "baseline_input": "single-stage, input size",
    "baseline_native": "single-stage, native size (bound)",
    "arcnn_paper": "AR-CNN, the paper (parts from the input, Eq. 1)",
    "arcnn_paper_fitted": "AR-CNN, parts from the input, fitted assembly",
    "arcnn_native": "AR-CNN, parts from the native copy, Eq. 1",
    "arcnn_native_fitted": "AR-CNN, parts from the native copy, fitted assembly",
    "arcnn_sepext": "AR-CNN, parts from the input, own part extractor, Eq. 1",
    "arcnn_sepext_fitted": "AR-CNN, parts from the input, own part extractor, fitted assembly",
    "arcnn_native_sepext": "AR-CNN, native parts, own part extractor, Eq. 1",
    "arcnn_native_sepext_fitted": "AR-CNN, native parts, own part extractor, fitted assembly",
    "arcnn_native_sepext_perlevel": "AR-CNN, native parts, own extractor, parts per level, "
                                    "Eq. 1",
    "arcnn_native_sepext_perlevel_fitted": "AR-CNN, native parts, own extractor, parts per "
                                           "level, fitted assembly",
    "arcnn_native_sepext_navpart": "AR-CNN, native parts, own extractor read by the "
                                   "navigator, Eq. 1",
    "arcnn_native_sepext_navpart_fitted": "AR-CNN, native parts, own extractor read by the "
                                          "navigator, fitted assembly",
}
UNIT_NAMES = {"mae": "A_asb", "mae_x": "X", "mae_concat": "C", "mae_r1": "R1",
              "mae_r2": "R2", "mae_r3": "R3"}


def load_study(root=None, folder=STUDY_DIR) -> Optional[dict]:
    """``study.json`` of ``root`` (default: ``folder`` of the repository,
    ``results/phantom_study``; :data:`UNAUGMENTED_DIR` for the first design), or None when
    absent."""
    import json

    from .reference import _find
    path = _find(root, folder, "study.json")
    if path is None:
        return None
    study = json.loads(path.read_text())
    study["root"] = str(path.parent)
    return study


def rows(study: dict) -> pd.DataFrame:
    """The study's rows as a frame (one per run, assembly and split)."""
    return pd.DataFrame(study["rows"])


def mean_sd_text(values) -> str:
    """``'12.34 ± 0.56'`` (sample sd) of the non-missing values."""
    v = np.asarray([x for x in values if x is not None and np.isfinite(x)], np.float64)
    if not len(v):
        return "n/a"
    return f"{v.mean():.2f} ± {v.std(ddof=1):.2f}" if len(v) > 1 else f"{v.mean():.2f}"


def model_label(variant: str) -> str:
    """The label of a trained variant without its assembly (", Eq. 1"), for tables whose
    rows or columns are models rather than assemblies."""
    return LABELS[variant].replace(", Eq. 1", "")


def table3(study: dict, split: str = "test") -> pd.DataFrame:
    """Table 3 of the headline regime: per variant, the assembled MAE as mean ± sd over the
    seeds, the per-seed values, and the per-seed difference to the single-stage baseline."""
    r = rows(study)
    r = r[(r["study"] == "headline") & (r["split"] == split)]
    base = r[r["variant"] == "baseline_input"].set_index("seed")["mae"]
    out = []
    for v in [v for v in LABELS if v in set(r["variant"])]:
        g = r[r["variant"] == v].set_index("seed").sort_index()
        d = (g["mae"] - base).dropna()
        out.append({"variant": v, "what": LABELS[v],
                    "paper's": "yes" if g["paper_faithful"].iloc[0] else "",
                    f"{split} MAE (months)": mean_sd_text(g["mae"]),
                    "per seed": ", ".join(f"{x:.2f}" for x in g["mae"]),
                    "minus baseline, per seed": "" if v == "baseline_input" else
                    ", ".join(f"{x:+.2f}" for x in d)})
    return pd.DataFrame(out).set_index("variant")


def table2(study: dict, variants=ARCNN_TRAINED, split: str = "test") -> pd.DataFrame:
    """Table 2: the MAE of every unit (mean ± sd over the headline seeds), one column per
    trained AR-CNN variant, plus the validation-fitted assembly as its own row."""
    r = rows(study)
    r = r[(r["study"] == "headline") & (r["split"] == split)]
    cols = {}
    for v in [v for v in variants if v in set(r["variant"])]:
        g = r[r["variant"] == v]
        col = {UNIT_NAMES[u]: mean_sd_text(g[u]) for u in UNIT_NAMES if u != "mae"}
        col["A_asb (Eq. 1)"] = mean_sd_text(g["mae"])
        col["A_asb (fitted on val)"] = mean_sd_text(r[r["variant"] == v + "_fitted"]["mae"])
        cols[model_label(v)] = col
    return pd.DataFrame(cols)


def table1(study: dict) -> pd.DataFrame:
    """Table 1: test MAE against K for the chosen training variant (the auxiliary seeds)."""
    t = pd.DataFrame(study["table1"])
    t = t.pivot_table(index="K", columns="variant", values="mae")
    t.columns = [LABELS.get(c, c) for c in t.columns]
    return t.round(2)


def per_seed(study: dict, key: str) -> List[float]:
    """The per-seed differences of one of ``study["comparisons"]``."""
    return list(study["comparisons"][key]["per_seed"])


def pointing(study: dict, variant: Optional[str] = None, split: str = "test") -> Dict[str, object]:
    """Top-1 and top-K pointing-game hit rates of a variant's headline runs (default: the
    chosen one), mean over the seeds, with the per-seed values, the chance level and the
    ceiling of the anchor grid."""
    variant = variant or study["chosen"]
    r = rows(study)
    g = r[(r["study"] == "headline") & (r["split"] == split) & (r["variant"] == variant)]
    return {"variant": variant, "top1_mean": float(g["pointing_top1"].mean()),
            "top1_per_seed": [float(x) for x in g["pointing_top1"]],
            "topk_mean": float(g["pointing_topk"].mean()),
            "chance_top1_mean": float(g["pointing_chance_top1"].mean()),
            "ceiling_top1_mean": float(g["pointing_ceiling_top1"].mean())}


def pointing_table(study: dict, split: str = "test") -> pd.DataFrame:
    """Top-1 pointing-game hit rate of every trained AR-CNN variant of the headline regime:
    one column per seed, the mean, and the ceiling of the anchor grid on the same images."""
    out = {}
    present = set(rows(study)["variant"])
    for v in [v for v in ARCNN_TRAINED if v in present]:
        p = pointing(study, v, split)
        seeds = {f"seed {s}": x for s, x in zip(study["seeds"], p["top1_per_seed"])}
        out[model_label(v)] = {
            **seeds, "mean": p["top1_mean"], "ceiling": p["ceiling_top1_mean"]}
    return pd.DataFrame(out).T.round(2)


def verdict(study: dict) -> str:
    """What the seeds support, in one paragraph, from the paired test differences."""
    c = study["comparisons"]
    chosen = study["chosen"]
    ch = c["chosen_vs_baseline_input"]
    pa = c["paper_vs_baseline_input"]
    n = len(ch["per_seed"])

    def sign_text(comp):
        d = comp["per_seed"]
        better = sum(x < 0 for x in d)
        return (f"lower in all {n} seeds" if better == n else
                f"higher in all {n} seeds" if better == 0 else
                f"lower in {better} of {n} seeds")

    head = (f"In the headline regime ({study['regime']['input_size']} px input, native copy "
            f"{study['regime']['native_size']} px), the variant chosen on the validation "
            f"split, {LABELS.get(chosen, chosen)}, has a test MAE "
            f"{sign_text(ch)} than the single-stage baseline at the same input size (mean "
            f"difference {ch['diff_mean']:+.2f} months, {ch['relative_reduction_mean']:.0%} "
            f"relative reduction). The paper's own model is {sign_text(pa)} "
            f"(mean {pa['diff_mean']:+.2f} months).")
    t = study["targets"]
    paper_loses = not any(x < 0 for x in pa["per_seed"])
    if (t["chosen_beats_baseline_every_seed"] and t["mean_reduction_at_least_15pct"]
            and paper_loses and chosen != "arcnn_paper"):
        tail = (" The seeds support the idea behind the paper's claim in this regime, "
                "attention to parts pays when the whole image cannot resolve the cues and the "
                "parts can, but not the paper's model as published: its parts are cut from "
                "the input it reads, see nothing the input lacks, and lose in every seed.")
    elif t["chosen_beats_baseline_every_seed"] and t["mean_reduction_at_least_15pct"]:
        tail = (" The seeds support the paper's claim in this regime: attention pays when the "
                "whole image cannot resolve the cues and the parts can.")
    elif t["chosen_beats_baseline_every_seed"]:
        tail = (" AR-CNN wins in every seed, but by less than the 15% the study set as its "
                "target, so the seeds support a small advantage, not the paper's size of it.")
    else:
        tail = (" The seeds do not support the claim that AR-CNN beats the single-stage "
                "network here, at this training budget.")
    return head + tail


def _top1s(study: dict, variants) -> List[float]:
    """Every seed's top-1 hit rate of the given variants (headline, test)."""
    return [x for v in variants for x in pointing(study, v)["top1_per_seed"]]


def _navigator_numbers(study: dict, chosen: Dict[str, object]) -> Dict[str, str]:
    """The pointing numbers of the chapters' prose beside the chosen variant's own
    (``chosen``, its :func:`pointing`): the ceiling of its grid, the paper's navigator, the
    variant whose lowest seed is highest (the steadiest pointer) with that seed, the lowest
    seed of all the other variants (and whether it is the chosen one), the native-parts
    models with an own extractor whose navigator reads the whole-image or the parts'
    extractor, and the anchor grid the models use beside the coarser one it replaced
    (``study["anchor_grids"]``, :func:`arcnn_lib.results.study_grid.anchor_grids`)."""
    grids = study["anchor_grids"]
    grid = next(g for g in grids if g["chosen_by_scaled_geometry"])
    former = next(g for g in grids if not g["chosen_by_scaled_geometry"])
    steady = max(ARCNN_TRAINED, key=lambda v: min(_top1s(study, (v,))))
    others = [v for v in ARCNN_TRAINED if v != steady]
    sep, nav = (pointing(study, v) for v in ("arcnn_native_sepext",
                                             "arcnn_native_sepext_navpart"))
    return {
        "estimator_and_pointer": (
            "The study's best estimator is also its steadiest pointer."
            if steady == study["chosen"].replace("_fitted", "") else
            "The study's best estimator and its steadiest pointer are different models, and "
            "the book reports both."),
        "native_sepext_top1": f"{sep['top1_mean']:.2f}",
        "native_sepext_top1_per_seed": _rates(sep),
        "navpart_top1": f"{nav['top1_mean']:.2f}", "navpart_top1_per_seed": _rates(nav),
        "navpart_failures": _failed_seeds_text(study, "arcnn_native_sepext_navpart"),
        "ceiling": f"{chosen['ceiling_top1_mean']:.2f}",
        "paper_top1": f"{pointing(study, 'arcnn_paper')['top1_mean']:.2f}",
        "steady_pointer": model_label(steady),
        "steady_top1_min": f"{min(_top1s(study, (steady,))):.2f}",
        "others_top1_min": f"{min(_top1s(study, others)):.2f}",
        "grid_stride": str(grid["stride"]), "grid_anchors": str(grid["anchors"]),
        "grid_ceiling": f"{grid['ceiling_top1']:.2f}",
        "former_stride": str(former["stride"]), "former_anchors": str(former["anchors"]),
        "former_ceiling": f"{former['ceiling_top1']:.2f}"}


def _failed_seeds_text(study: dict, variant: str, below: float = 0.5) -> str:
    """A sentence on the seeds whose navigator (top-1 rate under ``below``) never found the
    cues, with the test MAE of their best-ranked part R1 and of Eq. 1 (headline, test)."""
    r = rows(study)
    g = r[(r["study"] == "headline") & (r["split"] == "test") & (r["variant"] == variant)]
    bad = g[g["pointing_top1"] < below]
    if bad.empty:
        return (f"Its navigator points into a cue region on at least {below:.0%} of the "
                "test images in every seed.")
    seeds = ", ".join(str(int(x)) for x in bad["seed"])

    def text(col, fmt):
        return ", ".join(format(x, fmt) for x in bad[col])
    return (f"In seed {seeds} its navigator never took hold (top-1 "
            f"{text('pointing_top1', '.2f')}): the best-ranked part erred by "
            f"{text('mae_r1', '.1f')} months and Eq. 1, which gives that part a vote, by "
            f"{text('mae', '.1f')}. Training can lock the navigator onto useless boxes, and "
            "then only the fitted assembly, free to give the parts no weight, rescues the "
            "estimate.")


def _rates(point: Dict[str, object]) -> str:
    """The per-seed top-1 rates of a :func:`pointing` result, as text."""
    return ", ".join(f"{x:.2f}" for x in point["top1_per_seed"])


def _signed(values) -> str:
    return ", ".join(f"{x:+.2f}" for x in values)


def book_numbers(study: Optional[dict]) -> Dict[str, str]:
    """Every number the chapters' prose quotes from the study, formatted as text (so a copy
    without ``results/phantom_study`` still renders: every entry is then 'not available')."""
    keys = ("input", "native", "seeds", "epochs", "phantom_n", "n_test", "baseline_input",
            "baseline_native", "headroom", "headroom_per_seed", "paper", "paper_fitted",
            "native_eq1", "native_fitted", "chosen", "chosen_mae", "chosen_diff",
            "chosen_diff_per_seed", "chosen_reduction", "paper_diff", "paper_diff_per_seed",
            "native_vs_paper_per_seed", "x_gap_paper", "x_gap_native", "r1_over_x",
            "c_minus_x_native", "sepext_eq1", "sepext_fitted", "native_sepext_eq1",
            "native_sepext_fitted", "r1_over_x_sepext", "x_gap_sepext", "x_gap_native_sepext",
            "c_minus_x_native_sepext", "perlevel_eq1", "perlevel_fitted", "top1",
            "top1_per_seed", "topk", "chance", "ceiling", "paper_top1", "grid_stride",
            "grid_anchors", "grid_ceiling", "former_stride", "former_anchors",
            "former_ceiling", "steady_pointer", "steady_top1_min", "others_top1_min",
            "navpart_eq1", "navpart_fitted", "navpart_top1", "navpart_top1_per_seed",
            "native_sepext_top1", "native_sepext_top1_per_seed", "estimator_and_pointer",
            "navpart_failures", "memory_ratio",
            "throughput_ratio", "samples_input", "samples_native", "wall_minutes",
            "median_mae", "aux_seeds", "table1_k", "map_native")
    if study is None:
        return {k: "not available" for k in keys}
    r = rows(study)
    head = r[(r["study"] == "headline") & (r["split"] == "test")]
    c = study["comparisons"]

    def ms(v):
        return mean_sd_text(head[head["variant"] == v]["mae"])

    hr = c["headroom_baseline_native_vs_input"]
    ch, pa = c["chosen_vs_baseline_input"], c["paper_vs_baseline_input"]
    gaps = study["gaps"]
    point = pointing(study)
    cost = study["native_cost"]
    r1x = gaps["arcnn_native"]["r1_over_x_per_seed"] + gaps["arcnn_paper"]["r1_over_x_per_seed"]
    r1x_own = (gaps["arcnn_sepext"]["r1_over_x_per_seed"]
               + gaps["arcnn_native_sepext"]["r1_over_x_per_seed"])
    return {
        "input": str(study["regime"]["input_size"]), "native": str(study["regime"]["native_size"]),
        "seeds": str(len(study["seeds"])), "epochs": str(study["epochs"]),
        "phantom_n": f"{study['phantom']['n']:,}", "n_test": str(int(head["n"].iloc[0])),
        "baseline_input": ms("baseline_input"), "baseline_native": ms("baseline_native"),
        "headroom": f"{-hr['diff_mean']:.2f}", "headroom_per_seed": _signed(hr["per_seed"]),
        "paper": ms("arcnn_paper"), "paper_fitted": ms("arcnn_paper_fitted"),
        "native_eq1": ms("arcnn_native"), "native_fitted": ms("arcnn_native_fitted"),
        "chosen": LABELS.get(study["chosen"], study["chosen"]),
        "chosen_mae": ms(study["chosen"]), "chosen_diff": f"{ch['diff_mean']:+.2f}",
        "chosen_diff_per_seed": _signed(ch["per_seed"]),
        "chosen_reduction": f"{ch['relative_reduction_mean']:.0%}",
        "paper_diff": f"{pa['diff_mean']:+.2f}", "paper_diff_per_seed": _signed(pa["per_seed"]),
        "native_vs_paper_per_seed": _signed(c["native_vs_paper"]["per_seed"]),
        "x_gap_paper": _signed(gaps["arcnn_paper"]["x_minus_baseline_per_seed"]),
        "x_gap_native": _signed(gaps["arcnn_native"]["x_minus_baseline_per_seed"]),
        "r1_over_x": f"{min(r1x):.1f} to {max(r1x):.1f}",
        "r1_over_x_sepext": f"{min(r1x_own):.1f} to {max(r1x_own):.1f}",
        "c_minus_x_native": _signed(gaps["arcnn_native"]["c_minus_x_per_seed"]),
        "sepext_eq1": ms("arcnn_sepext"), "sepext_fitted": ms("arcnn_sepext_fitted"),
        "native_sepext_eq1": ms("arcnn_native_sepext"),
        "native_sepext_fitted": ms("arcnn_native_sepext_fitted"),
        "x_gap_sepext": _signed(gaps["arcnn_sepext"]["x_minus_baseline_per_seed"]),
        "x_gap_native_sepext": _signed(
            gaps["arcnn_native_sepext"]["x_minus_baseline_per_seed"]),
        "c_minus_x_native_sepext": _signed(gaps["arcnn_native_sepext"]["c_minus_x_per_seed"]),
        "top1": f"{point['top1_mean']:.2f}",
        "top1_per_seed": _rates(point),
        "perlevel_eq1": ms("arcnn_native_sepext_perlevel"),
        "perlevel_fitted": ms("arcnn_native_sepext_perlevel_fitted"),
        "navpart_eq1": ms("arcnn_native_sepext_navpart"),
        "navpart_fitted": ms("arcnn_native_sepext_navpart_fitted"),
        "topk": f"{point['topk_mean']:.2f}", "chance": f"{point['chance_top1_mean']:.2f}",
        **_navigator_numbers(study, point),
        "memory_ratio": f"{cost['memory_ratio']:.0f}",
        "throughput_ratio": f"{cost['throughput_ratio']:.2f}",
        "samples_input": f"{cost['input_samples_per_s']:.0f}",
        "samples_native": f"{cost['native_samples_per_s']:.0f}",
        "wall_minutes": f"{study['wall_seconds'] / 60:.0f}",
        "median_mae": f"{head['median_mae'].mean():.1f}",
        "aux_seeds": ", ".join(map(str, study["aux_seeds"])),
        "table1_k": ", ".join(str(int(k)) for k in sorted({t["K"] for t in study["table1"]})),
        "map_native": ", ".join(str(m["native_size"]) for m in study["regime_map"]),
    }


def _last_epoch(study: dict, variant: str) -> Optional[pd.Series]:
    """The last row of the first seed's ``history_<variant>_seed<s>.csv``, or None."""
    path = Path(study["root"]) / f"history_{variant}_seed{study['seeds'][0]}.csv"
    return pd.read_csv(path).iloc[-1] if path.is_file() else None


def augmentation_numbers(study: Optional[dict], earlier: Optional[dict]) -> Dict[str, str]:
    """What training with augmentation changed, as text: the first design's (``earlier``, no
    augmentation) chosen variant with its relative and per-seed test difference against the
    baseline (:func:`book_numbers` gives the current ones), and the baseline's training and
    validation MAE at the last epoch of the first seed in both designs (the training MAE is
    on the batches as trained, augmented or not)."""
    keys = ("earlier_chosen", "earlier_reduction", "earlier_diff_per_seed", "earlier_train",
            "earlier_val", "train", "val")
    if study is None or earlier is None:
        return {k: "not available" for k in keys}
    ch = earlier["comparisons"]["chosen_vs_baseline_input"]
    out = {"earlier_chosen": LABELS.get(earlier["chosen"], earlier["chosen"]),
           "earlier_reduction": f"{ch['relative_reduction_mean']:.0%}",
           "earlier_diff_per_seed": _signed(ch["per_seed"])}
    for prefix, s in (("earlier_", earlier), ("", study)):
        last = _last_epoch(s, "baseline_input")
        out[prefix + "train"] = "not available" if last is None else f"{last['train_mae']:.1f}"
        out[prefix + "val"] = "not available" if last is None else f"{last['val_mae']:.1f}"
    return out
