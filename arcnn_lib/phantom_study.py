"""When does part attention pay? The controlled phantom study (Tables 1-3, Figs. 2-3).

::

    python -m arcnn_lib.phantom_study --out results/phantom_study --work runs/phantom_study
    python -m arcnn_lib.phantom_study --tiny --out /tmp/study --work /tmp/study_runs   # CI

The regime. On real radiographs the paper reads the whole hand at 448 px, where the growth
plates are a pixel or two wide, and its parts are 224 px crops that magnify them. The
phantom of :mod:`arcnn_lib.data.phantom` is drawn at 256 px. The study keeps a **native
copy** of each image at ``--native-size`` (128) and reads the whole image at ``--input-size``
(64, the paper's geometry scaled by :func:`arcnn_lib.config._scaled_geometry`), where the
cues are below a pixel. The headroom is measured by the same single-stage network at the
input size and at the native size (an upper bound for what zooming can recover).

The runs (one split, ``--split-seed``; every seed changes the initial weights, the batch
order and the augmentation, not the split; all runs ``sex="all"``, K = 3, ``--epochs``):

=====================  ===========================================================  =======
variant                what it is                                                   faithful
=====================  ===========================================================  =======
``baseline_input``     single-stage network at the input size (Table 3's rival)      yes
``baseline_native``    the same network at the native size (the headroom's bound)    no
``arcnn_paper``        AR-CNN, parts cut from the input (the paper), Eq. 1           yes
``arcnn_native``       parts cut from the native copy (``part_source="native"``)     no
``*_fitted``           the same trained model, units assembled with weights fitted   no
                       on the validation split (:mod:`arcnn_lib.assembly`)
=====================  ===========================================================  =======

``chosen`` is the AR-CNN variant with the lowest mean **validation** MAE over the seeds;
the test split is scored once, after every run has finished, and nothing is chosen from it.
With the chosen training variant the study then runs Table 1 (K in ``--table1-k``) and the
regime map (native size in ``--map-native``; native = input is the paper's model) with the
seeds ``--aux-seeds`` (fewer: a coarse picture, and the book says so).

Written to ``--out``: ``study.json`` (``headline_regime``, ``chosen``, ``rows`` -- one per
run and split with ``variant``, ``model``, ``paper_faithful``, ``regime``, ``seed``,
``split``, ``mae``, the per-unit MAEs and ``input_size`` --, the summary as mean +- sd, the
paired per-seed differences, the headroom, Table 1, the regime map, the pointing game, the
cost of native crops, the targets, the command and provenance), ``study.csv`` (the rows),
``predictions_<variant>_seed<s>.csv`` (test predictions of the first seed, for Fig. 2),
``history_<variant>_seed<s>.csv`` (its runs' per-epoch validation MAE of every unit),
``regime_map.png`` and ``fig3_native_parts.png``. Run folders go to ``--work``.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np
import pandas as pd

from .assembly import assembled_mae, eq1_weights, fit_weights
from .engine_utils import git_commit, provenance

#: Training variant -> (model kind, paper-faithful, overrides as a function of the regime).
TRAINED = {
    "baseline_input": ("baseline", True, lambda r: {"image_size": r["input_size"]}),
    "baseline_native": ("baseline", False, lambda r: {"image_size": r["native_size"]}),
    "arcnn_paper": ("arcnn", True, lambda r: {"image_size": r["input_size"]}),
    "arcnn_native": ("arcnn", False, lambda r: {
        "image_size": r["input_size"], "part_source": "native",
        "native_size": r["native_size"]}),
}
ARCNN_TRAINED = ("arcnn_paper", "arcnn_native")
UNITS = ("mae", "mae_x", "mae_concat", "mae_r1", "mae_r2", "mae_r3")
NUM_CONCAT = 3


def regime_name(input_size: int, native_size: int) -> str:
    return f"input{input_size}_native{native_size}"


# ---------------------------------------------------------------------------- one run
def run_job(job: dict) -> dict:
    """Train one model and predict its validation and test splits (picklable: one process).

    ``job``: ``variant``, ``seed``, ``regime`` (dict: name, input_size, native_size),
    ``num_concat``, ``train`` (common TrainConfig fields), ``out``.
    Returns the job, ``seconds`` (training), ``epochs``, and per split the predictions
    frame and the pointing-game result (AR-CNN only).
    """
    from .evaluate import evaluate
    from .train import TrainConfig, train
    kind, _, over = TRAINED[job["variant"]]
    regime = job["regime"]
    cfg = TrainConfig.for_profile(
        "smoke", out=job["out"], model=kind, seed=job["seed"],
        num_concat=job["num_concat"] if kind == "arcnn" else None,
        overwrite=True, **job["train"], **over(regime))
    res = train(cfg)
    if res["interrupted"]:
        raise SystemExit(f"[phantom_study] {job['variant']} seed {job['seed']} was interrupted")
    out = {"job": job, "seconds": float(res["seconds"]), "epochs": int(cfg.epochs),
           "best_epoch": res["best_epoch"]}
    for split in ("val", "test"):
        ev = evaluate(res["checkpoint"], split=split, num_threads=job["train"]["num_threads"],
                      cache_dir=job["train"]["cache_dir"], progress=False)
        out[split] = {"predictions": ev["predictions"],
                      "pointing": ev["metrics"].get("pointing"),
                      "median_mae": ev["metrics"].get("median_baseline_mae")}
    return out


def _unit_maes(pred: pd.DataFrame, weights: Optional[np.ndarray], k: int) -> Dict[str, float]:
    y = pred["boneage"].to_numpy(np.float64)

    def mae(col):
        return float(np.abs(pred[col].to_numpy(np.float64) - y).mean()) if col in pred else None

    res = {"mae": mae("pred"), "mae_x": mae("pred_x"), "mae_concat": mae("pred_concat")}
    for i in range(NUM_CONCAT):
        res[f"mae_r{i + 1}"] = mae(f"pred_part{i + 1}")
    if weights is not None:
        res["mae"] = assembled_mae(pred, weights, k)
    return res


def rows_of(result: dict) -> List[dict]:
    """The study rows of one finished run: one per split, and for AR-CNN the same model
    assembled with validation-fitted weights as the ``<variant>_fitted`` rows."""
    job = result["job"]
    kind, faithful, _ = TRAINED[job["variant"]]
    k = job["num_concat"]
    regime = job["regime"]
    assemblies = [(job["variant"], faithful, None)]
    if kind == "arcnn":
        w = fit_weights(result["val"]["predictions"], k)
        assemblies.append((job["variant"] + "_fitted", False, w))
    rows = []
    for name, faithful_, weights in assemblies:
        for split in ("val", "test"):
            pred = result[split]["predictions"]
            point = result[split]["pointing"] or {}
            row = {"variant": name, "trained_as": job["variant"], "model": kind,
                   "paper_faithful": bool(faithful_), "regime": regime["name"],
                   "study": job["study"], "seed": job["seed"], "split": split,
                   "num_concat": k if kind == "arcnn" else None,
                   "input_size": regime["input_size"], "native_size": regime["native_size"],
                   "image_size_read": (regime["native_size"] if job["variant"] ==
                                       "baseline_native" else regime["input_size"]),
                   "n": int(len(pred)), **_unit_maes(pred, weights, k),
                   "median_mae": result[split]["median_mae"],
                   "pointing_top1": point.get("top1"), "pointing_topk": point.get("topk"),
                   "pointing_chance_top1": point.get("random_top1_expected"),
                   "weights": None if weights is None else [float(x) for x in weights],
                   "epochs": result["epochs"], "best_epoch": result["best_epoch"],
                   "train_seconds": result["seconds"]}
            rows.append(row)
    return rows


def run_all(jobs: List[dict], workers: int) -> List[dict]:
    """Run the jobs, ``workers`` processes at a time (1: in this process), in job order."""
    if workers <= 1:
        return [run_job(j) for j in jobs]
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor
    with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as pool:
        return list(pool.map(run_job, jobs))


# ---------------------------------------------------------------------------- summaries
def mean_sd(values) -> dict:
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


# ---------------------------------------------------------------------------- cost
def native_cost(regime: dict, batch_size: int, steps: int, repeats: int, threads: int) -> dict:
    """Memory and training throughput of native crops against the paper's, measured here.

    Memory: bytes per image of the data path (uint8 cache row and the float batch the model
    is fed). Throughput: samples/s of one optimiser step of each model on the same random
    batch, the two interleaved ``repeats`` times (median), ``steps`` steps each, one process.
    """
    import torch
    from .config import ARCNNConfig, _scaled_geometry
    from .model import ARCNN
    torch.set_num_threads(threads)
    cfgs = {"input": ARCNNConfig.smoke(**_scaled_geometry(regime["input_size"]),
                                       num_concat=NUM_CONCAT),
            "native": ARCNNConfig.smoke(**_scaled_geometry(regime["input_size"]),
                                        num_concat=NUM_CONCAT, part_source="native",
                                        native_size=regime["native_size"])}
    res = {"batch_size": batch_size, "steps": steps, "repeats": repeats, "threads": threads}
    models, opts, batches = {}, {}, {}
    for name, c in cfgs.items():
        torch.manual_seed(0)
        models[name] = ARCNN(c)
        opts[name] = torch.optim.AdamW(models[name].parameters(), 1e-3)
        n = c.data_size
        batches[name] = torch.rand(batch_size, 1, n, n, generator=torch.Generator().manual_seed(0))
        res[f"{name}_cache_bytes_per_image"] = n * n
        res[f"{name}_batch_float_bytes"] = int(batches[name].numel() * 4)
    ages = torch.linspace(0, 228, batch_size)
    times: Dict[str, list] = {k: [] for k in cfgs}
    for _ in range(repeats):
        for name in cfgs:
            m, opt, x = models[name], opts[name], batches[name]
            m.train()
            t = time.perf_counter()
            for _ in range(steps):
                loss = m.loss(m(x), ages).total
                opt.zero_grad()
                loss.backward()
                opt.step()
            times[name].append(time.perf_counter() - t)
    for name in cfgs:
        res[f"{name}_samples_per_s"] = batch_size * steps / float(np.median(times[name]))
    res["memory_ratio"] = res["native_cache_bytes_per_image"] / res["input_cache_bytes_per_image"]
    res["throughput_ratio"] = res["native_samples_per_s"] / res["input_samples_per_s"]
    return res


def export_histories(results: List[dict], seed: int, out: Path) -> None:
    """Copy the per-epoch ``metrics.csv`` of every headline run of ``seed`` to
    ``out/history_<variant>_seed<seed>.csv`` (how far each unit got in the schedule)."""
    for res in results:
        jb = res["job"]
        if jb["seed"] == seed and jb["study"] == "headline":
            hist = pd.read_csv(Path(jb["out"]) / "metrics.csv")
            hist.to_csv(out / f"history_{jb['variant']}_seed{seed}.csv", index=False,
                        float_format="%.5g")


# ---------------------------------------------------------------------------- figures
def regime_map_figure(regime_map: List[dict], path: Path) -> None:
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
    ax.legend(fontsize=7)
    fig.savefig(path, dpi=130)
    plt.close(fig)


def fig3_native(result: dict, path: Path, n_images: int = 6) -> None:
    """The K best parts of test images drawn on the native copy, with the true cue regions,
    for the chosen run of the first seed (Fig. 3 of the study)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from .engine_data import prepare_run_data
    from .figures import draw_pointing, part_boxes
    job, pred = result["job"], result["test"]["predictions"]
    r = job["regime"]
    native = r["native_size"] if job["variant"] == "arcnn_native" else r["input_size"]
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


