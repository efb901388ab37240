"""Training AR-CNN (and the single-stage baseline): the loop, the Python API and the CLI.

Command line (``python -m arcnn_lib.train --help`` lists every flag)::

    python -m arcnn_lib.train --data phantom --profile smoke --sex all --out runs/smoke
    python -m arcnn_lib.train --data DIR --profile paper --sex male --out runs/male
    python -m arcnn_lib.train ... --resume                 # continue OUT/last.pt
    torchrun --nproc_per_node=4 -m arcnn_lib.train ...     # DDP, one process per GPU

Python (what the book calls)::

    from arcnn_lib.train import TrainConfig, train
    result = train(TrainConfig.for_profile("smoke", data="phantom", out="runs/smoke"))
    result["best_val_mae"], result["history"]        # a float, a DataFrame (metrics.csv)

What one run does
-----------------
1. Data: ``--data phantom`` renders a synthetic phantom set (``--phantom-n`` images,
   ``--phantom-seed``) into the cache folder on first use and reuses it after;
   otherwise ``--data`` is a folder in an RSNA layout. The images go through the uint8 cache
   (:mod:`arcnn_lib.engine_data`), the seeded stratified split is written to
   ``OUT/split.csv``, and ``--sex`` keeps one sex (the paper trains one model per sex) or
   both (``all``; with the sex as an extra input, ``config.use_sex = True``, an extension).
2. Model: ``--model arcnn`` (:class:`arcnn_lib.model.ARCNN`) or ``baseline`` (the
   single-stage regressor of Table 3), from the ``--profile``'s :class:`ARCNNConfig`.
3. Optimisation (our choice; the paper does not pin it down): AdamW (weight decay on the
   weights of convolutions and linear layers only, not on biases and BatchNorm), a linear
   warm-up over the first ``warmup_fraction`` of the steps, then a cosine decay to
   ``min_lr_fraction * lr``, stepped every batch; gradients clipped to ``grad_clip``.
4. Precision: bf16 autocast on GPUs that support it, fp16 with a ``GradScaler`` on older
   GPUs, fp32 on the CPU (:func:`arcnn_lib.engine_utils.select_precision`); channels_last
   on the GPU.
5. Every epoch: validation MAE of every unit on the ``val`` split, one row of
   ``OUT/metrics.csv`` (``epoch``, ``train_loss``, ``train_cls``, ``train_att``,
   ``train_mae``, ``val_mae``, ``val_mae_x``, ``val_mae_concat``, ``val_mae_part1..M``,
   ``lr``, ``seconds``), ``OUT/last.pt`` (atomic), and ``OUT/best.pt`` when ``val_mae``
   improves. SIGINT / SIGTERM (or ``max_minutes``) finish the current step, save
   ``last.pt`` mid-epoch and return; ``--resume`` continues from it exactly.

Reproducibility: the epoch order is a function of ``(seed, epoch)``; augmentation draws from
a generator seeded by ``(seed, epoch, rank)`` whose state is checkpointed; the global RNG
states are checkpointed too. On the CPU a run interrupted after epoch e and resumed ends
with bit-identical weights to an uninterrupted run (tested). ``--epochs`` fixes the cosine
horizon: to stop early and continue later use ``--stop-after-epochs``; resuming with a
larger ``--epochs`` stretches the remaining schedule instead (allowed, with a warning).
"""
from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple, Union

import numpy as np
import pandas as pd
import torch
from torch import nn

from . import checkpoint as ckpt_io
from . import distributed as D
from .loader import EpochOrder, iterate
from .config import PROFILES, ARCNNConfig, _scaled_geometry
from .engine_utils import (AMP_CHOICES, MetricsLog, Precision, StopFlag, seed_everything,
                           select_precision, set_threads)
from .metrics import output_suffixes, stack_units

SEXES = ("male", "female", "all")
MODEL_KINDS = ("arcnn", "baseline")

#: Training defaults per profile: (epochs, batch_size, lr). ``smoke`` is tuned so the
#: acceptance test (800-image phantom, 2-core CPU) finishes well within 3 minutes.
PROFILE_DEFAULTS: Dict[str, Dict] = {
    "smoke": dict(epochs=30, batch_size=32, lr=1e-3, warmup_fraction=0.05),
    "demo": dict(epochs=30, batch_size=32, lr=1e-3, warmup_fraction=0.05),
    "gpu": dict(epochs=60, batch_size=64, lr=1e-3, warmup_fraction=0.03),
    "paper": dict(epochs=100, batch_size=32, lr=5e-4, warmup_fraction=0.02),
}


