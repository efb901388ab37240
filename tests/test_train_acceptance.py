"""Acceptance: the smoke profile on an 800-image phantom, trained on a 2-core CPU.

The held-out (test split) MAE must be at most half that of predicting the training median,
and the best-scored part must hit a true cue region clearly more often than a random anchor
does (top-1 >= 2 x random + 0.05). The run is deterministic (fixed seeds, a fixed number of
epochs), so these hold on any machine; run ``pytest tests/test_train_acceptance.py -s`` to
see the figures, with the wall and CPU time of each stage. The times are reported, never
asserted: timings belong in ``benchmarks/``, and on a shared machine they say little.

Same figures from the command line::

    python -m arcnn_lib train --data phantom --profile smoke --out runs/smoke
    python -m arcnn_lib evaluate --checkpoint runs/smoke/best.pt --out runs/smoke/eval
"""
import json
import resource
import time

from arcnn_lib.config import ARCNNConfig
from arcnn_lib.evaluation.evaluator import evaluate
from arcnn_lib import TrainConfig, train

CORES = 2


def _cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def test_smoke_profile_on_800_phantom_learns_age_and_points_at_cues(tmp_path):
    from arcnn_lib.data.cache import get_cache
    from arcnn_lib.data.phantom import phantom_folder

    t0, c0 = time.time(), _cpu_seconds()
    cache = tmp_path / "cache"
    root = phantom_folder(n=800, seed=0, cache_dir=cache, progress=False)
    get_cache(root, ARCNNConfig.smoke().image_size, cache_dir=cache, progress=False)
    t_data = time.time() - t0

    cfg = TrainConfig.for_profile("smoke", data="phantom", phantom_n=800, phantom_seed=0,
                                  cache_dir=str(cache), out=str(tmp_path / "run"), seed=0,
                                  progress=False, num_threads=CORES)
    res = train(cfg)
    t_train = time.time() - t0 - t_data
    ev = evaluate(res.checkpoint, split="test", out=tmp_path / "eval", progress=False,
                  num_threads=2)
    elapsed, cpu = time.time() - t0, _cpu_seconds() - c0

    m, p = ev.metrics, ev.metrics["pointing"]
    report = {"test_mae": m["mae"], "median_predictor_mae": m["median_baseline_mae"],
              "ratio": m["mae"] / m["median_baseline_mae"], "mae_x": m["mae_x"],
              "mae_concat": m["mae_concat"], "top1_hit": p["top1"],
              "random_anchor_top1": p["random_top1"],
              "random_anchor_top1_expected": p["random_top1_expected"],
              f"top{p['k']}_hit": p["topk"], f"random_top{p['k']}": p["random_topk"],
              "epochs_done": res.epochs_done, "best_epoch": res.best_epoch,
              "interrupted": res.interrupted,
              "seconds_data": round(t_data, 1), "seconds_train": round(t_train, 1),
              "seconds_total": round(elapsed, 1), "cpu_seconds": round(cpu, 1),
              "cores_used": round(cpu / elapsed, 2), "n_test": m["n"]}
    print("\nacceptance:", json.dumps(report, indent=1))

    assert not res.interrupted, f"training was interrupted by a signal: {report}"
    assert m["mae"] <= 0.5 * m["median_baseline_mae"], report
    assert p["top1"] >= 2.0 * p["random_top1_expected"] + 0.05, report
