"""A trained AR-CNN re-assembled with unit weights fitted on its own validation split.

::

    python -m arcnn_lib fit-assembly --checkpoint runs/arcnn_male_k3/best.pt ... --out F.json

The phantom study (:mod:`arcnn_lib.results.phantom_study`) chose, on its validation split,
the paper's AR-CNN with the units assembled by fitted weights
(:mod:`arcnn_lib.evaluation.assembly`, an extension) instead of Eq. 1. This command applies
the same choice to any AR-CNN checkpoint, for instance the real-data reference runs: it
predicts the validation and test splits, fits the K + 2 weights on validation, and reports
the test MAE of both assemblies (Eq. 1 beside the fitted one, always) with X's for scale.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Optional, Sequence

from ..engine.runtime import provenance
from ..evaluation.assembly import assembled_mae, eq1_weights, fit_weights, unit_columns
from ..evaluation.evaluator import evaluate


def score(checkpoint, data: Optional[str] = None, cache_dir: Optional[str] = None) -> dict:
    """Eq. 1 and the validation-fitted assembly of one AR-CNN checkpoint, on val and test."""
    val = evaluate(checkpoint, data=data, split="val", cache_dir=cache_dir, progress=False)
    test = evaluate(checkpoint, data=data, split="test", cache_dir=cache_dir, progress=False)
    k = int(test.metrics["config"]["model"]["num_concat"])
    weights = fit_weights(val.predictions, k)
    row = {"run": Path(checkpoint).parent.name, "num_concat": k, "units": unit_columns(k),
           "weights": [float(w) for w in weights], "n_val": len(val.predictions),
           "n_test": len(test.predictions), "test_mae_x": float(test.metrics["mae_x"])}
    for split, ev in (("val", val), ("test", test)):
        row[f"{split}_mae_eq1"] = assembled_mae(ev.predictions, eq1_weights(k), k)
        row[f"{split}_mae_fitted"] = assembled_mae(ev.predictions, weights, k)
    return row


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m arcnn_lib fit-assembly", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", nargs="+", required=True, help="AR-CNN checkpoints")
    p.add_argument("--data", default=None, help="data folder (default: the training one)")
    p.add_argument("--cache-dir", default=None)
    p.add_argument("--out", required=True, help="the JSON file to write")
    args = p.parse_args(argv)
    for c in args.checkpoint:
        if not Path(c).is_file():
            raise SystemExit(f"--checkpoint: {c!r} does not exist")
    t0 = time.time()
    rows = [score(c, args.data, args.cache_dir) for c in args.checkpoint]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    report = {"rows": rows, "rule": "weights fitted on each run's validation split "
              "(non-negative, summing to one); the test split scored once with both "
              "assemblies", "wall_seconds": time.time() - t0, **provenance()}
    out.write_text(json.dumps(report, indent=2))
    for r in rows:
        print(f"[fit-assembly] {r['run']}: test MAE Eq. 1 {r['test_mae_eq1']:.2f}, fitted "
              f"{r['test_mae_fitted']:.2f}, X {r['test_mae_x']:.2f} months")
    return 0


if __name__ == "__main__":
    sys.exit(main())
