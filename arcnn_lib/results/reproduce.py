"""The reference reproduction on real radiographs: Tables 1-3 and Fig. 2-3 in one command.

::

    python -m arcnn_lib reproduce --data DIR --out results/reference --work runs/reference

``DIR`` holds RSNA radiographs in any public layout (the book's reference runs use
``rsna100``: 11,611 RSNA training radiographs at 100 x 100). Every run is trained from
scratch unless ``--pretrained`` is given (the committed reference sets are
``pretrained=False``: no ImageNet weights could be downloaded where they were made) with the
same split, profile, epochs and optimiser, then scored on the test split:

=====================  =========  ======  ===  ==========================================
run                    model      sex     K    for
=====================  =========  ======  ===  ==========================================
``arcnn_male_k3``      AR-CNN     male    3    Tables 1, 2, 3; Fig. 2, 3
``baseline_male``      baseline   male    -    Table 3
``arcnn_female_k3``    AR-CNN     female  3    Tables 2, 3; Fig. 2, 3
``baseline_female``    baseline   female  -    Table 3
``arcnn_male_k1/2/4``  AR-CNN     male    1-4  Table 1
=====================  =========  ======  ===  ==========================================

Runs go in this order, so that a time budget (``--budget-minutes``) that runs out drops the
K ablation first; a run that would not fit is recorded as skipped. ``--epochs auto`` times
one epoch of the first run and picks the largest epoch count that fits every run in the
budget; the count chosen is recorded, and ``--epochs N`` reproduces it anywhere. Every run
started is capped at the time left, so the set ends inside the budget. ``--jobs N`` trains N
runs at once on the one device (:mod:`arcnn_lib.results.run_queue`): a large GPU leaves most
of its compute idle on one small run. The plan assumes no gain from that, so concurrent runs
finish early rather than late.

Each run's files are written the moment it finishes, and ``manifest.json`` after every run:
``planned`` lists the runs asked for, ``runs`` those that finished, ``skipped`` the others
with the reason, and ``complete`` is true only when every planned run finished.

Only small files land in ``--out``: per run ``<run>.json`` (metrics per unit and per sex,
config, data, split file, commit, hardware, date, wall time), ``<run>_predictions.csv`` and
``<run>_history.csv``; for the set ``manifest.json``, ``tables.json``, ``tables.md`` (the
tables beside the paper's headline MAEs, for readers of the repository), ``rsna100_split.csv``
and ``fig3_parts.png``. Checkpoints and caches stay in ``--work``.
"""
from __future__ import annotations

import argparse
import functools
import json
import math
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from ..engine.runtime import git_commit, provenance
from .paper import PAPER_MAE
from .run_queue import RunInterrupted, execute
from .tables import pooled_mae, unit_maes

#: Relative cost of one epoch of the baseline against one of AR-CNN (it reads 1 image
#: instead of 1 image plus M parts of a quarter of its area): used only to plan a budget.
BASELINE_COST = 0.5


@dataclass(frozen=True)
class Run:
    name: str
    model: str
    sex: str
    num_concat: Optional[int]

    @property
    def cost(self) -> float:
        return BASELINE_COST if self.model == "baseline" else 1.0


RUNS = (Run("arcnn_male_k3", "arcnn", "male", 3), Run("baseline_male", "baseline", "male", None),
        Run("arcnn_female_k3", "arcnn", "female", 3),
        Run("baseline_female", "baseline", "female", None),
        Run("arcnn_male_k1", "arcnn", "male", 1), Run("arcnn_male_k2", "arcnn", "male", 2),
        Run("arcnn_male_k4", "arcnn", "male", 4))


def _device():
    import torch
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _sanitise(metrics: dict, run: Run, data_name: str, commit: Optional[str]) -> dict:
    """Replace the machine's paths in evaluate's metrics by portable names."""
    out = dict(metrics)
    out["data"] = {**metrics.get("data", {}), "data": data_name, "root": data_name,
                   "split_csv": "rsna100_split.csv" if data_name == "rsna100" else "split.csv"}
    out["checkpoint"] = {**metrics.get("checkpoint", {}),
                         "path": f"{run.name}/best.pt (not committed)"}
    train_cfg = dict(out.get("config", {}).get("train", {}))
    for key in ("data", "out", "cache_dir"):
        if key in train_cfg and train_cfg[key] is not None:
            train_cfg[key] = {"data": data_name, "out": run.name, "cache_dir": "cache"}[key]
    out["config"] = {**out.get("config", {}), "train": train_cfg}
    if commit:
        out["git_commit"] = commit
    return out


