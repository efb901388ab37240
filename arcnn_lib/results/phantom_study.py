"""When does part attention pay? The controlled phantom study (Tables 1-3, Figs. 2-3).

::

    python -m arcnn_lib phantom-study --out results/phantom_study --work runs/phantom_study
    python -m arcnn_lib phantom-study --tiny --out /tmp/study --work /tmp/study_runs   # CI

The regime. The paper reads the hand at 448 px, where growth plates are a pixel or two
wide, and magnifies them in 224 px parts. The phantom (:mod:`arcnn_lib.data.phantom`, 256 px)
gets a **native copy** at ``--native-size`` (128) and is read whole at ``--input-size`` (64,
:func:`arcnn_lib.config.scaled_geometry`), where the cues are below a pixel. The same
single-stage network at both sizes measures the headroom zooming could recover.

The runs (one split, ``--split-seed``; every seed changes the initial weights, the batch
order and the augmentation, not the split; all runs ``sex="all"``, K = 3, ``--epochs``):

================================  ===============================================  ========
variant                           what it is                                       faithful
================================  ===============================================  ========
``baseline_input``                single-stage network at the input size           yes
                                  (Table 3's rival)
``baseline_native``               the same network at the native size              no
                                  (the headroom's bound)
``arcnn_paper``                   AR-CNN, parts cut from the input, Eq. 1          yes
``arcnn_native``                  parts cut from the native copy                   no
                                  (``part_source="native"``)
``arcnn_sepext``                  parts from the input, an extractor of their      no
                                  own (``separate_part_extractor=True``)
``arcnn_native_sepext``           native parts, an extractor of their own          no
``arcnn_native_sepext_perlevel``  the same, each anchor level giving its quota     no
                                  of the M parts (``part_selection="per_level"``)
``arcnn_native_sepext_navpart``   native parts, own extractor, which the          no
                                  navigator reads (``navigator_on_part_extractor``)
``*_fitted``                      the same trained model, its units assembled      no
                                  with weights fitted on the validation split
                                  (:mod:`arcnn_lib.evaluation.assembly`)
================================  ===============================================  ========

``chosen`` is the AR-CNN variant with the lowest mean **validation** MAE over the seeds;
the test split is scored once, after every run has finished, and nothing is chosen from it.
The chosen training variant then runs Table 1 (K in ``--table1-k``) and the regime map
(native sizes ``--map-native``; at native = input the parts come from the input, as in the
paper) with the seeds ``--aux-seeds`` (fewer: a coarse picture, and the book says so).

Written to ``--out`` (``results/phantom_study/README.md`` lists the files): ``study.json``
(rows -- one per run and split: ``variant``, ``model``, ``paper_faithful``, ``regime``,
``seed``, ``split``, ``mae``, unit MAEs, ``input_size`` --, summaries, paired differences,
Table 1, the regime map, the pointing game and its ceiling, the cost of native crops, the
targets, provenance), ``study.csv``, the first seed's predictions and histories, figures.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np
import pandas as pd

from ..engine.runtime import git_commit, jsonable, provenance
from ..evaluation.assembly import assembled_mae, fit_weights
from . import study_stats as S
from .run_queue import RunInterrupted, execute
from .study_cost import native_cost
from .study_grid import anchor_grids
from .study_figures import fig3_native, regime_map_figure
from .study_stats import NUM_CONCAT, regime_name


def _arcnn(native: bool = False, **flags):
    """The overrides of an AR-CNN variant as a function of the regime: the input size, the
    parts from the native copy (``native``) or from the input, and ``ARCNNConfig`` flags."""
    def over(r):
        extra = {"part_source": "native", "native_size": r["native_size"]} if native else {}
        return {"image_size": r["input_size"], **extra, **flags}
    return over


_OWN, _NAV = {"separate_part_extractor": True}, {"navigator_on_part_extractor": True}
#: Training variant -> (model kind, paper-faithful, overrides as a function of the regime).
TRAINED = {
    "baseline_input": ("baseline", True, lambda r: {"image_size": r["input_size"]}),
    "baseline_native": ("baseline", False, lambda r: {"image_size": r["native_size"]}),
    "arcnn_paper": ("arcnn", True, _arcnn()),
    "arcnn_native": ("arcnn", False, _arcnn(True)),
    "arcnn_sepext": ("arcnn", False, _arcnn(**_OWN)),
    "arcnn_native_sepext": ("arcnn", False, _arcnn(True, **_OWN)),
    "arcnn_native_sepext_perlevel": ("arcnn", False, _arcnn(True, **_OWN,
                                                            part_selection="per_level")),
    "arcnn_native_sepext_navpart": ("arcnn", False, _arcnn(True, **_OWN, **_NAV)),
    # trained only for the regime map, as input-parts twins of the two variants above
    "arcnn_sepext_perlevel": ("arcnn", False, _arcnn(**_OWN, part_selection="per_level")),
    "arcnn_sepext_navpart": ("arcnn", False, _arcnn(**_OWN, **_NAV)),
}
#: Side of the phantom images as written (``make_phantom``'s default).
WRITTEN_SIZE = 256
#: The variants every seed trains in the headline regime (the others serve the regime map).
HEADLINE = ("baseline_input", "baseline_native") + S.ARCNN_TRAINED


# ---------------------------------------------------------------------------- one run
def run_job(job: dict) -> dict:
    """Train one model and predict its validation and test splits (picklable: one process).

    ``job``: ``variant``, ``seed``, ``regime`` (dict: name, input_size, native_size),
    ``num_concat``, ``train`` (common TrainConfig fields), ``out``.
    Returns the job, ``seconds`` (training), ``epochs``, and per split the predictions
    frame and the pointing-game result (AR-CNN only).
    """
    from ..engine.config import TrainConfig
    from ..engine.trainer import train
    from ..evaluation.evaluator import evaluate
    kind, _, over = TRAINED[job["variant"]]
    regime = job["regime"]
    cfg = TrainConfig.for_profile(
        "smoke", out=job["out"], model=kind, seed=job["seed"],
        num_concat=job["num_concat"] if kind == "arcnn" else None,
        overwrite=True, **job["train"], **over(regime))
    res = train(cfg)
    if res.interrupted:
        raise RunInterrupted(f"{job['variant']} seed {job['seed']} was interrupted")
    out = {"job": job, "seconds": float(res.seconds), "epochs": int(cfg.epochs),
           "best_epoch": res.best_epoch}
    for split in ("val", "test"):
        ev = evaluate(res.checkpoint, split=split, num_threads=job["train"]["num_threads"],
                      cache_dir=job["train"]["cache_dir"], progress=False)
        out[split] = {"predictions": ev.predictions,
                      "pointing": ev.metrics.get("pointing"),
                      "median_mae": ev.metrics.get("median_baseline_mae")}
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
                   "pointing_ceiling_top1": point.get("ceiling_top1"),
                   "weights": None if weights is None else [float(x) for x in weights],
                   "epochs": result["epochs"], "best_epoch": result["best_epoch"],
                   "train_seconds": result["seconds"]}
            rows.append(row)
    return rows


@dataclass(frozen=True)
class _Queued:
    """One study run as :func:`arcnn_lib.results.run_queue.execute` schedules it."""
    name: str
    job: dict
    cost: float = 1.0


def _run_queued(queued: _Queued, max_minutes: Optional[float]) -> dict:
    return run_job(queued.job)


def run_all(jobs: List[dict], workers: int) -> List[dict]:
    """Run the jobs, ``workers`` processes at a time (1: in this process); results in job
    order. An interrupted run stops the study (its results would be missing from the rows)."""
    queued = [_Queued(j["out"], j) for j in jobs]
    done: Dict[str, dict] = {}

    def record(q: _Queued, result: Optional[dict], reason) -> None:
        if result is None:
            raise SystemExit(f"[phantom_study] {reason}")
        done[q.name] = result

    execute(queued, _run_queued, math.inf, record, jobs=workers)
    return [done[q.name] for q in queued]


def export_histories(results: List[dict], seed: int, out: Path) -> None:
    """Copy the per-epoch ``metrics.csv`` of every headline run of ``seed`` to
    ``out/history_<variant>_seed<seed>.csv`` (how far each unit got in the schedule)."""
    for res in results:
        jb = res["job"]
        if jb["seed"] == seed and jb["study"] == "headline":
            hist = pd.read_csv(Path(jb["out"]) / "metrics.csv")
            hist.to_csv(out / f"history_{jb['variant']}_seed{seed}.csv", index=False,
                        float_format="%.5g")


# ---------------------------------------------------------------------------- CLI
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m arcnn_lib phantom-study",
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
    p.add_argument("--table1-k", type=int, nargs="*", default=[1, 6],
                   help="K values of Table 1 besides the headline's K = 3")
    p.add_argument("--map-native", type=int, nargs="*", default=[256],
                   help="native sizes of the regime map besides the headline's")
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--augment", action=argparse.BooleanOptionalAction, default=True,
                   help="augment the training batches (the library's default; the first "
                        "studies ran without and overfitted, see results/phantom_study)")
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
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    commit = args.git_commit or git_commit()
    t0 = time.time()
    head = {"name": regime_name(args.input_size, args.native_size),
            "input_size": args.input_size, "native_size": args.native_size}
    job = _job_maker(args)

    # phase 1: the headline regime, every variant, every seed; the choice on validation
    results = run_all([job(v, s, head, "headline") for s in args.seeds for v in HEADLINE],
                      args.workers)
    rows = [r for res in results for r in rows_of(res)]
    chosen = S.choose(pd.DataFrame(rows))
    chosen_trained = chosen.replace("_fitted", "")
    print(f"[phantom_study] chosen on validation: {chosen}", flush=True)

    # phase 2: Table 1 and the regime map with the chosen training variant
    aux = [job(chosen_trained, s, head, "table1", k) for s in args.aux_seeds
           for k in args.table1_k]
    aux += [job(S.NATIVE_TWIN[chosen_trained], s, {"name": regime_name(args.input_size, n),
                                    "input_size": args.input_size, "native_size": n},
                "regime_map") for s in args.aux_seeds for n in args.map_native]
    twin = S.INPUT_TWIN[chosen_trained]   # the map's point at native = input
    if twin not in HEADLINE:
        aux += [job(twin, s, head, "regime_map") for s in args.aux_seeds]
    rows += [r for res in run_all(aux, args.workers) for r in rows_of(res)]
    frame = pd.DataFrame(rows)
    frame.drop(columns=["weights"]).to_csv(out / "study.csv", index=False, float_format="%.6g")

    report = _analyse(args, frame, head, chosen)
    regime_map_figure(report["regime_map"], out / "regime_map.png")
    _write_first_seed(results, args.seeds[0], chosen_trained, out)
    from ..data.phantom import phantom_folder
    report["anchor_grids"] = anchor_grids(
        phantom_folder(args.phantom_n, args.phantom_seed, WRITTEN_SIZE, args.cache_dir,
                       progress=False), WRITTEN_SIZE, args.input_size)
    report["native_cost"] = native_cost(head, args.batch_size, 2 if args.tiny else 5,
                                        1 if args.tiny else 3, args.threads, NUM_CONCAT)
    import torch
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    report.update(command=_command(args), wall_seconds=time.time() - t0, **provenance(device))
    report["git_commit"] = commit
    (out / "study.json").write_text(json.dumps(jsonable(report), indent=1))
    c = report["comparisons"]["chosen_vs_baseline_input"]
    print(f"[phantom_study] {chosen}: test MAE {c['diff_mean']:+.2f} months against the "
          f"baseline (per seed {', '.join(f'{d:+.2f}' for d in c['per_seed'])}); "
          f"{time.time() - t0:.0f} s", flush=True)
    return 0


def _job_maker(args):
    """``job(variant, seed, regime, study, k)``: the spec of one run of the study."""
    common = dict(data="phantom", phantom_n=args.phantom_n, phantom_seed=args.phantom_seed,
                  split_seed=args.split_seed, sex="all", epochs=args.epochs,
                  batch_size=args.batch_size, num_threads=args.threads, augment=args.augment,
                  cache_dir=args.cache_dir, progress=False)
    if args.tiny:
        common["split_fractions"] = (0.5, 0.25, 0.25)
    work = Path(args.work)

    def job(variant, seed, regime, study, k=NUM_CONCAT):
        return {"variant": variant, "seed": seed, "regime": regime, "study": study,
                "num_concat": k, "train": common,
                "out": str(work / f"{study}_{regime['name']}_{variant}_k{k}_seed{seed}")}
    return job


def _analyse(args, frame: pd.DataFrame, head: dict, chosen: str) -> dict:
    """Everything ``study.json`` says about the rows (before provenance and cost)."""
    headline = frame[frame["study"] == "headline"]
    comparisons = S.comparisons(headline, chosen)
    chosen_trained = chosen.replace("_fitted", "")
    return {
        "headline_regime": head["name"], "regime": head, "chosen": chosen,
        "chosen_trained_as": chosen_trained, "choice_rule": (
            "lowest mean validation MAE over the seeds among the AR-CNN variants of the "
            "headline regime; the test split was scored once, after all runs"),
        "seeds": args.seeds, "aux_seeds": args.aux_seeds, "split_seed": args.split_seed,
        "epochs": args.epochs, "batch_size": args.batch_size, "num_concat": NUM_CONCAT,
        "phantom": {"n": args.phantom_n, "seed": args.phantom_seed,
                    "written_size": WRITTEN_SIZE},
        "profile": "smoke (resnet_tiny, geometry scaled to the input size)", "sex": "all",
        "pretrained": False, "tiny": bool(args.tiny),
        "rows": frame.to_dict(orient="records"), "summary": S.summarise(headline),
        "comparisons": comparisons, "gaps": S.gaps(headline),
        "targets": S.targets(headline, chosen, comparisons["chosen_vs_baseline_input"]),
        "table1": S.table1(frame, chosen_trained, args.aux_seeds),
        "regime_map": S.regime_map(frame, chosen, args.input_size,
                                   sorted({args.native_size, *args.map_native}),
                                   args.native_size, args.aux_seeds)}


def _write_first_seed(results: List[dict], first: int, chosen_trained: str, out: Path) -> None:
    """The first seed's histories, test predictions (Fig. 2) and Fig. 3 of the chosen run."""
    export_histories(results, first, out)
    for res in results:
        jb = res["job"]
        if jb["seed"] == first:
            res["test"]["predictions"].to_csv(
                out / f"predictions_{jb['variant']}_seed{first}.csv", index=False,
                float_format="%.5g")
            if jb["variant"] == chosen_trained:
                fig3_native(res, out / "fig3_native_parts.png")


def _command(args) -> str:
    """The command line that repeats this study (the output folder as committed)."""
    return ("python -m arcnn_lib phantom-study" + (" --tiny" if args.tiny else "")
            + f" --input-size {args.input_size} --native-size {args.native_size}"
            f" --phantom-n {args.phantom_n} --phantom-seed {args.phantom_seed}"
            f" --split-seed {args.split_seed} --seeds {' '.join(map(str, args.seeds))}"
            f" --aux-seeds {' '.join(map(str, args.aux_seeds))}"
            f" --table1-k {' '.join(map(str, args.table1_k))}"
            f" --map-native {' '.join(map(str, args.map_native))} --epochs {args.epochs}"
            f" --batch-size {args.batch_size}" + ("" if args.augment else " --no-augment")
            + f" --workers {args.workers} --threads {args.threads}"
            " --out results/phantom_study --work <scratch folder>")


if __name__ == "__main__":
    sys.exit(main())
