"""The one inference loop: every unit's prediction for a set of cache rows, in eval mode.

Validation during training (:func:`validate`, the MAE of every unit, sharded over DDP
ranks) and evaluation of a checkpoint (:func:`arcnn_lib.evaluation.evaluator.predict`, a
predictions table) both read their batches through :func:`infer`, so they convert, cast
and feed the images in exactly the same way.
"""
from __future__ import annotations

from typing import Dict, Iterator, Optional, Tuple

import numpy as np
import torch
from torch import nn

from ..config import ARCNNConfig
from ..data.loader import Batch, EpochOrder, iterate
from ..model.units import output_suffixes, stack_units
from . import distributed as D
from .runtime import Precision
from .steps import male_arg, to_input


@torch.no_grad()
def infer(model: nn.Module, images: np.ndarray, ages: np.ndarray, male: np.ndarray,
          rows: np.ndarray, batch_size: int, device: torch.device, precision: Precision,
          model_cfg: ARCNNConfig, channels_last: bool, rank: int = 0,
          world_size: int = 1) -> Iterator[Tuple[Batch, object]]:
    """Yield ``(batch, output)`` for this rank's share of ``rows``, in eval mode.

    ``images`` (N, S, S) uint8, ``ages`` (N,) months and ``male`` (N,) bool are the cache
    arrays; the batches hold rows sorted within each batch (``batch.rows``). The model's
    train / eval mode is restored afterwards.
    """
    was_training = model.training
    model.eval()
    order = EpochOrder(rows, batch_size, shuffle=False, drop_last=False, rank=rank,
                       world_size=world_size)
    try:
        for b in iterate(images, ages, male, order.batches(0), device):
            x = to_input(b.images, None, False, channels_last)
            with precision.autocast():
                out = model(x, male_arg(model_cfg, b.male))
            yield b, out
    finally:
        model.train(was_training)


@torch.no_grad()
def validate(model: nn.Module, images: np.ndarray, ages: np.ndarray, male: np.ndarray,
             rows: np.ndarray, batch_size: int, device: torch.device, precision: Precision,
             model_cfg: ARCNNConfig, info: D.DistInfo, channels_last: bool) -> Dict[str, float]:
    """MAE (months) of every unit on ``rows``; sharded over ranks and summed.

    Returns ``{"val_mae": ..., "val_mae_x": ..., "val_mae_concat": ..., "val_mae_part1":
    ...}`` (the units the model has) and ``val_n``.
    """
    sums: Optional[torch.Tensor] = None
    suffixes = None
    count = torch.zeros((), dtype=torch.float64, device=device)
    for b, out in infer(model, images, ages, male, rows, batch_size, device, precision,
                        model_cfg, channels_last, info.rank, info.world_size):
        err = (stack_units(out) - b.age[:, None]).abs().double().sum(0)
        if sums is None:
            sums, suffixes = err, output_suffixes(out, model_cfg.num_parts)
        else:
            sums += err
        count += b.age.shape[0]
    if suffixes is None:  # this rank had no rows: learn the width from a dummy pass
        suffixes = _suffixes_of(model, model_cfg, device, precision)
        sums = torch.zeros(len(suffixes), dtype=torch.float64, device=device)
    D.all_reduce_sum(sums, info)
    D.all_reduce_sum(count, info)
    n = max(float(count.item()), 1.0)
    res = {f"val_mae{s}": float(v) / n for s, v in zip(suffixes, sums.tolist())}
    res["val_n"] = int(count.item())
    return res


def _suffixes_of(model: nn.Module, model_cfg: ARCNNConfig, device: torch.device,
                 precision: Precision):
    """The units' column suffixes of ``model``, from a pass over two blank images."""
    was_training = model.training
    model.eval()
    s = model_cfg.data_size
    with precision.autocast():
        out = model(torch.zeros(2, 1, s, s, device=device),
                    male_arg(model_cfg, torch.zeros(2, dtype=torch.bool, device=device)))
    model.train(was_training)
    return output_suffixes(out, model_cfg.num_parts)