# ---------------------------------------------------------------------------- CLI
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m arcnn_lib.phantom_study",
                                description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="results/phantom_study")
    p.add_argument("--work", default="runs/phantom_study", help="run folders and checkpoints")
    p.add_argument("--input-size", type=int, default=64)
    p.add_argument("--native-size", type=int, default=128)
    p.add_argument("--phantom-n", type=int, default=2000)
    p.add_argument("--phantom-seed", type=int, default=5)
    p.add_argument("--split-seed", type=int, default=0)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--aux-seeds", type=int, nargs="*", default=[0],
                   help="seeds of Table 1 and the regime map")
    p.add_argument("--table1-k", type=int, nargs="*", default=[1, 2, 4],
                   help="K values of Table 1 besides the headline's K = 3")
    p.add_argument("--map-native", type=int, nargs="*", default=[256],
                   help="native sizes of the regime map besides the headline's")
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--augment", action="store_true",
                   help="augment the training batches (off: the phantom already draws pose, "
                        "size and contrast per image, and short runs learn faster without)")
    p.add_argument("--workers", type=int, default=2, help="runs trained at the same time")
    p.add_argument("--threads", type=int, default=1, help="torch threads per run")
    p.add_argument("--cache-dir", default=None)
    p.add_argument("--tiny", action="store_true",
                   help="a seconds-long version for CI (n=48, 1 epoch, batch 8, 2 seeds)")
    p.add_argument("--git-commit", default=None, help="commit to record (when .git is absent)")
    return p


