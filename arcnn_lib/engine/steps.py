"""The pieces of one training step, small enough for the book to name one by one:
prepare a batch, take one step, add its numbers to the epoch's sums.

Mixed precision enters as a :class:`~arcnn_lib.engine.runtime.Precision` (autocast and
a ``GradScaler``, a no-op in fp32); nothing here knows about DDP, signals or time budgets.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import torch
from torch import nn

from ..config import ARCNNConfig
from ..data.augment import gpu_augment, to_float
from ..model.losses import LossTerms
from .runtime import Precision

#: the epoch's running sums: total, cls, att loss (each times n), |error| of the assembled
#: age, number of images
SUMS = ("loss", "cls", "att", "abs_err", "n")


def to_input(images: torch.Tensor, generator: Optional[torch.Generator], augment: bool,
             channels_last: bool) -> torch.Tensor:
    """Prepare a batch: uint8 (B, 1, S, S) on the device -> float (B, 1, S, S) in [0, 1],
    augmented (:func:`~arcnn_lib.data.augment.gpu_augment`) when training."""
    x = gpu_augment(images, generator) if augment else to_float(images)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    return x


def male_arg(model_cfg: ARCNNConfig, male: torch.Tensor) -> Optional[torch.Tensor]:
    """The sex input (B,) bool when the model takes it (``use_sex``), else None."""
    return male if model_cfg.use_sex else None


def train_step(model: nn.Module, raw: nn.Module, x: torch.Tensor, age: torch.Tensor,
               male: Optional[torch.Tensor], optimizer: torch.optim.Optimizer, scheduler,
               scaler, precision: Precision, grad_clip: float):
    """One optimisation step on a prepared batch ``x`` (B, 1, S, S), ``age`` (B,) months.

    ``model`` is what runs the forward pass (maybe DDP- or compile-wrapped); ``raw`` the
    module itself (its ``loss``, Eq. 5, and its parameters for clipping). Returns
    ``(terms, output)``.
    """
    with precision.autocast():
        out = model(x, male)
    terms = raw.loss(out, age)
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(terms.total).backward()
    if grad_clip > 0:
        scaler.unscale_(optimizer)
        nn.utils.clip_grad_norm_(raw.parameters(), grad_clip)
    scaler.step(optimizer)
    scaler.update()
    scheduler.step()
    return terms, out


@torch.no_grad()
def accumulate(sums: torch.Tensor, terms: LossTerms, out, age: torch.Tensor) -> None:
    """Add one step to the epoch's :data:`SUMS` (5,) float64, on the device: no host sync."""
    n = age.shape[0]
    sums[:4] += torch.stack([terms.total.detach().double() * n,
                             terms.cls.detach().double() * n,
                             terms.att.detach().double() * n,
                             (out.age.detach().double() - age.double()).abs().sum()])
    sums[4] += n


def epoch_row(epoch: int, sums: torch.Tensor) -> dict:
    """The training columns of one ``metrics.csv`` row from the epoch's (reduced) sums."""
    s = sums.tolist()
    cnt = max(s[4], 1.0)
    return {"epoch": epoch + 1, "train_loss": s[0] / cnt, "train_cls": s[1] / cnt,
            "train_att": s[2] / cnt, "train_mae": s[3] / cnt}


def augment_seed(seed: int, epoch: int, rank: int) -> int:
    """A 63-bit seed for the augmentation generator of (seed, epoch, rank)."""
    return int(np.random.SeedSequence([int(seed), int(epoch), int(rank)]).generate_state(2, np.uint64)[0]
               & np.uint64(2**63 - 1))
