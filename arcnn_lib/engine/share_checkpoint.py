"""Small, shareable checkpoints: the weights a reader needs, none of the machine's state.

::

    python -m arcnn_lib share-checkpoint runs/x/best.pt results/y/arcnn_male_k3.pt --data-name rsna100
    python -m arcnn_lib share-checkpoint runs/x/best.pt results/y/untrained_male_k3.pt --untrained

A training checkpoint (:mod:`arcnn_lib.engine.checkpoint`) also holds the optimiser, scheduler and
random-generator states for resuming, and the paths of the machine it ran on. The shared copy
keeps what :func:`arcnn_lib.evaluation.evaluator.load_model` and :func:`arcnn_lib.evaluation.evaluator.evaluate` read
(``format``, ``model_kind``, ``model_config``, ``train_config``, ``model``, ``epoch``,
``best_epoch``, ``best_val_mae``, ``val_metrics``), with the data folder replaced by a name
(``--data-name``) and the run folder and cache by nothing. The run's ``split.csv`` is copied
beside it, so evaluation finds the images the model never saw, and the run's ``metrics.csv``
as ``<name>_history.csv`` (one row per epoch: losses, validation MAE, seconds).

``--untrained`` writes the **untrained counterpart** instead: the same configuration, the
weights the training run started from (the model built after seeding with the run's seed,
as :mod:`arcnn_lib.engine.trainer` does), ``epoch`` 0. It is the control for every claim that
training taught the model something.
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import Optional, Sequence

from . import checkpoint as ckpt_io

KEEP = ("format", "model_kind", "model_config", "train_config", "model", "epoch",
        "best_epoch", "best_val_mae", "val_metrics", "precision")


def shared_state(state: dict, data_name: str, untrained: bool = False) -> dict:
    """The shareable dict of a training checkpoint ``state`` (see the module doc)."""
    out = {k: state[k] for k in KEEP if k in state}
    tcfg = dict(out.get("train_config", {}))
    tcfg.update(data=data_name, out=Path(str(tcfg.get("out", "run"))).name, cache_dir=None,
                resume=False)
    out["train_config"] = tcfg
    if untrained:
        import torch

        from ..config import ARCNNConfig
        from ..model import build_model
        with torch.random.fork_rng(devices=[]):   # the weights draw from torch's generator
            torch.manual_seed(int(tcfg.get("seed", 0)))
            model = build_model(ARCNNConfig.from_dict(out["model_config"]),
                                out.get("model_kind", "arcnn"))
        out.update(model=model.state_dict(), epoch=0, best_epoch=0,
                   best_val_mae=float("inf"), val_metrics={})
        out["untrained"] = True
    return out


def share(src, dst, data_name: str, untrained: bool = False) -> Path:
    """Write the shared copy of checkpoint ``src`` to ``dst`` and its ``split.csv`` beside."""
    src, dst = Path(src), Path(dst)
    state = ckpt_io.load(src)
    ckpt_io.save_atomic(shared_state(state, data_name, untrained), dst)
    split_src, split_dst = src.parent / "split.csv", dst.parent / "split.csv"
    if split_src.is_file():
        if not split_dst.is_file():
            shutil.copyfile(split_src, split_dst)
        elif split_src.read_bytes() != split_dst.read_bytes():
            raise ValueError(f"{split_dst} exists and differs from the split of {src}: "
                             "put checkpoints of different splits in different folders")
    history = src.parent / "metrics.csv"
    if history.is_file() and not untrained:
        shutil.copyfile(history, dst.with_name(dst.stem + "_history.csv"))
    return dst


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m arcnn_lib share-checkpoint", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("src", help="a training checkpoint (best.pt / last.pt)")
    p.add_argument("dst", help="the shared checkpoint to write")
    p.add_argument("--data-name", default="data", help="name recorded instead of the data path")
    p.add_argument("--untrained", action="store_true",
                   help="write the untrained counterpart (the run's initial weights)")
    a = p.parse_args(argv)
    try:
        dst = share(a.src, a.dst, a.data_name, a.untrained)
    except (ValueError, FileNotFoundError) as e:
        p.error(str(e))
    print(f"wrote {dst} ({dst.stat().st_size / 2**20:.1f} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
