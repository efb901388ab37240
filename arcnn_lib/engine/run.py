"""One training run's state and how it is set up: folder, device, data, the seeded model,
optimiser and schedule (:func:`build_run`); resuming from ``last.pt`` (:func:`resume`);
the DDP / compile wrapper (:func:`wrap`); and the checkpoint dict (:func:`checkpoint_state`).
"""
from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Tuple

import torch
from torch import nn

from ..config import ARCNNConfig
from ..data.loader import EpochOrder
from ..config import is_phantom
from ..model.build import build_model
from . import checkpoint as ckpt_io
from . import distributed as D
from .config import TrainConfig
from .optim import build_optimizer, build_scheduler, lr_lambda
from .run_data import RunData, prepare_run_data
from .runtime import MetricsLog, Precision, seed_everything, select_precision, set_threads


@dataclass
class Run:
    """What the loop's pieces share: the run's settings, data, model and optimiser state."""

    cfg: TrainConfig
    info: D.DistInfo
    out: Path
    t_start: float
    model_cfg: ARCNNConfig
    data: RunData
    raw: nn.Module              # the model itself
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    scaler: torch.amp.GradScaler
    aug_gen: torch.Generator
    order: EpochOrder
    precision: Precision
    channels_last: bool
    log: Optional[MetricsLog]   # rank 0 only
    model: Optional[nn.Module] = None  # what runs the forward pass: raw, DDP- or compile-wrapped
    start_epoch: int = 0
    start_step: int = 0
    global_step: int = 0
    best_val: float = math.inf
    best_epoch: Optional[int] = None
    epoch_sums: Optional[torch.Tensor] = None

    @property
    def last_path(self) -> Path:
        return self.out / "last.pt"

    @property
    def best_path(self) -> Path:
        return self.out / "best.pt"


# ---------------------------------------------------------------------------- set-up
def prepare_out_dir(cfg: TrainConfig, info: D.DistInfo) -> Path:
    """The run folder, checked against ``resume`` / ``overwrite`` (rank 0) and created."""
    out = Path(cfg.out)
    last_path = out / "last.pt"
    if info.is_main:
        if cfg.resume and not last_path.is_file():
            raise FileNotFoundError(f"--resume: no checkpoint {str(last_path)!r} to resume from")
        if not cfg.resume and not cfg.overwrite and last_path.is_file():
            raise FileExistsError(f"{str(out)!r} already holds a run ({last_path.name}); use "
                                  "--resume to continue it, --overwrite to start afresh, or "
                                  "another --out")
        out.mkdir(parents=True, exist_ok=True)
    D.barrier(info)
    return out


def configure_device(cfg: TrainConfig, info: D.DistInfo) -> Tuple[Precision, bool]:
    """Threads, precision and fast kernels for ``info.device``; returns ``(precision,
    channels_last)``."""
    device = info.device
    if device.type == "cpu":
        set_threads(cfg.num_threads)
    precision = select_precision(device, cfg.amp)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    return precision, cfg.channels_last and device.type == "cuda"


def load_data(cfg: TrainConfig, info: D.DistInfo, model_cfg: ARCNNConfig, out: Path) -> RunData:
    """The run's cached images and split (:func:`prepare_run_data`), checked for size."""
    data = prepare_run_data(cfg.data, model_cfg.data_size, out_dir=out,
                            seed=cfg.effective_split_seed,
                            fractions=cfg.split_fractions, phantom_n=cfg.phantom_n,
                            phantom_seed=cfg.phantom_seed, cache_dir=cfg.cache_dir,
                            sex=cfg.sex, info=info, reuse_split=cfg.resume,
                            progress=cfg.progress)
    n_train = len(data.rows("train"))
    if n_train < 2:
        raise ValueError(f"the training split has {n_train} labelled images for "
                         f"sex={cfg.sex!r}; need at least 2")
    if len(data.rows("val")) == 0:
        warnings.warn("the validation split is empty: best.pt follows the training loss")
    return data


def build_run(cfg: TrainConfig, info: D.DistInfo, t_start: float) -> Run:
    """Everything a fresh run starts from: folder, device, data, seeded model, optimiser,
    schedule and epoch order."""
    out = prepare_out_dir(cfg, info)
    precision, channels_last = configure_device(cfg, info)
    model_cfg = cfg.model_config()
    data = load_data(cfg, info, model_cfg, out)
    seed_everything(cfg.seed)
    raw = build_model(model_cfg, cfg.model).to(info.device)
    if channels_last:
        raw = raw.to(memory_format=torch.channels_last)
    optimizer = build_optimizer(raw, cfg.lr, cfg.weight_decay)
    order = EpochOrder(data.rows("train"), cfg.batch_size, seed=cfg.seed, shuffle=True,
                       drop_last=True, rank=info.rank, world_size=info.world_size)
    scheduler = build_scheduler(optimizer, cfg.epochs * len(order), cfg)
    return Run(cfg=cfg, info=info, out=out, t_start=t_start, model_cfg=model_cfg, data=data,
               raw=raw, optimizer=optimizer, scheduler=scheduler,
               scaler=precision.grad_scaler(), aug_gen=torch.Generator(device=info.device),
               order=order, precision=precision, channels_last=channels_last,
               log=MetricsLog(out / "metrics.csv") if info.is_main else None)


