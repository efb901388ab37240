"""Evaluating a checkpoint: per-unit MAE, predictions with the selected parts, pointing game.

Command line::

    python -m arcnn_lib evaluate --checkpoint runs/smoke/best.pt --data phantom \\
        --split test --out runs/smoke/eval

Python::

    from arcnn_lib.evaluation.evaluator import evaluate
    res = evaluate("runs/smoke/best.pt", data="phantom", split="test", out="runs/smoke/eval")
    res.metrics["mae"], res.predictions          # a float, a DataFrame

Outputs in ``OUT``:

``metrics.json``
    ``mae`` (the assembled estimate A_asb), ``mae_x``, ``mae_concat``, ``mae_parts`` (list
    over the M parts, best-scored first), ``n``; the same under ``male`` and ``female``;
    ``median_baseline_mae`` (always predicting the training split's median age);
    ``pointing`` (phantom only, see :mod:`arcnn_lib.evaluation.pointing`); and provenance: ``config``
    (model and training configuration), ``data`` (folder, split file, split name, sex),
    ``checkpoint`` (path, epoch, its validation MAE), ``git_commit``, ``hardware``,
    ``versions``, ``date``, ``wall_seconds``.
``predictions.csv``
    one row per image: ``id``, ``male``, ``boneage``, ``pred``, ``pred_x``, ``pred_concat``,
    ``pred_part1..M``, and for each part i = 1..M (ranked by score) ``part{i}_score``,
    ``part{i}_x1``, ``part{i}_y1``, ``part{i}_x2``, ``part{i}_y2`` in network-input pixels
    (``image_size`` square, the cache's resize-and-pad frame): enough to draw the paper's
    Fig. 2 (boxes on the hand) and Fig. 3 (where the parts fall). The baseline has only
    ``pred`` and ``pred_x``.

The split defaults to the run's own ``split.csv`` (beside the checkpoint), so a model is
scored on exactly the images it never saw; the sex defaults to the one it was trained on.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from tqdm.auto import tqdm

from ..config import ARCNNConfig
from ..config import PHANTOM, is_phantom, progress_enabled
from ..engine import checkpoint as ckpt_io
from ..engine.config import TrainConfig, check_sex
from ..engine.distributed import pick_device
from ..engine.inference import infer
from ..engine.run_data import RunData, prepare_run_data
from ..engine.runtime import (AMP_CHOICES, Precision, jsonable, provenance, select_precision,
                              set_threads)
from ..model.build import build_model
from ..model.units import output_suffixes, stack_units
from .metrics import mae_from_frame, median_baseline_mae
from .pointing import pointing_game, regions_by_id

SPLIT_NAMES = ("train", "val", "test")


@dataclass
class EvalResult:
    """What :func:`evaluate` returns: ``metrics`` (the dict ``metrics.json`` holds) and
    ``predictions`` (one row per image: the frame described in the module doc)."""

    metrics: dict
    predictions: pd.DataFrame


def load_model(checkpoint: os.PathLike, device: torch.device = torch.device("cpu")):
    """Rebuild the model of a checkpoint (``weights_only=True``) in eval mode.

    Returns ``(model, model_config, checkpoint_dict)``.
    """
    state = ckpt_io.load(checkpoint, map_location="cpu")
    model_cfg = ARCNNConfig.from_dict(state["model_config"])
    # the checkpoint holds every weight: never download ImageNet weights to overwrite them
    model = build_model(model_cfg.replace(pretrained=False), state.get("model_kind", "arcnn"))
    model.load_state_dict(state["model"])
    return model.to(device).eval(), model_cfg, state


@torch.no_grad()
def predict(model: nn.Module, data: RunData, rows: np.ndarray, model_cfg: ARCNNConfig,
            device: torch.device, precision: Optional[Precision] = None,
            batch_size: int = 64, progress: bool = False) -> pd.DataFrame:
    """Predictions of every unit, and the selected parts, for the cache ``rows``.

    Returns the frame described in the module doc (columns ``id`` ... ``part{M}_y2``) with
    one row per entry of ``rows``, in the order of ``rows``.
    """
    precision = precision or select_precision(device, "fp32")
    chunks: List[Dict[str, np.ndarray]] = []
    suffixes = None
    bar = (tqdm(total=-(-len(rows) // batch_size), desc="evaluate", leave=False)
           if progress_enabled(progress) else None)
    for b, out in infer(model, data.images, data.ages, data.male, rows, batch_size, device,
                        precision, model_cfg, channels_last=device.type == "cuda"):
        units = stack_units(out).float().cpu().numpy()
        if suffixes is None:
            suffixes = output_suffixes(out, model_cfg.num_parts)
        c = {"row": b.rows.numpy()}
        for k, s in enumerate(suffixes):
            c[f"pred{s}"] = units[:, k]
        if out.part_boxes is not None:
            boxes = out.part_boxes.float().cpu().numpy()
            scores = out.part_scores.float().cpu().numpy()
            for i in range(boxes.shape[1]):
                c[f"part{i + 1}_score"] = scores[:, i]
                for j, name in enumerate(("x1", "y1", "x2", "y2")):
                    c[f"part{i + 1}_{name}"] = boxes[:, i, j]
        chunks.append(c)
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    if not chunks:
        return pd.DataFrame(columns=["id", "male", "boneage", "pred"])
    cols = {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]}
    r = cols.pop("row")
    frame = pd.DataFrame({"id": data.ids[r], "male": data.male[r].astype(bool),
                          "boneage": data.ages[r].astype(np.float64), **cols})
    # batches are read with sorted rows: restore the order of ``rows``
    pos = {int(v): k for k, v in enumerate(r)}
    frame = frame.iloc[[pos[int(v)] for v in rows]].reset_index(drop=True)
    return frame


def _default_split_csv(checkpoint: Path, state: dict) -> Optional[Path]:
    beside = checkpoint.parent / "split.csv"
    if beside.is_file():
        return beside
    saved = (state.get("data") or {}).get("split_csv")
    if saved and Path(saved).is_file():
        return Path(saved)
    return None


def evaluate(checkpoint: os.PathLike, data: Optional[str] = None, split: str = "test",
             out: Optional[os.PathLike] = None, split_csv: Optional[os.PathLike] = None,
             sex: Optional[str] = None, batch_size: int = 64, device: str = "auto",
             amp: str = "auto", cache_dir: Optional[str] = None, pointing_seed: int = 0,
             num_threads: Optional[int] = None, progress: bool = True) -> EvalResult:
    """Evaluate ``checkpoint`` on one split; write ``OUT/metrics.json`` and
    ``OUT/predictions.csv`` when ``out`` is given.

    Args:
        checkpoint: a ``last.pt`` / ``best.pt`` of :mod:`arcnn_lib.engine.trainer`.
        data: a data folder or ``phantom`` (default: the one the model was trained on; the
            phantom is regenerated with the run's size and seed).
        split: ``train``, ``val`` or ``test``.
        out: output folder (created), or None to only return the results.
        split_csv: the ``id,split`` file (default: ``split.csv`` beside the checkpoint; if
            there is none, the split is recomputed from the run's seed and fractions).
        sex: ``male``, ``female`` or ``all`` (default: the sex the model was trained on).
        batch_size, device, amp, cache_dir, num_threads: as for training.
        pointing_seed: seed of the random anchors of the pointing game.
    Returns:
        an :class:`EvalResult`: ``metrics`` (what ``metrics.json`` holds) and
        ``predictions`` (DataFrame).
    """
    t0 = time.time()
    checkpoint = Path(checkpoint)
    _check_arguments(checkpoint, data, split, split_csv, sex, batch_size)
    dev = pick_device(device)
    if dev.type == "cpu":
        set_threads(num_threads)
    precision = select_precision(dev, amp)
    model, model_cfg, state = load_model(checkpoint, dev)
    if dev.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    tcfg = state.get("train_config", {})
    data = data if data is not None else tcfg.get("data", PHANTOM)
    sex = sex or tcfg.get("sex", "all")
    split_file = Path(split_csv) if split_csv is not None else _default_split_csv(checkpoint, state)
    run = prepare_run_data(
        data, model_cfg.data_size, out_dir=None,
        seed=int(TrainConfig.from_dict(tcfg).effective_split_seed),
        fractions=tuple(tcfg.get("split_fractions", (0.7, 0.15, 0.15))),
        phantom_n=int(tcfg.get("phantom_n", 800)), phantom_seed=int(tcfg.get("phantom_seed", 0)),
        cache_dir=cache_dir if cache_dir is not None else tcfg.get("cache_dir"), sex=sex,
        split_csv=split_file, progress=progress)
    rows = run.rows(split)
    if len(rows) == 0:
        raise ValueError(f"split {split!r} has no labelled images for sex={sex!r} in {data!r}")
    pred = predict(model, run, rows, model_cfg, dev, precision, batch_size, progress)

    metrics: Dict[str, object] = dict(mae_from_frame(pred))
    for name, mask in (("male", pred["male"].to_numpy(bool)), ("female", ~pred["male"].to_numpy(bool))):
        metrics[name] = mae_from_frame(pred[mask]) if mask.any() else {"n": 0}
    train_rows = run.rows("train")
    if len(train_rows):
        metrics["median_baseline_mae"] = median_baseline_mae(run.ages[train_rows],
                                                             pred["boneage"].to_numpy())
    if run.regions is not None and "part1_x1" in pred:
        metrics["pointing"] = _pointing(pred, run, model, model_cfg, pointing_seed)
    prov = provenance(dev)
    metrics.update({
        "split": split, "sex": sex, "model_kind": state.get("model_kind", "arcnn"),
        "config": {"model": model_cfg.to_dict(), "train": tcfg},
        "data": {"data": str(data), "root": str(run.root),
                 "split_csv": str(split_file) if split_file is not None else None,
                 "split_source": "file" if split_file is not None else "recomputed from seed"},
        "checkpoint": {"path": str(checkpoint), "epoch": int(state.get("epoch", 0)),
                       "val_mae": (state.get("val_metrics") or {}).get("val_mae")},
        "precision": precision.name, **prov, "wall_seconds": time.time() - t0,
    })
    if out is not None:
        _write(Path(out), metrics, pred)
    return EvalResult(metrics=metrics, predictions=pred)


def _check_arguments(checkpoint: Path, data, split, split_csv, sex, batch_size) -> None:
    if split not in SPLIT_NAMES:
        raise ValueError(f"unknown split {split!r}; choose one of {', '.join(SPLIT_NAMES)}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if not checkpoint.is_file():
        raise FileNotFoundError(f"checkpoint {str(checkpoint)!r} does not exist")
    if data is not None and not is_phantom(data) and not Path(data).is_dir():
        raise FileNotFoundError(f"data folder {data!r} does not exist (use a folder in an RSNA "
                                "layout, or 'phantom')")
    if split_csv is not None and not Path(split_csv).is_file():
        raise FileNotFoundError(f"split file {str(split_csv)!r} does not exist")
    if sex is not None:
        check_sex(sex)



def _pointing(pred: pd.DataFrame, run: RunData, model: nn.Module, model_cfg: ARCNNConfig,
              seed: int) -> dict:
    """The pointing game of the selected boxes in ``pred`` against the run's known regions."""
    m = model_cfg.num_parts
    boxes = np.stack([pred[[f"part{i + 1}_{c}" for c in ("x1", "y1", "x2", "y2")]]
                      .to_numpy(np.float64) for i in range(m)], axis=1)
    scores = pred[[f"part{i + 1}_score" for i in range(m)]].to_numpy(np.float64)
    regions = regions_by_id(run.regions, pred["id"].tolist())
    # regions are in cache pixels (data_size), boxes in input pixels (image_size)
    regions = [r * (model_cfg.image_size / model_cfg.data_size) for r in regions]
    res = pointing_game(torch.from_numpy(boxes.copy()), torch.from_numpy(scores.copy()), regions,
                        model.anchors.detach().cpu(), k=max(1, model_cfg.num_concat), seed=seed)
    res["rule"] = ("hit: the centre of a selected box lies inside a true cue region (see "
                   "arcnn_lib.evaluation.pointing)")
    return res


def _write(out: Path, metrics: dict, pred: pd.DataFrame) -> None:
    """``OUT/predictions.csv`` and ``OUT/metrics.json`` (written atomically)."""
    out.mkdir(parents=True, exist_ok=True)
    pred.to_csv(out / "predictions.csv", index=False, float_format="%.6g")
    tmp = out / "metrics.json.tmp"
    tmp.write_text(json.dumps(jsonable(metrics), indent=2))
    os.replace(tmp, out / "metrics.json")


# ---------------------------------------------------------------------------- CLI
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m arcnn_lib evaluate",
                                description="Evaluate an AR-CNN / baseline checkpoint: per-unit "
                                            "MAE, predictions with boxes, pointing game.")
    p.add_argument("--checkpoint", required=True, help="best.pt or last.pt of a training run")
    p.add_argument("--data", help="data folder or 'phantom' (default: the training data)")
    p.add_argument("--split", default="test", help="train | val | test (default test)")
    p.add_argument("--out", required=True, help="folder for metrics.json and predictions.csv")
    p.add_argument("--split-csv", help="id,split file (default: split.csv beside the checkpoint)")
    p.add_argument("--sex", help="male | female | all (default: the model's training sex)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--device", default="auto")
    p.add_argument("--amp", default="auto", help=" | ".join(AMP_CHOICES))
    p.add_argument("--cache-dir")
    p.add_argument("--pointing-seed", type=int, default=0)
    p.add_argument("--num-threads", type=int)
    p.add_argument("--no-progress", dest="progress", action="store_false")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    a = parser.parse_args(argv)
    try:
        res = evaluate(a.checkpoint, a.data, a.split, a.out, a.split_csv, a.sex, a.batch_size,
                       a.device, a.amp, a.cache_dir, a.pointing_seed, a.num_threads, a.progress)
    except (ValueError, FileNotFoundError) as e:
        parser.error(str(e))
    m = res.metrics
    line = f"{m['split']}: n={m['n']}, MAE {m['mae']:.3f} months"
    if m.get("median_baseline_mae") is not None:
        line += f" (median predictor {m['median_baseline_mae']:.3f})"
    if "pointing" in m:
        p = m["pointing"]
        line += (f"; pointing top-1 {p['top1']:.3f} vs random anchor {p['random_top1']:.3f}, "
                 f"top-{p['k']} {p['topk']:.3f} vs {p['random_topk']:.3f}")
    print(line)
    print(f"wrote {Path(a.out) / 'metrics.json'} and {Path(a.out) / 'predictions.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
