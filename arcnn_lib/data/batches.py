"""Batches sliced straight out of the uint8 cache, for the chapters and quick loops.

One mechanism with the training engine: :func:`batch_iterator` is the trainer's seeded
:class:`~arcnn_lib.data.loader.EpochOrder` read by its loader
(:func:`~arcnn_lib.data.loader.iterate`) on the CPU. Each batch is one fancy-indexed read of
the memmap with its rows sorted (sequential-ish disk access), turned into torch tensors
without a copy. The order is a pure function of ``(seed, epoch)``, so a run resumed at
``(epoch, start_batch)`` sees exactly the batches it would have seen.
"""
from __future__ import annotations

from typing import Iterator, Optional, Sequence

import numpy as np
import torch

from .cache import ImageCache
from .loader import Batch, EpochOrder, epoch_order, iterate

__all__ = ["Batch", "batch_iterator", "epoch_order", "num_batches"]


def num_batches(n: int, batch_size: int, drop_last: bool) -> int:
    """How many batches :func:`batch_iterator` yields for ``n`` rows."""
    return n // batch_size if drop_last else -(-n // batch_size)


def batch_iterator(cache: ImageCache, indices: Optional[Sequence[int]] = None,
                   batch_size: int = 32, shuffle: bool = True, seed: int = 0,
                   epoch: int = 0, drop_last: bool = False,
                   start_batch: int = 0) -> Iterator[Batch]:
    """Yield ``(images, age, male, rows)`` batches from ``cache``.

    Args:
        cache: an :class:`ImageCache`.
        indices: the cache rows to use (e.g. the train split); default all rows.
        batch_size: B.
        shuffle: visit the rows in the (seed, epoch) permutation, else in the given order.
        seed, epoch: the order is a function of these two only.
        drop_last: drop the final incomplete batch (with fewer rows than B: no batch).
        start_batch: skip this many batches of the epoch (exact resume).
    Yields:
        :class:`~arcnn_lib.data.loader.Batch` es: images uint8 (B, 1, S, S), age float32
        (B,) months, male bool (B,), rows int64 (B,) -- the cache rows, sorted within the
        batch (the memmap is read in that order).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    rows = np.arange(len(cache)) if indices is None else np.asarray(indices, np.int64)
    if rows.size and (rows.min() < 0 or rows.max() >= len(cache)):
        raise IndexError(f"indices must lie in [0, {len(cache)}), got {rows.min()}..{rows.max()}")
    order = EpochOrder(rows, batch_size, seed=seed, shuffle=shuffle, drop_last=drop_last)
    # the trainer keeps one short batch when a split is smaller than B; this API drops it
    batches = order.batches(epoch)[:num_batches(len(rows), batch_size, drop_last)]
    ages = cache.index["boneage"].to_numpy(np.float32)
    males = cache.index["male"].to_numpy(bool)
    return iterate(cache.images, ages, males, batches, torch.device("cpu"),
                   start=start_batch, prefetch=0)
