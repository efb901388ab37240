"""Training AR-CNN (and the single-stage baseline): :func:`train` and its loop, in pieces.

The loop is made of small functions the book names one by one: :func:`build_run` (data,
model, optimiser), :func:`train_epoch` (prepare a batch and take one step,
:mod:`arcnn_lib.engine.steps`), :func:`end_epoch` (validate with the one inference loop of
:mod:`arcnn_lib.engine.inference`, log, checkpoint) and :func:`fit` (the epochs). Mixed
precision (:class:`~arcnn_lib.engine.runtime.Precision`), DDP (:mod:`.distributed`),
signals and the time budget (:class:`~arcnn_lib.engine.runtime.StopFlag`) sit around them
as thin layers.

Command line (:mod:`arcnn_lib.engine.cli`; ``python -m arcnn_lib train --help`` lists
every flag)::

    python -m arcnn_lib train --data phantom --profile smoke --sex all --out runs/smoke
    python -m arcnn_lib train --data DIR --profile paper --sex male --out runs/male
    python -m arcnn_lib train ... --resume                 # continue OUT/last.pt
    torchrun --nproc_per_node=4 -m arcnn_lib train ...     # DDP, one process per GPU

Python (what the book calls)::

    from arcnn_lib.engine.trainer import TrainConfig, train
    result = train(TrainConfig.for_profile("smoke", data="phantom", out="runs/smoke"))
    result.best_val_mae, result.history              # a float, a DataFrame (metrics.csv)

What one run does
-----------------
1. Data: ``--data phantom`` renders a synthetic phantom set (``--phantom-n`` images,
   ``--phantom-seed``) into the cache folder on first use and reuses it after;
   otherwise ``--data`` is a folder in an RSNA layout. The images go through the uint8 cache
   (:mod:`arcnn_lib.engine.run_data`), the seeded stratified split is written to
   ``OUT/split.csv``, and ``--sex`` keeps one sex (the paper trains one model per sex) or
   both (``all``; with the sex as an extra input, ``config.use_sex = True``, an extension).
2. Model: ``--model arcnn`` (:class:`arcnn_lib.model.ARCNN`) or ``baseline`` (the
   single-stage regressor of Table 3), from the ``--profile``'s :class:`ARCNNConfig`.
3. Optimisation (our choice; the paper does not pin it down): AdamW (weight decay on the
   weights of convolutions and linear layers only, not on biases and BatchNorm), a linear
   warm-up over the first ``warmup_fraction`` of the steps, then a cosine decay to
   ``min_lr_fraction * lr``, stepped every batch; gradients clipped to ``grad_clip``.
4. Precision: bf16 autocast on GPUs that support it, fp16 with a ``GradScaler`` on older
   GPUs, fp32 on the CPU (:func:`arcnn_lib.engine.runtime.select_precision`); channels_last
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
import time
from dataclasses import dataclass
from typing import Optional, Tuple, Union

import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from ..config import progress_enabled
from ..data.loader import iterate
from . import checkpoint as ckpt_io
from . import distributed as D
from .config import TrainConfig
from .inference import validate
from .run import Run, build_run, checkpoint_state, resume, wrap, write_run_config
from .runtime import StopFlag
from .steps import accumulate, augment_seed, epoch_row, male_arg, to_input, train_step


@dataclass
class TrainResult:
    """What :func:`train` returns.

    Attributes:
        out_dir: the run folder. checkpoint, last: its ``best.pt`` and ``last.pt``.
        best_val_mae: the best validation MAE (months) and best_epoch its epoch (1-based).
        epochs_done: epochs completed. interrupted: stopped by a signal or a time budget.
        history: the metrics.csv rows as a DataFrame (None on ranks > 0).
        seconds: wall time. precision: fp32 / bf16 / fp16. world_size, rank: DDP.
        model: the trained model of the last epoch, unwrapped from DDP (load ``best.pt``
            for the best).
    """

    out_dir: str
    best_val_mae: float
    best_epoch: Optional[int]
    epochs_done: int
    interrupted: bool
    history: Optional[pd.DataFrame]
    checkpoint: str
    last: str
    seconds: float
    precision: str
    world_size: int
    rank: int
    model: nn.Module


# ---------------------------------------------------------------------------- the API
def train(config: Union[TrainConfig, argparse.Namespace, dict, None] = None,
          **overrides) -> TrainResult:
    """Train one model and return a :class:`TrainResult`.

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


def _train(cfg: TrainConfig, info: D.DistInfo) -> TrainResult:
    run = build_run(cfg, info, time.time())
    if cfg.resume:
        resume(run)
    if run.log is not None:
        run.log.truncate(run.start_epoch)  # a fresh run (start_epoch 0) starts an empty file
        if not cfg.resume and run.best_path.is_file():
            run.best_path.unlink()
    wrap(run)
    if info.is_main:
        write_run_config(run)
    epochs_done, interrupted = fit(run)
    D.barrier(info)
    history = pd.DataFrame(run.log.rows) if run.log is not None else None
    if history is not None and len(history):
        history = _numeric(history)
    return TrainResult(
        out_dir=str(run.out), best_val_mae=run.best_val, best_epoch=run.best_epoch,
        epochs_done=epochs_done, interrupted=interrupted, history=history,
        checkpoint=str(run.best_path), last=str(run.last_path),
        seconds=time.time() - run.t_start, precision=run.precision.name,
        world_size=info.world_size, rank=info.rank, model=run.raw)


# ---------------------------------------------------------------------------- the loop
def _should_stop(stop: StopFlag, deadline: Optional[float]) -> bool:
    return stop.requested or (deadline is not None and time.time() > deadline)


