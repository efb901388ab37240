"""BatchNorm with separate running statistics for whole images and for parts.

The feature extractor of AR-CNN is shared by the whole image X and the parts R_i (paper,
Sec. 2.2). In training, every BatchNorm layer normalises each of the two forward passes with
that pass's own batch statistics, so whole images and zoomed-in parts never mix. Its
*running* statistics, which replace the batch statistics at evaluation, are however updated
by both passes in turn, and end up describing neither: evaluated with them, the whole-image
unit A_X is worse than the same weights evaluated with statistics of whole images alone
(chapter 6 of the book shows the mechanism, chapter 10 measures it on real radiographs).

:class:`PartAwareBatchNorm2d` keeps one set of running statistics per stream (``image``,
``parts``); the learned scale and shift stay shared, as do all convolutions, so the
extractor is still the paper's one shared network. In training mode it computes exactly
what :class:`torch.nn.BatchNorm2d` computes. NTS-Net and the paper share the statistics;
``ARCNNConfig(separate_part_stats=False)`` does the same.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterable, Tuple, Union

import torch
from torch import nn
from torch.nn import functional as F

STREAMS = ("image", "parts")


class PartAwareBatchNorm2d(nn.BatchNorm2d):
    """:class:`torch.nn.BatchNorm2d` with a second set of running statistics for parts.

    ``stream`` (``"image"`` or ``"parts"``) picks the set a forward pass reads and updates;
    :func:`use_stream` sets it for every such layer of a module. Input and output (N, C, H, W).
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1):
        super().__init__(num_features, eps=eps, momentum=momentum)
        self.stream = "image"
        self.register_buffer("parts_running_mean", torch.zeros(num_features))
        self.register_buffer("parts_running_var", torch.ones(num_features))
        self.register_buffer("parts_num_batches_tracked", torch.tensor(0, dtype=torch.long))

    @classmethod
    def from_batch_norm(cls, bn: nn.BatchNorm2d) -> "PartAwareBatchNorm2d":
        """A copy of ``bn`` whose two sets of statistics both start from ``bn``'s."""
        new = cls(bn.num_features, eps=bn.eps, momentum=bn.momentum)
        with torch.no_grad():
            new.weight.copy_(bn.weight)
            new.bias.copy_(bn.bias)
            for prefix in ("", "parts_"):
                getattr(new, prefix + "running_mean").copy_(bn.running_mean)
                getattr(new, prefix + "running_var").copy_(bn.running_var)
                getattr(new, prefix + "num_batches_tracked").copy_(bn.num_batches_tracked)
        return new

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        # A checkpoint of a plain BatchNorm2d (one set of statistics, as saved before this
        # layer existed) loads with its statistics in both sets: it evaluates as it did.
        for name in ("running_mean", "running_var", "num_batches_tracked"):
            if prefix + name in state_dict and prefix + "parts_" + name not in state_dict:
                state_dict[prefix + "parts_" + name] = state_dict[prefix + name]
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stream == "image":
            return super().forward(x)
        if self.stream != "parts":
            raise ValueError(f"stream must be one of {STREAMS}, got {self.stream!r}")
        momentum = 0.0 if self.momentum is None else self.momentum
        if self.training:
            self.parts_num_batches_tracked.add_(1)
            if self.momentum is None:   # cumulative average, as in BatchNorm2d
                momentum = 1.0 / float(self.parts_num_batches_tracked)
        return F.batch_norm(x, self.parts_running_mean, self.parts_running_var, self.weight,
                            self.bias, self.training, momentum, self.eps)


def convert_part_norm(module: nn.Module) -> nn.Module:
    """Replace every BatchNorm2d inside ``module`` by a :class:`PartAwareBatchNorm2d`."""
    for name, child in module.named_children():
        if type(child) is nn.BatchNorm2d:
            setattr(module, name, PartAwareBatchNorm2d.from_batch_norm(child))
        else:
            convert_part_norm(child)
    return module


def part_norm_layers(module: nn.Module) -> Tuple[PartAwareBatchNorm2d, ...]:
    """Every :class:`PartAwareBatchNorm2d` inside ``module`` (empty when there are none)."""
    return tuple(m for m in module.modules() if isinstance(m, PartAwareBatchNorm2d))


@contextmanager
def use_stream(layers: Union[nn.Module, Iterable[PartAwareBatchNorm2d]], stream: str):
    """Within the block, the given :class:`PartAwareBatchNorm2d` layers (or every one inside
    a module) use ``stream``. A caller on the hot path passes its layers, found once with
    :func:`part_norm_layers`, rather than a module to search on every call."""
    if stream not in STREAMS:
        raise ValueError(f"stream must be one of {STREAMS}, got {stream!r}")
    if isinstance(layers, nn.Module):
        layers = part_norm_layers(layers)
    for m in layers:
        m.stream = stream
    try:
        yield
    finally:
        for m in layers:
            m.stream = "image"
