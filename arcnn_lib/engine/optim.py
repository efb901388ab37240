"""The optimiser and the learning-rate schedule (our choice; the paper does not pin them down).

AdamW with weight decay on the weights of convolutions and linear layers only, a linear
warm-up, then a cosine decay to ``min_lr_fraction * lr``, stepped every batch.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from .config import TrainConfig


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