def _progress_bar(run: Run, total: int, initial: int, epoch: int) -> Optional[tqdm]:
    if not (progress_enabled(run.cfg.progress) and run.info.is_main):
        return None
    return tqdm(total=total, initial=initial, desc=f"epoch {epoch + 1}/{run.cfg.epochs}",
                leave=False, dynamic_ncols=True)


def train_epoch(run: Run, epoch: int, stop: StopFlag,
                deadline: Optional[float]) -> Tuple[int, torch.Tensor, bool]:
    """The steps of one epoch (from ``run.start_step`` when resuming mid-epoch).

    Returns ``(steps done, the epoch's sums (5,), interrupted)``; a stop request is
    agreed on by all ranks at log steps.
    """
    cfg, info = run.cfg, run.info
    batches = run.order.batches(epoch)
    first = run.start_step if epoch == run.start_epoch else 0
    if first == 0:
        run.aug_gen.manual_seed(augment_seed(cfg.seed, epoch, info.rank))
    sums = run.epoch_sums if (first > 0 and run.epoch_sums is not None) else \
        torch.zeros(5, dtype=torch.float64, device=info.device)
    bar = _progress_bar(run, len(batches), first, epoch)
    step, interrupted = first, False
    for b in iterate(run.data.images, run.data.ages, run.data.male, batches, info.device,
                     start=first):
        x = to_input(b.images, run.aug_gen, cfg.augment, run.channels_last)
        terms, out = train_step(run.model, run.raw, x, b.age, male_arg(run.model_cfg, b.male),
                                run.optimizer, run.scheduler, run.scaler, run.precision,
                                cfg.grad_clip)
        step += 1
        run.global_step += 1
        accumulate(sums, terms, out, b.age)
        check = step % cfg.log_every == 0 or step == len(batches)
        if bar is not None:
            bar.update(1)
            if check:
                s = sums.tolist()
                bar.set_postfix(loss=f"{s[0] / s[4]:.3f}", mae=f"{s[3] / s[4]:.2f}",
                                lr=f"{run.scheduler.get_last_lr()[0]:.2e}")
        if (not info.distributed or check) and step < len(batches):
            if D.broadcast_flag(_should_stop(stop, deadline), info):
                interrupted = True
                break
    if bar is not None:
        bar.close()
    return step, sums, interrupted


def end_epoch(run: Run, epoch: int, sums: torch.Tensor, t_epoch: float, last_epoch: int) -> None:
    """Reduce the epoch's sums, validate, log one metrics.csv row, save ``last.pt`` (and
    ``best.pt`` when the validation MAE improved)."""
    cfg, info = run.cfg, run.info
    D.broadcast_buffers(run.raw, info)
    D.all_reduce_sum(sums, info)
    row = epoch_row(epoch, sums)
    val_rows = run.data.rows("val")
    val_metrics = {}
    if (((epoch + 1) % cfg.val_every == 0) or epoch + 1 == last_epoch) and len(val_rows):
        val_metrics = validate(run.raw, run.data.images, run.data.ages, run.data.male,
                               val_rows, cfg.batch_size, info.device, run.precision,
                               run.model_cfg, info, run.channels_last)
        row.update({k: v for k, v in val_metrics.items() if k != "val_n"})
    row["lr"] = run.scheduler.get_last_lr()[0]
    row["seconds"] = time.time() - t_epoch
    score = val_metrics.get("val_mae", row["train_mae"] if not len(val_rows) else None)
    improved = score is not None and score < run.best_val
    if improved:
        run.best_val, run.best_epoch = float(score), epoch + 1
    state = checkpoint_state(run, epoch + 1, 0, val_metrics, None)
    if info.is_main:
        run.log.append(row)
        ckpt_io.save_atomic(state, run.last_path)
        if improved:
            ckpt_io.save_atomic(state, run.best_path)
        if progress_enabled(cfg.progress):
            msg = ", ".join(f"{k}={v:.3f}" for k, v in row.items()
                            if k in ("train_loss", "train_mae", "val_mae", "seconds"))
            tqdm.write(f"epoch {epoch + 1}/{cfg.epochs}: {msg}")


def save_interrupted(run: Run, epoch: int, step: int, sums: torch.Tensor) -> None:
    """``last.pt`` in the middle of an epoch, so that ``--resume`` continues at ``step``."""
    D.broadcast_buffers(run.raw, run.info)
    state = checkpoint_state(run, epoch, step, {}, sums)  # every rank joins the gather
    if run.info.is_main:
        ckpt_io.save_atomic(state, run.last_path)


def fit(run: Run) -> Tuple[int, bool]:
    """The epochs, from ``run.start_epoch``; returns ``(epochs done, interrupted)``.

    SIGINT / SIGTERM or ``max_minutes`` finish the current step, save and return.
    """
    cfg = run.cfg
    last_epoch = cfg.epochs if cfg.stop_after_epochs is None else min(cfg.epochs, cfg.stop_after_epochs)
    deadline = None if cfg.max_minutes is None else run.t_start + 60 * cfg.max_minutes
    epochs_done, interrupted = run.start_epoch, False
    run.model.train()
    with StopFlag() as stop:
        for epoch in range(run.start_epoch, last_epoch):
            t_epoch = time.time()
            step, sums, interrupted = train_epoch(run, epoch, stop, deadline)
            if interrupted:
                save_interrupted(run, epoch, step, sums)
                break
            end_epoch(run, epoch, sums, t_epoch, last_epoch)
            epochs_done = epoch + 1
            if epochs_done < last_epoch and D.broadcast_flag(_should_stop(stop, deadline),
                                                             run.info):
                interrupted = True
                break
    return epochs_done, interrupted


def _numeric(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for c in out.columns:
        try:
            out[c] = pd.to_numeric(out[c])
        except (ValueError, TypeError):
            pass
    return out


# ---------------------------------------------------------------------------- CLI
