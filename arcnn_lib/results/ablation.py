"""Controlled ablations of the male K = 3 model, scored on the validation split only.

::

    python -m arcnn_lib ablation --data DIR --out results/ablation --profile smoke \\
        --epochs 10 --seeds 0 1 2

Why AR-CNN trails the single-stage baseline on real radiographs is a question about
differences of a month or two, the size of the spread between two seeds. So every variant
below is trained with the same seeds, on one split (split seed ``--split-seed``, the split
of the reference runs), and compared *within* a seed:

==========================  ================================================================
variant                     what changes against the library's default ``arcnn``
==========================  ================================================================
``arcnn``                   nothing (separate BatchNorm statistics for images and parts)
``arcnn_shared_stats``      one set of BatchNorm running statistics for images and parts, as
                            in the paper and NTS-Net (:mod:`arcnn_lib.model.part_norm`)
``arcnn_no_clip``           no gradient-norm clipping (``grad_clip = 0``)
``arcnn_parts_per_level``   each anchor scale gives M / 3 of the parts (an extension), so the
                            navigator keeps ranking parts of every scale
``baseline``                the single-stage regressor of Table 3
==========================  ================================================================

Every number is a **validation** MAE, read at each run's best epoch (the checkpoint that
``best.pt`` keeps): the test split is left to the reference tables, so choosing a default
from this table does not tune on them. Written to ``--out``: ``ablation.csv`` (one row per
variant and seed: the MAE of every unit, the best epoch, seconds) and ``ablation.json`` (the
rows, the mean and spread per variant, the paired differences to ``arcnn``, the command and
provenance). Run folders go to ``--work``.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Dict, Optional, Sequence

import pandas as pd

from ..engine.runtime import git_commit, provenance
from ..model.units import unit_label, unit_suffixes

#: Variant name -> (model kind, TrainConfig overrides).
VARIANTS: Dict[str, tuple] = {
    "arcnn": ("arcnn", {}),
    "arcnn_shared_stats": ("arcnn", {"separate_part_stats": False}),
    "arcnn_no_clip": ("arcnn", {"grad_clip": 0.0}),
    "arcnn_parts_per_level": ("arcnn", {"part_selection": "per_level"}),
    "baseline": ("baseline", {}),
}

#: Columns of metrics.csv reported per unit (absent ones, e.g. parts of the baseline, NaN).
UNIT_COLUMNS = {f"val_mae{s}": unit_label(s) for s in unit_suffixes(3)}


def run_variant(args, variant: str, seed: int) -> dict:
    """Train one variant with one seed; its validation MAEs at the best epoch."""
    from ..engine.trainer import TrainConfig, train
    kind, over = VARIANTS[variant]
    cfg = TrainConfig.for_profile(
        args.profile, data=args.data, out=str(Path(args.work) / f"{variant}_seed{seed}"),
        sex="male", model=kind, num_concat=3, epochs=args.epochs, seed=seed,
        split_seed=args.split_seed, overwrite=True, progress=not args.quiet,
        cache_dir=args.cache_dir, max_minutes=args.max_minutes, **over)
    res = train(cfg)
    if res.interrupted:
        raise SystemExit(f"[ablation] {variant} seed {seed} was interrupted after "
                         f"{res.epochs_done} epochs; nothing was written for it")
    hist = res.history
    best = hist.loc[hist["val_mae"].idxmin()]
    row = {"variant": variant, "seed": seed, "best_epoch": int(best["epoch"]),
           "train_seconds": float(res.seconds)}
    for col, unit in UNIT_COLUMNS.items():
        row[unit] = float(best[col]) if col in best.index else float("nan")
    return row


def paired(rows: pd.DataFrame, variant: str, unit: str = "A_asb",
           against: str = "arcnn") -> pd.Series:
    """Per-seed differences ``variant - against`` of one unit's MAE (months), same seed."""
    a = rows[rows["variant"] == variant].set_index("seed")[unit]
    b = rows[rows["variant"] == against].set_index("seed")[unit]
    return (a - b).dropna()


def summarise(rows: pd.DataFrame) -> dict:
    """Mean and sample standard deviation per variant and unit, and the paired differences
    (variant - ``arcnn``, same seed) of the assembled MAE (:func:`paired`)."""
    units = list(UNIT_COLUMNS.values())
    summary = {}
    for variant, g in rows.groupby("variant", sort=False):
        entry = {"n_seeds": int(len(g))}
        for unit in units:
            v = g[unit].dropna().to_numpy()
            if len(v):
                entry[unit] = {"mean": float(v.mean()),
                               "sd": float(v.std(ddof=1)) if len(v) > 1 else None}
        diff = paired(rows, variant)
        if variant != "arcnn" and len(diff):
            entry["A_asb_minus_arcnn"] = {
                "mean": float(diff.mean()), "per_seed": [float(d) for d in diff],
                "sd": float(diff.std(ddof=1)) if len(diff) > 1 else None}
        summary[variant] = entry
    return summary


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m arcnn_lib ablation", description=__doc__.split(
        "\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="folder of RSNA radiographs (any layout)")
    p.add_argument("--data-name", default="rsna100", help="name recorded for the data set")
    p.add_argument("--out", default="results/ablation", help="where the small results go")
    p.add_argument("--work", default="runs/ablation", help="run folders and checkpoints")
    p.add_argument("--profile", default="smoke")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--split-seed", type=int, default=0)
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    p.add_argument("--cache-dir", default=None)
    p.add_argument("--max-minutes", type=float, default=None,
                   help="wall-time limit of each run; a run that reaches it stops the "
                        "ablation (an unfinished run is not comparable)")
    p.add_argument("--git-commit", default=None, help="commit to record (when .git is absent)")
    p.add_argument("--quiet", action="store_true")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    import torch
    args = build_parser().parse_args(argv)
    if not Path(args.data).is_dir():
        raise SystemExit(f"--data: folder {args.data!r} does not exist")
    if args.epochs < 1:
        raise SystemExit(f"--epochs must be a positive integer, got {args.epochs}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    commit = args.git_commit or git_commit()   # the tree the runs start from
    t0, rows = time.time(), []
    for seed in args.seeds:
        for variant in args.variants:
            rows.append(run_variant(args, variant, seed))
            r = rows[-1]
            print(f"[ablation] {variant} seed {seed}: val MAE {r['A_asb']:.2f} months "
                  f"(X {r['X']:.2f})", flush=True)
            frame = pd.DataFrame(rows)
            frame.to_csv(out / "ablation.csv", index=False, float_format="%.6g")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    report = {
        "data": args.data_name, "profile": args.profile, "pretrained": False, "sex": "male",
        "num_concat": 3, "epochs": args.epochs, "seeds": args.seeds,
        "split_seed": args.split_seed, "split": "val",
        "command": (f"python -m arcnn_lib ablation --data <{args.data_name} folder> "
                    f"--profile {args.profile} --epochs {args.epochs} --seeds "
                    + " ".join(map(str, args.seeds)) + f" --split-seed {args.split_seed} "
                    "--variants " + " ".join(args.variants)),
        "rows": rows, "summary": summarise(pd.DataFrame(rows)),
        "wall_seconds": time.time() - t0, **provenance(device)}
    report["git_commit"] = commit
    (out / "ablation.json").write_text(json.dumps(report, indent=2, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