@dataclass
class TrainConfig:
    """Everything that defines a training run (model geometry comes from ``profile``).

    Attributes:
        data: a data folder in an RSNA layout, or ``"phantom"`` (generated into
            the cache folder with ``phantom_n`` images and ``phantom_seed``, reused after).
        out: the run folder (metrics.csv, split.csv, last.pt, best.pt, train_config.json).
        profile: the :class:`ARCNNConfig` profile: smoke, demo, gpu or paper.
        sex: ``male`` / ``female`` (one model per sex, as in the paper) or ``all`` (both,
            with the sex as an input: ``use_sex=True``).
        model: ``arcnn`` or ``baseline`` (the single-stage regressor).
        epochs, batch_size, lr: None takes the profile's :data:`PROFILE_DEFAULTS`.
            ``batch_size`` is per process under DDP.
        weight_decay, warmup_fraction, min_lr_fraction, grad_clip: optimiser and schedule
            (see the module doc).
        seed: seeds the epoch order, the initial weights, the augmentation and (unless
            ``split_seed`` is given) the split.
        split_seed: seeds the split alone (None: ``seed``); fixing it lets runs with
            different seeds share one split.
        num_parts, num_concat: override M and K of the profile (K <= M is checked).
        separate_part_stats: ``ARCNNConfig.separate_part_stats`` (False: the paper's shared
            BatchNorm statistics for images and parts).
        part_selection: ``ARCNNConfig.part_selection`` (``global``, the paper's, or
            ``per_level``).
        image_size: the network input side, with the profile's geometry scaled to it
            (``config._scaled_geometry``; None: the profile's own).
        part_source, native_size: ``ARCNNConfig.part_source`` (``input``, the paper's, or
            ``native``: parts cut from a ``native_size`` copy the data path carries).
        amp: auto, bf16, fp16 or fp32 (see :func:`select_precision`).
        device: auto, cpu, cuda, cuda:N.
        channels_last: use channels_last memory format (only on CUDA).
        compile: wrap the model in ``torch.compile`` (CUDA only; off by default).
        pretrained: start the feature extractor from torchvision's ImageNet weights (what the
            paper does; needs a network to download them; not for the smoke profile).
        augment: GPU-side augmentation of the training batches.
        num_threads: CPU threads for torch (None: the cores available).
        max_minutes: stop (and save, resumable) when training exceeds this wall time.
        stop_after_epochs: stop (and save) after this many epochs of the ``epochs`` schedule.
        val_every: validate every N epochs (and always after the last).
        log_every: steps between progress updates (each costs one device sync).
        resume: continue from ``OUT/last.pt``.
        overwrite: allow starting afresh in an ``out`` that already holds a run.
        split_fractions: train / val / test fractions of the stratified split.
        cache_dir: where the uint8 image cache lives (default: the data layer's choice).
        progress: show tqdm progress bars (rank 0 only).
    """

    data: str = "phantom"
    out: str = "runs/arcnn"
    profile: str = "smoke"
    sex: str = "all"
    model: str = "arcnn"
    epochs: Optional[int] = None
    batch_size: Optional[int] = None
    lr: Optional[float] = None
    weight_decay: float = 1e-4
    warmup_fraction: Optional[float] = None
    min_lr_fraction: float = 0.01
    grad_clip: float = 5.0
    seed: int = 0
    split_seed: Optional[int] = None
    num_parts: Optional[int] = None
    num_concat: Optional[int] = None
    separate_part_stats: bool = True
    part_selection: str = "global"
    image_size: Optional[int] = None
    part_source: str = "input"
    native_size: Optional[int] = None
    amp: str = "auto"
    device: str = "auto"
    channels_last: bool = True
    compile: bool = False
    pretrained: bool = False
    augment: bool = True
    num_threads: Optional[int] = None
    max_minutes: Optional[float] = None
    stop_after_epochs: Optional[int] = None
    val_every: int = 1
    log_every: int = 10
    resume: bool = False
    overwrite: bool = False
    phantom_n: int = 800
    phantom_seed: int = 0
    split_fractions: Tuple[float, float, float] = (0.7, 0.15, 0.15)
    cache_dir: Optional[str] = None
    progress: bool = True

    # ------------------------------------------------------------------ construction
    @classmethod
    def for_profile(cls, profile: str, **overrides) -> "TrainConfig":
        """A config with the profile's training defaults filled in (see
        :data:`PROFILE_DEFAULTS`); ``overrides`` win."""
        if profile not in PROFILES:
            raise ValueError(f"unknown profile {profile!r}; known profiles: {', '.join(PROFILES)}")
        return cls(profile=profile, **overrides).resolved()

    def resolved(self) -> "TrainConfig":
        """Fill the None fields from the profile defaults and validate."""
        self.validate_names()
        defaults = PROFILE_DEFAULTS[self.profile]
        filled = {k: v for k, v in defaults.items() if getattr(self, k) is None}
        cfg = dataclasses.replace(self, **filled)
        cfg.validate()
        return cfg

    @property
    def effective_split_seed(self) -> int:
        """The seed the split is drawn with: ``split_seed``, or else ``seed``."""
        return self.seed if self.split_seed is None else self.split_seed

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["split_fractions"] = list(d["split_fractions"])
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        d = {k: v for k, v in d.items() if k in names}
        if "split_fractions" in d:
            d["split_fractions"] = tuple(d["split_fractions"])
        return cls(**d)

    # ------------------------------------------------------------------ validation
    def validate_names(self) -> None:
        if self.profile not in PROFILES:
            raise ValueError(f"unknown profile {self.profile!r}; known profiles: "
                             f"{', '.join(PROFILES)}")
        if self.sex not in SEXES:
            raise ValueError(f"unknown sex {self.sex!r}; choose one of {', '.join(SEXES)}")
        if self.model not in MODEL_KINDS:
            raise ValueError(f"unknown model {self.model!r}; choose one of "
                             f"{', '.join(MODEL_KINDS)}")
        if self.amp not in AMP_CHOICES:
            raise ValueError(f"unknown amp {self.amp!r}; choose one of {', '.join(AMP_CHOICES)}")

    def validate(self) -> None:
        """Raise ``ValueError`` (or ``FileNotFoundError`` for a missing data folder) with a
        message naming the bad field."""
        self.validate_names()
        if self.data != "phantom" and not Path(self.data).is_dir():
            raise FileNotFoundError(f"data folder {self.data!r} does not exist (use a folder "
                                    "in an RSNA layout, or 'phantom')")
        for name in ("epochs", "batch_size", "val_every", "log_every", "phantom_n"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, (int, np.integer)) or v < 1):
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        if self.split_seed is not None and not isinstance(self.split_seed, (int, np.integer)):
            raise ValueError(f"split_seed must be an integer or None, got {self.split_seed!r}")
        if self.lr is not None and not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"lr must be positive, got {self.lr!r}")
        if self.weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay!r}")
        if self.warmup_fraction is not None and not 0 <= self.warmup_fraction < 1:
            raise ValueError(f"warmup_fraction must be in [0, 1), got {self.warmup_fraction!r}")
        if not 0 <= self.min_lr_fraction <= 1:
            raise ValueError(f"min_lr_fraction must be in [0, 1], got {self.min_lr_fraction!r}")
        if self.grad_clip < 0:
            raise ValueError(f"grad_clip must be >= 0 (0 disables), got {self.grad_clip!r}")
        if self.max_minutes is not None and self.max_minutes <= 0:
            raise ValueError(f"max_minutes must be positive, got {self.max_minutes!r}")
        if self.stop_after_epochs is not None:
            if self.stop_after_epochs < 1:
                raise ValueError(f"stop_after_epochs must be >= 1, got {self.stop_after_epochs!r}")
        if self.num_parts is not None and self.num_parts < 1:
            raise ValueError(f"num_parts (M) must be >= 1, got {self.num_parts}")
        m = self.num_parts if self.num_parts is not None else ARCNNConfig.from_profile(self.profile).num_parts
        if self.num_concat is not None and not 0 <= self.num_concat <= m:
            raise ValueError(f"num_concat (K) must satisfy 0 <= K <= M = {m}, got K = "
                             f"{self.num_concat}")
        fr = tuple(self.split_fractions)
        if len(fr) != 3 or any(f < 0 for f in fr) or abs(sum(fr) - 1) > 1e-6 or fr[0] <= 0:
            raise ValueError(f"split_fractions must be three non-negative numbers (train > 0) "
                             f"summing to 1, got {fr}")
        if self.resume and self.overwrite:
            raise ValueError("resume and overwrite exclude each other")
        self.model_config()  # ARCNNConfig validates the geometry

    def model_config(self) -> ARCNNConfig:
        """The :class:`ARCNNConfig` of this run: the profile, M / K overrides, and
        ``use_sex`` when both sexes are trained together."""
        over = {}
        if self.num_parts is not None:
            over["num_parts"] = self.num_parts
        if self.num_concat is not None:
            over["num_concat"] = self.num_concat
        if self.sex == "all":
            over["use_sex"] = True
        if self.pretrained:
            over["pretrained"] = True
        if not self.separate_part_stats:
            over["separate_part_stats"] = False
        if self.part_selection != "global":
            over["part_selection"] = self.part_selection
        if self.image_size is not None:
            over.update(_scaled_geometry(self.image_size))
        if self.part_source != "input" or self.native_size is not None:
            over.update(part_source=self.part_source, native_size=self.native_size)
        return ARCNNConfig.from_profile(self.profile, **over)