def _validate(args) -> None:
    for name in ("input_size", "native_size", "phantom_n", "epochs", "batch_size", "workers",
                 "threads"):
        if getattr(args, name) < 1:
            raise SystemExit(f"--{name.replace('_', '-')} must be positive, got "
                             f"{getattr(args, name)}")
    for n in [args.native_size] + list(args.map_native):
        if n % args.input_size or n < args.input_size:
            raise SystemExit(f"native size {n} must be a multiple of --input-size "
                             f"{args.input_size}")
    if len(args.seeds) < 2:
        raise SystemExit("--seeds: a paired comparison needs at least two seeds")
    if any(not 1 <= k <= 6 for k in args.table1_k):
        raise SystemExit(f"--table1-k: K must be in 1..6 (M = 6), got {args.table1_k}")


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    if args.tiny:
        args.phantom_n, args.epochs, args.seeds, args.batch_size = 48, 1, [0, 1], 8
        args.table1_k, args.map_native, args.workers = [1], [args.native_size * 2], 1
    _validate(args)
    out, work = Path(args.out), Path(args.work)
    out.mkdir(parents=True, exist_ok=True)
    commit = args.git_commit or git_commit()
    t0 = time.time()
    common = dict(data="phantom", phantom_n=args.phantom_n, phantom_seed=args.phantom_seed,
                  split_seed=args.split_seed, sex="all", epochs=args.epochs,
                  batch_size=args.batch_size, num_threads=args.threads, augment=args.augment,
                  cache_dir=args.cache_dir, progress=False)
    if args.tiny:
        common["split_fractions"] = (0.5, 0.25, 0.25)
    head = {"name": regime_name(args.input_size, args.native_size),
            "input_size": args.input_size, "native_size": args.native_size}

    def job(variant, seed, regime, study, k=NUM_CONCAT):
        return {"variant": variant, "seed": seed, "regime": regime, "study": study,
                "num_concat": k, "train": common,
                "out": str(work / f"{study}_{regime['name']}_{variant}_k{k}_seed{seed}")}

    # phase 1: the headline regime, every variant, every seed
    jobs = [job(v, s, head, "headline") for s in args.seeds for v in TRAINED]
    results = run_all(jobs, args.workers)
    rows = [r for res in results for r in rows_of(res)]
    chosen = choose(pd.DataFrame(rows))
    chosen_trained = chosen.replace("_fitted", "")
    print(f"[phantom_study] chosen on validation: {chosen}", flush=True)

    # phase 2: Table 1 and the regime map with the chosen training variant
    aux = [job(chosen_trained, s, head, "table1", k) for s in args.aux_seeds
           for k in args.table1_k]
    map_regimes = [{"name": regime_name(args.input_size, n), "input_size": args.input_size,
                    "native_size": n} for n in args.map_native]
    aux += [job("arcnn_native", s, r, "regime_map") for s in args.aux_seeds for r in map_regimes]
    aux_results = run_all(aux, args.workers)
    rows += [r for res in aux_results for r in rows_of(res)]
    frame = pd.DataFrame(rows)
    frame.drop(columns=["weights"]).to_csv(out / "study.csv", index=False, float_format="%.6g")

    headline = frame[frame["study"] == "headline"]
    comparisons = {
        "chosen_vs_baseline_input": paired(headline, chosen, "baseline_input", "test"),
        "paper_vs_baseline_input": paired(headline, "arcnn_paper", "baseline_input", "test"),
        "native_vs_paper": paired(headline, "arcnn_native", "arcnn_paper", "test"),
        "headroom_baseline_native_vs_input": paired(headline, "baseline_native",
                                                    "baseline_input", "test"),
    }
    # gap (b): X inside AR-CNN against the baseline; gap (c): parts against X
    gaps = {}
    for v in ARCNN_TRAINED:
        g = headline[(headline["variant"] == v) & (headline["split"] == "test")].set_index("seed")
        b = headline[(headline["variant"] == "baseline_input")
                     & (headline["split"] == "test")].set_index("seed")
        gaps[v] = {"x_minus_baseline_per_seed": (g["mae_x"] - b["mae"]).tolist(),
                   "r1_over_x_per_seed": (g["mae_r1"] / g["mae_x"]).tolist(),
                   "c_minus_x_per_seed": (g["mae_concat"] - g["mae_x"]).tolist(),
                   "assembled_minus_x_per_seed": (g["mae"] - g["mae_x"]).tolist()}
    chosen_test = headline[(headline["variant"] == chosen) & (headline["split"] == "test")]
    c = comparisons["chosen_vs_baseline_input"]
    targets = {
        "chosen_beats_baseline_every_seed": c["a_better_in_every_seed"],
        "mean_reduction": c["relative_reduction_mean"],
        "mean_reduction_at_least_15pct": bool(c["relative_reduction_mean"] is not None
                                              and c["relative_reduction_mean"] >= 0.15),
        "pointing_top1_mean": float(chosen_test["pointing_top1"].mean()),
        "pointing_top1_at_least_0.9": bool(chosen_test["pointing_top1"].mean() >= 0.9),
    }
    table1 = []
    t1 = frame[(frame["trained_as"] == chosen_trained) & (frame["split"] == "test")
               & frame["study"].isin(["headline", "table1"])
               & frame["seed"].isin(args.aux_seeds)]
    for (variant, k), g in t1.groupby(["variant", "num_concat"]):
        table1.append({"variant": variant, "K": int(k), **{u: float(g[u].mean()) for u in UNITS},
                       "seeds": sorted(int(s) for s in g["seed"])})
    regime_map = []
    test = frame[(frame["split"] == "test") & frame["seed"].isin(args.aux_seeds)]
    chosen_suffix = "_fitted" if chosen.endswith("_fitted") else ""
    for n in [args.input_size, args.native_size] + list(args.map_native):
        if n == args.input_size:
            sel = test[test["regime"] == head["name"]]
            eq1, ch = "arcnn_paper", "arcnn_paper" + chosen_suffix
        else:
            sel = test[test["regime"] == regime_name(args.input_size, n)]
            eq1, ch = "arcnn_native", "arcnn_native" + chosen_suffix
        sel = sel[sel["study"].isin(["headline", "regime_map"])]

        def m(v):
            s = sel[sel["variant"] == v]["mae"]
            return float(s.mean()) if len(s) else None

        bn = m("baseline_native") if n == args.native_size else (
            m("baseline_input") if n == args.input_size else None)
        regime_map.append({"input_size": args.input_size, "native_size": n,
                           "baseline_input": float(test[(test["regime"] == head["name"]) & (
                               test["variant"] == "baseline_input")]["mae"].mean()),
                           "baseline_native": bn, "arcnn_eq1": m(eq1), "arcnn_chosen": m(ch)})
    for r in regime_map:
        best = min((v for v in ("baseline_input", "arcnn_eq1", "arcnn_chosen")
                    if r[v] is not None), key=lambda v: r[v])
        r["winner"] = "baseline" if best == "baseline_input" else "arcnn"
    regime_map_figure(regime_map, out / "regime_map.png")

    first = args.seeds[0]
    export_histories(results, first, out)
    for res in results:
        jb = res["job"]
        if jb["seed"] == first:
            res["test"]["predictions"].to_csv(
                out / f"predictions_{jb['variant']}_seed{first}.csv", index=False,
                float_format="%.5g")
            if jb["variant"] == chosen_trained:
                fig3_native(res, out / "fig3_native_parts.png")
    cost = native_cost(head, args.batch_size, 2 if args.tiny else 5, 1 if args.tiny else 3,
                       args.threads)

    import torch
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    cmd = ("python -m arcnn_lib.phantom_study" + (" --tiny" if args.tiny else "")
           + f" --input-size {args.input_size} --native-size {args.native_size}"
           f" --phantom-n {args.phantom_n} --phantom-seed {args.phantom_seed}"
           f" --split-seed {args.split_seed} --seeds {' '.join(map(str, args.seeds))}"
           f" --aux-seeds {' '.join(map(str, args.aux_seeds))}"
           f" --table1-k {' '.join(map(str, args.table1_k))}"
           f" --map-native {' '.join(map(str, args.map_native))} --epochs {args.epochs}"
           f" --batch-size {args.batch_size}" + (" --augment" if args.augment else "")
           + f" --workers {args.workers} --threads {args.threads}"
           " --out results/phantom_study --work <scratch folder>")
    report = {
        "headline_regime": head["name"], "regime": head, "chosen": chosen,
        "chosen_trained_as": chosen_trained, "choice_rule": (
            "lowest mean validation MAE over the seeds among the AR-CNN variants of the "
            "headline regime; the test split was scored once, after all runs"),
        "seeds": args.seeds, "aux_seeds": args.aux_seeds, "split_seed": args.split_seed,
        "epochs": args.epochs, "batch_size": args.batch_size, "num_concat": NUM_CONCAT,
        "phantom": {"n": args.phantom_n, "seed": args.phantom_seed, "written_size": 256},
        "profile": "smoke (resnet_tiny, geometry scaled to the input size)", "sex": "all",
        "pretrained": False, "tiny": bool(args.tiny),
        "rows": frame.to_dict(orient="records"), "summary": summarise(headline),
        "comparisons": comparisons, "gaps": gaps, "targets": targets,
        "table1": table1, "regime_map": regime_map, "native_cost": cost,
        "command": cmd, "wall_seconds": time.time() - t0, **provenance(device)}
    report["git_commit"] = commit
    (out / "study.json").write_text(json.dumps(_clean(report), indent=1))
    print(f"[phantom_study] {chosen}: test MAE {c['diff_mean']:+.2f} months against the "
          f"baseline (per seed {', '.join(f'{d:+.2f}' for d in c['per_seed'])}); "
          f"{time.time() - t0:.0f} s", flush=True)
    return 0


def _clean(v):
    """JSON-safe: numpy scalars to Python, NaN to None."""
    if isinstance(v, dict):
        return {str(k): _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not np.isfinite(v):
        return None
    return v


if __name__ == "__main__":
    sys.exit(main())