def _train_config(args, run: Run, epochs: int, stop_after: Optional[int] = None,
                  max_minutes: Optional[float] = None):
    from ..engine.trainer import TrainConfig
    over = dict(data=args.data, out=str(Path(args.work) / run.name), sex=run.sex,
                model=run.model, epochs=epochs, seed=args.seed, overwrite=True,
                progress=not args.quiet, cache_dir=args.cache_dir,
                pretrained=args.pretrained)
    if run.num_concat is not None:
        over["num_concat"] = run.num_concat
    if args.batch_size:
        over["batch_size"] = args.batch_size
    if args.lr:
        over["lr"] = args.lr
    if stop_after:
        over["stop_after_epochs"] = stop_after
    if max_minutes is not None:
        over["max_minutes"] = max_minutes
    if args.jobs > 1 and _device().type == "cpu":    # share the cores between the runs
        over["num_threads"] = max(1, (os.cpu_count() or 1) // args.jobs)
    return TrainConfig.for_profile(args.profile, **over)


def choose_epochs(args, runs: Sequence[Run], budget_s: float) -> dict:
    """Time one epoch of the first run and fit every run into ``budget_s``."""
    from ..engine.trainer import train
    probe = Run(runs[0].name + "_probe", runs[0].model, runs[0].sex, runs[0].num_concat)
    t0 = time.time()
    res = train(_train_config(args, probe, epochs=100, stop_after=2))
    hist = res.history
    per_epoch = float(hist["seconds"].iloc[-1])      # the second epoch: warmed up
    spent = time.time() - t0
    shutil.rmtree(Path(args.work) / probe.name, ignore_errors=True)
    total_cost = sum(r.cost for r in runs)
    overhead = 15.0                                  # evaluation, start-up per run
    epochs = int((budget_s - spent - overhead * len(runs)) / (per_epoch * total_cost))
    return {"epochs": max(args.min_epochs, min(args.max_epochs, epochs)),
            "seconds_per_epoch": per_epoch, "probe_seconds": spent}


def run_one(args, epochs: int, out: Path, data_name: str, run: Run,
            max_minutes: Optional[float] = None) -> dict:
    """Train and evaluate one run (at most ``max_minutes`` of training); write its JSON and
    CSVs into ``out``. Raises :class:`RunInterrupted` (and writes nothing) when the training
    stopped early."""
    from ..evaluation.evaluator import evaluate
    from ..engine.trainer import train
    t0 = time.time()
    res = train(_train_config(args, run, epochs, max_minutes=max_minutes))
    if res.interrupted:
        raise RunInterrupted(f"{run.name} was interrupted after {res.epochs_done} epochs; its "
                             "results were not written")
    ev = evaluate(res.checkpoint, split="test", progress=not args.quiet,
                  cache_dir=args.cache_dir)
    metrics = _sanitise(ev.metrics, run, data_name, args.git_commit)
    metrics["train"] = {"epochs": epochs, "epochs_done": res.epochs_done,
                        "best_epoch": res.best_epoch, "best_val_mae": res.best_val_mae,
                        "train_seconds": res.seconds, "precision": res.precision}
    metrics["run"] = {"name": run.name, "model": run.model, "sex": run.sex,
                      "num_concat": run.num_concat, "wall_seconds": time.time() - t0}
    (out / f"{run.name}.json").write_text(json.dumps(metrics, indent=2, default=float))
    ev.predictions.to_csv(out / f"{run.name}_predictions.csv", index=False,
                             float_format="%.6g")
    res.history.to_csv(out / f"{run.name}_history.csv", index=False, float_format="%.6g")
    return metrics


def _keep_split(args, run: Run, out: Path) -> None:
    """Copy the run's split beside the results; every run of a set must share it."""
    split_src = Path(args.work) / run.name / "split.csv"
    split_dst = out / f"{args.data_name}_split.csv"
    if not split_dst.exists():
        shutil.copyfile(split_src, split_dst)
    elif split_src.read_bytes() != split_dst.read_bytes():
        raise RuntimeError(f"run {run.name} used a different split from the others")


def build_tables(out: Path, runs: Sequence[Run]) -> dict:
    """Tables 1-3 from the runs' JSON files (absent runs are left out)."""
    def load(name):
        p = out / f"{name}.json"
        return json.loads(p.read_text()) if p.is_file() else None

    table1 = sorted(({"K": r.num_concat, "mae": m["mae"], "n": m["n"]}
                     for r in runs if r.name.startswith("arcnn_male_k") and (m := load(r.name))),
                    key=lambda row: row["K"])
    table2 = []
    for sex in ("male", "female"):
        m = load(f"arcnn_{sex}_k3")
        if m:
            k = m["config"]["model"]["num_concat"]
            table2.append({"sex": sex, **unit_maes(m, k), "n": m["n"]})
    table3 = {}
    for model in ("arcnn", "baseline"):
        per_sex = {sex: load(f"{model}_{sex}_k3" if model == "arcnn" else f"{model}_{sex}")
                   for sex in ("male", "female")}
        row = {sex: m["mae"] for sex, m in per_sex.items() if m}
        if len(row) == 2:
            row["all"] = pooled_mae((m["mae"], m["n"]) for m in per_sex.values())
        table3[model] = row
    return {"table1_male_k": table1, "table2_units": table2, "table3_mae": table3,
            "paper_mae": PAPER_MAE}


def write_tables_md(out: Path, manifest: dict) -> Path:
    """``tables.md``: Tables 1-3 of ``tables.json`` beside the paper's headline MAEs."""
    from .tables import reference_markdown
    tables = json.loads((out / "tables.json").read_text())
    path = out / "tables.md"
    path.write_text(reference_markdown(tables, manifest) + "\n")
    return path


def draw_fig3(args, out: Path, per_sex: int = 8) -> Optional[Path]:
    """Test radiographs with the top-K parts of the K = 3 models: large panels, 4 a row,
    ``per_sex`` boys first, then ``per_sex`` girls."""
    import matplotlib
    matplotlib.use("Agg")
    import pandas as pd

    from ..engine.run_data import prepare_run_data
    from .figures import fig3_parts, part_boxes
    from .reference import load_reference
    from ..engine.trainer import TrainConfig

    frames = []
    for sex in ("male", "female"):
        p = out / f"arcnn_{sex}_k3_predictions.csv"
        if p.is_file():
            frames.append(pd.read_csv(p, dtype={"id": str}).head(per_sex))
    if not frames:
        return None
    pred = pd.concat(frames, ignore_index=True)
    size = TrainConfig.for_profile(args.profile, data=args.data).model_config().image_size
    run = prepare_run_data(args.data, size, split_csv=out / f"{args.data_name}_split.csv",
                           cache_dir=args.cache_dir, progress=False)
    row_of = {i: r for r, i in enumerate(run.ids)}
    images = np.stack([run.images[row_of[i]] for i in pred["id"]])
    boxes, scores = part_boxes(pred)
    ref = load_reference(out)
    fig = fig3_parts(images, boxes, scores, k=3, ncols=4, size=2.6,
                     titles=[f"{'M' if m else 'F'}, {a:.0f} mo" for m, a in
                             zip(pred["male"], pred["boneage"])],
                     label=ref.label if ref else None,
                     suptitle="Top-3 parts of the K = 3 models on test radiographs")
    path = out / "fig3_parts.png"
    fig.savefig(path, dpi=110, bbox_inches="tight")
    return path


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m arcnn_lib reproduce", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="folder of RSNA radiographs (any layout)")
    p.add_argument("--data-name", default="rsna100", help="name recorded for the data set")
    p.add_argument("--out", default="results/reference", help="where the small results go")
    p.add_argument("--work", default="runs/reference", help="checkpoints and run folders")
    p.add_argument("--profile", default="gpu", help="ARCNNConfig profile (default gpu: "
                   "224 / 112, anchors 24, 48, 96, ResNet-50)")
    p.add_argument("--epochs", default="auto", help="epochs per run, or 'auto' (fit budget)")
    p.add_argument("--budget-minutes", type=float, default=None,
                   help="wall-clock budget for all runs; runs that would not fit are skipped")
    p.add_argument("--min-epochs", type=int, default=3)
    p.add_argument("--max-epochs", type=int, default=60)
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--pretrained", action="store_true",
                   help="start every run from ImageNet weights (downloaded by torchvision), "
                        "as the paper does; recorded in manifest.json")
    p.add_argument("--jobs", type=int, default=1,
                   help="runs trained at once on the one device, each in its own process "
                        "(a large GPU leaves most of its compute idle on one small run)")
    p.add_argument("--only", default=None, help="comma-separated run names")
    p.add_argument("--cache-dir", default=None)
    p.add_argument("--git-commit", default=None, help="commit to record (when .git is absent)")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--figures-only", action="store_true",
                   help="only rebuild tables.json, tables.md and fig3_parts.png from the "
                        "results already in --out (e.g. after a session cut short)")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    if not Path(args.data).is_dir():
        raise SystemExit(f"--data: folder {args.data!r} does not exist")
    if args.epochs != "auto" and (not args.epochs.isdigit() or int(args.epochs) < 1):
        raise SystemExit(f"--epochs must be a positive integer or 'auto', got {args.epochs!r}")
    if args.epochs == "auto" and args.budget_minutes is None and not args.figures_only:
        raise SystemExit("--epochs auto needs --budget-minutes")
    if args.jobs < 1:
        raise SystemExit(f"--jobs must be >= 1, got {args.jobs}")
    runs = list(RUNS)
    if args.only:
        names = args.only.split(",")
        unknown = set(names) - {r.name for r in RUNS}
        if unknown:
            raise SystemExit(f"--only: unknown runs {sorted(unknown)}; known: "
                             f"{', '.join(r.name for r in RUNS)}")
        runs = [r for r in RUNS if r.name in names]
    out, t_start = Path(args.out), time.time()
    # the tree the runs start from, recorded in every file even if the checkout moves on
    args.git_commit = args.git_commit or git_commit()
    if args.figures_only:
        manifest = json.loads((out / "manifest.json").read_text())
        args.profile, args.data_name = manifest["profile"], manifest["data"]
        (out / "tables.json").write_text(json.dumps(build_tables(out, RUNS), indent=2))
        print(f"[reproduce] wrote {draw_fig3(args, out)} and {write_tables_md(out, manifest)}")
        return 0
    out.mkdir(parents=True, exist_ok=True)
    budget = args.budget_minutes * 60 if args.budget_minutes else math.inf
    plan = choose_epochs(args, runs, budget) if args.epochs == "auto" else {
        "epochs": int(args.epochs)}
    if args.jobs > 1:
        _warm_cache(args)                 # built once here, not raced by the workers
    manifest = _manifest(args, plan, [r.name for r in runs])
    interrupted = []

    def record(run: Run, metrics: Optional[dict], reason) -> None:
        if metrics is None:
            manifest["skipped"].append({"name": run.name, "reason": str(reason)})
            if isinstance(reason, RunInterrupted):
                interrupted.append(str(reason))
        else:
            _keep_split(args, run, out)
            manifest["runs"].append({"name": run.name, "model": run.model, "sex": run.sex,
                                     "num_concat": run.num_concat})
            manifest["runs"].sort(key=lambda r: manifest["planned"].index(r["name"]))
            print(f"[reproduce] {run.name}: test MAE {metrics['mae']:.2f} months "
                  f"({metrics['run']['wall_seconds']:.0f} s)", flush=True)
        _write_manifest(out, manifest, t_start)

    job = functools.partial(run_one, args, plan["epochs"], out, args.data_name)
    execute(runs, job, budget, record, jobs=args.jobs)
    (out / "tables.json").write_text(json.dumps(build_tables(out, RUNS), indent=2))
    draw_fig3(args, out)
    manifest["complete"] = not manifest["skipped"]
    _write_manifest(out, manifest, t_start)
    write_tables_md(out, manifest)
    if interrupted:
        raise SystemExit(f"[reproduce] {interrupted[0]} (the runs that finished were)")
    return 0