# ---------------------------------------------------------------------------- optimiser
def build_optimizer(model: nn.Module, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    """AdamW; weight decay only on the weights of convolutions and linear layers."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (decay if p.ndim > 1 else no_decay).append(p)
    groups = [{"params": decay, "weight_decay": weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    kw = {"fused": True} if next(model.parameters()).is_cuda else {}
    return torch.optim.AdamW(groups, lr=lr, **kw)


def lr_lambda(total_steps: int, warmup_fraction: float, min_lr_fraction: float):
    """Linear warm-up then cosine decay to ``min_lr_fraction``, as a LambdaLR factor."""
    warm = int(round(warmup_fraction * total_steps))

    def f(step: int) -> float:
        if warm > 0 and step < warm:
            return (step + 1) / warm
        t = min(1.0, (step - warm) / max(1, total_steps - warm))
        return min_lr_fraction + (1 - min_lr_fraction) * 0.5 * (1 + math.cos(math.pi * t))
    return f


def build_scheduler(optimizer, total_steps: int, cfg: TrainConfig):
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lr_lambda(total_steps, cfg.warmup_fraction, cfg.min_lr_fraction))


# ---------------------------------------------------------------------------- helpers
def _augment_fn():
    """The data layer's GPU augmentation, or None when it is not available."""
    try:
        from .data.augment import gpu_augment
        return gpu_augment
    except ImportError:
        return None


def to_input(images: torch.Tensor, generator: Optional[torch.Generator], augment: bool,
             channels_last: bool) -> torch.Tensor:
    """uint8 (B, 1, S, S) on the device -> float (B, 1, S, S) in [0, 1], augmented when
    training."""
    fn = _augment_fn() if augment else None
    x = fn(images, generator) if fn is not None else images.float().div_(255.0)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    return x


def _male_arg(model_cfg: ARCNNConfig, male: torch.Tensor) -> Optional[torch.Tensor]:
    return male if model_cfg.use_sex else None


def _seed_for(seed: int, epoch: int, rank: int) -> int:
    """A 63-bit seed for the augmentation generator of (seed, epoch, rank)."""
    return int(np.random.SeedSequence([int(seed), int(epoch), int(rank)]).generate_state(2, np.uint64)[0]
               & np.uint64(2**63 - 1))


@torch.no_grad()
def validate(model: nn.Module, images: np.ndarray, ages: np.ndarray, male: np.ndarray,
             rows: np.ndarray, batch_size: int, device: torch.device, precision: Precision,
             model_cfg: ARCNNConfig, info: D.DistInfo, channels_last: bool) -> Dict[str, float]:
    """MAE (months) of every unit on ``rows``; sharded over ranks and summed.

    Returns ``{"val_mae": ..., "val_mae_x": ..., "val_mae_concat": ..., "val_mae_part1":
    ...}`` (the units the model has) and ``val_n``.
    """
    was_training = model.training
    model.eval()
    order = EpochOrder(rows, batch_size, shuffle=False, drop_last=False, rank=info.rank,
                       world_size=info.world_size)
    sums, suffixes = None, None
    count = torch.zeros((), dtype=torch.float64, device=device)
    for b in iterate(images, ages, male, order.batches(0), device):
        x = to_input(b.images, None, False, channels_last)
        with precision.autocast():
            out = model(x, _male_arg(model_cfg, b.male))
        units = stack_units(out)
        err = (units - b.age[:, None]).abs().double().sum(0)
        if sums is None:
            sums, suffixes = err, output_suffixes(out, model_cfg.num_parts)
        else:
            sums += err
        count += b.age.shape[0]
    if suffixes is None:  # this rank had no rows: learn the width from a dummy pass
        s = model_cfg.data_size
        with precision.autocast():
            out = model(torch.zeros(2, 1, s, s, device=device),
                        _male_arg(model_cfg, torch.zeros(2, dtype=torch.bool, device=device)))
        suffixes = output_suffixes(out, model_cfg.num_parts)
        sums = torch.zeros(len(suffixes), dtype=torch.float64, device=device)
    D.all_reduce_sum(sums, info)
    D.all_reduce_sum(count, info)
    model.train(was_training)
    n = max(float(count.item()), 1.0)
    res = {f"val_mae{s}": float(v) / n for s, v in zip(suffixes, sums.tolist())}
    res["val_n"] = int(count.item())
    return res


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
    if isinstance(v, str) and v != "phantom":
        try:
            return str(Path(v).resolve())
        except OSError:
            return v
    return v


# ---------------------------------------------------------------------------- the loop
def train(config: Union[TrainConfig, argparse.Namespace, dict, None] = None, **overrides) -> dict:
    """Train one model; returns a dict with ``out_dir``, ``best_val_mae``, ``best_epoch``,
    ``epochs_done``, ``interrupted`` (True when stopped by a signal or a time budget),
    ``history`` (the metrics.csv DataFrame; None on ranks > 0), ``checkpoint`` (best.pt),
    ``last`` (last.pt), ``seconds``, ``precision``, ``world_size``, ``rank`` and ``model``
    (the trained model of the last epoch, unwrapped from DDP; load ``best.pt`` for the best).

    ``config`` is a :class:`TrainConfig`, a dict of its fields, or None (defaults);
    ``overrides`` replace fields. Works the same under ``torchrun`` (every rank calls it;
    only rank 0 writes).
    """
    if config is None:
        config = TrainConfig()
    if isinstance(config, dict):
        config = TrainConfig(**config)
    if isinstance(config, argparse.Namespace):
        config = TrainConfig(**vars(config))
    if overrides:
        config = dataclasses.replace(config, **overrides)
    cfg = config.resolved()

    info = D.setup(cfg.device)
    try:
        return _train(cfg, info)
    finally:
        D.cleanup(info)


def _train(cfg: TrainConfig, info: D.DistInfo) -> dict:
    from .engine_data import prepare_run_data
    from .model import build_model

    t_start = time.time()
    out = Path(cfg.out)
    last_path, best_path = out / "last.pt", out / "best.pt"
    if info.is_main:
        if cfg.resume and not last_path.is_file():
            raise FileNotFoundError(f"--resume: no checkpoint {str(last_path)!r} to resume from")
        if not cfg.resume and not cfg.overwrite and last_path.is_file():
            raise FileExistsError(f"{str(out)!r} already holds a run ({last_path.name}); use "
                                  "--resume to continue it, --overwrite to start afresh, or "
                                  "another --out")
        out.mkdir(parents=True, exist_ok=True)
    D.barrier(info)

    if info.device.type == "cpu":
        set_threads(cfg.num_threads)
    device = info.device
    precision = select_precision(device, cfg.amp)
    channels_last = cfg.channels_last and device.type == "cuda"
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True

    # ---- data
    model_cfg = cfg.model_config()
    data = prepare_run_data(cfg.data, model_cfg.data_size, out_dir=out,
                            seed=cfg.effective_split_seed,
                            fractions=cfg.split_fractions, phantom_n=cfg.phantom_n,
                            phantom_seed=cfg.phantom_seed, cache_dir=cfg.cache_dir,
                            sex=cfg.sex, info=info, reuse_split=cfg.resume,
                            progress=cfg.progress)
    train_rows = data.rows("train")
    val_rows = data.rows("val")
    if len(train_rows) < 2:
        raise ValueError(f"the training split has {len(train_rows)} labelled images for "
                         f"sex={cfg.sex!r}; need at least 2")
    if len(val_rows) == 0:
        warnings.warn("the validation split is empty: best.pt follows the training loss")

    # ---- model, optimiser, schedule
    seed_everything(cfg.seed)
    model = build_model(model_cfg, cfg.model).to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    raw = model
    optimizer = build_optimizer(raw, cfg.lr, cfg.weight_decay)
    order = EpochOrder(train_rows, cfg.batch_size, seed=cfg.seed, shuffle=True, drop_last=True,
                       rank=info.rank, world_size=info.world_size)
    steps_per_epoch = len(order)
    scheduler = build_scheduler(optimizer, cfg.epochs * steps_per_epoch, cfg)
    scaler = precision.grad_scaler()
    aug_gen = torch.Generator(device=device)

    start_epoch, start_step, global_step = 0, 0, 0
    best_val, best_epoch = math.inf, None
    epoch_sums = None
    log = MetricsLog(out / "metrics.csv") if info.is_main else None
    if cfg.resume:
        state = ckpt_io.load(last_path, map_location="cpu")
        _check_resume_compatible(state["train_config"], cfg)
        if int(state["train_config"].get("epochs", cfg.epochs)) != cfg.epochs:
            warnings.warn(f"resuming with epochs={cfg.epochs} instead of "
                          f"{state['train_config'].get('epochs')}: the cosine schedule is "
                          "stretched from here on")
        raw.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        scheduler.lr_lambdas[0] = lr_lambda(cfg.epochs * steps_per_epoch, cfg.warmup_fraction,
                                            cfg.min_lr_fraction)
        scaler.load_state_dict(state["scaler"])
        start_epoch, start_step = int(state["epoch"]), int(state["step_in_epoch"])
        global_step = int(state["global_step"])
        best_val = float(state["best_val_mae"])
        best_epoch = state.get("best_epoch")
        ckpt_io.set_rng_state(state["rng"])
        aug_states = state.get("aug_rng") or []
        if start_step > 0 and len(aug_states) == info.world_size:
            aug_gen.set_state(aug_states[info.rank].cpu())
        if start_step > 0 and state.get("epoch_sums") is not None:
            epoch_sums = state["epoch_sums"].to(device)
    if log is not None:
        log.truncate(start_epoch)  # a fresh run (start_epoch 0) starts an empty file
        if not cfg.resume and best_path.is_file():
            best_path.unlink()

    if info.distributed:
        model = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)
    if cfg.compile:
        model = torch.compile(model)

    if info.is_main:
        import json
        (out / "train_config.json").write_text(json.dumps(
            {"train": cfg.to_dict(), "model": model_cfg.to_dict(), "world_size": info.world_size,
             "precision": precision.name, "device": str(device)}, indent=2))

    def make_state(epoch_done: int, step_in_epoch: int, val_metrics: dict, sums) -> dict:
        aug = aug_gen.get_state()
        if info.distributed:
            import torch.distributed as dist
            gathered = [torch.zeros_like(aug.to(device)) for _ in range(info.world_size)]
            dist.all_gather(gathered, aug.to(device))
            aug_all = [g.cpu() for g in gathered]
        else:
            aug_all = [aug.cpu()]
        return {
            "format": ckpt_io.FORMAT, "model_kind": cfg.model,
            "model_config": model_cfg.to_dict(), "train_config": ckpt_io.to_plain(cfg.to_dict()),
            "model": raw.state_dict(), "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "scaler": scaler.state_dict(), "epoch": epoch_done, "step_in_epoch": step_in_epoch,
            "global_step": global_step, "best_val_mae": float(best_val),
            "best_epoch": best_epoch, "rng": ckpt_io.rng_state(), "aug_rng": aug_all,
            "epoch_sums": None if sums is None else sums.detach().cpu(),
            "val_metrics": ckpt_io.to_plain(val_metrics),
            "data": {"root": str(data.root), "split_csv": str(data.split_csv),
                     "phantom": cfg.data == "phantom"},
            "world_size": info.world_size, "precision": precision.name,
        }

    # ---- epochs
    images, ages, male = data.images, data.ages, data.male
    use_tqdm = cfg.progress and info.is_main
    last_epoch = cfg.epochs if cfg.stop_after_epochs is None else min(cfg.epochs, cfg.stop_after_epochs)
    interrupted, epochs_done = False, start_epoch
    deadline = None if cfg.max_minutes is None else t_start + 60 * cfg.max_minutes
    model.train()
    with StopFlag() as stop:
        for epoch in range(start_epoch, last_epoch):
            t_epoch = time.time()
            batches = order.batches(epoch)
            first = start_step if epoch == start_epoch else 0
            if first == 0:
                aug_gen.manual_seed(_seed_for(cfg.seed, epoch, info.rank))
            # sums: total, cls, att, |err| of the assembled age, count
            sums = epoch_sums if (first > 0 and epoch_sums is not None) else \
                torch.zeros(5, dtype=torch.float64, device=device)
            bar = None
            if use_tqdm:
                from tqdm.auto import tqdm
                bar = tqdm(total=len(batches), initial=first, desc=f"epoch {epoch + 1}/{cfg.epochs}",
                           leave=False, dynamic_ncols=True)
            step = first
            for b in iterate(images, ages, male, batches, device, start=first):
                x = to_input(b.images, aug_gen, cfg.augment, channels_last)
                with precision.autocast():
                    out_ = model(x, _male_arg(model_cfg, b.male))
                terms = raw.loss(out_, b.age)
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(terms.total).backward()
                if cfg.grad_clip > 0:
                    scaler.unscale_(optimizer)
                    nn.utils.clip_grad_norm_(raw.parameters(), cfg.grad_clip)
                scaler.step(optimizer)
                scaler.update()
                scheduler.step()
                step += 1
                global_step += 1
                with torch.no_grad():
                    n = b.age.shape[0]
                    # device-side sums only: no host sync until the next log step
                    sums[:4] += torch.stack([terms.total.detach().double() * n,
                                             terms.cls.detach().double() * n,
                                             terms.att.detach().double() * n,
                                             (out_.age.detach().double()
                                              - b.age.double()).abs().sum()])
                    sums[4] += n
                check = step % cfg.log_every == 0 or step == len(batches)
                if bar is not None:
                    bar.update(1)
                    if check:
                        s = sums.tolist()
                        bar.set_postfix(loss=f"{s[0] / s[4]:.3f}", mae=f"{s[3] / s[4]:.2f}",
                                        lr=f"{scheduler.get_last_lr()[0]:.2e}")
                want_stop = stop.requested or (deadline is not None and time.time() > deadline)
                if (not info.distributed or check) and step < len(batches):
                    if D.broadcast_flag(want_stop, info):
                        interrupted = True
                        break
            if bar is not None:
                bar.close()
            if interrupted:
                D.broadcast_buffers(raw, info)
                if info.is_main:
                    ckpt_io.save_atomic(make_state(epoch, step, {}, sums), last_path)
                else:
                    make_state(epoch, step, {}, sums)  # joins the all_gather
                break

            # ---- end of epoch: reduce, validate, log, save
            D.broadcast_buffers(raw, info)
            D.all_reduce_sum(sums, info)
            s = sums.tolist()
            cnt = max(s[4], 1.0)
            row = {"epoch": epoch + 1, "train_loss": s[0] / cnt, "train_cls": s[1] / cnt,
                   "train_att": s[2] / cnt, "train_mae": s[3] / cnt}
            val_metrics: Dict[str, float] = {}
            is_val_epoch = ((epoch + 1) % cfg.val_every == 0) or epoch + 1 == last_epoch
            if is_val_epoch and len(val_rows):
                val_metrics = validate(raw, images, ages, male, val_rows, cfg.batch_size, device,
                                       precision, model_cfg, info, channels_last)
                row.update({k: v for k, v in val_metrics.items() if k != "val_n"})
            row["lr"] = scheduler.get_last_lr()[0]
            row["seconds"] = time.time() - t_epoch
            score = val_metrics.get("val_mae", row["train_mae"] if not len(val_rows) else None)
            improved = score is not None and score < best_val
            if improved:
                best_val, best_epoch = float(score), epoch + 1
            state = make_state(epoch + 1, 0, val_metrics, None)
            if info.is_main:
                log.append(row)
                ckpt_io.save_atomic(state, last_path)
                if improved:
                    ckpt_io.save_atomic(state, best_path)
                if use_tqdm:
                    from tqdm.auto import tqdm
                    msg = ", ".join(f"{k}={v:.3f}" for k, v in row.items()
                                    if k in ("train_loss", "train_mae", "val_mae", "seconds"))
                    tqdm.write(f"epoch {epoch + 1}/{cfg.epochs}: {msg}")
            epochs_done = epoch + 1
            if epochs_done < last_epoch:
                want_stop = stop.requested or (deadline is not None and time.time() > deadline)
                if D.broadcast_flag(want_stop, info):
                    interrupted = True
                    break
    D.barrier(info)
    history = pd.DataFrame(log.rows) if log is not None else None
    if history is not None and len(history):
        history = _numeric(history)
    return {"out_dir": str(out), "best_val_mae": best_val, "best_epoch": best_epoch,
            "epochs_done": epochs_done, "interrupted": interrupted, "history": history,
            "checkpoint": str(best_path), "last": str(last_path),
            "seconds": time.time() - t_start, "precision": precision.name,
            "world_size": info.world_size, "rank": info.rank, "model": raw}