def resume(run: Run) -> None:
    """Continue from ``OUT/last.pt``: weights, optimiser, schedule, scaler, RNG states and
    the position in the epoch."""
    cfg, info = run.cfg, run.info
    state = ckpt_io.load(run.last_path, map_location="cpu")
    _check_resume_compatible(state["train_config"], cfg)
    if int(state["train_config"].get("epochs", cfg.epochs)) != cfg.epochs:
        warnings.warn(f"resuming with epochs={cfg.epochs} instead of "
                      f"{state['train_config'].get('epochs')}: the cosine schedule is "
                      "stretched from here on")
    run.raw.load_state_dict(state["model"])
    run.optimizer.load_state_dict(state["optimizer"])
    run.scheduler.load_state_dict(state["scheduler"])
    run.scheduler.lr_lambdas[0] = lr_lambda(cfg.epochs * len(run.order), cfg.warmup_fraction,
                                            cfg.min_lr_fraction)
    run.scaler.load_state_dict(state["scaler"])
    run.start_epoch, run.start_step = int(state["epoch"]), int(state["step_in_epoch"])
    run.global_step = int(state["global_step"])
    run.best_val = float(state["best_val_mae"])
    run.best_epoch = state.get("best_epoch")
    ckpt_io.set_rng_state(state["rng"])
    aug_states = state.get("aug_rng") or []
    if run.start_step > 0 and len(aug_states) == info.world_size:
        run.aug_gen.set_state(aug_states[info.rank].cpu())
    if run.start_step > 0 and state.get("epoch_sums") is not None:
        run.epoch_sums = state["epoch_sums"].to(info.device)


def wrap(run: Run) -> None:
    """The model that runs the forward pass: DDP-wrapped under torchrun, compiled if asked."""
    model = run.raw
    if run.info.distributed:
        device = run.info.device
        model = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)
    if run.cfg.compile:
        model = torch.compile(model)
    run.model = model


def write_run_config(run: Run) -> None:
    """``OUT/train_config.json``: the run's and the model's settings, for a reader."""
    (run.out / "train_config.json").write_text(json.dumps(
        {"train": run.cfg.to_dict(), "model": run.model_cfg.to_dict(),
         "world_size": run.info.world_size, "precision": run.precision.name,
         "device": str(run.info.device)}, indent=2))


# ---------------------------------------------------------------------------- checkpoint
def checkpoint_state(run: Run, epoch_done: int, step_in_epoch: int, val_metrics: dict,
                     sums: Optional[torch.Tensor]) -> dict:
    """The checkpoint dict (layout in :mod:`arcnn_lib.engine.checkpoint`). Every rank calls
    it: under DDP it gathers the ranks' augmentation generator states."""
    cfg, info = run.cfg, run.info
    aug = run.aug_gen.get_state()
    if info.distributed:
        aug_all = D.all_gather_cpu(aug.to(info.device), info)
    else:
        aug_all = [aug.cpu()]
    return {
        "format": ckpt_io.FORMAT, "model_kind": cfg.model,
        "model_config": run.model_cfg.to_dict(), "train_config": ckpt_io.to_plain(cfg.to_dict()),
        "model": run.raw.state_dict(), "optimizer": run.optimizer.state_dict(),
        "scheduler": run.scheduler.state_dict(),
        "scaler": run.scaler.state_dict(), "epoch": epoch_done, "step_in_epoch": step_in_epoch,
        "global_step": run.global_step, "best_val_mae": float(run.best_val),
        "best_epoch": run.best_epoch, "rng": ckpt_io.rng_state(), "aug_rng": aug_all,
        "epoch_sums": None if sums is None else sums.detach().cpu(),
        "val_metrics": ckpt_io.to_plain(val_metrics),
        "data": {"root": str(run.data.root), "split_csv": str(run.data.split_csv),
                 "phantom": is_phantom(cfg.data)},
        "world_size": info.world_size, "precision": run.precision.name,
    }


# ---------------------------------------------------------------------------- resume checks
def _check_resume_compatible(saved: dict, cfg: TrainConfig) -> None:
    keys = ("data", "profile", "sex", "model", "seed", "batch_size", "num_parts",
            "num_concat", "phantom_n", "phantom_seed", "split_fractions")
    bad = [f"{k}: checkpoint {saved.get(k)!r} vs now {getattr(cfg, k)!r}" for k in keys
           if _norm(saved.get(k)) != _norm(getattr(cfg, k))]
    if bad:
        raise ValueError("cannot resume: the run in OUT was started with different settings ("
                         + "; ".join(bad) + ")")


def _norm(v):
    if isinstance(v, (list, tuple)):
        return [float(x) for x in v]
    if isinstance(v, str) and not is_phantom(v):
        try:
            return str(Path(v).resolve())
        except OSError:
            return v
    return v