def _manifest(args, plan: dict, planned: Sequence[str]) -> dict:
    """The set's manifest; ``complete`` stays False until every planned run has finished."""
    epochs = plan["epochs"]
    manifest = {"data": args.data_name, "profile": args.profile,
                "pretrained": bool(args.pretrained),
                "epochs": epochs, "plan": plan, "seed": args.seed, "jobs": args.jobs,
                "planned": list(planned), "complete": False, "runs": [], "skipped": [],
                "command": (f"python -m arcnn_lib reproduce --data <{args.data_name} folder> "
                            f"--data-name {args.data_name} --profile {args.profile} "
                            f"--epochs {epochs} --seed {args.seed}"
                            + (f" --batch-size {args.batch_size}" if args.batch_size else "")
                            + (f" --lr {args.lr}" if args.lr else "")
                            + (" --pretrained" if args.pretrained else "")),
                **provenance(_device())}
    if args.git_commit:
        manifest["git_commit"] = args.git_commit
    return manifest


def _write_manifest(out: Path, manifest: dict, t_start: float) -> None:
    manifest["wall_seconds"] = time.time() - t_start
    tmp = out / "manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=2, default=float))
    os.replace(tmp, out / "manifest.json")


def _warm_cache(args) -> None:
    """Build the image cache of ``args.data`` at the profile's size before workers read it."""
    from ..engine.config import TrainConfig
    from ..engine.run_data import prepare_run_data
    size = TrainConfig.for_profile(args.profile, data=args.data).model_config().image_size
    prepare_run_data(args.data, size, cache_dir=args.cache_dir, progress=not args.quiet)

if __name__ == "__main__":
    sys.exit(main())