def _numeric(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for c in out.columns:
        try:
            out[c] = pd.to_numeric(out[c])
        except (ValueError, TypeError):
            pass
    return out


# ---------------------------------------------------------------------------- CLI
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m arcnn_lib.train",
        description="Train AR-CNN (Liu et al., MICCAI 2019) or the single-stage baseline on "
                    "RSNA bone age data or the synthetic phantom. Under torchrun every process "
                    "trains one DDP replica; only rank 0 writes.")
    d = TrainConfig()
    p.add_argument("--data", required=True, help="data folder (any RSNA layout) or 'phantom'")
    p.add_argument("--out", required=True, help="run folder for metrics.csv, split.csv, *.pt")
    p.add_argument("--profile", default="smoke", help=f"one of {', '.join(PROFILES)} (default smoke)")
    p.add_argument("--sex", default="all", help="male | female (one model per sex, the paper) | "
                                                "all (sex as an input; default)")
    p.add_argument("--model", default="arcnn", help="arcnn | baseline (default arcnn)")
    p.add_argument("--epochs", type=int, help="epochs (default: the profile's)")
    p.add_argument("--batch-size", type=int, help="batch size per process (default: the profile's)")
    p.add_argument("--lr", type=float, help="peak learning rate of AdamW (default: the profile's)")
    p.add_argument("--weight-decay", type=float, default=d.weight_decay)
    p.add_argument("--warmup-fraction", type=float, help="fraction of steps of linear warm-up")
    p.add_argument("--min-lr-fraction", type=float, default=d.min_lr_fraction)
    p.add_argument("--grad-clip", type=float, default=d.grad_clip, help="0 disables")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--split-seed", type=int, help="seed of the split alone (default: --seed)")
    p.add_argument("--num-parts", type=int, help="M, parts per image (default: the profile's)")
    p.add_argument("--num-concat", type=int, help="K <= M, parts in the concatenation")
    p.add_argument("--part-selection", default=d.part_selection,
                   help="global (the paper: best anchors of all levels) | per_level "
                        "(M / levels parts from each anchor scale)")
    p.add_argument("--shared-part-stats", dest="separate_part_stats", action="store_false",
                   help="one set of BatchNorm statistics for images and parts (the paper's)")
    p.add_argument("--image-size", type=int, help="network input side; the profile's geometry "
                                                  "is scaled to it (default: the profile's)")
    p.add_argument("--part-source", default=d.part_source,
                   help="input (the paper: parts cut from the input) | native (an extension: "
                        "from a --native-size copy)")
    p.add_argument("--native-size", type=int, help="side of the native copy (part-source native)")
    p.add_argument("--amp", default="auto", help=f"{' | '.join(AMP_CHOICES)} (default auto)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    p.add_argument("--no-channels-last", dest="channels_last", action="store_false")
    p.add_argument("--compile", action="store_true", help="torch.compile the model")
    p.add_argument("--pretrained", action="store_true",
                   help="start from ImageNet weights (downloaded by torchvision)")
    p.add_argument("--no-augment", dest="augment", action="store_false")
    p.add_argument("--num-threads", type=int, help="torch CPU threads (default: all cores)")
    p.add_argument("--max-minutes", type=float, help="time budget; saves a resumable last.pt")
    p.add_argument("--stop-after-epochs", type=int, help="stop after N epochs of the schedule")
    p.add_argument("--val-every", type=int, default=d.val_every)
    p.add_argument("--log-every", type=int, default=d.log_every)
    p.add_argument("--resume", action="store_true", help="continue OUT/last.pt")
    p.add_argument("--overwrite", action="store_true", help="start afresh in a used OUT")
    p.add_argument("--phantom-n", type=int, default=d.phantom_n, help="images of --data phantom")
    p.add_argument("--phantom-seed", type=int, default=d.phantom_seed)
    p.add_argument("--split-fractions", type=float, nargs=3, default=list(d.split_fractions),
                   metavar=("TRAIN", "VAL", "TEST"))
    p.add_argument("--cache-dir", help="folder of the uint8 image cache")
    p.add_argument("--no-progress", dest="progress", action="store_false")
    return p


def parse_args(argv: Optional[Sequence[str]] = None) -> TrainConfig:
    """Parse and validate the command line into a resolved :class:`TrainConfig`.

    Errors exit with status 2 and a message naming the bad argument.
    """
    parser = build_parser()
    ns = parser.parse_args(argv)
    kw = vars(ns)
    kw["split_fractions"] = tuple(kw["split_fractions"])
    try:
        return TrainConfig(**kw).resolved()
    except (ValueError, FileNotFoundError) as e:
        parser.error(str(e))


def main(argv: Optional[Sequence[str]] = None) -> int:
    cfg = parse_args(argv)
    try:
        result = train(cfg)
    except (ValueError, FileNotFoundError, FileExistsError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if result["rank"] == 0:
        state = "interrupted (resume with --resume)" if result["interrupted"] else "done"
        print(f"{state}: {result['epochs_done']} epochs, best val MAE "
              f"{result['best_val_mae']:.3f} months (epoch {result['best_epoch']}), "
              f"{result['seconds']:.1f} s; checkpoints in {result['out_dir']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
